//! Unauthenticated operations endpoints: `/healthz`, `/metrics`, `/openapi.json`; and the
//! HTTP request counters `/metrics` shows.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tuma_engine::ConnectorHealth;

use crate::auth::OPERATOR;
use crate::AppState;

/// The OpenAPI 3.1 document (hand-written, `crates/tuma-http/openapi.json`).
pub const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Serialize)]
struct Health {
    status: &'static str,
    connectors: Vec<ConnectorHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// `GET /healthz`: 200 with the connectors' state; 503 when shutting down or when the store
/// fails a trivial read.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let connectors = state.engine.health();
    let reason = if state.is_shutting_down() {
        Some("shutting_down")
    } else if state
        .engine
        .stores()
        .accounts
        .get_account(OPERATOR)
        .await
        .is_err()
    {
        Some("store_unavailable")
    } else {
        None
    };
    let (code, status) = match reason {
        None => (StatusCode::OK, "ok"),
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    (
        code,
        Json(Health {
            status,
            connectors,
            reason,
        }),
    )
        .into_response()
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

/// `GET /metrics`: the engine's metrics, then the HTTP counters.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let engine = state.engine.render_metrics();
    // prometheus-client writes OpenMetrics, which must end with `# EOF`: our lines go before
    // it and the content type follows the format.
    let (body, open_metrics) = match engine.strip_suffix("# EOF\n") {
        Some(head) => (head.to_owned(), true),
        None => (engine, false),
    };
    let mut body = body;
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    state.inner.http_metrics.render(&mut body, open_metrics);
    let content_type = if open_metrics {
        body.push_str("# EOF\n");
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Requests by route, method and status class: atomics in a map built once from the route
/// list, so counting takes no lock and allocates nothing.
#[derive(Debug)]
pub struct HttpMetrics {
    routes: HashMap<&'static str, Vec<(Method, [AtomicU64; 5])>>,
    unmatched: [AtomicU64; 5],
}

impl HttpMetrics {
    /// Counters for these routes.
    pub fn new(routes: &[(Method, &'static str)]) -> Self {
        let mut map: HashMap<&'static str, Vec<(Method, [AtomicU64; 5])>> = HashMap::new();
        for (method, path) in routes {
            map.entry(path)
                .or_default()
                .push((method.clone(), Default::default()));
        }
        Self {
            routes: map,
            unmatched: Default::default(),
        }
    }

    fn count(&self, path: Option<&str>, method: &Method, status: StatusCode) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        let slot = path
            .and_then(|p| self.routes.get(p))
            .and_then(|ms| ms.iter().find(|(m, _)| m == method))
            .map_or(&self.unmatched, |(_, c)| c);
        slot[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests counted for a route, method and status class (`"2xx"`), for tests.
    pub fn get(&self, path: &str, method: &Method, class: &str) -> u64 {
        let Some(i) = CLASSES.iter().position(|c| *c == class) else {
            return 0;
        };
        self.routes
            .get(path)
            .and_then(|ms| ms.iter().find(|(m, _)| m == method))
            .map_or(0, |(_, c)| c[i].load(Ordering::Relaxed))
    }

    fn render(&self, out: &mut String, open_metrics: bool) {
        let name = "tuma_http_requests";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP requests answered, by route, method and status class."
        );
        if open_metrics {
            let _ = writeln!(out, "# TYPE {name} counter");
        } else {
            let _ = writeln!(out, "# TYPE {name}_total counter");
        }
        let mut routes: Vec<_> = self.routes.iter().collect();
        routes.sort_unstable_by_key(|(p, _)| **p);
        let lines = routes
            .into_iter()
            .flat_map(|(p, ms)| ms.iter().map(move |(m, c)| (*p, m.as_str(), c)))
            .chain(std::iter::once(("unmatched", "any", &self.unmatched)));
        for (path, method, counters) in lines {
            for (class, c) in CLASSES.iter().zip(counters) {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "{name}_total{{route=\"{path}\",method=\"{method}\",class=\"{class}\"}} {n}"
                    );
                }
            }
        }
    }
}

/// Middleware counting every answer by matched route.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    state.inner.http_metrics.count(
        path.as_ref().map(MatchedPath::as_str),
        &method,
        response.status(),
    );
    response
}
