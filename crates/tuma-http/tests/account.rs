//! The caller's account: settings, suppression list, replies, webhook failures.

mod common;

use axum::http::{Method, StatusCode};
use common::{app, eventually, message};
use serde_json::json;
use tuma_domain::{ConnectorId, IdGenerator, Msisdn};
use tuma_store::InboundRecord;

#[tokio::test]
async fn account_settings_are_patched_field_by_field() {
    let app = app().await;
    let a = app.get("/v1/account", &app.key).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["callback_url"], json!(null));
    assert_eq!(a.json["mo_url"], json!(null));

    let patch = |body: &'static str| {
        let app = &app;
        async move {
            app.call(Method::PATCH, "/v1/account", Some(&app.key), Some(body))
                .await
        }
    };
    let a = patch(r#"{"callback_url":"https://acme.example/status"}"#).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["callback_url"], "https://acme.example/status");
    let a = patch(r#"{"mo_url":"http://acme.example/mo"}"#).await;
    // Absent fields are left alone.
    assert_eq!(a.json["callback_url"], "https://acme.example/status");
    assert_eq!(a.json["mo_url"], "http://acme.example/mo");

    for (body, field) in [
        (r#"{"mo_url":"ftp://acme.example/mo"}"#, "mo_url"),
        (r#"{"callback_url":"not a url"}"#, "callback_url"),
    ] {
        let bad = patch(body).await;
        assert_eq!(
            (bad.status, bad.code(), bad.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_url", Some(field))
        );
    }
    let bad = patch(r#"{"webhook":"https://x.example"}"#).await;
    assert_eq!(
        (bad.status, bad.code(), bad.field()),
        (StatusCode::BAD_REQUEST, "unknown_field", Some("webhook"))
    );
    let bad = patch(r#"{"mo_url":5}"#).await;
    assert_eq!(
        (bad.status, bad.code(), bad.field()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
            Some("mo_url")
        )
    );
    // The refused patches changed nothing.
    let a = app.get("/v1/account", &app.key).await;
    assert_eq!(a.json["callback_url"], "https://acme.example/status");
    assert_eq!(a.json["mo_url"], "http://acme.example/mo");

    // null clears.
    let a = patch(r#"{"callback_url":null}"#).await;
    assert_eq!(a.json["callback_url"], json!(null));
    assert_eq!(a.json["mo_url"], "http://acme.example/mo");
    // Stored, and the other account is untouched.
    let stored = app
        .stores
        .accounts
        .get_account(app.account)
        .await
        .expect("get")
        .expect("account");
    assert_eq!(stored.settings.callback_url, None);
    assert_eq!(
        stored.settings.mo_url.as_deref(),
        Some("http://acme.example/mo")
    );
    let other = app.get("/v1/account", &app.other_key).await;
    assert_eq!(other.json["mo_url"], json!(null));
}

#[tokio::test]
async fn suppression_list_by_number() {
    let app = app().await;
    let path = "/v1/suppressions/0700000100";
    let a = app.get(path, &app.key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.json,
        json!({"number": "+254700000100", "suppressed": false, "changed": false})
    );
    let a = app.call(Method::PUT, path, Some(&app.key), None).await;
    assert_eq!(
        a.json,
        json!({"number": "+254700000100", "suppressed": true, "changed": true})
    );
    let a = app
        .call(
            Method::PUT,
            "/v1/suppressions/+254700000100",
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(a.json["changed"], false);
    // E.164 with %2B and the national form are the same number.
    let a = app.get("/v1/suppressions/%2B254700000100", &app.key).await;
    assert_eq!(a.json["suppressed"], true);
    // Per account.
    let a = app.get(path, &app.other_key).await;
    assert_eq!(a.json["suppressed"], false);

    // A message to it ends as suppressed.
    let m = app
        .post("/v1/messages", &app.key, &message("+254700000100", "hi"))
        .await;
    assert_eq!(m.status, StatusCode::ACCEPTED, "{}", m.text);
    assert_eq!(m.json["status"], "suppressed");

    let a = app.call(Method::DELETE, path, Some(&app.key), None).await;
    assert_eq!(
        a.json,
        json!({"number": "+254700000100", "suppressed": false, "changed": true})
    );
    let a = app.get(path, &app.key).await;
    assert_eq!(a.json["suppressed"], false);

    let bad = app.get("/v1/suppressions/12ab", &app.key).await;
    assert_eq!(
        (bad.status, bad.code(), bad.field()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_msisdn",
            Some("number")
        )
    );
}

#[tokio::test]
async fn inbound_is_listed_newest_first_by_pages() {
    let app = app().await;
    let now = app.state.engine.clock().now_ms();
    let mut ids = IdGenerator::new();
    let mut records = Vec::new();
    for (i, account) in [app.account, app.account, app.other, app.account]
        .into_iter()
        .enumerate()
    {
        records.push(InboundRecord {
            id: ids.next_id(now + i as u64, i as u128).expect("id"),
            account,
            from: Msisdn::from_e164(&format!("+25470000010{i}")).expect("msisdn"),
            to: "5000".into(),
            text: format!("reply {i}"),
            connector: ConnectorId::parse("sim").expect("connector"),
            received_at_ms: now + i as u64,
            webhook_url: None,
        });
    }
    app.stores
        .inbound
        .insert_inbound(records.clone())
        .await
        .expect("insert");

    let a = app.get("/v1/inbound", &app.key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let texts: Vec<&str> = a.json["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(texts, ["reply 3", "reply 1", "reply 0"]);
    assert_eq!(a.json["messages"][0]["from"], "+254700000103");
    assert_eq!(a.json["messages"][0]["to"], "5000");
    assert!(a.json.get("next_before").is_none());

    let page1 = app.get("/v1/inbound?limit=2", &app.key).await;
    assert_eq!(page1.json["messages"].as_array().map(Vec::len), Some(2));
    let next = page1.json["next_before"].as_str().expect("next_before");
    assert_eq!(next, records[1].id.to_string());
    let page2 = app
        .get(&format!("/v1/inbound?limit=2&before={next}"), &app.key)
        .await;
    assert_eq!(page2.json["messages"][0]["text"], "reply 0");
    assert_eq!(page2.json["messages"].as_array().map(Vec::len), Some(1));

    let other = app.get("/v1/inbound", &app.other_key).await;
    assert_eq!(other.json["messages"].as_array().map(Vec::len), Some(1));

    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("before=nope", "before"),
    ] {
        let bad = app.get(&format!("/v1/inbound?{q}"), &app.key).await;
        assert_eq!(
            (bad.status, bad.code(), bad.field()),
            (StatusCode::BAD_REQUEST, "invalid_query", Some(field)),
            "{q}"
        );
    }
    let bad = app.get("/v1/inbound?page=2", &app.key).await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
}

#[tokio::test]
async fn failing_webhooks_are_listed() {
    let app = app().await;
    let now = app.state.engine.clock().now_ms();
    // A reply with an MO URL nobody listens on: the engine's webhook worker fails to
    // deliver it and records the attempt.
    let id = IdGenerator::new().next_id(now, 7).expect("id");
    app.stores
        .inbound
        .insert_inbound(vec![InboundRecord {
            id,
            account: app.account,
            from: Msisdn::from_e164("+254700000100").expect("msisdn"),
            to: "5000".into(),
            text: "hello".into(),
            connector: ConnectorId::parse("sim").expect("connector"),
            received_at_ms: now,
            webhook_url: Some("http://127.0.0.1:9/mo".into()),
        }])
        .await
        .expect("insert");
    let failures = eventually("a failed webhook attempt", || async {
        let a = app.get("/v1/webhooks/failures", &app.key).await;
        let list = a.json["failures"].as_array().cloned().unwrap_or_default();
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(failures.len(), 1);
    let f = &failures[0];
    assert_eq!(f["message"], id.to_string());
    assert_eq!(f["url"], "http://127.0.0.1:9/mo");
    assert_eq!(f["event"], "inbound");
    assert!(f["attempts"].as_u64().is_some_and(|n| n >= 1));
    assert!(f["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(f["state"], "pending");
    // Another account sees none of them.
    let other = app.get("/v1/webhooks/failures", &app.other_key).await;
    assert_eq!(other.json["failures"], json!([]));
    let bad = app.get("/v1/webhooks/failures?limit=0", &app.key).await;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
}
