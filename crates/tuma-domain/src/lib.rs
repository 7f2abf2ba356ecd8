//! tuma domain (in progress).
#![forbid(unsafe_code)]
