//! `/healthz`, `/metrics`, `/openapi.json`, and the router's own 404/405 answers.

mod common;

use axum::http::{Method, StatusCode};
use common::app;
use serde_json::Value;
use std::sync::Arc;
use tuma_store::{
    Account, AccountId, AccountSettings, AccountStore, ApiKey, ApiKeyHash, MemoryStore, StoreError,
};

#[tokio::test]
async fn healthz_lists_connectors_without_auth() {
    let app = app().await;
    let a = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["status"], "ok");
    let connectors = a.json["connectors"].as_array().expect("connectors");
    assert_eq!(connectors.len(), 1);
    assert_eq!(connectors[0]["id"], "sim");

    app.state.begin_shutdown();
    let a = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.json["reason"], "shutting_down");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_class() {
    let app = app().await;
    app.get("/v1/account", &app.key).await;
    app.get("/v1/account", &app.key).await;
    app.call(Method::GET, "/v1/account", None, None).await;
    app.call(Method::GET, "/no/such/route", None, None).await;
    let m = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(m.status, StatusCode::OK);
    let ct = m.headers["content-type"].to_str().expect("content type");
    assert!(
        ct.starts_with("text/plain") || ct.starts_with("application/openmetrics-text"),
        "{ct}"
    );
    assert!(
        m.text.contains(
            "tuma_http_requests_total{route=\"/v1/account\",method=\"GET\",class=\"2xx\"} 2\n"
        ),
        "{}",
        m.text
    );
    assert!(m.text.contains(
        "tuma_http_requests_total{route=\"/v1/account\",method=\"GET\",class=\"4xx\"} 1\n"
    ));
    assert!(m.text.contains(
        "tuma_http_requests_total{route=\"unmatched\",method=\"any\",class=\"4xx\"} 1\n"
    ));
    if ct.starts_with("application/openmetrics-text") {
        assert!(m.text.ends_with("# EOF\n"));
        assert_eq!(m.text.matches("# EOF").count(), 1);
    }
    assert_eq!(
        app.state
            .http_metrics()
            .get("/v1/account", &Method::GET, "2xx"),
        2
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = app().await;
    let a = app.get("/v2/nothing", &app.key).await;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"));
    let a = app
        .call(Method::DELETE, "/v1/messages", Some(&app.key), None)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let app = app().await;
    let a = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = &a.json;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let routes = tuma_http::routes();
    for route in &routes {
        let method = route.method.as_str().to_ascii_lowercase();
        let op = &paths
            .get(route.path)
            .unwrap_or_else(|| panic!("{} is not in openapi.json", route.path))[&method];
        assert!(op.is_object(), "{route:?} is not in openapi.json");
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{route:?}: no success response"
        );
        let secured = op
            .get("security")
            .map_or(!doc["security"].as_array().is_none_or(Vec::is_empty), |s| {
                !s.as_array().is_none_or(Vec::is_empty)
            });
        assert_eq!(secured, route.authenticated, "{route:?}: security");
        if route.authenticated {
            assert!(responses.contains_key("401"), "{route:?}: no 401");
        }
    }
    // Nothing documented that the router does not serve.
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            if method == "parameters" {
                continue;
            }
            assert!(
                routes
                    .iter()
                    .any(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method)),
                "openapi.json documents {method} {path}, which the router does not serve"
            );
        }
    }
    // Every $ref resolves.
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r.strip_prefix('#').expect("local ref");
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
    // The same document as the crate constant.
    assert_eq!(
        serde_json::from_str::<Value>(tuma_http::OPENAPI).expect("json"),
        *doc
    );
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(s) = v.as_str() {
                        out.push(s.to_owned());
                    }
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// An account store whose every call fails, as a broken database would.
struct BrokenAccounts;

fn broken() -> StoreError {
    StoreError::Backend {
        operation: "select",
        message: "disk I/O error at /secret/path/tuma.db".into(),
    }
}

#[async_trait::async_trait]
impl AccountStore for BrokenAccounts {
    async fn create_account(&self, _: &str, _: u64) -> Result<Account, StoreError> {
        Err(broken())
    }
    async fn get_account(&self, _: AccountId) -> Result<Option<Account>, StoreError> {
        Err(broken())
    }
    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        Err(broken())
    }
    async fn update_account_settings(
        &self,
        _: AccountId,
        _: AccountSettings,
    ) -> Result<Account, StoreError> {
        Err(broken())
    }
    async fn add_api_key(
        &self,
        _: AccountId,
        _: &str,
        _: ApiKeyHash,
        _: u64,
    ) -> Result<ApiKey, StoreError> {
        Err(broken())
    }
    async fn find_api_key(&self, _: ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        Err(broken())
    }
    async fn revoke_api_key(&self, _: u64) -> Result<bool, StoreError> {
        Err(broken())
    }
}

#[tokio::test]
async fn a_failing_store_is_503_on_healthz_and_500_without_details() {
    let mut stores = MemoryStore::stores();
    stores.accounts = Arc::new(BrokenAccounts);
    let app = common::TestApp::bare(common::state_on(stores.clone()).await, stores, "k".into());
    let h = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(h.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h.json["reason"], "store_unavailable");
    let a = app
        .get("/v1/account", "tuma_SomeKey000000000000000000000000")
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal")
    );
    assert!(
        !a.text.contains("secret") && !a.text.contains("disk"),
        "{}",
        a.text
    );
}
