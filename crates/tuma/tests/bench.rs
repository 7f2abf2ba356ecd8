//! `tuma bench gateway` as a process, on a small load: both modes push every message
//! through the whole chain and report it delivered.

mod common;

use std::process::Command;

use common::BIN;
use serde_json::Value;

/// Runs `tuma bench gateway` with `args` and returns its `RESULT` JSON.
fn bench_gateway(args: &[&str]) -> Value {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["bench", "gateway", "--data-dir"])
        .arg(data.path())
        .args(args)
        .output()
        .expect("running tuma bench gateway");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tuma bench gateway {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

/// Every one of `n` messages was accepted and delivered, none rejected or failed.
fn assert_all_delivered(r: &Value, n: u64) {
    for (field, want) in [
        ("accepted", n),
        ("rejected", 0),
        ("delivered", n),
        ("failed", 0),
    ] {
        assert_eq!(r[field], want, "{field} in {r}");
    }
}

/// The requests' round trips were measured: p50 <= p99 <= max, and above zero.
fn assert_request_latency(r: &Value) {
    let q = &r["latency_ms"]["request"];
    let get = |k: &str| {
        q[k].as_f64()
            .unwrap_or_else(|| panic!("latency_ms.request.{k} in {r}"))
    };
    let (p50, p99, max) = (get("p50"), get("p99"), get("max"));
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{q}");
}

#[test]
fn single_requests_are_all_accepted_and_delivered() {
    let r = bench_gateway(&[
        "--messages",
        "300",
        "--mode",
        "single",
        "--concurrency",
        "8",
    ]);
    assert_all_delivered(&r, 300);
    assert_request_latency(&r);
}

#[test]
fn batches_are_all_accepted_and_delivered() {
    // 1,050: the last batch is a partial one.
    let r = bench_gateway(&[
        "--messages",
        "1050",
        "--batch-size",
        "100",
        "--concurrency",
        "3",
    ]);
    assert_all_delivered(&r, 1050);
    assert_request_latency(&r);
}
