//! The SMS text engine (work in progress).
#![forbid(unsafe_code)]
