//! First start: the operator account and its admin key.

use std::io::Write;
use std::path::{Path, PathBuf};

use tuma_store::{AccountId, StoreError, Stores};

use crate::auth::{generate_key, hash_key, OPERATOR};

/// Name of the operator account (id 1).
pub const OPERATOR_NAME: &str = "operator";
/// File, in the data directory, holding a generated admin key.
pub const ADMIN_KEY_FILE: &str = "admin-key";
/// Label of the key added from `TUMA_API_KEY`.
pub const ENV_KEY_LABEL: &str = "TUMA_API_KEY";
/// Label of a generated admin key.
pub const GENERATED_KEY_LABEL: &str = "generated admin key";
/// Shortest key accepted from the environment.
pub const MIN_ENV_KEY_LEN: usize = 16;

/// What [`bootstrap`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootstrapOutcome {
    /// The operator account was created now (first start).
    pub created_operator: bool,
    /// The environment key's hash was added now (it was not stored yet).
    pub env_key_added: bool,
    /// A key generated now: print it once. Also written to [`BootstrapOutcome::key_file`].
    pub generated_key: Option<String>,
    /// Where the generated key was written.
    pub key_file: Option<PathBuf>,
}

impl BootstrapOutcome {
    /// The key to print once: the one generated now, if any.
    pub fn generated_key(&self) -> Option<String> {
        self.generated_key.clone()
    }
}

/// Why [`bootstrap`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing `<data-dir>/admin-key` failed.
    #[error("cannot write the admin key to {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `TUMA_API_KEY` is unusable.
    #[error("TUMA_API_KEY must be at least {MIN_ENV_KEY_LEN} printable characters without spaces")]
    BadEnvKey,
    /// `TUMA_API_KEY` is already a key of another account.
    #[error("TUMA_API_KEY is a key of account {0}, not of the operator account")]
    EnvKeyOfOtherAccount(AccountId),
    /// The store gave the first account another id than 1.
    #[error("the first account got id {0}; the operator account must be 1")]
    OperatorId(AccountId),
}

/// Creates the operator account (id 1, `operator`) on first start (no accounts at all) and
/// makes sure an admin key exists:
/// - with `env_key` (`TUMA_API_KEY`): its hash is added to the operator account if it is not
///   stored yet; the key itself is never written anywhere;
/// - otherwise, on first start only: a key is generated, written to `<data_dir>/admin-key`
///   (created with mode 0600) and returned for the binary to print once. Later starts
///   without `env_key` generate nothing.
///
/// The key file is written before the key's hash is stored: a crash in between leaves a
/// file with a key that does not work (the next start cannot tell; set `TUMA_API_KEY`),
/// never a working key nobody can read.
pub async fn bootstrap(
    stores: &Stores,
    data_dir: &Path,
    env_key: Option<String>,
    now_ms: u64,
) -> Result<BootstrapOutcome, BootstrapError> {
    let mut outcome = BootstrapOutcome::default();
    if stores.accounts.list_accounts().await?.is_empty() {
        let account = stores
            .accounts
            .create_account(OPERATOR_NAME, now_ms)
            .await?;
        if account.id != OPERATOR {
            return Err(BootstrapError::OperatorId(account.id));
        }
        outcome.created_operator = true;
    }

    if let Some(key) = env_key {
        let key = key.trim();
        if key.len() < MIN_ENV_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BootstrapError::BadEnvKey);
        }
        let hash = hash_key(key);
        match stores.accounts.find_api_key(hash).await? {
            Some(k) if k.account == OPERATOR => {}
            Some(k) => return Err(BootstrapError::EnvKeyOfOtherAccount(k.account)),
            None => {
                stores
                    .accounts
                    .add_api_key(OPERATOR, ENV_KEY_LABEL, hash, now_ms)
                    .await?;
                outcome.env_key_added = true;
            }
        }
    } else if outcome.created_operator {
        let key = generate_key();
        let path = data_dir.join(ADMIN_KEY_FILE);
        write_private(&path, key.as_bytes()).map_err(|source| BootstrapError::KeyFile {
            path: path.clone(),
            source,
        })?;
        stores
            .accounts
            .add_api_key(OPERATOR, GENERATED_KEY_LABEL, hash_key(&key), now_ms)
            .await?;
        outcome.generated_key = Some(key);
        outcome.key_file = Some(path);
    }
    Ok(outcome)
}

/// Writes `path` atomically, readable by the owner only from the first byte: a temporary
/// file is created with mode 0600 (never with the umask's mode and chmod-ed later), written,
/// synced, then renamed over `path`.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    // A leftover from a crashed start: its contents are a key that was never stored.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    Ok(())
}
