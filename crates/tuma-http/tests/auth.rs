//! Authentication, the key cache, admin-only endpoints and the first-start bootstrap.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{app, app_with, message, state_on, Options, TestApp};
use tuma_http::{bootstrap, hash_key, BootstrapError, ADMIN_KEY_FILE};
use tuma_store::AccountId;

/// Creates a key for `account` through the admin API: (id, key).
async fn new_key(app: &TestApp, account: AccountId) -> (u64, String) {
    let a = app
        .post(
            &format!("/v1/accounts/{}/keys", account.0),
            &app.admin,
            r#"{"label":"ci"}"#,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["account"], account.0);
    assert_eq!(a.json["label"], "ci");
    let key = a.json["key"].as_str().expect("key shown once").to_owned();
    assert!(key.starts_with("tuma_") && key.len() == 37, "{key}");
    (a.json["id"].as_u64().expect("id"), key)
}

#[tokio::test]
async fn missing_malformed_and_unknown_keys_are_401() {
    let app = app().await;
    let before = app.counts();
    let none = app
        .call(
            Method::POST,
            "/v1/messages",
            None,
            Some(&message("+254700000100", "hi")),
        )
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.code(), "unauthorized");

    let basic = app
        .call_with(
            Method::GET,
            "/v1/account",
            None,
            None,
            &[("authorization", "Basic dXNlcjpwYXNz")],
        )
        .await;
    assert_eq!(
        (basic.status, basic.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );

    let unknown = app
        .get("/v1/account", "tuma_NotAKeyAtAll00000000000000000")
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );

    // Auth is checked before the body: a huge body without a key is still 401.
    let big = "x".repeat(100_000);
    let a = app
        .call(Method::POST, "/v1/messages", None, Some(&big))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // Nothing reached the engine.
    assert_eq!(app.counts(), before);

    // The same key works.
    let ok = app.get("/v1/account", &app.key).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.json["name"], "acme");
    assert_eq!(ok.json["id"], app.account.0);
}

#[tokio::test]
async fn a_key_revoked_through_the_api_stops_at_once() {
    let app = app().await;
    let (id, key) = new_key(&app, app.account).await;
    // Cached by a first request...
    assert_eq!(app.get("/v1/account", &key).await.status, StatusCode::OK);
    assert!(!app.state.key_cache().is_empty());
    let del = app
        .call(
            Method::DELETE,
            &format!("/v1/keys/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.text);
    // ...and refused right after the revocation.
    let a = app.get("/v1/account", &key).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    // The account's other key is untouched.
    assert_eq!(
        app.get("/v1/account", &app.key).await.status,
        StatusCode::OK
    );
    // Revoking again: 404.
    let again = app
        .call(
            Method::DELETE,
            &format!("/v1/keys/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn a_key_revoked_elsewhere_lives_until_the_cache_ttl() {
    // Default TTL (60 s): a revocation made directly in the store (another node) is not
    // seen while the entry is fresh.
    let app = app().await;
    let (id, key) = new_key(&app, app.account).await;
    assert_eq!(app.get("/v1/account", &key).await.status, StatusCode::OK);
    assert!(app
        .stores
        .accounts
        .revoke_api_key(id)
        .await
        .expect("revoke"));
    assert_eq!(app.get("/v1/account", &key).await.status, StatusCode::OK);

    // TTL zero: every request reads the store, so the revocation is seen at once.
    let app = app_with(Options {
        settings: |s| s.key_cache_ttl = Duration::ZERO,
        ..Options::default()
    })
    .await;
    let (id, key) = new_key(&app, app.account).await;
    assert_eq!(app.get("/v1/account", &key).await.status, StatusCode::OK);
    assert!(app
        .stores
        .accounts
        .revoke_api_key(id)
        .await
        .expect("revoke"));
    assert_eq!(
        app.get("/v1/account", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admin_endpoints_need_an_operator_key() {
    let app = app().await;
    for (method, path, body) in [
        (Method::GET, "/v1/accounts", None),
        (Method::POST, "/v1/accounts", Some(r#"{"name":"x"}"#)),
        (
            Method::POST,
            "/v1/accounts/2/keys",
            Some(r#"{"label":"x"}"#),
        ),
        (Method::DELETE, "/v1/keys/1", None),
    ] {
        let a = app.call(method.clone(), path, Some(&app.key), body).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {path}"
        );
        let a = app.call(method.clone(), path, None, body).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    // The forbidden attempts created nothing and revoked nothing.
    let list = app.get("/v1/accounts", &app.admin).await;
    assert_eq!(list.status, StatusCode::OK);
    let names: Vec<&str> = list.json["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["operator", "acme", "globex"]);
    assert_eq!(
        app.get("/v1/account", &app.admin).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn admin_creates_accounts_and_keys() {
    let app = app().await;
    let a = app
        .post("/v1/accounts", &app.admin, r#"{"name":"initech"}"#)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["account"]["name"], "initech");
    let id = a.json["account"]["id"].as_u64().expect("id");
    let key = a.json["key"]["key"].as_str().expect("first key").to_owned();
    let me = app.get("/v1/account", &key).await;
    assert_eq!(
        (me.status, me.json["id"].as_u64()),
        (StatusCode::OK, Some(id))
    );
    // The new account is not an operator.
    assert_eq!(
        app.get("/v1/accounts", &key).await.status,
        StatusCode::FORBIDDEN
    );

    let dup = app
        .post("/v1/accounts", &app.admin, r#"{"name":"initech"}"#)
        .await;
    assert_eq!(
        (dup.status, dup.code(), dup.field()),
        (StatusCode::CONFLICT, "already_exists", Some("name"))
    );
    let blank = app
        .post("/v1/accounts", &app.admin, r#"{"name":"  "}"#)
        .await;
    assert_eq!(
        (blank.status, blank.code(), blank.field()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            Some("name")
        )
    );
    let unknown = app
        .post("/v1/accounts", &app.admin, r#"{"name":"a","plan":"gold"}"#)
        .await;
    assert_eq!(
        (unknown.status, unknown.code(), unknown.field()),
        (StatusCode::BAD_REQUEST, "unknown_field", Some("plan"))
    );

    let nokey = app.post("/v1/accounts/999/keys", &app.admin, "{}").await;
    assert_eq!(
        (nokey.status, nokey.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let badid = app.post("/v1/accounts/abc/keys", &app.admin, "{}").await;
    assert_eq!(badid.status, StatusCode::NOT_FOUND);
    // An empty body is a key without a label.
    let nolabel = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{id}/keys"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(
        (nolabel.status, &nolabel.json["label"]),
        (StatusCode::CREATED, &serde_json::json!(""))
    );
    // Keys are stored hashed: the store knows the hash, never the key.
    let shown = nolabel.json["key"].as_str().expect("key");
    let stored = app
        .stores
        .accounts
        .find_api_key(hash_key(shown))
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(stored.account, AccountId(id));
}

#[tokio::test]
async fn first_start_generates_a_private_admin_key_once() {
    // SQLite: the operator account must really get id 1 from the backend.
    let (stores, _db) = common::sqlite();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bootstrap(&stores, dir.path(), None, 1_000)
        .await
        .expect("bootstrap");
    assert!(out.created_operator);
    let key = out.generated_key.clone().expect("a generated key");
    let path = dir.path().join(ADMIN_KEY_FILE);
    assert_eq!(out.key_file.as_deref(), Some(path.as_path()));
    assert_eq!(
        std::fs::read_to_string(&path).expect("key file"),
        format!("{key}\n")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    assert!(!dir.path().join("admin-key.tmp").exists());
    let accounts = stores.accounts.list_accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        (accounts[0].id, accounts[0].name.as_str()),
        (AccountId(1), "operator")
    );

    // The key is an admin key.
    let app = TestApp::bare(state_on(stores.clone()).await, stores.clone(), key.clone());
    assert_eq!(app.get("/v1/accounts", &key).await.status, StatusCode::OK);

    // Second start: nothing generated, the file is untouched.
    let again = bootstrap(&stores, dir.path(), None, 2_000)
        .await
        .expect("bootstrap");
    assert_eq!(again, Default::default());
    assert_eq!(
        std::fs::read_to_string(&path).expect("key file"),
        format!("{key}\n")
    );
    assert_eq!(
        stores
            .accounts
            .list_accounts()
            .await
            .expect("accounts")
            .len(),
        1
    );
}

#[tokio::test]
async fn the_environment_key_is_added_once_and_never_written() {
    // SQLite: the operator account must really get id 1 from the backend.
    let (stores, _db) = common::sqlite();
    let dir = tempfile::tempdir().expect("tempdir");
    let env = "tuma_FromTheEnvironment0000000000000".to_owned();
    let out = bootstrap(&stores, dir.path(), Some(env.clone()), 1_000)
        .await
        .expect("bootstrap");
    assert!(out.created_operator && out.env_key_added);
    assert_eq!(out.generated_key, None);
    assert!(!dir.path().join(ADMIN_KEY_FILE).exists());
    let stored = stores
        .accounts
        .find_api_key(hash_key(&env))
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(stored.account, AccountId(1));

    let again = bootstrap(&stores, dir.path(), Some(env.clone()), 2_000)
        .await
        .expect("bootstrap");
    assert!(!again.created_operator && !again.env_key_added);

    // A later start with another key adds it; both work.
    let second = "tuma_AnotherEnvironmentKey0000000000".to_owned();
    let out = bootstrap(&stores, dir.path(), Some(second.clone()), 3_000)
        .await
        .expect("bootstrap");
    assert!(out.env_key_added && !out.created_operator);
    let app = TestApp::bare(state_on(stores.clone()).await, stores.clone(), env.clone());
    assert_eq!(app.get("/v1/accounts", &env).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/accounts", &second).await.status,
        StatusCode::OK
    );
    assert!(!dir.path().join(ADMIN_KEY_FILE).exists());

    // Refused: too short, or a key of a customer account.
    assert!(matches!(
        bootstrap(&stores, dir.path(), Some("short".into()), 4_000).await,
        Err(BootstrapError::BadEnvKey)
    ));
    let (_, customer_key) = common::customer(&stores, "acme", 4_000).await;
    assert!(matches!(
        bootstrap(&stores, dir.path(), Some(customer_key), 4_000).await,
        Err(BootstrapError::EnvKeyOfOtherAccount(AccountId(2)))
    ));
}
