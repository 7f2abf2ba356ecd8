//! The `tuma` binary: the command-line entry point of the gateway.
//!
//! Today it offers `tuma estimate`, the segment calculator of the text engine; `serve` (the
//! gateway) and `smsc` (the simulated operator network) come with their crates.
#![forbid(unsafe_code)]

use std::io::Read;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// tuma: bulk SMS gateway with a simulated operator network.
#[derive(Debug, Parser)]
#[command(name = "tuma", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show how a text will be sent: encoding, characters, segments, and what forced UCS-2.
    Estimate {
        /// The message text; read from standard input when absent.
        text: Option<String>,
        /// Replace word-processor look-alikes (smart quotes, dashes, ...) with GSM-7 forms.
        #[arg(long)]
        transliterate: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Estimate {
            text,
            transliterate,
        } => {
            let text = match text {
                Some(text) => text,
                None => {
                    let mut buf = String::new();
                    std::io::stdin()
                        .read_to_string(&mut buf)
                        .context("reading the message text from standard input")?;
                    buf
                }
            };
            print!("{}", render_estimate(&text, transliterate));
        }
    }
    Ok(())
}

/// The human-readable report of `tuma estimate`.
fn render_estimate(text: &str, transliterate: bool) -> String {
    use std::fmt::Write;
    let options = sms_text::Options {
        transliterate,
        ..sms_text::Options::default()
    };
    let e = sms_text::estimate(text, &options);
    let encoding = match e.encoding {
        sms_text::Encoding::Gsm7 => "GSM-7",
        sms_text::Encoding::Ucs2 => "UCS-2",
    };
    let unit = match e.encoding {
        sms_text::Encoding::Gsm7 => "septets",
        sms_text::Encoding::Ucs2 => "UTF-16 units",
    };
    let mut out = String::new();
    let _ = writeln!(out, "encoding:   {encoding}");
    let _ = writeln!(out, "characters: {}", e.characters);
    let _ = writeln!(out, "units:      {} {unit}", e.units);
    let _ = writeln!(
        out,
        "segments:   {} ({} {unit} each, {} left in the last)",
        e.segments, e.per_segment_limit, e.remaining
    );
    for forced in &e.ucs2_characters {
        let _ = writeln!(
            out,
            "forces UCS-2: {:?} (U+{:04X}) x{} first at {}",
            forced.character, forced.character as u32, forced.count, forced.first_index
        );
    }
    for r in &e.transliterations {
        let _ = writeln!(out, "replaced:   {:?} -> {:?} x{}", r.from, r.to, r.count);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_reports_encoding_segments_and_culprits() {
        let gsm = render_estimate(&"a".repeat(161), false);
        assert!(gsm.contains("GSM-7"), "{gsm}");
        assert!(gsm.contains("segments:   2 (153 septets each"), "{gsm}");

        let ucs2 = render_estimate("Hi 😀 “there”", false);
        assert!(ucs2.contains("UCS-2"), "{ucs2}");
        assert!(ucs2.contains("'😀' (U+1F600)"), "{ucs2}");

        let fixed = render_estimate("“quoted” — text", true);
        assert!(fixed.contains("GSM-7"), "{fixed}");
        assert!(fixed.contains("replaced:"), "{fixed}");
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
