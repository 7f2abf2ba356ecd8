//! Helpers shared by the binary's end-to-end tests.
// Each test binary uses its own subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_tuma");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, whatever happens.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn serve(data_dir: &Path, port: u16, config: Option<&Path>, api_key: Option<&str>) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .arg("--http")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("TUMA_API_KEY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    if let Some(k) = api_key {
        cmd.env("TUMA_API_KEY", k);
    }
    Proc(cmd.spawn().expect("spawning tuma serve"))
}

pub async fn wait_healthy(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if r.status().is_success() {
                let v: Value = r.json().await.unwrap();
                let bound = v["connectors"].as_array().map_or(0, |c| {
                    c.iter().map(|c| c["bound"].as_u64().unwrap_or(0)).sum()
                });
                if bound > 0 {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "gateway not healthy and bound within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn get_json(http: &reqwest::Client, url: String, key: &str) -> (u16, Value) {
    let r = http.get(url).bearer_auth(key).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `tuma smsc` on loopback ports `smpp` and `http`, with `extra` flags.
pub fn spawn_smsc(smpp: u16, http: u16, extra: &[&str]) -> Proc {
    Proc(
        Command::new(BIN)
            .args([
                "smsc",
                "--listen",
                &format!("127.0.0.1:{smpp}"),
                "--http",
                &format!("127.0.0.1:{http}"),
            ])
            .args(extra)
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("spawning tuma smsc"),
    )
}

/// `tuma smsc` as its own process (it outlives a killed gateway), and a gateway config file
/// in `dir` naming it as the only connector with `window`. Returns the process, its HTTP
/// control port and the config file.
pub fn external_smsc(dir: &Path, window: usize) -> (Proc, u16, PathBuf) {
    let (smpp, sim_http) = (free_port(), free_port());
    let sim = spawn_smsc(smpp, sim_http, &[]);
    let config = dir.join("tuma.toml");
    std::fs::write(
        &config,
        format!(
            "[[connectors]]\nname = \"sim\"\nhost = \"127.0.0.1\"\nport = {smpp}\n\
             system_id = \"tuma\"\npassword = \"tuma\"\nwindow = {window}\n"
        ),
    )
    .unwrap();
    (sim, sim_http, config)
}
