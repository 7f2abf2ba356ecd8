//! Async shell for the sans-IO [`smpp`] crate: an ESME client and an MC listener over TCP,
//! TLS (rustls, feature `tls`) or any `AsyncRead + AsyncWrite` stream.
//!
//! This crate is the only place where sockets and timers meet SMPP. Each connection is one
//! task that owns a [`smpp::Session`]: it reads into a large buffer and feeds every whole PDU
//! to the session, drains all pending output into one write, sleeps until the session's next
//! deadline, and takes the application's commands from channels, many per wake-up.
//!
//! # Layout
//! - [`esme`]: [`EsmeClient`] (connect, bind, window-limited requests, incoming deliver_sm as
//!   events, graceful unbind) and its reconnecting supervisor.
//! - [`mc`]: [`McListener`] and [`McHandler`]: accept connections, decide binds, answer
//!   requests synchronously inside the connection task, push deliver_sm through [`McHandle`].
//! - [`request`]: the outcome of our own requests ([`RequestError`], [`ResponseFuture`]).
//! - [`backoff`]: reconnect delays.
//! - `tls` (feature `tls`): rustls connector and acceptor helpers.
//! - `driver` (private): the poll loop that runs a session over a stream.
#![forbid(unsafe_code)]

pub mod backoff;
mod driver;
pub mod esme;
pub mod mc;
pub mod request;
#[cfg(feature = "tls")]
pub mod tls;

pub use backoff::{Backoff, Jitter};
pub use esme::{
    BindRefusalPolicy, ConnectError, EsmeClient, EsmeConfig, EsmeEvent, EsmeHandle,
    IncomingRequest, RespondError,
};
pub use mc::{
    serve_connection, BindRequest, McConfig, McHandle, McHandler, McListener, McSession, Reply,
};
pub use request::{RequestError, RequestResult, ResponseFuture};
