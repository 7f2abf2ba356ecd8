//! The `tuma` binary end to end: `tuma serve` (demo mode and with an external `tuma smsc`),
//! `tuma send` / `tuma message`, SIGTERM and `kill -9` with a restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::*;

async fn post_json(http: &reqwest::Client, url: String, key: &str, body: Value) -> Value {
    http.post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_status(http: &reqwest::Client, port: u16, key: &str, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, v) = get_json(
            http,
            format!("http://127.0.0.1:{port}/v1/messages/{id}"),
            key,
        )
        .await;
        assert_eq!(code, 200, "{v}");
        if v["status"] == want {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "message {id} did not become {want}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(unix)]
fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} failed");
}

/// README's first command: the whole chain in one process, the admin key printed once and
/// kept 0600, a message sent with `tuma send` reaches the simulated handset and is delivered,
/// SIGTERM stops cleanly, a restart keeps everything and generates no new key.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_mode_send_deliver_and_restart() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut gw = serve(&data, port, None, None);

    // The key line comes first on stdout.
    let stdout = gw.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::task::spawn_blocking(move || lines.next().map(|l| (l, lines)))
        .await
        .unwrap();
    let (line, _rest) = line.expect("tuma serve printed nothing");
    let line = line.unwrap();
    let key = line
        .rsplit(' ')
        .next()
        .filter(|k| k.starts_with("tuma_"))
        .unwrap_or_else(|| panic!("no admin key in {line:?}"))
        .to_owned();
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700,
        "a new data directory is private"
    );
    let key_file = data.join("admin-key");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), key);
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let http = reqwest::Client::new();
    wait_healthy(&http, port).await;
    #[cfg(target_os = "linux")]
    writer_outranks_async_threads(gw.0.id());

    // `tuma send`, then `tuma message`.
    let url = format!("http://127.0.0.1:{port}");
    let text = "Karibu! Your order #42 is ready — collect by 6pm ✓";
    let out = Command::new(BIN)
        .args([
            "send",
            "--to",
            "0700 000 123",
            "--from",
            "ACME",
            "--json",
            text,
        ])
        .env("TUMA_URL", &url)
        .env("TUMA_API_KEY", &key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sent["status"], "accepted", "{sent}");
    assert_eq!(sent["encoding"], "ucs2", "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();

    let m = wait_status(&http, port, &key, &id, "delivered").await;
    assert_eq!(m["to"], "+254700000123");
    let statuses: Vec<&str> = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["accepted", "submitted", "delivered"]);

    let out = Command::new(BIN)
        .args(["message", &id])
        .env("TUMA_URL", &url)
        .env("TUMA_API_KEY", &key)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("status:   delivered"));

    // The handset got exactly the text (through the simulator mounted under /sim).
    let (code, inbox) = get_json(
        &http,
        format!("{url}/sim/v1/handsets/254700000123/messages"),
        &key,
    )
    .await;
    assert_eq!(code, 200, "{inbox}");
    assert_eq!(inbox[0]["text"], text, "{inbox}");
    assert_eq!(inbox[0]["from"], "ACME");

    // A bad key is refused; the CLI reports the API's error and fails.
    let out = Command::new(BIN)
        .args(["send", "--to", "+254700000123", "--from", "ACME", "hi"])
        .env("TUMA_URL", &url)
        .env("TUMA_API_KEY", "tuma_wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    // SIGTERM: a clean exit.
    signal(&gw.0, "TERM");
    let status = tokio::task::spawn_blocking(move || {
        let s = gw.0.wait();
        (s, gw)
    })
    .await
    .unwrap()
    .0
    .unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");

    // Restart: no key printed or generated, the old key and the message are still there.
    let mut gw = serve(&data, port, None, None);
    let stdout = gw.0.stdout.take().unwrap();
    wait_healthy(&http, port).await;
    let (code, m) = get_json(&http, format!("{url}/v1/messages/{id}"), &key).await;
    assert_eq!(code, 200);
    assert_eq!(m["status"], "delivered");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), key);
    signal(&gw.0, "TERM");
    let printed = tokio::task::spawn_blocking(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut s);
        s
    })
    .await
    .unwrap();
    assert!(
        !printed.contains("tuma_"),
        "a key was printed again: {printed}"
    );
}

/// The SQLite writer runs at the process's priority and every async thread below it (see
/// `runtime_beside_writer` in main.rs), read from `/proc/<pid>/task/*/stat`.
#[cfg(target_os = "linux")]
fn writer_outranks_async_threads(pid: u32) {
    let (mut threads, mut main) = (Vec::new(), None);
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap();
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap();
        // `tid (comm) state ...`: nice is the 19th field, the 17th after the closing `)`.
        let (head, rest) = stat.rsplit_once(')').unwrap();
        let comm = head.split_once('(').unwrap().1.to_owned();
        let nice: i32 = rest.split_whitespace().nth(16).unwrap().parse().unwrap();
        if task.file_name().to_str() == Some(&pid.to_string()) {
            main = Some(nice); // the main thread's id is the process id
        }
        threads.push((comm, nice));
    }
    let main = main.unwrap_or_else(|| panic!("no main thread in {threads:?}"));
    let writer = threads
        .iter()
        .find(|(c, _)| c.starts_with("tuma-sqlite-wri"))
        .unwrap_or_else(|| panic!("no writer thread in {threads:?}"));
    assert_eq!(writer.1, main, "{threads:?}");
    let workers: Vec<i32> = threads
        .iter()
        .filter(|(c, _)| c == "tokio-rt-worker")
        .map(|t| t.1)
        .collect();
    assert!(!workers.is_empty(), "{threads:?}");
    if std::thread::available_parallelism().map_or(1, usize::from) > 1 {
        assert!(workers.iter().all(|&n| n > writer.1), "{threads:?}");
    }
}

/// Every accepted message survives `kill -9`: a batch is accepted, the gateway is killed at
/// once, restarted on the same data directory, and every message is delivered (the simulator
/// runs as its own process, so receipts for what was already submitted come back too).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_sim, _, config) = external_smsc(dir.path(), 64);
    let data = dir.path().join("data");
    let key = "tuma_testkey0123456789abcdefghijklmnop";
    let mut gw = serve(&data, port, Some(&config), Some(key));
    let http = reqwest::Client::new();
    wait_healthy(&http, port).await;

    let n = 3000;
    let messages: Vec<Value> = (0..n)
        .map(|i| json!({"to": format!("+2547000001{:02}", i % 100), "from": "ACME", "text": format!("crash test {i}")}))
        .collect();
    let r = http
        .post(format!("http://127.0.0.1:{port}/v1/messages/batch"))
        .bearer_auth(key)
        .json(&json!({ "messages": messages }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    // Killed the moment the 202 is read: most messages are still queued or in flight.
    gw.0.kill().unwrap();
    let _ = gw.0.wait();
    let body: Value = r.json().await.unwrap();
    let ids: Vec<String> = body["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), n, "{}", body["rejected"]);

    let _gw = serve(&data, port, Some(&config), Some(key));
    wait_healthy(&http, port).await;
    // The last one first (it was surely not sent before the kill), then every one.
    wait_status(&http, port, key, &ids[n - 1], "delivered").await;
    for id in &ids {
        wait_status(&http, port, key, id, "delivered").await;
    }
}

/// What the test's webhook receiver got: (signature header, body).
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// A webhook receiver on 127.0.0.1:0 that records every POST and answers 200.
async fn webhook_receiver() -> (String, Received) {
    use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
    let got: Received = Default::default();
    let sink = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let sig = headers
                    .get("tuma-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                // The raw body is kept for the signature check.
                let raw = String::from_utf8_lossy(&body).into_owned();
                sink.lock()
                    .unwrap()
                    .push((sig, json!({ "raw": raw, "json": serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null) })));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Through the real binary: status webhooks signed with the configured secret for every
/// change, a reply forwarded to the account's MO webhook and listed by /v1/inbound, STOP by
/// reply suppresses the number (with the configured confirmation) and START undoes it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_replies_and_stop_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tuma.toml");
    let secret = "whsec-test-0123456789";
    std::fs::write(
        &config,
        format!(
            "[webhooks]\nsecret = \"{secret}\"\n[optout]\nstop_reply = \"You are unsubscribed.\"\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let key = "tuma_webhooktestkey0123456789abcdefgh";
    let _gw = serve(&dir.path().join("data"), port, Some(&config), Some(key));
    let http = reqwest::Client::new();
    wait_healthy(&http, port).await;
    let base = format!("http://127.0.0.1:{port}");
    let (hook, got) = webhook_receiver().await;

    // Status webhooks: submitted then delivered, each signed.
    let r = post_json(
        &http,
        format!("{base}/v1/messages"),
        key,
        json!({"to": "+254700000140", "from": "ACME", "text": "hook me", "callback_url": hook, "reference": "order-9"}),
    )
    .await;
    let id = r["id"].as_str().unwrap().to_owned();
    // Deliveries run concurrently, so `submitted` may arrive after `delivered`: wait for both.
    let statuses = wait_for("submitted and delivered webhooks", || {
        let got = got.lock().unwrap();
        let mut s: Vec<String> = got
            .iter()
            .filter(|(_, b)| b["json"]["id"] == id.as_str())
            .map(|(_, b)| b["json"]["status"].as_str().unwrap_or("").to_owned())
            .collect();
        s.sort();
        (s.len() >= 2).then_some(s)
    })
    .await;
    assert_eq!(statuses, ["delivered", "submitted"], "{statuses:?}");
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (sig, body) in got.lock().unwrap().iter() {
        let raw = body["raw"].as_str().unwrap();
        assert!(
            tuma_engine::webhooks::verify(secret.as_bytes(), sig, raw.as_bytes(), now_s, 300),
            "bad signature {sig:?} on {raw}"
        );
        assert!(
            !tuma_engine::webhooks::verify(b"other", sig, raw.as_bytes(), now_s, 300),
            "a wrong secret verified"
        );
        assert_eq!(body["json"]["type"], "message.status");
        assert_eq!(body["json"]["reference"], "order-9");
    }
    got.lock().unwrap().clear();

    // Replies go to the account's MO webhook and to /v1/inbound.
    let r = http
        .patch(format!("{base}/v1/account"))
        .bearer_auth(key)
        .json(&json!({ "mo_url": hook }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .post(format!("{base}/sim/v1/handsets/254700000141/messages"))
        .json(&json!({"to": "ACME", "text": "Habari, tell me more 😀"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap());
    let inbound = wait_for("the reply webhook", || {
        got.lock()
            .unwrap()
            .iter()
            .find(|(_, b)| b["json"]["type"] == "message.inbound")
            .map(|(_, b)| b["json"].clone())
    })
    .await;
    assert_eq!(inbound["from"], "+254700000141");
    assert_eq!(inbound["text"], "Habari, tell me more 😀");
    let (code, list) = get_json(&http, format!("{base}/v1/inbound"), key).await;
    assert_eq!(code, 200);
    assert!(list.to_string().contains("tell me more"), "{list}");

    // STOP by reply: confirmation to the handset, later messages end suppressed.
    http.post(format!("{base}/sim/v1/handsets/254700000142/messages"))
        .json(&json!({"to": "ACME", "text": "stop"}))
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, inbox) = get_json(
            &http,
            format!("{base}/sim/v1/handsets/254700000142/messages"),
            key,
        )
        .await;
        if inbox.to_string().contains("You are unsubscribed.") {
            break;
        }
        assert!(Instant::now() < deadline, "no STOP confirmation: {inbox}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = post_json(
        &http,
        format!("{base}/v1/messages"),
        key,
        json!({"to": "+254700000142", "from": "ACME", "text": "offer"}),
    )
    .await;
    assert_eq!(r["status"], "suppressed", "{r}");

    // START: the number receives again.
    http.post(format!("{base}/sim/v1/handsets/254700000142/messages"))
        .json(&json!({"to": "ACME", "text": "START"}))
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let v = post_json(
            &http,
            format!("{base}/v1/messages"),
            key,
            json!({"to": "+254700000142", "from": "ACME", "text": "welcome back"}),
        )
        .await;
        if v["status"] == "accepted" {
            break v["id"].as_str().unwrap().to_owned();
        }
        assert_eq!(v["status"], "suppressed", "{v}");
        assert!(
            Instant::now() < deadline,
            "START did not lift the suppression"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_status(&http, port, key, &id, "delivered").await;
}

/// `tuma serve --database postgres://...`: the same chain on PostgreSQL (a fresh database per
/// run, dropped at the end). Skipped without TUMA_TEST_DATABASE_URL.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgresql() {
    let Ok(url) = std::env::var("TUMA_TEST_DATABASE_URL") else {
        eprintln!("skipped: TUMA_TEST_DATABASE_URL is not set (a PostgreSQL URL for tests)");
        return;
    };
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connecting to TUMA_TEST_DATABASE_URL");
    tokio::spawn(conn);
    let db = format!("tuma_e2e_{}", std::process::id());
    // One statement per call: DROP/CREATE DATABASE cannot run in a multi-statement block.
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    // Same server and credentials, the fresh database.
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    let db_url = format!("{base}/{db}");

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let key = "tuma_pgtestkey0123456789abcdefghijklm";
    let run = |data: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "serve",
            "--http",
            &format!("127.0.0.1:{port}"),
            "--database",
            &db_url,
        ])
        .arg("--data-dir")
        .arg(dir.path().join(data))
        .env("TUMA_API_KEY", key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
        Proc(cmd.spawn().unwrap())
    };
    let mut gw = run("a");
    let http = reqwest::Client::new();
    wait_healthy(&http, port).await;
    let messages: Vec<Value> = (0..200)
        .map(|i| json!({"to": format!("+2547000001{:02}", i % 100), "from": "ACME", "text": format!("pg {i} ✓")}))
        .chain([json!({"to": "+254700000201", "from": "ACME", "text": "will fail"})])
        .collect();
    let r = post_json(
        &http,
        format!("http://127.0.0.1:{port}/v1/messages/batch"),
        key,
        json!({ "messages": messages }),
    )
    .await;
    let ids: Vec<String> = r["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 201, "{r}");
    for id in &ids[..200] {
        wait_status(&http, port, key, id, "delivered").await;
    }
    let failed = wait_status(&http, port, key, &ids[200], "failed").await;
    assert_eq!(failed["error"]["code"], "smsc_undeliv", "{failed}");

    // Another gateway process on the same database (another data directory) sees it all.
    signal(&gw.0, "TERM");
    let _ = gw.0.wait();
    let _gw = run("b");
    wait_healthy(&http, port).await;
    let (code, m) = get_json(
        &http,
        format!("http://127.0.0.1:{port}/v1/messages/{}", ids[0]),
        key,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(m["status"], "delivered");
    drop(_gw);
    let _ = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await;
}
