//! The control API, through `router(state)` and `tower::ServiceExt::oneshot`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use smpp::pdu::SubmitSm;
use smpp::types::{Npi, RegisteredDelivery, Ton};
use smpp::BindKind;
use smsc_sim::{router, Engine, SharedSim, Sim, SimConfig};
use tower::ServiceExt;

/// 2026-11-26T10:00:00Z.
const T0: u64 = 1_795_687_200_000;

fn sim() -> (SharedSim, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(T0));
    let clock = now.clone();
    let sim = Sim::with_clock(Engine::new(SimConfig::default()).unwrap(), move || {
        clock.load(Ordering::SeqCst)
    });
    (sim, now)
}

async fn call(
    sim: &SharedSim,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, String, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router(sim.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn submit(sim: &SharedSim, dest: &str, short_message: &[u8], udhi: bool, at: u64) {
    let mut engine = sim.lock();
    let b = engine.bind("acme", "", BindKind::Transceiver).unwrap();
    let mut s = SubmitSm::try_new("Acme", dest, short_message).unwrap();
    s.source_addr_ton = Ton::ALPHANUMERIC;
    s.dest_addr_ton = Ton::INTERNATIONAL;
    s.dest_addr_npi = Npi::ISDN;
    s.esm_class = s.esm_class.with_udhi(udhi);
    s.registered_delivery = RegisteredDelivery::RECEIPT;
    engine.submit(at, b, &s).unwrap();
}

#[tokio::test]
async fn inbox_lists_reassembled_messages_once_due() {
    let (sim, now) = sim();
    // Two parts, out of order, to a number with a fixed 30 s delay.
    submit(
        &sim,
        "254700000400",
        b"\x05\x00\x03\x07\x02\x02 world",
        true,
        T0,
    );
    submit(
        &sim,
        "254700000400",
        b"\x05\x00\x03\x07\x02\x01Hello,",
        true,
        T0,
    );
    let (status, _, body) = call(&sim, "GET", "/v1/handsets/254700000400/messages", "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"));
    now.store(T0 + 30_000, Ordering::SeqCst);
    let (status, _, body) = call(&sim, "GET", "/v1/handsets/254700000400/messages", "").await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{
            "from": "Acme",
            "text": "Hello, world",
            "parts": 2,
            "received_at": "2026-11-26T10:00:30.000Z",
            "data_coding": 0
        }])
    );
    let (status, _, body) = call(&sim, "GET", "/v1/handsets/+254700000400/messages", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "invalid_msisdn");
    assert_eq!(v["error"]["field"], "msisdn");
}

#[tokio::test]
async fn post_sends_an_mo_reply_and_wakes_receivers() {
    let (sim, _) = sim();
    let (status, _, body) = call(
        &sim,
        "POST",
        "/v1/handsets/254712345678/messages",
        r#"{"to": "Acme", "text": "YES"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"no_route\""), "{body}");

    submit(&sim, "254712345678", b"Reply YES", false, T0);
    let waiter = {
        let sim = sim.clone();
        tokio::spawn(async move { sim.outbound_ready().notified().await })
    };
    tokio::task::yield_now().await;
    let (status, _, body) = call(
        &sim,
        "POST",
        "/v1/handsets/254712345678/messages",
        r#"{"to": "Acme", "text": "YES"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, serde_json::json!({"account": "acme", "parts": 1}));
    tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .expect("receivers woken")
        .unwrap();
    let out = {
        let mut engine = sim.lock();
        let account = engine.bind("acme", "", BindKind::Receiver).unwrap().account;
        engine.take_outbound(account, 10)
    };
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].short_message.as_bytes(), b"YES");

    let (status, _, body) = call(
        &sim,
        "POST",
        "/v1/handsets/254712345678/messages",
        r#"{"to": "Acme"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid_body"), "{body}");
    let (status, _, body) = call(
        &sim,
        "POST",
        "/v1/handsets/254712345678/messages",
        r#"{"to": "", "text": "x"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("\"field\":\"to\""), "{body}");
}

#[tokio::test]
async fn stats_and_metrics() {
    let (sim, now) = sim();
    submit(&sim, "254700000100", b"hi", false, T0);
    submit(&sim, "254700000200", b"hi", false, T0);
    now.store(T0 + 1, Ordering::SeqCst);
    sim.lock().advance(T0 + 1);
    let (status, _, body) = call(&sim, "GET", "/v1/stats", "").await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    for (key, value) in [
        ("binds", 2),
        ("submit_sm", 2),
        ("delivered", 1),
        ("failed", 1),
        ("expired", 0),
        ("receipts_sent", 0),
        ("throttled", 0),
        ("outbound_pending", 2),
    ] {
        assert_eq!(v[key], value, "{key} in {body}");
    }
    let (status, content_type, body) = call(&sim, "GET", "/metrics", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    assert!(
        body.contains("# TYPE smsc_sim_delivered_total counter\nsmsc_sim_delivered_total 1\n"),
        "{body}"
    );
    assert!(body.contains("smsc_sim_outbound_pending 2\n"), "{body}");
    assert!(body.contains("smsc_sim_inbox_dropped_total 0\n"), "{body}");
}
