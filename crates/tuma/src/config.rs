//! `tuma serve`'s configuration: `tuma.toml`, then `TUMA_*` environment overrides, then flags.
//!
//! Environment overrides address any key of the file with `__` between levels and a number
//! for an array element: `TUMA_SERVER__HTTP=0.0.0.0:8080`, `TUMA_WEBHOOKS__SECRET=...`,
//! `TUMA_CONNECTORS__0__PASSWORD=...`. Values are read as TOML scalars when they parse as
//! one (`42`, `true`) and as strings otherwise. Names without `__` (`TUMA_API_KEY`,
//! `TUMA_URL`, `TUMA_TEST_*`) are not config keys and are ignored here.
//!
//! Hand-written (about 60 lines) because the layering crates we looked at do not address
//! array elements from the environment, and per-connector passwords are exactly what
//! operators keep out of files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;
use tuma_domain::{
    ConnectorId, Defaults, MultipartPolicy, Region, RetryPolicy, RouteSpec, SenderId, TonNpi,
    Validity, WeightedConnector,
};
use tuma_engine::{
    BindType, CampaignConfig, ConcatMethod, ConnectorConfig, EngineConfig, InboundConfig,
    TlsSettings, WebhookConfig,
};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub server: ServerSection,
    pub defaults: DefaultsSection,
    pub engine: EngineSection,
    pub retry: RetrySection,
    pub webhooks: WebhooksSection,
    pub optout: OptOutSection,
    pub links: LinksSection,
    pub campaigns: CampaignsSection,
    pub operators: Vec<OperatorSection>,
    pub inbound: Vec<InboundNumber>,
    pub connectors: Vec<ConnectorSection>,
    pub routes: Vec<RouteSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// HTTP listen address.
    pub http: SocketAddr,
    /// Where the SQLite database, the admin key and the webhook secret live.
    pub data_dir: PathBuf,
    /// `postgres://...` to use PostgreSQL instead of SQLite.
    pub database: Option<String>,
    /// How long shutdown waits for in-flight submits.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// SQLite: how long a write that finds the writer idle waits for others to share its
    /// commit (`0s`, the default: none). A busy writer never waits.
    #[serde(with = "humantime_serde")]
    pub commit_delay: Duration,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("tuma-data"),
            database: None,
            shutdown_grace: Duration::from_secs(10),
            commit_delay: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefaultsSection {
    /// Region of numbers written without a country code.
    pub region: String,
    /// Sender used when a request names none.
    pub sender: Option<String>,
    /// Validity when a request gives none.
    pub validity: String,
    /// Most segments per message.
    pub max_segments: u8,
    /// Replace typographic look-alikes when that keeps a text GSM-7.
    pub transliterate: bool,
}

impl Default for DefaultsSection {
    fn default() -> Self {
        Self {
            region: "KE".into(),
            sender: None,
            validity: "1d".into(),
            max_segments: 10,
            transliterate: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// `all_delivered` (default), `any_delivered` or `first_part`.
    pub multipart: String,
    /// Expire messages with no final receipt this long after their validity.
    #[serde(with = "humantime_serde")]
    pub expiry_grace: Duration,
    /// Timers' period.
    #[serde(with = "humantime_serde")]
    pub tick: Duration,
    /// Messages waiting for dispatch in memory before intake answers 429.
    pub max_queued: usize,
}

impl Default for EngineSection {
    fn default() -> Self {
        Self {
            multipart: "all_delivered".into(),
            expiry_grace: Duration::from_secs(600),
            tick: Duration::from_secs(1),
            max_queued: 2_000_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySection {
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub throttle_pause: Duration,
    /// `command_status` (decimal or `0x..`) -> `success|throttle|temporary|permanent`.
    pub overrides: BTreeMap<String, tuma_domain::Class>,
}

impl Default for RetrySection {
    fn default() -> Self {
        let d = RetryPolicy::default();
        Self {
            base_delay: d.base_delay,
            max_delay: d.max_delay,
            max_attempts: d.max_attempts,
            throttle_pause: d.throttle_pause,
            overrides: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksSection {
    /// HMAC key; generated into `<data_dir>/webhook-secret` when absent.
    pub secret: Option<String>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_for: Duration,
    pub concurrency: usize,
}

impl Default for WebhooksSection {
    fn default() -> Self {
        let d = WebhookConfig::default();
        Self {
            secret: None,
            timeout: d.timeout,
            retry_for: d.retry_for,
            concurrency: d.concurrency,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptOutSection {
    /// Confirmation sent after STOP-type keywords.
    pub stop_reply: Option<String>,
    /// Confirmation sent after START.
    pub start_reply: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinksSection {
    /// Public base of tracked short links (default: the gateway's address + `/l`).
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignsSection {
    /// Recipients the campaign runner reads, renders and submits at once.
    pub page: usize,
    /// The runner waits while more messages than this wait in memory for dispatch.
    pub max_queued: usize,
    /// The runner waits while more accepted messages than this have no final status yet.
    pub max_unfinished: usize,
}

impl Default for CampaignsSection {
    fn default() -> Self {
        let d = CampaignConfig::default();
        Self {
            page: d.page,
            max_queued: d.max_queued,
            max_unfinished: d.max_unfinished,
        }
    }
}

/// An operator of the per-operator campaign report, known by its number prefixes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSection {
    /// Name shown in reports (`Safaricom`).
    pub name: String,
    /// E.164 prefixes with the `+` (`"+25470"`); the longest matching prefix wins.
    pub prefixes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundNumber {
    /// Destination address of replies (short code, long number, sender id).
    pub to: String,
    /// Account name they belong to.
    pub account: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSection {
    pub name: String,
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub tls_server_name: Option<String>,
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    pub system_id: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub system_type: String,
    #[serde(default = "default_bind")]
    pub bind: BindType,
    #[serde(default = "one")]
    pub binds: usize,
    #[serde(default = "default_window")]
    pub window: usize,
    /// Segments per second across all binds.
    #[serde(default)]
    pub rate: Option<u32>,
    #[serde(default = "default_enquire_link", with = "humantime_serde")]
    pub enquire_link: Duration,
    #[serde(default = "default_response_timeout", with = "humantime_serde")]
    pub response_timeout: Duration,
    #[serde(default = "one_u8")]
    pub source_ton: u8,
    #[serde(default = "one_u8")]
    pub source_npi: u8,
    #[serde(default = "one_u8")]
    pub dest_ton: u8,
    #[serde(default = "one_u8")]
    pub dest_npi: u8,
    #[serde(default = "yes")]
    pub registered_delivery: bool,
    #[serde(default = "default_concat")]
    pub concat: ConcatMethod,
}

fn default_bind() -> BindType {
    BindType::Transceiver
}
fn one() -> usize {
    1
}
fn one_u8() -> u8 {
    1
}
fn yes() -> bool {
    true
}
fn default_window() -> usize {
    10
}
fn default_enquire_link() -> Duration {
    Duration::from_secs(30)
}
fn default_response_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_concat() -> ConcatMethod {
    ConcatMethod::Udh8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// Digits the E.164 number starts with (`""` matches every number).
    pub prefix: String,
    /// `"name"` or `"name:weight"`, in failover order.
    pub connectors: Vec<String>,
}

impl FileConfig {
    /// Reads `path` (if given) and applies the `TUMA_*` overrides in `env`.
    pub fn load(
        path: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut value = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("parsing {}", path.display()))?
            }
            None => toml::Table::new(),
        };
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix("TUMA_") else {
                continue;
            };
            if !rest.contains("__") {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            set_path(&mut value, &path, scalar(&raw))
                .with_context(|| format!("applying the environment variable {name}"))?;
        }
        let config: FileConfig = toml::Value::Table(value)
            .try_into()
            .context("invalid configuration")?;
        Ok(config)
    }

    /// The engine's configuration (connectors validated, routes built).
    pub fn engine_config(&self, webhook_secret: String) -> anyhow::Result<EngineConfig> {
        let region =
            Region::parse(&self.defaults.region).map_err(|e| anyhow!("defaults.region: {e}"))?;
        let mut defaults = Defaults::new(region);
        if let Some(sender) = &self.defaults.sender {
            defaults.sender =
                Some(SenderId::parse(sender).map_err(|e| anyhow!("defaults.sender: {e}"))?);
        }
        defaults.validity = Validity::parse(&self.defaults.validity)
            .map_err(|e| anyhow!("defaults.validity: {e}"))?;
        if self.defaults.max_segments == 0 {
            bail!("defaults.max_segments must be at least 1");
        }
        defaults.max_segments = self.defaults.max_segments;
        defaults.text_options.transliterate = self.defaults.transliterate;

        let multipart = match self.engine.multipart.as_str() {
            "all_delivered" => MultipartPolicy::AllDelivered,
            "any_delivered" => MultipartPolicy::AnyDelivered,
            "first_part" => MultipartPolicy::FirstPart,
            other => bail!(
                "engine.multipart: {other:?} is not all_delivered, any_delivered or first_part"
            ),
        };

        let mut retry = RetryPolicy {
            base_delay: self.retry.base_delay,
            max_delay: self.retry.max_delay,
            max_attempts: self.retry.max_attempts.max(1),
            throttle_pause: self.retry.throttle_pause,
            ..RetryPolicy::default()
        };
        for (status, class) in &self.retry.overrides {
            let value = parse_status(status)
                .with_context(|| format!("retry.overrides: {status:?} is not a number"))?;
            retry.overrides.insert(value, *class);
        }

        let mut connectors = Vec::new();
        for (i, c) in self.connectors.iter().enumerate() {
            let id =
                ConnectorId::parse(&c.name).map_err(|e| anyhow!("connectors[{i}].name: {e}"))?;
            if connectors.iter().any(|k: &ConnectorConfig| k.id == id) {
                bail!("connectors[{i}].name: {:?} is used twice", c.name);
            }
            if c.binds == 0 || c.window == 0 {
                bail!(
                    "connectors[{i}] ({}): binds and window must be at least 1",
                    c.name
                );
            }
            let mut cc = ConnectorConfig::new(
                id,
                format!("{}:{}", c.host, c.port),
                &c.system_id,
                &c.password,
            );
            cc.tls = c.tls.then(|| TlsSettings {
                server_name: c.tls_server_name.clone(),
                ca_file: c.tls_ca_file.clone(),
            });
            cc.system_type = c.system_type.clone();
            cc.bind_type = c.bind;
            cc.binds = c.binds;
            cc.window = c.window;
            cc.rate_limit = c.rate;
            cc.enquire_link = c.enquire_link;
            cc.response_timeout = c.response_timeout;
            cc.source_ton_npi = ton_npi(c.source_ton, c.source_npi);
            cc.dest_ton_npi = ton_npi(c.dest_ton, c.dest_npi);
            cc.registered_delivery = c.registered_delivery;
            cc.concat = c.concat;
            connectors.push(cc);
        }

        let mut routes = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            let mut list = Vec::new();
            for entry in &r.connectors {
                let (name, weight) = match entry.split_once(':') {
                    Some((n, w)) => (
                        n,
                        w.parse::<u32>().with_context(|| {
                            format!("routes[{i}].connectors: weight in {entry:?} is not a number")
                        })?,
                    ),
                    None => (entry.as_str(), 1),
                };
                let connector =
                    ConnectorId::parse(name).map_err(|e| anyhow!("routes[{i}].connectors: {e}"))?;
                if !connectors.iter().any(|c| c.id == connector) {
                    bail!("routes[{i}].connectors: no connector is named {name:?}");
                }
                list.push(WeightedConnector { connector, weight });
            }
            routes.push(RouteSpec {
                prefix: r.prefix.clone(),
                connectors: list,
            });
        }
        // Checked here so a bad table fails at start, not at the first message.
        tuma_domain::RouteTable::new(routes.clone()).map_err(|e| anyhow!("routes: {e}"))?;

        Ok(EngineConfig {
            defaults,
            connectors,
            routes,
            retry,
            multipart,
            expiry_grace: self.engine.expiry_grace,
            tick: self.engine.tick,
            webhooks: WebhookConfig {
                secret: webhook_secret,
                timeout: self.webhooks.timeout,
                retry_for: self.webhooks.retry_for,
                concurrency: self.webhooks.concurrency.max(1),
                ..WebhookConfig::default()
            },
            inbound: InboundConfig {
                numbers: self
                    .inbound
                    .iter()
                    .map(|n| (n.to.clone(), n.account.clone()))
                    .collect(),
                stop_reply: self.optout.stop_reply.clone(),
                start_reply: self.optout.start_reply.clone(),
            },
            max_queued: self.engine.max_queued,
            campaigns: self.campaign_config()?,
        })
    }

    /// The campaign settings. Without `links.base_url`, short links point at `server.http`
    /// (`tuma serve` puts the address it really bound there once it listens, see
    /// [`default_link_base`]).
    pub fn campaign_config(&self) -> anyhow::Result<CampaignConfig> {
        let link_base = match &self.links.base_url {
            Some(url) => tuma_campaign::LinkRewriter::new(url)
                .map_err(|e| anyhow!("{e}"))?
                .base_url()
                .to_owned(),
            None => default_link_base(self.server.http),
        };
        if self.campaigns.page == 0 {
            bail!("campaigns.page must be at least 1");
        }
        if self.campaigns.max_unfinished == 0 {
            bail!("campaigns.max_unfinished must be at least 1");
        }
        if self.campaigns.max_queued == 0 {
            bail!("campaigns.max_queued must be at least 1");
        }
        let mut operators: Vec<(String, String)> = Vec::new();
        for (i, o) in self.operators.iter().enumerate() {
            let name = o.name.trim();
            if name.is_empty() {
                bail!("operators[{i}].name must not be empty");
            }
            if o.prefixes.is_empty() {
                bail!("operators[{i}].prefixes ({name}): give at least one prefix");
            }
            for prefix in &o.prefixes {
                let digits = prefix.strip_prefix('+').unwrap_or("");
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    bail!(
                        "operators[{i}].prefixes ({name}): {prefix:?} is not '+' followed by \
                         digits (e.g. \"+25470\")"
                    );
                }
                if let Some((other, _)) = operators.iter().find(|(_, p)| p == prefix) {
                    bail!(
                        "operators[{i}].prefixes ({name}): {prefix:?} is already given to \
                         {other:?}"
                    );
                }
                operators.push((name.to_owned(), prefix.clone()));
            }
        }
        Ok(CampaignConfig {
            link_base,
            operators,
            page: self.campaigns.page,
            max_queued: self.campaigns.max_queued,
            max_unfinished: self.campaigns.max_unfinished,
            ..CampaignConfig::default()
        })
    }
}

/// Short links on the gateway itself: `http://<address>/l`, with a wildcard bind address
/// (`0.0.0.0`, `::`) replaced by loopback, the only address known to reach it.
pub fn default_link_base(http: SocketAddr) -> String {
    let mut addr = http;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}/l")
}

fn ton_npi(ton: u8, npi: u8) -> TonNpi {
    TonNpi {
        ton: smpp::types::Ton(ton),
        npi: smpp::types::Npi(npi),
    }
}

fn parse_status(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// An environment value as a TOML scalar when it is one, else a string. A value with a sign
/// stays a string: `+25470` is a number prefix, not the integer 25470.
fn scalar(raw: &str) -> toml::Value {
    if raw.starts_with('+') {
        return toml::Value::String(raw.to_owned());
    }
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> anyhow::Result<()> {
    let (first, rest) = path.split_first().ok_or_else(|| anyhow!("empty key"))?;
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return Ok(());
    }
    let entry = table.entry(first.clone()).or_insert_with(|| {
        if rest[0].parse::<usize>().is_ok() {
            toml::Value::Array(Vec::new())
        } else {
            toml::Value::Table(toml::Table::new())
        }
    });
    set_value(entry, rest, value)
}

fn set_value(target: &mut toml::Value, path: &[String], value: toml::Value) -> anyhow::Result<()> {
    match target {
        toml::Value::Table(t) => set_path(t, path, value),
        toml::Value::Array(items) => {
            let (first, rest) = path.split_first().ok_or_else(|| anyhow!("empty key"))?;
            let index: usize = first
                .parse()
                .map_err(|_| anyhow!("{first:?} is not an array index"))?;
            if index > items.len() {
                bail!(
                    "array index {index} skips elements (there are {})",
                    items.len()
                );
            }
            if index == items.len() {
                items.push(toml::Value::Table(toml::Table::new()));
            }
            if rest.is_empty() {
                items[index] = value;
                return Ok(());
            }
            set_value(&mut items[index], rest, value)
        }
        _ => bail!("{:?} is not a table", path.first()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_have_no_connectors_and_listen_on_8080() {
        let c = FileConfig::load(None, Vec::new()).unwrap();
        assert!(c.connectors.is_empty());
        assert_eq!(c.server.http.port(), 8080);
        let e = c.engine_config("s".into()).unwrap();
        assert_eq!(e.defaults.region.as_str(), "KE");
    }

    #[test]
    fn file_then_environment_overrides_including_array_elements() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tuma.toml");
        std::fs::write(
            &path,
            r#"
            [server]
            http = "127.0.0.1:9000"
            [[connectors]]
            name = "safaricom"
            host = "10.0.0.1"
            port = 2775
            system_id = "acme"
            password = "from-file"
            binds = 2
            window = 50
            rate = 100
            [[routes]]
            prefix = "2547"
            connectors = ["safaricom:3"]
            "#,
        )
        .unwrap();
        let c = FileConfig::load(
            Some(&path),
            env(&[
                ("TUMA_CONNECTORS__0__PASSWORD", "from-env"),
                ("TUMA_SERVER__HTTP", "0.0.0.0:8081"),
                ("TUMA_SERVER__COMMIT_DELAY", "2ms"),
                ("TUMA_API_KEY", "ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.http.to_string(), "0.0.0.0:8081");
        assert_eq!(c.server.commit_delay, Duration::from_millis(2));
        assert_eq!(FileConfig::default().server.commit_delay, Duration::ZERO);
        let e = c.engine_config("s".into()).unwrap();
        assert_eq!(e.connectors[0].password, "from-env");
        assert_eq!(e.connectors[0].binds, 2);
        assert_eq!(e.connectors[0].rate_limit, Some(100));
        assert_eq!(e.routes[0].connectors[0].weight, 3);
    }

    #[test]
    fn errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tuma.toml");
        std::fs::write(&path, "[server]\nhttp = \"127.0.0.1:9000\"\nbogus = 1\n").unwrap();
        let err = format!(
            "{:#}",
            FileConfig::load(Some(&path), Vec::new()).unwrap_err()
        );
        assert!(err.contains("bogus"), "{err}");

        std::fs::write(
            &path,
            "[[routes]]\nprefix = \"254\"\nconnectors = [\"nope\"]\n",
        )
        .unwrap();
        let c = FileConfig::load(Some(&path), Vec::new()).unwrap();
        let err = format!("{:#}", c.engine_config("s".into()).unwrap_err());
        assert!(err.contains("no connector is named \"nope\""), "{err}");

        let err = format!(
            "{:#}",
            FileConfig::load(None, env(&[("TUMA_DEFAULTS__REGION", "XX")]))
                .unwrap()
                .engine_config("s".into())
                .unwrap_err()
        );
        assert!(err.contains("defaults.region"), "{err}");
    }
    #[test]
    fn campaign_defaults_follow_the_http_address() {
        let c = FileConfig::load(None, Vec::new()).unwrap();
        let e = c.engine_config("s".into()).unwrap();
        let d = CampaignConfig::default();
        assert_eq!(e.campaigns.link_base, "http://127.0.0.1:8080/l");
        assert_eq!(e.campaigns.page, d.page);
        assert_eq!(e.campaigns.max_queued, d.max_queued);
        assert!(e.campaigns.operators.is_empty());

        let c = FileConfig::load(None, env(&[("TUMA_SERVER__HTTP", "0.0.0.0:9090")])).unwrap();
        assert_eq!(
            c.campaign_config().unwrap().link_base,
            "http://127.0.0.1:9090/l"
        );
        assert_eq!(
            default_link_base("[::]:80".parse().unwrap()),
            "http://[::1]:80/l"
        );
        assert_eq!(
            default_link_base("10.1.2.3:8080".parse().unwrap()),
            "http://10.1.2.3:8080/l"
        );
    }

    #[test]
    fn links_operators_and_campaigns_from_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tuma.toml");
        std::fs::write(
            &path,
            r#"
            [links]
            base_url = "https://t.example/l/"
            [campaigns]
            page = 500
            [[operators]]
            name = "Safaricom"
            prefixes = ["+25470", "+25471"]
            [[operators]]
            name = "Airtel"
            prefixes = ["+25473"]
            "#,
        )
        .unwrap();
        let c = FileConfig::load(Some(&path), Vec::new()).unwrap();
        let e = c.engine_config("s".into()).unwrap().campaigns;
        assert_eq!(e.link_base, "https://t.example/l", "trailing slash dropped");
        assert_eq!(e.page, 500);
        assert_eq!(e.max_queued, CampaignConfig::default().max_queued);
        assert_eq!(
            e.operators,
            [
                ("Safaricom".to_owned(), "+25470".to_owned()),
                ("Safaricom".to_owned(), "+25471".to_owned()),
                ("Airtel".to_owned(), "+25473".to_owned()),
            ]
        );

        // The environment wins, and a `+prefix` stays a string.
        let c = FileConfig::load(
            Some(&path),
            env(&[
                ("TUMA_LINKS__BASE_URL", "https://s.example"),
                ("TUMA_CAMPAIGNS__MAX_QUEUED", "777"),
                ("TUMA_OPERATORS__1__PREFIXES__0", "+25478"),
            ]),
        )
        .unwrap();
        let e = c.campaign_config().unwrap();
        assert_eq!(e.link_base, "https://s.example");
        assert_eq!(e.max_queued, 777);
        assert_eq!(e.operators[2], ("Airtel".to_owned(), "+25478".to_owned()));
    }

    #[test]
    fn campaign_errors_name_the_key() {
        let err_of = |toml: &str| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tuma.toml");
            std::fs::write(&path, toml).unwrap();
            match FileConfig::load(Some(&path), Vec::new()) {
                Err(e) => format!("{e:#}"),
                Ok(c) => format!("{:#}", c.engine_config("s".into()).unwrap_err()),
            }
        };
        let e = err_of("[[operators]]\nname = \"X\"\nprefixes = [\"25470\"]\n");
        assert!(
            e.contains("operators[0].prefixes") && e.contains("\"25470\""),
            "{e}"
        );
        let e = err_of("[[operators]]\nname = \"X\"\nprefixes = [\"+2547a\"]\n");
        assert!(e.contains("not '+' followed by digits"), "{e}");
        let e = err_of("[[operators]]\nname = \"X\"\nprefixes = [\"+\"]\n");
        assert!(e.contains("operators[0].prefixes"), "{e}");
        let e = err_of("[[operators]]\nname = \"X\"\nprefixes = []\n");
        assert!(e.contains("at least one prefix"), "{e}");
        let e = err_of("[[operators]]\nname = \" \"\nprefixes = [\"+1\"]\n");
        assert!(e.contains("operators[0].name"), "{e}");
        let e = err_of(
            "[[operators]]\nname = \"A\"\nprefixes = [\"+2547\"]\n\
             [[operators]]\nname = \"B\"\nprefixes = [\"+2547\"]\n",
        );
        assert!(
            e.contains("operators[1].prefixes") && e.contains("\"A\""),
            "{e}"
        );
        let e = err_of("[[operators]]\nname = \"A\"\n");
        assert!(e.contains("prefixes"), "{e}");
        let e = err_of("[links]\nbase_url = \"t.example/l\"\n");
        assert!(e.contains("links.base_url"), "{e}");
        let e = err_of("[campaigns]\npage = 0\n");
        assert!(e.contains("campaigns.page"), "{e}");
        let e = err_of("[campaigns]\nmax_queued = 0\n");
        assert!(e.contains("campaigns.max_queued"), "{e}");
        let e = err_of("[campaigns]\nbatch = 3\n");
        assert!(e.contains("batch"), "{e}");
    }
}
