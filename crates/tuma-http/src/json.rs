//! Request bodies: serde straight from the bytes on the happy path; on failure, one more
//! (cold) pass over the JSON to name the field at fault, which serde_json's own errors do
//! not do for type errors.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON type a field may hold (besides `null` for optional ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// An array.
    Array,
}

/// One field of a request object, for error diagnosis.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Must be present (and not null).
    pub required: bool,
}

const fn req(name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required: true,
    }
}

const fn opt(name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required: false,
    }
}

/// The fields of a message (single request and batch item).
pub const MESSAGE_FIELDS: &[FieldSpec] = &[
    req("to", Kind::Str),
    opt("from", Kind::Str),
    req("text", Kind::Str),
    opt("callback_url", Kind::Str),
    opt("reference", Kind::Str),
    opt("send_at", Kind::Str),
    opt("validity", Kind::Str),
];

/// The fields of a batch.
pub const BATCH_FIELDS: &[FieldSpec] = &[req("messages", Kind::Array)];
/// `POST /v1/estimate`.
pub const ESTIMATE_FIELDS: &[FieldSpec] = &[req("text", Kind::Str)];
/// `PATCH /v1/account`.
pub const ACCOUNT_PATCH_FIELDS: &[FieldSpec] =
    &[opt("callback_url", Kind::Str), opt("mo_url", Kind::Str)];
/// `POST /v1/accounts`.
pub const ACCOUNT_CREATE_FIELDS: &[FieldSpec] = &[req("name", Kind::Str)];
/// `POST /v1/accounts/{id}/keys`.
pub const KEY_CREATE_FIELDS: &[FieldSpec] = &[opt("label", Kind::Str)];

/// The body bytes, or 413 when over the route's limit.
pub fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(limit)
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("the request body could not be read: {rejection}"),
            )
        }
    })
}

/// Deserializes a whole body into `T`, mapping failures to the API's errors.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8], fields: &[FieldSpec]) -> Result<T, ApiError> {
    not_an_array(bytes, fields)?;
    serde_json::from_slice(bytes).map_err(|e| explain(bytes, &e, fields))
}

/// Deserializes a borrowed `T` from `bytes` (a whole body or one batch item).
pub fn parse_borrowed<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    fields: &[FieldSpec],
) -> Result<T, ApiError> {
    not_an_array(bytes, fields)?;
    serde_json::from_slice(bytes).map_err(|e| explain(bytes, &e, fields))
}

/// serde's derived structs also accept a JSON array (fields by position); the API takes
/// objects only.
fn not_an_array(bytes: &[u8], fields: &[FieldSpec]) -> Result<(), ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'[') {
        return Ok(());
    }
    Err(match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => diagnose(&value, fields).unwrap_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_type",
                "expected a JSON object",
            )
        }),
        Err(e) => malformed(&e),
    })
}

/// Turns a serde_json error into the API error: syntax errors say where, data errors are
/// diagnosed against `fields` to name the field.
fn explain(bytes: &[u8], e: &serde_json::Error, fields: &[FieldSpec]) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => malformed(e),
        Category::Data => match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => diagnose(&value, fields).unwrap_or_else(|| {
                // The diagnosis found nothing serde would refuse: report serde's own words.
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_type",
                    e.to_string(),
                )
            }),
            Err(e) => malformed(&e),
        },
    }
}

fn malformed(e: &serde_json::Error) -> ApiError {
    // serde_json's text ends with "at line L column C": the client sees where it broke.
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_json",
        format!("the body is not valid JSON: {e}"),
    )
}

/// The first thing wrong with `value` as an object of `fields`, if any: unknown field (400),
/// missing field (422), wrong type (422).
pub fn diagnose(value: &Value, fields: &[FieldSpec]) -> Option<ApiError> {
    let Some(object) = value.as_object() else {
        return Some(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
            format!("expected a JSON object, found {}", type_name(value)),
        ));
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
    {
        let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
        return Some(
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_field",
                format!(
                    "unknown field {unknown:?}; the fields are {}",
                    known.join(", ")
                ),
            )
            .with_field(unknown.clone()),
        );
    }
    for f in fields {
        match object.get(f.name) {
            None | Some(Value::Null) if f.required => {
                return Some(ApiError::invalid(
                    "missing_field",
                    f.name,
                    format!("{} is required", f.name),
                ));
            }
            None | Some(Value::Null) => {}
            Some(v) => {
                let ok = match f.kind {
                    Kind::Str => v.is_string(),
                    Kind::Array => v.is_array(),
                };
                if !ok {
                    let expected = match f.kind {
                        Kind::Str => "a string",
                        Kind::Array => "an array",
                    };
                    return Some(ApiError::invalid(
                        "invalid_type",
                        f.name,
                        format!("{} must be {expected}, found {}", f.name, type_name(v)),
                    ));
                }
            }
        }
    }
    None
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // only deserialized
    struct Msg {
        to: String,
        text: String,
        #[serde(default)]
        from: Option<String>,
    }

    const FIELDS: &[FieldSpec] = &[
        req("to", Kind::Str),
        req("text", Kind::Str),
        opt("from", Kind::Str),
    ];

    fn err(body: &str) -> ApiError {
        parse_body::<Msg>(body.as_bytes(), FIELDS).expect_err(body)
    }

    #[test]
    fn names_the_field_or_the_place() {
        let e = err(r#"{"to":"1","text":"x","colour":1}"#);
        assert_eq!((e.status.as_u16(), &*e.code), (400, "unknown_field"));
        assert_eq!(e.field.as_deref(), Some("colour"));

        let e = err(r#"{"to":5,"text":"x"}"#);
        assert_eq!((e.status.as_u16(), &*e.code), (422, "invalid_type"));
        assert_eq!(e.field.as_deref(), Some("to"));

        let e = err(r#"{"to":"1","text":"x","from":["a"]}"#);
        assert_eq!(e.field.as_deref(), Some("from"));

        let e = err(r#"{"to":"1"}"#);
        assert_eq!((e.status.as_u16(), &*e.code), (422, "missing_field"));
        assert_eq!(e.field.as_deref(), Some("text"));

        let e = err(r#"[1]"#);
        assert_eq!((e.status.as_u16(), &*e.code), (422, "invalid_type"));
        assert_eq!(e.field, None);

        let e = err("{\"to\":\"1\",\n \"text\": }");
        assert_eq!((e.status.as_u16(), &*e.code), (400, "invalid_json"));
        assert!(e.message.contains("line 2 column"), "{}", e.message);

        let e = err("");
        assert_eq!(&*e.code, "invalid_json");
    }
}
