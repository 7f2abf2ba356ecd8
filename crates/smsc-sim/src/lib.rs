//! The simulated operator network (in progress).
#![forbid(unsafe_code)]
