//! Campaigns, the pure parts: contact import, templates, tracked links, preview, quiet hours.
//!
//! No async and no I/O beyond reading a [`std::io::Read`]: the engine (storage, sending) and
//! the HTTP API call these.
//!
//! # Layout
//! - [`import`]: [`ContactImporter`], a streaming CSV reader that yields [`Contact`]s and a
//!   row-level [`ImportSummary`].
//! - [`contact`]: [`Contact`], [`Columns`] and the header-to-variable rule
//!   ([`variable_name`]).
//! - [`template`]: [`Template`], a sandboxed minijinja template checked against the columns.
//! - [`links`]: [`LinkRewriter`], URLs to per-recipient tracked short links.
//! - [`preview`](mod@preview): [`preview()`] and [`Previewer`], sample messages and the campaign's total
//!   segments; [`personalize`] for the sending path.
//! - [`window`]: [`SendWindow`], quiet hours in the recipient's local time.
#![forbid(unsafe_code)]

pub mod contact;
pub mod import;
pub mod links;
pub mod preview;
pub mod template;
pub mod window;

pub use contact::{variable_name, Columns, Contact};
pub use import::{
    ContactImporter, ImportError, ImportOptions, ImportSummary, RejectReason, RowError,
    PHONE_ALIASES,
};
pub use links::{LinkError, LinkRewriter, Rewritten, TrackedLink};
pub use preview::{
    personalize, personalize_in, preview, Personalized, Preview, PreviewFailure, PreviewMessage,
    Previewer,
};
pub use template::{RenderError, Template, TemplateError, TemplateLimits};
pub use window::{country_offset, SendWindow, TimeOfDay, UtcOffset, WindowError};

#[cfg(test)]
mod tests {
    /// The engine shares one template and rewriter between worker tasks and moves contacts
    /// across them.
    #[test]
    fn shared_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Template>();
        check::<crate::LinkRewriter>();
        check::<crate::Contact>();
        check::<crate::ImportSummary>();
    }
}
