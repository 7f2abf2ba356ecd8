//! The API's error: a status and a stable JSON body,
//! `{"error": {"code": "invalid_msisdn", "message": "...", "field": "to"}}`.
//!
//! Internal failures (a store error) are logged and answered with a generic message: the
//! body never carries a backend's text.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tuma_engine::{CampaignError, EngineError, Rejection, RejectionKind};
use tuma_store::StoreError;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: Cow<'static, str>,
    /// For people.
    pub message: String,
    /// The request field at fault, if one is.
    pub field: Option<Cow<'static, str>>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u32>,
}

/// The `error` object of a body (also used for rejected batch items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// Stable code.
    pub code: Cow<'static, str>,
    /// For people.
    pub message: String,
    /// The field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<Cow<'static, str>>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: &'a ErrorBody,
}

impl ApiError {
    /// An error with no field.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this endpoint needs a key of the operator account",
        )
    }

    /// 404 `not_found`.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 422 with a code and field.
    pub fn invalid(
        code: impl Into<Cow<'static, str>>,
        field: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field)
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 500 `internal`, logging the cause (never sent to the client).
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; the error was logged",
        )
    }

    /// The body's `error` object.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.clone(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let body = ErrorBody {
            code: self.code,
            message: self.message,
            field: self.field,
        };
        let mut response = (self.status, axum::Json(Envelope { error: &body })).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, .. } => Self::not_found(what),
            StoreError::AlreadyExists { what, value } => Self::new(
                StatusCode::CONFLICT,
                "already_exists",
                format!("{what} {value:?} already exists"),
            ),
            StoreError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the gateway is shutting down",
            ),
            other => Self::internal("store failed", &other),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Overloaded { queued } => {
                let mut err = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "overloaded",
                    format!(
                        "the gateway is overloaded ({queued} messages wait for dispatch); \
                         retry later"
                    ),
                );
                err.retry_after = Some(1);
                err
            }
            EngineError::ShuttingDown => {
                let mut err = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "the gateway is shutting down; retry on another node or later",
                );
                err.retry_after = Some(5);
                err
            }
            EngineError::Store(s) => s.into(),
            other => Self::internal("engine failed", &other),
        }
    }
}

impl From<CampaignError> for ApiError {
    /// `Invalid` 422 with its code and field, `NotFound` 404 `not_found`, `Conflict` 409
    /// `campaign_state`, engine failures as for messages.
    fn from(e: CampaignError) -> Self {
        match e {
            CampaignError::Invalid {
                code,
                field,
                message,
            } => Self::invalid(code, field, message),
            CampaignError::NotFound { what, .. } => Self::not_found(what),
            conflict @ CampaignError::Conflict { .. } => {
                Self::new(StatusCode::CONFLICT, "campaign_state", conflict.to_string())
            }
            CampaignError::Engine(e) => e.into(),
        }
    }
}

/// The HTTP status of an engine rejection: conflicts 409, a text over the segment cap 413,
/// every other field error 422.
pub fn rejection_status(r: &Rejection) -> StatusCode {
    match r.kind {
        RejectionKind::Conflict => StatusCode::CONFLICT,
        RejectionKind::Invalid if r.code == "text_too_long" => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        Self {
            status: rejection_status(&r),
            code: r.code.into(),
            message: r.message,
            field: r.field.map(Cow::Owned),
            retry_after: None,
        }
    }
}
