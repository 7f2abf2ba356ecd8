//! `tuma send`, `tuma message` and the shared helpers of `tuma campaign`: thin clients of
//! the HTTP API.
//!
//! The gateway's address comes from `--url` or `TUMA_URL` (default http://127.0.0.1:8080),
//! the key from `--api-key`, `TUMA_API_KEY`, or, for a gateway started in this directory,
//! the `tuma-data/admin-key` file written on first start.

use std::path::Path;

use anyhow::Context;
use serde_json::{json, Value};

/// Where and as whom to call the API.
#[derive(Debug, Clone)]
pub struct ApiTarget {
    pub url: String,
    pub key: String,
}

impl ApiTarget {
    /// From flags, then the environment, then the local admin-key file.
    pub fn resolve(url: Option<String>, key: Option<String>) -> anyhow::Result<Self> {
        let url = url
            .or_else(|| std::env::var("TUMA_URL").ok())
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
        let key = match key.or_else(|| std::env::var("TUMA_API_KEY").ok()) {
            Some(k) => k,
            None => std::fs::read_to_string(Path::new("tuma-data").join("admin-key"))
                .map(|k| k.trim().to_owned())
                .map_err(|_| {
                    anyhow::anyhow!(
                        "no API key: pass --api-key or set TUMA_API_KEY (the admin key is \
                         printed on the gateway's first start and kept in <data-dir>/admin-key)"
                    )
                })?,
        };
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// The full URL of an API path (`/v1/campaigns`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// `GET path`: the JSON body of a 2xx answer, or the API's error.
    pub async fn get(&self, client: &reqwest::Client, path: &str) -> anyhow::Result<Value> {
        let response = client
            .get(self.endpoint(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .with_context(|| format!("calling {}", self.url))?;
        read(response).await
    }

    /// `POST path` with a JSON body (or none).
    pub async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = client.post(self.endpoint(path)).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("calling {}", self.url))?;
        read(response).await
    }

    /// `GET path`, its body streamed chunk by chunk into `out` (never held whole); returns
    /// the bytes written.
    pub async fn download(
        &self,
        client: &reqwest::Client,
        path: &str,
        out: &mut (dyn std::io::Write + Send),
    ) -> anyhow::Result<u64> {
        let mut response = client
            .get(self.endpoint(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .with_context(|| format!("calling {}", self.url))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.context("reading the answer")?;
            return Err(api_error(status, &body_value(text)));
        }
        let mut written = 0u64;
        while let Some(chunk) = response.chunk().await.context("reading the answer")? {
            out.write_all(&chunk).context("writing the download")?;
            written += chunk.len() as u64;
        }
        out.flush().context("writing the download")?;
        Ok(written)
    }
}

/// The HTTP client of the CLI commands: a bounded connect time, no overall timeout (an
/// upload or a download of a million recipients takes as long as it takes).
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .context("building the HTTP client")
}

/// The fields of `tuma send`.
#[derive(Debug, Clone, Default)]
pub struct SendArgs {
    pub to: String,
    pub from: Option<String>,
    pub text: String,
    pub callback_url: Option<String>,
    pub reference: Option<String>,
    pub send_at: Option<String>,
    pub validity: Option<String>,
    pub idempotency_key: Option<String>,
}

/// `POST /v1/messages`; returns the response body.
pub async fn send(target: &ApiTarget, args: &SendArgs) -> anyhow::Result<Value> {
    let mut body = json!({ "to": args.to, "text": args.text });
    let fields = [
        ("from", &args.from),
        ("callback_url", &args.callback_url),
        ("reference", &args.reference),
        ("send_at", &args.send_at),
        ("validity", &args.validity),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            body[name] = json!(v);
        }
    }
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{}/v1/messages", target.url))
        .bearer_auth(&target.key)
        .json(&body);
    if let Some(k) = &args.idempotency_key {
        request = request.header("Idempotency-Key", k);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("calling {}", target.url))?;
    read(response).await
}

/// `GET /v1/messages/{id}`.
pub async fn message(target: &ApiTarget, id: &str) -> anyhow::Result<Value> {
    let response = reqwest::Client::new()
        .get(format!("{}/v1/messages/{id}", target.url))
        .bearer_auth(&target.key)
        .send()
        .await
        .with_context(|| format!("calling {}", target.url))?;
    read(response).await
}

/// The JSON body of a 2xx answer, or the API's error as an error (status, code, field and
/// message).
pub async fn read(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await.context("reading the answer")?;
    let value = body_value(text);
    if status.is_success() {
        return Ok(value);
    }
    Err(api_error(status, &value))
}

/// A body as JSON, or as a JSON string when it is not JSON.
fn body_value(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// The API's error body `{"error": {"code", "message", "field"?}}` as an error:
/// `422 Unprocessable Entity: unknown_column (template): ...`.
fn api_error(status: reqwest::StatusCode, value: &Value) -> anyhow::Error {
    let error = &value["error"];
    match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => match error["field"].as_str() {
            Some(field) => anyhow::anyhow!("{status}: {code} ({field}): {message}"),
            None => anyhow::anyhow!("{status}: {code}: {message}"),
        },
        _ => anyhow::anyhow!("{status}: {value}"),
    }
}

/// A message as people read it in a terminal.
pub fn render_message(v: &Value) -> String {
    use std::fmt::Write;
    let s = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
    let mut out = String::new();
    let _ = writeln!(out, "id:       {}", s("id"));
    let _ = writeln!(out, "status:   {}", s("status"));
    let _ = writeln!(out, "to:       {}", s("to"));
    let _ = writeln!(out, "from:     {}", s("from"));
    let _ = writeln!(
        out,
        "encoding: {}, {} segment(s)",
        s("encoding"),
        v["segments"].as_u64().unwrap_or(0)
    );
    if let Some(r) = v["reference"].as_str() {
        let _ = writeln!(out, "ref:      {r}");
    }
    if let Some(code) = v["error"]["code"].as_str() {
        let _ = writeln!(
            out,
            "error:    {code}: {}",
            v["error"]["message"].as_str().unwrap_or("")
        );
    }
    if let Some(events) = v["events"].as_array() {
        let _ = writeln!(out, "events:");
        for e in events {
            let _ = write!(
                out,
                "  {}  {}",
                e["at"].as_str().unwrap_or("-"),
                e["status"].as_str().unwrap_or("-")
            );
            if let Some(d) = e["detail"].as_str() {
                let _ = write!(out, "  ({d})");
            }
            out.push('\n');
        }
    }
    out
}
