//! Campaigns end to end through the real binary: `tuma serve` (demo mode, or with an external
//! `tuma smsc`), `tuma campaign create --wait` with a CSV upload, the simulated handsets'
//! inboxes, tracked links, pause / resume / cancel, `kill -9` of the gateway mid-campaign.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::*;

/// Runs `tuma campaign ARGS` against the gateway (off the async runtime's threads).
async fn cli(url: &str, key: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("campaign")
        .args(args)
        .env("TUMA_URL", url)
        .env("TUMA_API_KEY", key)
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("running tuma campaign"))
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A handset's inbox, from the simulator's control API (`base` is `.../sim` in demo mode).
async fn inbox(http: &reqwest::Client, base: &str, msisdn: &str) -> Vec<Value> {
    let r = http
        .get(format!("{base}/v1/handsets/{msisdn}/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json::<Vec<Value>>().await.unwrap()
}

async fn campaign(http: &reqwest::Client, url: &str, key: &str, id: u64) -> Value {
    let (code, v) = get_json(http, format!("{url}/v1/campaigns/{id}"), key).await;
    assert_eq!(code, 200, "{v}");
    v
}

/// Polls the campaign until `done` holds (at most `secs`).
async fn wait_campaign(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    id: u64,
    secs: u64,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = campaign(http, url, key, id).await;
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "campaign {id}: timed out waiting for {what}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(v: &Value, k: &str) -> u64 {
    v["counts"][k]
        .as_u64()
        .unwrap_or_else(|| panic!("no count {k} in {v}"))
}

/// Every message final: completed or cancelled, and accepted = delivered + failed + expired
/// + rejected.
fn finished(v: &Value) -> bool {
    let s = v["status"].as_str().unwrap_or("");
    (s == "completed" || s == "cancelled")
        && count(v, "delivered") + count(v, "failed") + count(v, "expired") + count(v, "rejected")
            >= count(v, "accepted")
}

/// `recipients.csv` through the CLI, as (to -> row by header name).
async fn recipients(
    url: &str,
    key: &str,
    id: u64,
    dir: &Path,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let file = dir.join(format!("recipients-{id}.csv"));
    let o = cli(
        url,
        key,
        &["recipients", &id.to_string(), "-o", file.to_str().unwrap()],
    )
    .await;
    assert_ok(&o, "tuma campaign recipients");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
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
    let mut rows = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{line}");
        let row: BTreeMap<String, String> = header
            .iter()
            .zip(&cells)
            .map(|(h, c)| (h.to_string(), c.to_string()))
            .collect();
        let to = row["to"].clone();
        assert!(rows.insert(to, row).is_none(), "a number twice: {line}");
    }
    rows
}

/// The README's campaign: `tuma campaign create --csv ... --track-links --wait` over good
/// rows, an invalid number, a duplicate, Unicode names and a link; every inbox holds exactly
/// its personalized text with its own short link; the link redirects and counts a click;
/// recipients.csv lists everyone as delivered. Plus the other subcommands and an API error.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_with_tracked_links_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let key = "tuma_campaigntestkey0123456789abcdefgh";
    let _gw = serve(&dir.path().join("data"), port, None, Some(key));
    let http = reqwest::Client::new();
    wait_healthy(&http, port).await;
    let url = format!("http://127.0.0.1:{port}");

    let csv = dir.path().join("contacts.csv");
    std::fs::write(
        &csv,
        "phone,name,balance\n\
         +254700000101,Amina,1200\n\
         0700000102,Zoé,35.50\n\
         +254700000103,李,7\n\
         not-a-number,Bad,1\n\
         0700000101,Amina again,5\n\
         +254700000104,,0\n",
    )
    .unwrap();
    let template = "Hi {{ name | default(\"there\") }}, your balance is {{ balance }}. \
                    Offer: https://shop.example/offer";
    let o = cli(
        &url,
        key,
        &[
            "create",
            "--name",
            "Spring offer",
            "--from",
            "ACME",
            "--template",
            template,
            "--csv",
            csv.to_str().unwrap(),
            "--track-links",
            "--wait",
        ],
    )
    .await;
    assert_ok(&o, "tuma campaign create --wait");
    let stderr = String::from_utf8_lossy(&o.stderr);
    // The readable creation summary goes to stderr with --wait: import and preview.
    assert!(
        stderr.contains("6 rows, 4 accepted, 1 rejected, 1 duplicates"),
        "{stderr}"
    );
    assert!(stderr.contains("rejected line 5"), "{stderr}");
    assert!(stderr.contains("preview:"), "{stderr}");
    // stdout is exactly the JSON summary.
    let summary: Value = serde_json::from_str(&stdout(&o)).expect("stdout is JSON");
    let id = summary["id"].as_u64().unwrap();
    assert_eq!(summary["status"], "completed", "{summary}");
    for (k, want) in [
        ("total", 6),
        ("invalid", 1),
        ("duplicates", 1),
        ("recipients", 4),
        ("pending", 0),
        ("suppressed", 0),
        ("accepted", 4),
        ("submitted", 4),
        ("delivered", 4),
        ("failed", 0),
        ("expired", 0),
        ("rejected", 0),
        ("clicks", 0),
        ("unique_clicks", 0),
    ] {
        assert_eq!(count(&summary, k), want, "{k} in {summary}");
    }

    // Each inbox: exactly one message, exactly the personalized text with its own link.
    let expected = [
        ("254700000101", "Hi Amina, your balance is 1200. Offer: "),
        ("254700000102", "Hi Zoé, your balance is 35.50. Offer: "),
        ("254700000103", "Hi 李, your balance is 7. Offer: "),
        ("254700000104", "Hi there, your balance is 0. Offer: "),
    ];
    let link_base = format!("{url}/l/");
    let mut codes = BTreeSet::new();
    for (msisdn, start) in expected {
        let messages = inbox(&http, &format!("{url}/sim"), msisdn).await;
        assert_eq!(messages.len(), 1, "{msisdn}: {messages:?}");
        assert_eq!(messages[0]["from"], "ACME");
        let text = messages[0]["text"].as_str().unwrap();
        let rest = text
            .strip_prefix(start)
            .unwrap_or_else(|| panic!("{msisdn}: {text:?} does not start with {start:?}"));
        let code = rest
            .strip_prefix(&link_base)
            .unwrap_or_else(|| panic!("{msisdn}: {rest:?} is not a short link on {link_base}"));
        assert!(
            (8..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{msisdn}: code {code:?}"
        );
        assert!(codes.insert(code.to_owned()), "code {code} given twice");
    }

    // Following a link: 302 to the original URL, one click counted.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let code = codes.iter().next().unwrap();
    let r = no_redirects
        .get(format!("{link_base}{code}"))
        .header("user-agent", "campaign-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(r.headers()["location"], "https://shop.example/offer");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let r = no_redirects
        .get(format!("{link_base}zzzzzzzzzzzz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404, "an unknown code");
    let v = campaign(&http, &url, key, id).await;
    assert_eq!(count(&v, "clicks"), 1, "{v}");
    assert_eq!(count(&v, "unique_clicks"), 1, "{v}");

    // recipients.csv: everyone delivered, the clicked one with its click.
    let rows = recipients(&url, key, id, dir.path()).await;
    let numbers: Vec<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        numbers,
        [
            "+254700000101",
            "+254700000102",
            "+254700000103",
            "+254700000104"
        ]
    );
    for row in rows.values() {
        assert_eq!(row["status"], "delivered", "{row:?}");
        assert!(!row["message_id"].is_empty(), "{row:?}");
        assert!(!row["delivered_at"].is_empty(), "{row:?}");
    }
    assert_eq!(
        rows.values()
            .map(|r| r["clicks"].parse::<u64>().unwrap())
            .sum::<u64>(),
        1
    );
    assert_eq!(rows["+254700000101"]["line"], "2");

    // The other subcommands.
    let o = cli(&url, key, &["status", &id.to_string()]).await;
    assert_ok(&o, "status");
    let status: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(status["id"], id);
    let o = cli(&url, key, &["report", &id.to_string()]).await;
    assert_ok(&o, "report");
    let report = stdout(&o);
    assert!(report.contains("funnel"), "{report}");
    assert!(
        report.contains("delivered             4  66.7%"),
        "{report}"
    );
    assert!(
        report.contains("clicked               1  16.7%"),
        "{report}"
    );
    let o = cli(&url, key, &["list"]).await;
    assert_ok(&o, "list");
    assert!(stdout(&o).contains("Spring offer"), "{}", stdout(&o));

    // An API error: status, code, field and message; exit status 1. Nothing is created.
    let o = cli(
        &url,
        key,
        &[
            "create",
            "--name",
            "Broken",
            "--from",
            "ACME",
            "--template",
            "Hi {{ nickname }}",
            "--csv",
            csv.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("422"), "{err}");
    assert!(err.contains("(template)"), "the field: {err}");
    assert!(
        err.contains("nickname"),
        "the message names the column: {err}"
    );
    let o = cli(&url, key, &["pause", &id.to_string()]).await;
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("409") && err.contains("campaign_state"),
        "{err}"
    );
}

/// Creates a rate-limited campaign over `numbers` with the CLI (`--json`); returns its id.
async fn create_slow(
    url: &str,
    key: &str,
    dir: &Path,
    numbers: &[String],
    rate: u32,
    name: &str,
) -> u64 {
    let csv = dir.join(format!("{name}.csv"));
    let mut text = String::from("phone,n\n");
    for (i, n) in numbers.iter().enumerate() {
        text.push_str(&format!("+{n},{i}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let o = cli(
        url,
        key,
        &[
            "create",
            "--name",
            name,
            "--from",
            "ACME",
            "--template",
            "Message {{ n }} of the slow campaign",
            "--csv",
            csv.to_str().unwrap(),
            "--rate",
            &rate.to_string(),
            "--json",
        ],
    )
    .await;
    assert_ok(&o, "tuma campaign create --rate");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["import"]["accepted"], numbers.len() as u64, "{v}");
    v["id"].as_u64().unwrap()
}

/// Every number's inbox holds exactly one message, the one personalized for it.
async fn assert_one_message_each(http: &reqwest::Client, sim: &str, numbers: &[String]) {
    for (i, n) in numbers.iter().enumerate() {
        let messages = inbox(http, sim, n).await;
        assert_eq!(messages.len(), 1, "{n}: {messages:?}");
        assert_eq!(
            messages[0]["text"],
            format!("Message {i} of the slow campaign"),
            "{n}"
        );
    }
}

/// A campaign at 5 messages/s is paused: its counts stop moving; resumed, it finishes with
/// exactly one message per recipient.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_a_rate_limited_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let key = "tuma_pausetestkey0123456789abcdefghijk";
    let _gw = serve(&dir.path().join("data"), port, None, Some(key));
    let http = reqwest::Client::new();
    wait_healthy(&http, port).await;
    let url = format!("http://127.0.0.1:{port}");
    let numbers: Vec<String> = (100..140).map(|n| format!("254700000{n}")).collect();
    let id = create_slow(&url, key, dir.path(), &numbers, 5, "paused").await;

    wait_campaign(&http, &url, key, id, 30, "5 accepted", |v| {
        count(v, "accepted") >= 5
    })
    .await;
    let o = cli(&url, key, &["pause", &id.to_string()]).await;
    assert_ok(&o, "pause");
    assert_eq!(stdout(&o).trim(), format!("campaign {id}: paused"));
    // What was being handed over when the pause came may still land; then nothing moves.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let paused = campaign(&http, &url, key, id).await;
    assert_eq!(paused["status"], "paused");
    let accepted = count(&paused, "accepted");
    assert!(accepted < 40, "the pause came too late to test: {paused}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = campaign(&http, &url, key, id).await;
    assert_eq!(
        count(&later, "accepted"),
        accepted,
        "still sending: {later}"
    );
    assert_eq!(count(&later, "pending"), 40 - accepted, "{later}");

    let o = cli(&url, key, &["resume", &id.to_string()]).await;
    assert_ok(&o, "resume");
    let done = wait_campaign(&http, &url, key, id, 60, "the end", finished).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(count(&done, "delivered"), 40, "{done}");
    assert_eq!(count(&done, "accepted"), 40, "{done}");
    assert_one_message_each(&http, &format!("{url}/sim"), &numbers).await;
    let rows = recipients(&url, key, id, dir.path()).await;
    assert_eq!(rows.len(), 40);
    assert!(
        rows.values().all(|r| r["status"] == "delivered"),
        "{rows:?}"
    );
}

/// A campaign cancelled mid-way: the recipients not handed over are `cancelled` in
/// recipients.csv and never receive anything.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_a_campaign_mid_way() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let key = "tuma_canceltestkey0123456789abcdefghij";
    let _gw = serve(&dir.path().join("data"), port, None, Some(key));
    let http = reqwest::Client::new();
    wait_healthy(&http, port).await;
    let url = format!("http://127.0.0.1:{port}");
    let numbers: Vec<String> = (140..180).map(|n| format!("254700000{n}")).collect();
    let id = create_slow(&url, key, dir.path(), &numbers, 5, "cancelled").await;

    wait_campaign(&http, &url, key, id, 30, "5 accepted", |v| {
        count(v, "accepted") >= 5
    })
    .await;
    let o = cli(&url, key, &["cancel", &id.to_string()]).await;
    assert_ok(&o, "cancel");
    assert_eq!(stdout(&o).trim(), format!("campaign {id}: cancelled"));
    let done = wait_campaign(&http, &url, key, id, 30, "the end", finished).await;
    assert_eq!(done["status"], "cancelled");
    let accepted = count(&done, "accepted");
    assert!(accepted < 40, "cancelled too late to test: {done}");
    // Nothing more is sent later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = campaign(&http, &url, key, id).await;
    assert_eq!(count(&later, "accepted"), accepted, "{later}");

    let rows = recipients(&url, key, id, dir.path()).await;
    assert_eq!(rows.len(), 40);
    let cancelled: Vec<&String> = rows
        .iter()
        .filter(|(_, r)| r["status"] == "cancelled")
        .map(|(to, _)| to)
        .collect();
    assert_eq!(cancelled.len() as u64, 40 - accepted, "{rows:?}");
    for (to, row) in &rows {
        let messages = inbox(&http, &format!("{url}/sim"), to.trim_start_matches('+')).await;
        if row["status"] == "cancelled" {
            assert!(
                messages.is_empty(),
                "{to} was cancelled but got {messages:?}"
            );
            assert!(row["message_id"].is_empty(), "{row:?}");
        } else {
            assert_eq!(row["status"], "delivered", "{row:?}");
            assert_eq!(messages.len(), 1, "{to}: {messages:?}");
        }
    }
}

/// `kill -9` of the gateway mid-campaign and a restart on the same data directory: the
/// campaign completes and every recipient has exactly one message (no loss, no duplicate).
/// The simulator is its own process (`tuma smsc`), so it outlives the gateway.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_survives_kill_9_without_loss_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_sim, sim_http, config) = external_smsc(dir.path(), 16);
    let data = dir.path().join("data");
    let key = "tuma_killtestkey0123456789abcdefghijklm";
    let mut gw = serve(&data, port, Some(&config), Some(key));
    let http = reqwest::Client::new();
    wait_healthy(&http, port).await;
    let url = format!("http://127.0.0.1:{port}");
    let sim = format!("http://127.0.0.1:{sim_http}");
    let numbers: Vec<String> = (100..200).map(|n| format!("254700000{n}")).collect();
    let id = create_slow(&url, key, dir.path(), &numbers, 25, "crash").await;

    let before = wait_campaign(&http, &url, key, id, 30, "20 accepted", |v| {
        count(v, "accepted") >= 20
    })
    .await;
    gw.0.kill().unwrap();
    let _ = gw.0.wait();
    assert!(
        count(&before, "accepted") < 100,
        "killed too late to test: {before}"
    );

    let _gw = serve(&data, port, Some(&config), Some(key));
    wait_healthy(&http, port).await;
    let done = wait_campaign(&http, &url, key, id, 90, "the end", finished).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(count(&done, "accepted"), 100, "{done}");
    assert_eq!(count(&done, "delivered"), 100, "{done}");
    // Late duplicates would show up in the inboxes: give them a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_one_message_each(&http, &sim, &numbers).await;
    let rows = recipients(&url, key, id, dir.path()).await;
    assert_eq!(rows.len(), 100);
    assert!(
        rows.values().all(|r| r["status"] == "delivered"),
        "{rows:?}"
    );
}
