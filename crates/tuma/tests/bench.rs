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
    assert_eq!(r["accepted"], 300, "{r}");
    assert_eq!(r["rejected"], 0, "{r}");
    assert_eq!(r["delivered"], 300, "{r}");
    assert_eq!(r["failed"], 0, "{r}");
}

#[test]
fn batches_are_all_accepted_and_delivered() {
    let r = bench_gateway(&[
        "--messages",
        "1050",
        "--batch-size",
        "100",
        "--concurrency",
        "3",
    ]);
    assert_eq!(r["accepted"], 1050, "{r}");
    assert_eq!(r["rejected"], 0, "{r}");
    assert_eq!(r["delivered"], 1050, "{r}");
}
