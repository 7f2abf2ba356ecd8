//! Contact lists, campaigns and tracked links through the HTTP API, against the engine (and
//! the simulator where messages must really arrive).

mod common;

use std::io::Write as _;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};
use common::{app, app_with, eventually, send, Answer, Options, Smsc, TestApp};
use serde_json::{json, Value};

/// Good rows, a bad number, a duplicate, a missing phone and a Unicode name.
const CSV: &str = "phone,name\n\
                   0700000101,Amina\n\
                   0700000102,Zoë 😀\n\
                   not-a-number,Chidi\n\
                   +254700000101,Again\n\
                   ,Nobody\n";

const BOUNDARY: &str = "tumaTestBoundary7MA4YWxkTrZu0gW";

/// A `multipart/form-data` body: `(name, file name, content)` per part.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, file, content) in parts {
        write!(body, "--{BOUNDARY}\r\n").expect("write");
        match file {
            Some(f) => write!(
                body,
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                 Content-Type: text/csv\r\n\r\n"
            ),
            None => write!(
                body,
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            ),
        }
        .expect("write");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{BOUNDARY}--\r\n").expect("write");
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// `POST path` with a body of any type.
async fn upload(
    app: &TestApp,
    path: &str,
    key: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> Answer {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(body.into())
        .expect("request");
    send(&app.router, request).await
}

/// `GET path` without a key, with a `User-Agent`.
async fn visit(app: &TestApp, method: Method, path: &str) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("user-agent", "Mozilla/5.0 (Linux; Android 14) test")
        .body(Body::empty())
        .expect("request");
    send(&app.router, request).await
}

fn campaign_json(template: &str, csv: &str) -> String {
    json!({"name": "November promo", "from": "ACME", "template": template, "contacts_csv": csv})
        .to_string()
}

/// `(line, code)` of the import report's rejected rows.
fn rejected(import: &Value) -> Vec<(u64, String)> {
    import["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
            (
                r["line"].as_u64().expect("line"),
                r["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

/// The import report of [`CSV`].
fn assert_csv_import(import: &Value) {
    assert_eq!(import["rows"], 5, "{import}");
    assert_eq!(import["accepted"], 2, "{import}");
    assert_eq!(import["duplicates"], 1, "{import}");
    assert_eq!(import["rejected_count"], 2, "{import}");
    assert_eq!(
        rejected(import),
        vec![
            (4, "invalid_number".to_owned()),
            (6, "missing_phone".to_owned())
        ]
    );
    assert_eq!(import["columns"], json!(["name"]));
    assert_eq!(import["delimiter"], ",");
}

fn inbox(app: &TestApp, number: &str) -> Vec<String> {
    let sim = app.sim.as_ref().expect("simulator");
    let messages = sim.sim().lock().inbox(number);
    messages.into_iter().map(|m| m.text).collect()
}

/// The base62 code after `/l/` in a message text.
fn link_code(text: &str) -> String {
    let at = text
        .find("/l/")
        .unwrap_or_else(|| panic!("no short link in {text:?}"));
    text[at + 3..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// `recipients.csv` as lines of cells (no quoting in these tests' values).
async fn recipients_csv(app: &TestApp, id: u64) -> Vec<Vec<String>> {
    let a = app
        .get(&format!("/v1/campaigns/{id}/recipients.csv"), &app.key)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    a.text
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn a_json_campaign_imports_previews_sends_and_reports() {
    let app = app_with(Options {
        smsc: Smsc::Sim,
        ..Options::default()
    })
    .await;
    let a = app
        .post(
            "/v1/campaigns",
            &app.key,
            &campaign_json("Habari {{ name }}! Karibu.", CSV),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let id = a.json["id"].as_u64().expect("id");
    assert_eq!(a.json["name"], "November promo");
    assert_eq!(a.json["status"], "running");
    assert_csv_import(&a.json["import"]);
    assert_eq!(a.json["list_id"], a.json["import"]["list_id"]);

    let preview = a.json["preview"].as_array().expect("preview");
    assert_eq!(preview.len(), 2, "{}", a.text);
    assert_eq!(preview[0]["to"], "+254700000101");
    assert_eq!(preview[0]["line"], 2);
    assert_eq!(preview[0]["text"], "Habari Amina! Karibu.");
    assert_eq!(preview[0]["encoding"], "gsm7");
    assert_eq!(preview[0]["segments"], 1);
    assert_eq!(preview[1]["text"], "Habari Zoë 😀! Karibu.");
    assert_eq!(preview[1]["encoding"], "ucs2");
    let estimate = &a.json["estimate"];
    assert_eq!(estimate["recipients"], 2);
    assert_eq!(estimate["total_segments"], 2);
    assert_eq!(estimate["ucs2_messages"], 1);
    assert_eq!(estimate["failed"], 0);

    // Every handset shows exactly its own text.
    eventually("both handsets to receive their message", || async {
        let a = inbox(&app, "254700000101");
        let b = inbox(&app, "254700000102");
        (!a.is_empty() && !b.is_empty()).then_some(())
    })
    .await;
    assert_eq!(inbox(&app, "254700000101"), vec!["Habari Amina! Karibu."]);
    assert_eq!(inbox(&app, "254700000102"), vec!["Habari Zoë 😀! Karibu."]);

    let report = eventually("both messages delivered", || async {
        let r = app.get(&format!("/v1/campaigns/{id}"), &app.key).await;
        (r.json["counts"]["delivered"] == 2 && r.json["status"] == "completed").then_some(r)
    })
    .await;
    let r = &report.json;
    assert_eq!(r["id"], id);
    assert_eq!(r["template"], "Habari {{ name }}! Karibu.");
    assert_eq!(r["from"], "ACME");
    assert_eq!(r["track_links"], false);
    assert_eq!(r["window"], Value::Null);
    assert!(r["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let counts = &r["counts"];
    assert_eq!(counts["total"], 5, "{counts}");
    assert_eq!(counts["invalid"], 2, "{counts}");
    assert_eq!(counts["duplicates"], 1, "{counts}");
    assert_eq!(counts["recipients"], 2, "{counts}");
    assert_eq!(counts["accepted"], 2, "{counts}");
    assert_eq!(counts["failed"], 0, "{counts}");
    assert_eq!(counts["clicks"], 0, "{counts}");
    assert_eq!(r["delivery_rate"], 1.0);
    let funnel: Vec<(&str, u64)> = r["funnel"]
        .as_array()
        .expect("funnel")
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap_or(""),
                s["count"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        funnel,
        vec![
            ("total", 5),
            ("accepted", 2),
            ("submitted", 2),
            ("delivered", 2),
            ("clicked", 0)
        ]
    );
    assert!(r["latency"]["p50"].is_u64(), "{}", r["latency"]);
    assert!(r["operators"].is_array() && r["errors"].is_array());

    // One line per recipient, in file order.
    let lines = recipients_csv(&app, id).await;
    assert_eq!(
        lines[0],
        [
            "seq",
            "line",
            "to",
            "status",
            "message_id",
            "error",
            "segments",
            "submitted_at",
            "delivered_at",
            "clicks"
        ]
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (row, (seq, line, to)) in lines[1..]
        .iter()
        .zip([(1, 2, "+254700000101"), (2, 3, "+254700000102")])
    {
        assert_eq!(row.len(), 10, "{row:?}");
        assert_eq!(
            (&*row[0], &*row[1], &*row[2], &*row[3]),
            (&*seq.to_string(), &*line.to_string(), to, "delivered")
        );
        assert!(!row[4].is_empty(), "message id: {row:?}");
        assert_eq!(row[5], "", "no error: {row:?}");
        assert_eq!(row[6], "1");
        assert!(row[8].ends_with('Z'), "delivered_at: {row:?}");
        assert_eq!(row[9], "0");
    }

    // The list it made is a list like the others.
    let list_id = a.json["list_id"].as_u64().expect("list id");
    let l = app.get(&format!("/v1/lists/{list_id}"), &app.key).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    assert_eq!(l.json["recipients"], 2);
    assert_eq!(l.json["status"], "ready");

    let all = app.get("/v1/campaigns", &app.key).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.json["campaigns"][0]["id"], id);
    assert_eq!(all.json["campaigns"][0]["status"], "completed");
}

#[tokio::test]
async fn a_multipart_campaign_streams_its_csv() {
    let app = app().await;
    let campaign =
        json!({"name": "Upload", "template": "Hi {{ name }}", "track_links": false}).to_string();
    let (content_type, body) = multipart(&[
        ("campaign", None, campaign.as_bytes()),
        ("contacts", Some("contacts.csv"), CSV.as_bytes()),
    ]);
    let a = upload(&app, "/v1/campaigns", &app.key, &content_type, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["name"], "Upload");
    assert_csv_import(&a.json["import"]);
    assert_eq!(a.json["preview"][0]["text"], "Hi Amina");
    let id = a.json["id"].as_u64().expect("id");
    let r = app.get(&format!("/v1/campaigns/{id}"), &app.key).await;
    assert_eq!(r.json["from"], "TUMA", "the default sender: {}", r.text);

    // The CSV must follow the campaign's JSON.
    let (content_type, body) = multipart(&[
        ("contacts", Some("contacts.csv"), CSV.as_bytes()),
        ("campaign", None, campaign.as_bytes()),
    ]);
    let a = upload(&app, "/v1/campaigns", &app.key, &content_type, body).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!((a.code(), a.field()), ("missing_field", Some("campaign")));

    // contacts_csv belongs to the JSON form only.
    let with_csv = json!({"name": "x", "template": "Hi", "contacts_csv": CSV}).to_string();
    let (content_type, body) = multipart(&[("campaign", None, with_csv.as_bytes())]);
    let a = upload(&app, "/v1/campaigns", &app.key, &content_type, body).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(
        (a.code(), a.field()),
        ("invalid_contacts", Some("contacts_csv"))
    );

    let (content_type, body) = multipart(&[("colour", None, b"blue")]);
    let a = upload(&app, "/v1/campaigns", &app.key, &content_type, body).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert_eq!((a.code(), a.field()), ("unknown_field", Some("colour")));
}

#[tokio::test]
async fn a_large_upload_arrives_in_many_chunks() {
    let app = app().await;
    // 20,000 rows sent as 2,000 body chunks, some cutting rows in half.
    let rows = 20_000u64;
    let mut csv = String::from("phone;name;balance\n");
    for i in 0..rows {
        csv.push_str(&format!("+2547{:08};Name {i};{}\n", 10_000_000 + i, i * 3));
    }
    let chunks: Vec<Result<Bytes, std::io::Error>> = csv
        .as_bytes()
        .chunks(csv.len() / 2_000 + 1)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let a = upload(
        &app,
        "/v1/lists?name=Big%20list",
        &app.key,
        "text/csv; charset=utf-8",
        body,
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["name"], "Big list");
    assert_eq!(a.json["status"], "ready");
    assert_eq!(a.json["recipients"], rows);
    assert_eq!(a.json["columns"], json!(["name", "balance"]));
    assert_eq!(a.json["import"]["rows"], rows);
    assert_eq!(a.json["import"]["delimiter"], ";");
    assert_eq!(a.json["import"]["rejected_count"], 0);
}

#[tokio::test]
async fn lists_are_imported_listed_and_used() {
    let app = app().await;
    let a = upload(&app, "/v1/lists", &app.key, "text/csv", CSV).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!((a.code(), a.field()), ("missing_field", Some("name")));

    let a = upload(&app, "/v1/lists?name=First", &app.key, "text/csv", CSV).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["recipients"], 2);
    assert_csv_import(&a.json["import"]);
    let first = a.json["id"].as_u64().expect("id");

    let (content_type, body) = multipart(&[
        ("name", None, b"Second"),
        ("file", Some("second.csv"), CSV.as_bytes()),
    ]);
    let a = upload(&app, "/v1/lists", &app.key, &content_type, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["name"], "Second");
    assert_csv_import(&a.json["import"]);
    let second = a.json["id"].as_u64().expect("id");
    assert!(second > first);

    let a = upload(&app, "/v1/lists?name=x", &app.key, "application/json", "{}").await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", a.text);
    assert_eq!(a.code(), "unsupported_media_type");

    let page = app.get("/v1/lists?limit=1", &app.key).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.json["lists"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.json["lists"][0]["id"], second);
    assert_eq!(page.json["next_before"], second);
    let rest = app
        .get(&format!("/v1/lists?before={second}"), &app.key)
        .await;
    assert_eq!(rest.json["lists"][0]["id"], first, "{}", rest.text);
    let bad = app.get("/v1/lists?limit=501", &app.key).await;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );

    // A campaign over a stored list.
    let body = json!({"name": "Reuse", "template": "Hi {{ name }}", "list_id": first}).to_string();
    let a = app.post("/v1/campaigns", &app.key, &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["list_id"], first);
    assert_eq!(a.json["import"], Value::Null);
    assert_eq!(a.json["estimate"]["recipients"], 2);
}

#[tokio::test]
async fn a_template_naming_a_missing_column_is_refused_before_anything_is_stored() {
    let app = app().await;
    let a = app
        .post(
            "/v1/campaigns",
            &app.key,
            &campaign_json("Hi {{ name }}, you owe {{ balanse }}", CSV),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.field(), Some("template"));
    assert_eq!(a.code(), "unknown_column");
    let message = a.json["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("balanse"), "{message}");

    let none = app.get("/v1/campaigns", &app.key).await;
    assert_eq!(none.json["campaigns"], json!([]), "{}", none.text);
    let lists = app.get("/v1/lists", &app.key).await;
    assert_eq!(
        lists.json["lists"],
        json!([]),
        "no list left: {}",
        lists.text
    );
}

#[tokio::test]
async fn bad_campaign_bodies_name_the_field() {
    let app = app().await;
    let both = json!({"name": "x", "template": "Hi", "contacts_csv": CSV, "list_id": 1});
    let neither = json!({"name": "x", "template": "Hi"});
    for body in [both, neither] {
        let a = app.post("/v1/campaigns", &app.key, &body.to_string()).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        assert_eq!(
            (a.code(), a.field()),
            ("invalid_contacts", Some("contacts_csv"))
        );
    }
    let a = app
        .post(
            "/v1/campaigns",
            &app.key,
            &json!({"name": "x", "template": "Hi", "list_id": 1, "colour": "red"}).to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert_eq!((a.code(), a.field()), ("unknown_field", Some("colour")));

    let a = app
        .post(
            "/v1/campaigns",
            &app.key,
            &json!({"name": "x", "template": "Hi", "list_id": "7"}).to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!((a.code(), a.field()), ("invalid_type", Some("list_id")));

    let a = app
        .post(
            "/v1/campaigns",
            &app.key,
            &json!({"name": "x", "template": "Hi", "contacts_csv": CSV, "send_at": "tomorrow"})
                .to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!((a.code(), a.field()), ("invalid_send_at", Some("send_at")));

    let a = app
        .post(
            "/v1/campaigns",
            &app.key,
            &json!({"name": "x", "template": "Hi", "contacts_csv": CSV,
                    "window": {"start": "25:00", "end": "20:00"}})
            .to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.field(), Some("window.start"));

    let a = upload(&app, "/v1/campaigns", &app.key, "text/csv", CSV).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", a.text);

    let a = app.post("/v1/campaigns", &app.key, "{\"name\": ").await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
}

#[tokio::test]
async fn uploads_over_the_limit_are_413_and_leave_nothing() {
    let app = app_with(Options {
        settings: |s| {
            s.max_upload_bytes = 64;
            s.max_campaign_json_bytes = 256;
        },
        ..Options::default()
    })
    .await;
    let a = upload(
        &app,
        "/v1/lists?name=big",
        &app.key,
        "text/csv",
        CSV.repeat(4),
    )
    .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert_eq!(a.code(), "payload_too_large");

    let campaign = json!({"name": "Upload", "template": "Hi"}).to_string();
    let (content_type, body) = multipart(&[
        ("campaign", None, campaign.as_bytes()),
        ("contacts", Some("c.csv"), CSV.repeat(4).as_bytes()),
    ]);
    let a = upload(&app, "/v1/campaigns", &app.key, &content_type, body).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);

    let a = app
        .post(
            "/v1/campaigns",
            &app.key,
            &campaign_json("Hi {{ name }}", &CSV.repeat(4)),
        )
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);

    let lists = app.get("/v1/lists", &app.key).await;
    assert_eq!(lists.json["lists"], json!([]), "{}", lists.text);
    let campaigns = app.get("/v1/campaigns", &app.key).await;
    assert_eq!(campaigns.json["campaigns"], json!([]), "{}", campaigns.text);
}

#[tokio::test]
async fn another_accounts_campaign_and_list_are_404() {
    let app = app().await;
    let a = upload(&app, "/v1/lists?name=Mine", &app.key, "text/csv", CSV).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let list = a.json["id"].as_u64().expect("list");
    let a = app
        .post(
            "/v1/campaigns",
            &app.key,
            &campaign_json("Hi {{ name }}", CSV),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let campaign = a.json["id"].as_u64().expect("campaign");

    let other = &app.other_key;
    for path in [
        format!("/v1/lists/{list}"),
        format!("/v1/campaigns/{campaign}"),
        format!("/v1/campaigns/{campaign}/recipients.csv"),
        "/v1/campaigns/not-a-number".to_owned(),
        "/v1/lists/-1".to_owned(),
    ] {
        let a = app.get(&path, other).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    for action in ["pause", "resume", "cancel"] {
        let a = app
            .post(&format!("/v1/campaigns/{campaign}/{action}"), other, "")
            .await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{action}"
        );
    }
    let body = json!({"name": "Steal", "template": "Hi", "list_id": list}).to_string();
    let a = app.post("/v1/campaigns", other, &body).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::NOT_FOUND, "not_found"),
        "{}",
        a.text
    );
    assert_eq!(app.get("/v1/lists", other).await.json["lists"], json!([]));
    assert_eq!(
        app.get("/v1/campaigns", other).await.json["campaigns"],
        json!([])
    );
    // Still there for its owner.
    let mine = app
        .get(&format!("/v1/campaigns/{campaign}"), &app.key)
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    // Running, or already completed: a small campaign can finish before this request.
    let status = mine.json["status"].as_str().unwrap_or_default();
    assert!(matches!(status, "running" | "completed"), "{}", mine.text);
}

#[tokio::test]
async fn pause_resume_and_cancel_follow_the_status() {
    let app = app().await;
    // A day ahead: scheduled, so nothing is sent while the test pauses and resumes.
    let tomorrow =
        tuma_http::time::format_rfc3339(app.state.engine.clock().now_ms() + 24 * 3600 * 1000);
    let body = json!({
        "name": "Later",
        "template": "Hi {{ name }}",
        "contacts_csv": CSV,
        "send_at": tomorrow,
        "window": {"start": "08:00", "end": "20:00", "timezone": "+03:00"},
        "rate": 10,
    })
    .to_string();
    let a = app.post("/v1/campaigns", &app.key, &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["status"], "scheduled");
    let id = a.json["id"].as_u64().expect("id");
    let summary = app.get(&format!("/v1/campaigns/{id}"), &app.key).await;
    assert_eq!(
        summary.json["window"],
        json!({"start": "08:00", "end": "20:00", "timezone": "+03:00"})
    );
    assert_eq!(summary.json["rate"], 10);
    assert!(summary.json["send_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    let act = |action: &'static str| {
        let app = &app;
        async move {
            app.post(&format!("/v1/campaigns/{id}/{action}"), &app.key, "")
                .await
        }
    };
    let a = act("pause").await;
    assert_eq!(
        (a.status, &a.json["status"]),
        (StatusCode::OK, &json!("paused")),
        "{}",
        a.text
    );
    assert_eq!(a.json["id"], id);
    let a = act("pause").await;
    assert_eq!(
        (a.status, &a.json["status"]),
        (StatusCode::OK, &json!("paused")),
        "{}",
        a.text
    );
    let a = act("resume").await;
    assert_eq!(
        (a.status, &a.json["status"]),
        (StatusCode::OK, &json!("scheduled")),
        "{}",
        a.text
    );
    let a = act("cancel").await;
    assert_eq!(
        (a.status, &a.json["status"]),
        (StatusCode::OK, &json!("cancelled")),
        "{}",
        a.text
    );
    for action in ["pause", "resume"] {
        let a = act(action).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::CONFLICT, "campaign_state"),
            "{action}: {}",
            a.text
        );
        assert!(
            a.json["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("cancelled")),
            "{}",
            a.text
        );
    }
    // Nobody was sent anything: every recipient is cancelled (or still pending).
    let lines = recipients_csv(&app, id).await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    for row in &lines[1..] {
        assert!(row[3] == "cancelled" || row[3] == "pending", "{row:?}");
        assert_eq!(row[4], "", "no message: {row:?}");
    }
}

#[tokio::test]
async fn tracked_links_redirect_and_count_clicks() {
    let app = app_with(Options {
        smsc: Smsc::Sim,
        ..Options::default()
    })
    .await;
    let csv = "phone,name\n0700000103,Wanjiru\n";
    let body = json!({
        "name": "Links",
        "template": "Hi {{ name }}, see https://example.com/offer?id=7 today",
        "contacts_csv": csv,
        "track_links": true,
    })
    .to_string();
    let a = app.post("/v1/campaigns", &app.key, &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let id = a.json["id"].as_u64().expect("id");
    let preview = a.json["preview"][0]["text"].as_str().expect("preview");
    assert!(!preview.contains("example.com"), "{preview}");

    let text = eventually("the handset to get the message", || async {
        inbox(&app, "254700000103").pop()
    })
    .await;
    assert!(text.starts_with("Hi Wanjiru, see http"), "{text}");
    assert!(text.contains("/l/"), "{text}");
    assert!(!text.contains("example.com"), "{text}");
    let code = link_code(&text);
    assert!(code.len() >= 8, "{text}");

    // A HEAD (link preview) redirects without counting.
    let head = visit(&app, Method::HEAD, &format!("/l/{code}")).await;
    assert_eq!(head.status, StatusCode::FOUND);

    let a = visit(&app, Method::GET, &format!("/l/{code}")).await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.text);
    assert_eq!(
        a.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("https://example.com/offer?id=7")
    );
    assert_eq!(
        a.headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );

    let r = app.get(&format!("/v1/campaigns/{id}"), &app.key).await;
    assert_eq!(r.json["counts"]["clicks"], 1, "{}", r.text);
    assert_eq!(r.json["counts"]["unique_clicks"], 1, "{}", r.text);
    assert_eq!(r.json["track_links"], true);
    let lines = recipients_csv(&app, id).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1][9], "1", "{lines:?}");

    for path in [
        "/l/ZZZZZZZZZZ".to_owned(),       // well-formed, unknown
        "/l/short".to_owned(),            // too short
        format!("/l/{}", "a".repeat(33)), // too long
        "/l/abc-def_ghi".to_owned(),      // not base62
        "/l/%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC".to_owned(),
    ] {
        let a = visit(&app, Method::GET, &path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.text, "link not found\n", "{path}");
        assert!(
            a.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("text/plain")),
            "{path}"
        );
    }
    let r = app.get(&format!("/v1/campaigns/{id}"), &app.key).await;
    assert_eq!(r.json["counts"]["clicks"], 1, "unknown codes count nothing");
}

#[test]
fn the_redirector_is_documented() {
    let doc: Value = serde_json::from_str(tuma_http::OPENAPI).expect("openapi.json");
    let routes = tuma_http::link_routes();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].path, "/l/{code}");
    assert!(!routes[0].authenticated);
    let op = &doc["components"]["pathItems"]["TrackedLink"]["get"];
    assert_eq!(op["security"], json!([]), "no key");
    assert!(op["responses"]["302"].is_object(), "{op}");
    assert!(op["responses"]["404"].is_object(), "{op}");
    for path in [
        "/v1/lists",
        "/v1/lists/{id}",
        "/v1/campaigns",
        "/v1/campaigns/{id}",
        "/v1/campaigns/{id}/recipients.csv",
        "/v1/campaigns/{id}/pause",
        "/v1/campaigns/{id}/resume",
        "/v1/campaigns/{id}/cancel",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}
