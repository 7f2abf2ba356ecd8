//! Third-party interop: python-smpplib (`tests/interop/smpplib_client.py`) against the
//! simulator on a loopback port.
//!
//! The interpreter is `TUMA_TEST_PYTHON` (default `python3`). Without it or without
//! `smpplib` the test prints why and passes, unless `TUMA_TEST_SMPPLIB=1`, where it fails:
//! CI sets that, so a broken environment cannot pass silently.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use smsc_sim::{SimConfig, SimServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn required() -> bool {
    std::env::var("TUMA_TEST_SMPPLIB").is_ok_and(|v| v == "1")
}

/// `Some(python)` when the interpreter runs and imports smpplib; `None` to skip.
fn python() -> Option<String> {
    let python = std::env::var("TUMA_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let reason = match Command::new(&python)
        .args(["-c", "import smpplib"])
        .output()
    {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => format!(
            "`{python} -c 'import smpplib'` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("cannot run `{python}`: {e}"),
    };
    assert!(
        !required(),
        "TUMA_TEST_SMPPLIB=1 but the interop test cannot run: {reason}"
    );
    eprintln!("skipping the smpplib interop test: {reason} (set TUMA_TEST_PYTHON)");
    None
}

async fn inbox(addr: std::net::SocketAddr, msisdn: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).await.expect("HTTP connect");
    let request = format!(
        "GET /v1/handsets/{msisdn}/messages HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.expect("HTTP write");
    let mut response = Vec::new();
    s.read_to_end(&mut response).await.expect("HTTP read");
    let response = String::from_utf8(response).expect("UTF-8");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpplib_submits_and_receives_a_receipt_for_every_part() {
    let Some(python) = python() else {
        return;
    };
    let server = SimServer::start(
        SimConfig::default(),
        "127.0.0.1:0".parse().expect("address"),
        Some("127.0.0.1:0".parse().expect("address")),
    )
    .await
    .expect("server starts");
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "interop",
        "smpplib_client.py",
    ]
    .iter()
    .collect();
    let port = server.smpp_addr().port().to_string();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            Command::new(python)
                .arg(script)
                .args(["127.0.0.1", &port])
                .output()
        }),
    )
    .await
    .expect("the script ends in time")
    .expect("script task")
    .expect("script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "smpplib client failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON on stdout");

    let submitted: Vec<&str> = report["submitted"]
        .as_array()
        .expect("submitted")
        .iter()
        .map(|v| v.as_str().expect("id"))
        .collect();
    // One GSM-7 part and at least three UCS-2 parts (the long emoji text).
    assert!(submitted.len() >= 4, "{submitted:?}");
    assert!(submitted.iter().all(|id| !id.is_empty()));
    let mut receipted: Vec<&str> = Vec::new();
    for r in report["receipts"].as_array().expect("receipts") {
        assert_eq!(r["stat"], "DELIVRD", "{r}");
        receipted.push(r["id"].as_str().expect("receipt id"));
    }
    let mut expected = submitted.clone();
    expected.sort_unstable();
    receipted.sort_unstable();
    assert_eq!(receipted, expected, "one DELIVRD receipt per part");

    let texts: Vec<&str> = report["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|v| v.as_str().expect("text"))
        .collect();
    let inbox = inbox(server.http_addr().expect("HTTP"), "254700000100").await;
    let shown: Vec<&str> = inbox
        .as_array()
        .expect("inbox array")
        .iter()
        .map(|m| m["text"].as_str().expect("text"))
        .collect();
    assert_eq!(shown, texts, "the handset shows both texts exactly");
    server.shutdown().await;
}
