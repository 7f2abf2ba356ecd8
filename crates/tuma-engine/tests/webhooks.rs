//! The public webhook signature helpers, as a receiver uses them.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tuma_engine::webhooks::{sign, verify};

const SECRET: &[u8] = b"whsec_5f2c";
const BODY: &[u8] =
    br#"{"type":"message.status","id":"01JD3Q0E5XK3M4ZB9N6Q2R7T8V","status":"delivered"}"#;
const T: u64 = 1_790_000_000;

#[test]
fn the_header_is_the_documented_hmac() {
    let header = sign(SECRET, T, BODY);
    // Computed independently: HMAC-SHA256(secret, "<t>.<body>") in lower-case hex.
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{T}.").as_bytes());
    mac.update(BODY);
    let expected = hex::encode(mac.finalize().into_bytes());
    assert_eq!(header, format!("t={T},v1={expected}"));
    assert_eq!(expected.len(), 64);
}

#[test]
fn round_trip() {
    let header = sign(SECRET, T, BODY);
    assert!(verify(SECRET, &header, BODY, T, 300));
    // Clock skew either way within the tolerance.
    assert!(verify(SECRET, &header, BODY, T + 300, 300));
    assert!(verify(SECRET, &header, BODY, T - 300, 300));
    // Parts in another order, spaces, unknown parts, and a second (rotated-key) signature.
    let v1 = header.split_once(",v1=").unwrap().1;
    let other = sign(b"old secret", T, BODY);
    let other_v1 = other.split_once(",v1=").unwrap().1;
    let reordered = format!("v0=abc, v1={other_v1}, v1={v1}, t={T}");
    assert!(verify(SECRET, &reordered, BODY, T, 300));
    // An empty secret still signs (a misconfiguration, but the maths holds).
    assert!(verify(b"", &sign(b"", T, BODY), BODY, T, 300));
}

#[test]
fn tampered_bodies_fail() {
    let header = sign(SECRET, T, BODY);
    let mut tampered = BODY.to_vec();
    // "delivered" -> "Delivered"
    let at = BODY.windows(9).position(|w| w == b"delivered").unwrap();
    tampered[at] = b'D';
    assert!(!verify(SECRET, &header, &tampered, T, 300));
    assert!(!verify(SECRET, &header, &BODY[..BODY.len() - 1], T, 300));
    assert!(!verify(SECRET, &header, b"", T, 300));
    // Another secret.
    assert!(!verify(b"whsec_other", &header, BODY, T, 300));
    // The timestamp is signed too: moving it breaks the signature.
    let moved = header.replace(&format!("t={T}"), &format!("t={}", T + 1));
    assert!(!verify(SECRET, &moved, BODY, T, 300));
}

#[test]
fn old_and_future_timestamps_fail() {
    let header = sign(SECRET, T, BODY);
    assert!(!verify(SECRET, &header, BODY, T + 301, 300));
    assert!(!verify(SECRET, &header, BODY, T - 301, 300));
    assert!(!verify(SECRET, &header, BODY, T + 86_400, 300));
}

#[test]
fn malformed_headers_fail() {
    let header = sign(SECRET, T, BODY);
    let v1 = header.split_once(",v1=").unwrap().1;
    for bad in [
        String::new(),
        "garbage".to_owned(),
        format!("v1={v1}"),                 // no timestamp
        format!("t={T}"),                   // no signature
        format!("t=abc,v1={v1}"),           // timestamp not a number
        format!("t={T},t={T},v1={v1}"),     // two timestamps
        format!("t={T},v1={}", &v1[..63]),  // odd-length hex
        format!("t={T},v1={}", &v1[..62]),  // truncated signature
        format!("t={T},v1=zz{}", &v1[2..]), // not hex
    ] {
        assert!(!verify(SECRET, &bad, BODY, T, 300), "{bad:?}");
    }
}
