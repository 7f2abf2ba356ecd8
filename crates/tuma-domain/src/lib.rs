//! tuma's pure domain: the gateway's types and decisions, with no async, no I/O and no clock.
//!
//! Every value that enters the gateway is parsed here once into a type that cannot be
//! invalid (`Msisdn`, `SenderId`, `Validity`, `NewMessage`); inner layers never re-check.
//! Every decision the engine takes (which connector, retry or fail, what a receipt means,
//! when a multipart message is done) is a pure function here, tested without a network.
//!
//! # Layout
//! - [`msisdn`]: phone numbers to E.164 ([`Msisdn::parse`] with a default [`Region`]), with a
//!   fast path for input that is already E.164.
//! - [`sender`]: sender ids (alphanumeric, short code, international) and their TON/NPI.
//! - [`message`]: [`NewMessage::parse`], all field errors at once, encoding and segments.
//! - [`validity`]: validity periods (`"2h"`) and their SMPP relative form.
//! - [`status`]: message and segment statuses, legal transitions, the multipart policy,
//!   receipt state to segment status.
//! - [`routing`]: longest-prefix routes, smooth weighted round-robin, failover.
//! - [`retry`]: `submit_sm_resp` status to success / pause / retry / fail, error codes.
//! - [`id`]: time-sortable 128-bit message ids from the caller's clock and randomness.
//! - [`optout`]: STOP / START keywords in replies.
//!
//! # Example
//! ```
//! use tuma_domain::{
//!     ConnectorId, Msisdn, Region, RouteSpec, RouteTable, SenderId, WeightedConnector,
//! };
//!
//! let ke = Region::parse("KE")?;
//! let to = Msisdn::parse("0712 345 678", ke)?;
//! assert_eq!((to.as_e164(), to.digits()), ("+254712345678".into(), "254712345678".into()));
//!
//! let from = SenderId::parse("MyShop")?;
//! assert_eq!(from.ton_npi(tuma_domain::TonNpi::SHORT_CODE_DEFAULT).ton.0, 5);
//!
//! let w = |name: &str, weight| -> Result<WeightedConnector, Box<dyn std::error::Error>> {
//!     Ok(WeightedConnector { connector: ConnectorId::parse(name)?, weight })
//! };
//! let routes = RouteTable::new(vec![
//!     RouteSpec { prefix: "2547".into(), connectors: vec![w("safaricom", 3)?, w("backup", 1)?] },
//!     RouteSpec { prefix: "".into(), connectors: vec![w("backup", 1)?] },
//! ])?;
//! // Counter 0 picks the heavier connector; when it is down, the next one in the list.
//! assert_eq!(routes.route(&to, |_| true, 0)?.as_str(), "safaricom");
//! assert_eq!(routes.route(&to, |c| c.as_str() != "safaricom", 0)?.as_str(), "backup");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod id;
pub mod message;
pub mod msisdn;
mod numbering;
pub mod optout;
pub mod retry;
pub mod routing;
pub mod sender;
pub mod status;
pub mod validity;

pub use id::{IdError, IdGenerator, MessageId};
pub use message::{
    encoding_name, Defaults, Field, FieldError, FieldErrorKind, MessageErrors, NewMessage,
    RawMessage,
};
pub use msisdn::{Msisdn, MsisdnError, Region, UnknownRegion};
pub use optout::{classify_mo, MoKeyword};
pub use retry::{Class, Decision, RetryPolicy, SubmitOutcome};
pub use routing::{
    ConnectorId, RouteError, RouteSpec, RouteTable, RouteTableError, WeightedConnector,
};
pub use sender::{SenderId, SenderIdError, TonNpi};
pub use status::{
    receipt_effect, IllegalTransition, MessageStatus, MultipartPolicy, ReceiptEffect,
    ReceiptOutcome, SegmentStatus, Transition,
};
pub use validity::{Validity, ValidityError};
