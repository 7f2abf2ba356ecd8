//! A simulated operator network: an SMSC with accounts, validation, store and forward,
//! networks by number prefix, handsets with inboxes, delivery receipts, MO replies and a JSON
//! control API.
//!
//! # Layout
//! - [`config`]: [`SimConfig`] (TOML), with the Kenyan default and the reserved test ranges.
//! - [`engine`]: [`Engine`], the synchronous, clock-free SMSC. The socket layer (`server`,
//!   on top of `smpp-tokio`) calls it under a mutex with `now` in Unix milliseconds:
//!   `bind` / `unbind`, `submit` / `submit_data` / `submit_multi` / `query` / `cancel` /
//!   `replace`,
//!   `next_deadline` + `advance` for deliveries and expiries, `take_outbound` for the
//!   receipts and MO messages to send as deliver_sm.
//! - [`handset`]: inboxes that reassemble concatenated messages as a phone does.
//! - [`http`]: `router(SharedSim)`, the control API (inboxes, MO, stats, Prometheus metrics).
//! - [`server`]: [`SimServer`], the engine on real sockets: SMPP listener, timer, deliver_sm
//!   pushers and the HTTP API, started and stopped together.
//!
//! Outcomes are deterministic: each is a hash of (seed, destination, how many messages that
//! destination has had), so the same seed and the same submissions give the same deliveries,
//! failures and latencies whatever the interleaving of sessions.
#![forbid(unsafe_code)]

mod clock;
pub mod config;
pub mod engine;
pub mod handset;
pub mod http;
mod rng;
pub mod server;

pub use clock::rfc3339;
pub use config::{ConfigError, SimConfig};
pub use engine::{AccountId, BindHandle, Engine, MoAccepted, MoError, Stats};
pub use handset::InboxMessage;
pub use http::{router, SharedSim, Sim};
pub use server::{ServerError, ServerOptions, SimServer};
