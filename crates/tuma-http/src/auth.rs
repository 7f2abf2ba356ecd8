//! API keys: making them, hashing them, and authenticating requests without a database read
//! per request.
//!
//! A key is `tuma_` + 32 base62 characters (about 190 bits); the store keeps only its
//! SHA-256 ([`ApiKeyHash`]). Authenticated hashes are cached in memory for
//! [`crate::ApiSettings::key_cache_ttl`] (60 s by default): a key revoked through this node's
//! API leaves the cache at once; a key revoked on another node (or directly in the database)
//! keeps working here until its entry is older than the TTL, then the next request reads the
//! store again. Unknown keys are not cached: every request with a bad key reads the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use tuma_store::{AccountId, ApiKeyHash, Stores};

use crate::error::ApiError;
use crate::AppState;

/// Prefix of generated keys (lets secret scanners and people recognise them).
pub const KEY_PREFIX: &str = "tuma_";
/// Random characters after the prefix.
pub const KEY_RANDOM_CHARS: usize = 32;
/// The operator account: its keys are admin keys.
pub const OPERATOR: AccountId = AccountId(1);
/// Cache size at which expired entries are swept on insert.
const SWEEP_AT: usize = 10_000;
/// Longer bearer tokens are refused without hashing.
const MAX_TOKEN_LEN: usize = 512;

/// A fresh key: `tuma_` + 32 characters of `[A-Za-z0-9]` from the thread's CSPRNG.
pub fn generate_key() -> String {
    let mut key = String::with_capacity(KEY_PREFIX.len() + KEY_RANDOM_CHARS);
    key.push_str(KEY_PREFIX);
    Alphanumeric.append_string(&mut rand::rng(), &mut key, KEY_RANDOM_CHARS);
    key
}

/// The stored form of a key.
pub fn hash_key(key: &str) -> ApiKeyHash {
    ApiKeyHash(Sha256::digest(key.as_bytes()).into())
}

/// Who is calling (an authenticated key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The key's account.
    pub account: AccountId,
    /// The key's id.
    pub key_id: u64,
}

impl Caller {
    /// Whether the key belongs to the operator account.
    pub fn is_admin(&self) -> bool {
        self.account == OPERATOR
    }
}

/// A caller with an operator key (403 `forbidden` otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admin(pub Caller);

#[derive(Debug, Clone, Copy)]
struct Cached {
    caller: Caller,
    at: Instant,
}

/// Hash -> key cache (see the module documentation).
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    map: RwLock<HashMap<ApiKeyHash, Cached>>,
    /// Bumped by every revocation. A store read that started before a revocation must not
    /// put its (possibly revoked) key into the cache afterwards.
    epoch: AtomicU64,
}

impl KeyCache {
    /// An empty cache keeping positive entries for `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        }
    }

    /// Authenticates an `Authorization` header value.
    pub async fn authenticate(
        &self,
        header: Option<&HeaderValue>,
        stores: &Stores,
    ) -> Result<Caller, ApiError> {
        let Some(header) = header else {
            return Err(ApiError::unauthorized(
                "missing Authorization header (expected \"Bearer <key>\")",
            ));
        };
        let token = bearer_token(header).ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be \"Bearer <key>\"")
        })?;
        let hash = hash_key(token);
        if let Some(hit) = self.lookup(&hash) {
            return Ok(hit);
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let found = stores.accounts.find_api_key(hash).await?;
        let Some(key) = found else {
            return Err(ApiError::unauthorized("invalid or revoked API key"));
        };
        let caller = Caller {
            account: key.account,
            key_id: key.id,
        };
        if !self.ttl.is_zero() {
            let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
            // Checked under the lock: `forget` bumps the epoch before it takes the lock, so
            // either we see its bump here or it removes what we insert.
            if self.epoch.load(Ordering::Acquire) == epoch {
                // Entries of keys nobody uses any more stay until swept here: the map never
                // grows past SWEEP_AT live-or-stale keys for long.
                if map.len() >= SWEEP_AT {
                    let ttl = self.ttl;
                    map.retain(|_, c| c.at.elapsed() < ttl);
                }
                map.insert(
                    hash,
                    Cached {
                        caller,
                        at: Instant::now(),
                    },
                );
            }
        }
        Ok(caller)
    }

    fn lookup(&self, hash: &ApiKeyHash) -> Option<Caller> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        let hit = map.get(hash)?;
        (hit.at.elapsed() < self.ttl).then_some(hit.caller)
    }

    /// Drops a revoked key (by id) from the cache at once.
    pub fn forget(&self, key_id: u64) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, c| c.caller.key_id != key_id);
    }

    /// Entries cached now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The key of `Bearer <key>` (scheme case-insensitive, as RFC 9110 says).
fn bearer_token(header: &HeaderValue) -> Option<&str> {
    let value = header.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty() && token.len() <= MAX_TOKEN_LEN).then_some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .inner
            .keys
            .authenticate(
                parts.headers.get(header::AUTHORIZATION),
                state.engine.stores(),
            )
            .await
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.is_admin() {
            Ok(Admin(caller))
        } else {
            Err(ApiError::forbidden())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_base62_and_distinct() {
        let a = generate_key();
        let b = generate_key();
        assert_eq!(a.len(), 37);
        assert!(a.starts_with("tuma_"));
        assert!(a[5..].bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(hash_key(&a), hash_key(&a.clone()));
        assert_ne!(hash_key(&a), hash_key(&b));
    }

    #[test]
    fn bearer_parsing() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(bearer_token(&h("Bearer tuma_x")), Some("tuma_x"));
        assert_eq!(bearer_token(&h("bearer  tuma_x ")), Some("tuma_x"));
        assert_eq!(bearer_token(&h("Basic dXNlcg==")), None);
        assert_eq!(bearer_token(&h("Bearer ")), None);
        assert_eq!(bearer_token(&h("tuma_x")), None);
    }
}
