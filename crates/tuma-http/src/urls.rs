//! Webhook URL checks: absolute `http`/`https` URLs with a host, nothing the webhook client
//! would trip over later.

/// Longest accepted URL.
pub const MAX_URL_LEN: usize = 2048;

/// Why a URL was refused (the message names the problem; the caller names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `http://` or `https://`.
    #[error("must start with http:// or https://")]
    Scheme,
    /// No host after the scheme.
    #[error("has no host")]
    NoHost,
    /// Spaces, control characters or non-ASCII characters (percent-encode them).
    #[error("contains spaces, control or non-ASCII characters (percent-encode them)")]
    Characters,
    /// Longer than [`MAX_URL_LEN`].
    #[error("is longer than {MAX_URL_LEN} characters")]
    TooLong,
    /// A port that is not a number in 1..=65535.
    #[error("has an invalid port")]
    Port,
}

/// Checks `url` (see the module documentation).
pub fn check_url(url: &str) -> Result<(), UrlError> {
    if url.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UrlError::Characters);
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Err(UrlError::Scheme);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials are allowed (`user:pass@host`); the host is what follows the last '@'.
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or(UrlError::NoHost)?;
        (addr, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => return Err(UrlError::Port),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https() {
        for ok in [
            "https://example.com/hook",
            "http://127.0.0.1:8080/a?b=c#d",
            "HTTPS://Example.com",
            "https://user:pw@example.com:443/x",
            "http://[::1]:9000/cb",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_the_rest() {
        assert_eq!(check_url("ftp://example.com"), Err(UrlError::Scheme));
        assert_eq!(check_url("example.com/hook"), Err(UrlError::Scheme));
        assert_eq!(check_url("javascript:alert(1)"), Err(UrlError::Scheme));
        assert_eq!(check_url("https:///path"), Err(UrlError::NoHost));
        assert_eq!(check_url("https://"), Err(UrlError::NoHost));
        assert_eq!(check_url("https://a b.com"), Err(UrlError::Characters));
        assert_eq!(check_url("https://exämple.com"), Err(UrlError::Characters));
        assert_eq!(check_url("https://a.com:99999/"), Err(UrlError::Port));
        assert_eq!(check_url("https://a.com:x/"), Err(UrlError::Port));
        let long = format!("https://a.com/{}", "x".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long), Err(UrlError::TooLong));
    }
}
