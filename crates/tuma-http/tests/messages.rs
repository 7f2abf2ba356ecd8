//! Intake (single and batch), message status, estimate: every error with its exact status,
//! code and field, and what a refused request leaves behind (nothing).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{app, app_with, eventually, message, Answer, Options, Smsc, TestApp};
use serde_json::{json, Value};
use tuma_domain::MessageId;

/// Messages stored and waiting to be sent (the connector is down in these tests, so every
/// accepted message stays in the outbox).
async fn stored(app: &TestApp) -> usize {
    app.stores
        .messages
        .pending_outbox(None, None, 100_000)
        .await
        .expect("outbox")
        .len()
}

fn assert_error(a: &Answer, status: StatusCode, code: &str, field: Option<&str>) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.code(), code, "{}", a.text);
    assert_eq!(a.field(), field, "{}", a.text);
    assert!(
        a.json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        a.text
    );
}

#[tokio::test]
async fn a_message_is_accepted_sent_and_shown() {
    let app = app_with(Options {
        smsc: Smsc::Sim,
        ..Options::default()
    })
    .await;
    let body = json!({
        "to": "0700 000 100",
        "from": "ACME",
        "text": "Habari 😀",
        "reference": "order-17",
        "callback_url": "http://127.0.0.1:9/hook",
        "validity": "2h",
    })
    .to_string();
    let a = app.post("/v1/messages", &app.key, &body).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.json["status"], "accepted");
    assert_eq!(a.json["encoding"], "ucs2");
    assert_eq!(a.json["segments"], 1);
    let id = a.json["id"].as_str().expect("id").to_owned();
    assert!(MessageId::parse(&id).is_ok());

    // The simulator's 2547000001xx range delivers at once.
    let m = eventually("the message to be delivered", || async {
        let m = app.get(&format!("/v1/messages/{id}"), &app.key).await;
        (m.json["status"] == "delivered").then_some(m)
    })
    .await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.json["id"], id.as_str());
    assert_eq!(m.json["to"], "+254700000100");
    assert_eq!(m.json["from"], "ACME");
    assert_eq!(m.json["text"], "Habari 😀");
    assert_eq!(m.json["encoding"], "ucs2");
    assert_eq!(m.json["segments"], 1);
    assert_eq!(m.json["reference"], "order-17");
    assert_eq!(m.json["callback_url"], "http://127.0.0.1:9/hook");
    assert!(m.json["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(m.json["send_at"], Value::Null);
    let statuses: Vec<&str> = m.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses.first(), Some(&"accepted"));
    assert_eq!(statuses.last(), Some(&"delivered"));
    let parts = m.json["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["index"], 0);
    assert_eq!(parts[0]["status"], "delivered");
    assert!(parts[0]["smsc_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(m.json.get("error").is_none());
}

#[tokio::test]
async fn another_accounts_or_a_malformed_id_is_404() {
    let app = app().await;
    let a = app
        .post("/v1/messages", &app.key, &message("+254700000100", "hi"))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let id = a.json["id"].as_str().expect("id");
    assert_eq!(
        app.get(&format!("/v1/messages/{id}"), &app.key)
            .await
            .status,
        StatusCode::OK
    );
    let other = app.get(&format!("/v1/messages/{id}"), &app.other_key).await;
    assert_error(&other, StatusCode::NOT_FOUND, "not_found", None);
    let admin = app.get(&format!("/v1/messages/{id}"), &app.admin).await;
    assert_error(&admin, StatusCode::NOT_FOUND, "not_found", None);
    for bad in [
        "nope",
        "01JD3Q0E5XK3M4ZB9N6Q2R7T8V",
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    ] {
        let a = app.get(&format!("/v1/messages/{bad}"), &app.key).await;
        assert_error(&a, StatusCode::NOT_FOUND, "not_found", None);
    }
}

#[tokio::test]
async fn bad_requests_get_their_error_and_store_nothing() {
    let app = app().await;
    let accepted_before = app.counts().accepted;
    let cases: Vec<(String, StatusCode, &str, Option<&str>)> = vec![
        (
            r#"{"to":"+254700000100","text":"hi","colour":"red"}"#.into(),
            StatusCode::BAD_REQUEST,
            "unknown_field",
            Some("colour"),
        ),
        (
            "{\"to\":\"+254700000100\",\n\"text\": hi}".into(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        ("".into(), StatusCode::BAD_REQUEST, "invalid_json", None),
        (
            r#"{"to":254700000100,"text":"hi"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
            Some("to"),
        ),
        (
            r#"{"to":"+254700000100","text":["hi"]}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
            Some("text"),
        ),
        (
            r#"{"to":"+254700000100"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
            Some("text"),
        ),
        (
            r#"["not","an","object"]"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
            None,
        ),
        (
            message("+25470000010", "hi"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_msisdn",
            Some("to"),
        ),
        (
            message("hello", "hi"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_msisdn",
            Some("to"),
        ),
        (
            json!({"to":"+254700000100","text":"hi","from":"TooLongSender1"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_sender_id",
            Some("from"),
        ),
        (
            message("+254700000100", "   "),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_text",
            Some("text"),
        ),
        (
            json!({"to":"+254700000100","text":"hi","send_at":"tomorrow"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_send_at",
            Some("send_at"),
        ),
        (
            json!({"to":"+254700000100","text":"hi","send_at":"2001-01-01T00:00:00Z"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "send_at_in_past",
            Some("send_at"),
        ),
        (
            json!({"to":"+254700000100","text":"hi","validity":"forever"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_validity",
            Some("validity"),
        ),
        (
            json!({"to":"+254700000100","text":"hi","callback_url":"ftp://x.com/"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_url",
            Some("callback_url"),
        ),
        (
            json!({"to":"+254700000100","text":"hi","reference":"r".repeat(300)}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference_too_long",
            Some("reference"),
        ),
        // 11 segments of GSM-7: over the engine's cap of 10, within the body limit.
        (
            message("+254700000100", &"a".repeat(11 * 153)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "text_too_long",
            Some("text"),
        ),
        // 100 KB of text: over the 64 KiB body limit.
        (
            message("+254700000100", &"a".repeat(100_000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
    ];
    for (body, status, code, field) in &cases {
        let a = app.post("/v1/messages", &app.key, body).await;
        let shown: String = body.chars().take(80).collect();
        assert_eq!(
            (a.status, a.code(), a.field()),
            (*status, *code, *field),
            "body {shown}: {}",
            a.text
        );
        assert!(a.json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // The JSON error says where it broke.
    let a = app
        .post(
            "/v1/messages",
            &app.key,
            "{\"to\":\"+254700000100\",\n\"text\": hi}",
        )
        .await;
    assert!(
        a.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 2")),
        "{}",
        a.text
    );

    assert_eq!(stored(&app).await, 0);
    assert_eq!(app.counts().accepted, accepted_before);
    // And the API still works.
    let ok = app
        .post("/v1/messages", &app.key, &message("+254700000100", "hi"))
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.text);
    assert_eq!(stored(&app).await, 1);
}

#[tokio::test]
async fn idempotency_key_returns_the_first_message() {
    let app = app().await;
    let body = message("+254700000100", "once");
    let post = |body: String, key: &'static str| {
        let app = &app;
        async move {
            app.call_with(
                Method::POST,
                "/v1/messages",
                Some(&app.key),
                Some(&body),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let first = post(body.clone(), "order-17").await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    let again = post(body.clone(), "order-17").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json["id"], first.json["id"]);
    assert_eq!(stored(&app).await, 1);

    let changed = post(message("+254700000100", "twice"), "order-17").await;
    assert_eq!(changed.status, StatusCode::CONFLICT, "{}", changed.text);
    assert_eq!(changed.code(), "idempotency_conflict");
    assert_eq!(stored(&app).await, 1);

    // Keys are per account: the other account's same key is a new message.
    let other = app
        .call_with(
            Method::POST,
            "/v1/messages",
            Some(&app.other_key),
            Some(&body),
            &[("idempotency-key", "order-17")],
        )
        .await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.text);
    assert_ne!(other.json["id"], first.json["id"]);

    let long = "k".repeat(256);
    let a = app
        .call_with(
            Method::POST,
            "/v1/messages",
            Some(&app.key),
            Some(&body),
            &[("idempotency-key", long.as_str())],
        )
        .await;
    assert_error(
        &a,
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
        Some("Idempotency-Key"),
    );
    assert_eq!(stored(&app).await, 2);
}

#[tokio::test]
async fn send_at_with_an_offset_schedules() {
    let app = app().await;
    let now_ms = app.state.engine.clock().now_ms();
    // One hour ahead, written in UTC+03:00.
    let at = now_ms / 1000 + 3600;
    let local = tuma_http::time::format_rfc3339((at + 3 * 3600) * 1000);
    let send_at = format!("{}+03:00", &local[..19]);
    let a = app
        .post(
            "/v1/messages",
            &app.key,
            &json!({"to":"+254700000100","text":"later","send_at":send_at}).to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.json["status"], "scheduled");
    let m = app
        .get(
            &format!("/v1/messages/{}", a.json["id"].as_str().expect("id")),
            &app.key,
        )
        .await;
    assert_eq!(
        m.json["send_at"],
        tuma_http::time::format_rfc3339(at * 1000)
    );
}

#[tokio::test]
async fn a_batch_rejects_bad_items_alone() {
    let app = app().await;
    let body = json!({"messages": [
        {"to": "+254700000100", "text": "first"},
        {"to": 42, "text": "wrong type"},
        {"to": "+254700000101", "text": "x", "priority": "high"},
        {"to": "12", "text": "bad number"},
        "not an object",
        {"to": "+254700000102", "text": "last"},
    ]})
    .to_string();
    let a = app.post("/v1/messages/batch", &app.key, &body).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let accepted = a.json["accepted"].as_array().expect("accepted");
    let indexes: Vec<u64> = accepted
        .iter()
        .map(|x| x["index"].as_u64().unwrap_or(99))
        .collect();
    assert_eq!(indexes, [0, 5]);
    let rejected: Vec<(u64, &str, Option<&str>)> = a.json["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap_or(99),
                r["error"]["code"].as_str().unwrap_or(""),
                r["error"]["field"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (1, "invalid_type", Some("to")),
            (2, "unknown_field", Some("priority")),
            (3, "invalid_msisdn", Some("to")),
            (4, "invalid_type", None),
        ]
    );
    assert_eq!(stored(&app).await, 2);
    for item in accepted {
        let id = item["id"].as_str().expect("id");
        let m = app.get(&format!("/v1/messages/{id}"), &app.key).await;
        assert_eq!(m.status, StatusCode::OK);
    }
    let m = app
        .get(
            &format!("/v1/messages/{}", accepted[1]["id"].as_str().expect("id")),
            &app.key,
        )
        .await;
    assert_eq!(m.json["text"], "last");
}

#[tokio::test]
async fn a_batch_of_ten_thousand_and_its_limits() {
    let app = app().await;
    let items: Vec<Value> = (0..10_000)
        .map(|i| json!({"to": format!("+2547{:08}", 100 + i % 100), "text": format!("bulk {i}")}))
        .collect();
    let body = json!({ "messages": items }).to_string();
    let a = app.post("/v1/messages/batch", &app.key, &body).await;
    assert_eq!(
        a.status,
        StatusCode::ACCEPTED,
        "{}",
        &a.text[..a.text.len().min(300)]
    );
    let accepted = a.json["accepted"].as_array().expect("accepted");
    assert_eq!(accepted.len(), 10_000);
    assert_eq!(a.json["rejected"].as_array().map(Vec::len), Some(0));
    let ids: HashSet<&str> = accepted.iter().filter_map(|x| x["id"].as_str()).collect();
    assert_eq!(ids.len(), 10_000);
    assert_eq!(stored(&app).await, 10_000);

    // One more item than allowed: refused whole, nothing stored.
    let items: Vec<Value> = (0..10_001)
        .map(|_| json!({"to": "+254700000100", "text": "x"}))
        .collect();
    let a = app
        .post(
            "/v1/messages/batch",
            &app.key,
            &json!({ "messages": items }).to_string(),
        )
        .await;
    assert_error(
        &a,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_messages",
        Some("messages"),
    );

    let a = app
        .post("/v1/messages/batch", &app.key, r#"{"messages":[]}"#)
        .await;
    assert_error(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty_batch",
        Some("messages"),
    );
    let a = app
        .post("/v1/messages/batch", &app.key, r#"{"messages":{}}"#)
        .await;
    assert_error(
        &a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_type",
        Some("messages"),
    );
    let a = app
        .post("/v1/messages/batch", &app.key, r#"{"messages":[],"x":1}"#)
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "unknown_field", Some("x"));
    let a = app
        .post("/v1/messages/batch", &app.key, r#"{"messages":[{"to":"#)
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "invalid_json", None);
    // Over the 16 MiB batch body limit.
    let huge = format!(r#"{{"messages":["{}"]}}"#, "a".repeat(17 * 1024 * 1024));
    let a = app.post("/v1/messages/batch", &app.key, &huge).await;
    assert_error(&a, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None);
    assert_eq!(stored(&app).await, 10_000);
}

#[tokio::test]
async fn a_retried_batch_with_its_key_returns_the_same_ids() {
    let app = app().await;
    let body = json!({"messages": [
        {"to": "+254700000100", "text": "a"},
        {"to": "+254700000101", "text": "b"},
    ]})
    .to_string();
    let send = |body: String| {
        let app = &app;
        async move {
            app.call_with(
                Method::POST,
                "/v1/messages/batch",
                Some(&app.key),
                Some(&body),
                &[("idempotency-key", "batch-1")],
            )
            .await
        }
    };
    let first = send(body.clone()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    let again = send(body).await;
    assert_eq!(again.json["accepted"], first.json["accepted"]);
    assert_eq!(stored(&app).await, 2);
    let changed =
        send(json!({"messages": [{"to": "+254700000100", "text": "c"}]}).to_string()).await;
    assert_eq!(changed.status, StatusCode::ACCEPTED);
    assert_eq!(
        changed.json["rejected"][0]["error"]["code"],
        "idempotency_conflict"
    );
    assert_eq!(changed.json["rejected"][0]["status"], 409);
    assert_eq!(stored(&app).await, 2);
}

#[tokio::test]
async fn overload_is_429_with_retry_after() {
    let app = app_with(Options {
        max_queued: 2,
        ..Options::default()
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let a = app
            .post(
                "/v1/messages",
                &app.key,
                &message("+254700000100", &format!("m{i}")),
            )
            .await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(a.code(), "overloaded");
            assert!(a.headers.contains_key("retry-after"));
        }
        statuses.push(a.status.as_u16());
    }
    // The connector is down, so the queue only fills: two accepted, then refusals.
    assert_eq!(statuses, [202, 202, 429, 429, 429]);
    assert_eq!(stored(&app).await, 2);
}

#[tokio::test]
async fn shutting_down_is_503() {
    let app = app().await;
    assert_eq!(
        app.call(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
    app.state.engine.shutdown(Duration::ZERO).await;
    let a = app
        .post("/v1/messages", &app.key, &message("+254700000100", "late"))
        .await;
    assert_error(&a, StatusCode::SERVICE_UNAVAILABLE, "shutting_down", None);
    assert!(a.headers.contains_key("retry-after"));
    let b = app
        .post(
            "/v1/messages/batch",
            &app.key,
            &json!({"messages":[{"to":"+254700000100","text":"x"}]}).to_string(),
        )
        .await;
    assert_error(&b, StatusCode::SERVICE_UNAVAILABLE, "shutting_down", None);
    let h = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(h.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stored(&app).await, 0);
}

#[tokio::test]
async fn estimate_reports_encoding_segments_and_culprits() {
    let app = app().await;
    let a = app
        .post("/v1/estimate", &app.key, r#"{"text":"Habari 😀, karibu!"}"#)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["encoding"], "ucs2");
    assert_eq!(a.json["segments"], 1);
    assert_eq!(a.json["characters"], 17);
    assert_eq!(a.json["units"], 18);
    assert_eq!(a.json["per_segment_limit"], 70);
    assert_eq!(a.json["remaining"], 52);
    assert_eq!(a.json["ucs2_characters"], json!(["😀"]));

    let a = app
        .post(
            "/v1/estimate",
            &app.key,
            &json!({"text": "a".repeat(161)}).to_string(),
        )
        .await;
    assert_eq!(
        (a.json["encoding"].as_str(), a.json["segments"].as_u64()),
        (Some("gsm7"), Some(2))
    );
    assert_eq!(a.json["ucs2_characters"], json!([]));

    let a = app.post("/v1/estimate", &app.key, r#"{"txt":"x"}"#).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "unknown_field", Some("txt"));
    let a = app
        .call(Method::POST, "/v1/estimate", None, Some(r#"{"text":"x"}"#))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}
