//! The store's error type.

/// Why a store operation failed as a whole. Per-item outcomes (an idempotency conflict, an
/// unmatched receipt) are values, not errors: see [`crate::InsertOutcome`] and
/// [`crate::UpdateOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (I/O, disk full, locked...). Nothing of this call was committed.
    #[error("storage backend failed during {operation}: {message}")]
    Backend {
        /// What the store was doing (`"commit"`, `"insert message"`...).
        operation: &'static str,
        /// The backend's message.
        message: String,
    },
    /// A stored value could not be read back into its domain type.
    #[error("stored {what} is invalid: {detail}")]
    Corrupt {
        /// Table and column, e.g. `"messages.recipient"`.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A unique value is taken (an account name).
    #[error("{what} {value:?} already exists")]
    AlreadyExists {
        /// The kind of value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A referenced row does not exist (an API key for an unknown account).
    #[error("{what} {value} does not exist")]
    NotFound {
        /// The kind of value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The backend was shut down (its writer is gone).
    #[error("storage backend is closed")]
    Closed,
}
