//! The `tuma` binary.
#![forbid(unsafe_code)]

fn main() {
    println!("tuma");
}
