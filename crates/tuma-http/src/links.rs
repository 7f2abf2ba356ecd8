//! `GET /l/{code}`: the tracked-link redirector (no key).
//!
//! A known code answers `302` to the URL of the sent message, with `Cache-Control: no-store`
//! so every click reaches the gateway, and the click is recorded with its `User-Agent`.
//! Anything else is a plain-text `404`: codes that are not 8 to 32 base62 characters never
//! reach the store. Only URLs from sent messages are targets, so this is not an open
//! redirect. A `HEAD` (link previews, crawlers checking a link) redirects the same way but is
//! not counted as a click.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tuma_campaign::links::{MAX_CODE_LEN, MIN_CODE_LEN};

use crate::error::ApiError;
use crate::AppState;

/// Longest `User-Agent` stored with a click, in bytes.
pub const MAX_USER_AGENT: usize = 256;

/// Whether `code` can be a link code: [`MIN_CODE_LEN`]..=[`MAX_CODE_LEN`] base62 characters.
pub fn plausible_code(code: &str) -> bool {
    (MIN_CODE_LEN..=MAX_CODE_LEN).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The `User-Agent` header as text, cut to [`MAX_USER_AGENT`] bytes on a character
/// boundary (bytes that are not UTF-8 become U+FFFD).
fn user_agent(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::USER_AGENT)?;
    let text = String::from_utf8_lossy(raw.as_bytes());
    let mut end = text.len().min(MAX_USER_AGENT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned())
}

/// The target as a `Location` value: http(s) only, bytes outside visible ASCII
/// percent-encoded (a target may hold a raw non-ASCII path from the message text).
fn location(target: &str) -> Option<HeaderValue> {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    let mut out = String::with_capacity(target.len());
    for b in target.bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).ok()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        "link not found\n",
    )
        .into_response()
}

/// `GET /l/{code}` (and `HEAD`, which does not count a click).
pub async fn follow(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Ok(Path(code)) = code else {
        return Ok(not_found());
    };
    if !plausible_code(&code) {
        return Ok(not_found());
    }
    let target = if method == Method::HEAD {
        state
            .engine
            .stores()
            .campaigns
            .find_link(&code)
            .await?
            .map(|link| link.target)
    } else {
        let agent = user_agent(&headers);
        state.engine.follow_link(&code, agent.as_deref()).await?
    };
    let Some(target) = target else {
        return Ok(not_found());
    };
    let Some(location) = location(&target) else {
        // Targets come from the link rewriter (http and https only); a stored one that is
        // not is never followed.
        tracing::warn!(code, "tracked link with a target that is not http(s)");
        return Ok(not_found());
    };
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_8_to_32_base62_characters() {
        assert!(plausible_code("Ab3dE5gH"));
        assert!(plausible_code(&"z".repeat(32)));
        assert!(!plausible_code("Ab3dE5g"));
        assert!(!plausible_code(&"z".repeat(33)));
        assert!(!plausible_code("Ab3dE5g-"));
        assert!(!plausible_code("Ab3dE5g%2F"));
        assert!(!plausible_code("Ab3dE5gé"));
        assert!(!plausible_code(""));
    }

    #[test]
    fn user_agents_are_cut_on_a_character_boundary() {
        let mut headers = HeaderMap::new();
        assert_eq!(user_agent(&headers), None);
        headers.insert(header::USER_AGENT, HeaderValue::from_static("curl/8.5"));
        assert_eq!(user_agent(&headers).as_deref(), Some("curl/8.5"));
        let long = format!("a{}", "é".repeat(200)); // 401 bytes; 'é' is 2 bytes
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_bytes(long.as_bytes()).expect("header"),
        );
        let cut = user_agent(&headers).expect("ua");
        assert_eq!(cut.len(), 255, "256 would split an 'é'");
        assert!(long.starts_with(&cut));
    }

    #[test]
    fn locations_are_http_and_ascii() {
        assert_eq!(
            location("https://example.com/a?b=c").expect("ok"),
            "https://example.com/a?b=c"
        );
        assert_eq!(
            location("http://example.com/caf\u{e9} x").expect("ok"),
            "http://example.com/caf%C3%A9%20x"
        );
        assert!(location("javascript:alert(1)").is_none());
        assert!(location("ftp://example.com").is_none());
    }
}
