//! Async shell for the sans-IO `smpp` crate (in progress).
#![forbid(unsafe_code)]
