//! Simulator configuration: accounts, networks, reserved test ranges, id format, receipts.
//!
//! Read from TOML with [`SimConfig::from_toml`]; [`SimConfig::default`] is the Kenyan
//! default (Safaricom, Airtel, Telkom and a catch-all, plus the reserved test ranges of
//! `docs/simulator.md`). Durations are humantime strings (`"2s"`, `"48h"`). Every error names
//! the key that was wrong.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use smpp::CommandStatus;

/// The whole simulator configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Seed of every random draw: the same seed and the same input give the same outcomes.
    pub seed: u64,
    /// The `system_id` the simulator answers binds with.
    pub system_id: String,
    /// Country code used to turn national numbers (TON 2, leading `0`) into international ones.
    pub country_code: String,
    /// ESME accounts. Empty = open mode: any system_id/password binds (each bind is logged).
    pub accounts: Vec<AccountConfig>,
    /// Operators by number prefix; the longest matching prefix wins, `""` is a catch-all.
    pub networks: Vec<NetworkConfig>,
    /// Reserved number ranges with a fixed outcome; they win over networks.
    pub test_ranges: Vec<TestRange>,
    /// How SMSC message ids look.
    pub message_ids: MessageIdConfig,
    /// Delivery receipt options.
    pub receipts: ReceiptConfig,
    /// Validity period applied when a submission gives none.
    #[serde(with = "humantime_serde")]
    pub default_validity: Duration,
    /// Longest validity period accepted; longer ones are cut to this (as real SMSCs do).
    #[serde(with = "humantime_serde")]
    pub max_validity: Duration,
    /// Most messages held (queued, not yet final); beyond it submissions get ESME_RMSGQFUL.
    pub max_queued: usize,
    /// Finished messages kept for query_sm (oldest forgotten first).
    pub retain_finished: usize,
    /// Messages kept per handset inbox (oldest dropped first).
    pub inbox_limit: usize,
    /// How long a handset waits for the missing parts of a concatenated message.
    #[serde(with = "humantime_serde")]
    pub reassembly_timeout: Duration,
}

/// One ESME account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Login (at most 15 characters).
    pub system_id: String,
    /// Password (compared exactly).
    pub password: String,
    /// Bind types allowed; default all three.
    #[serde(default = "all_bind_types")]
    pub bind_types: Vec<BindType>,
    /// Most simultaneous binds; default 4.
    #[serde(default = "default_max_binds")]
    pub max_binds: u32,
    /// Submissions per second allowed over all binds of the account (burst = one second's
    /// worth); `0` = unlimited. Exceeding it answers ESME_RTHROTTLED.
    #[serde(default)]
    pub max_tps: u32,
    /// Short codes / sender ids this account owns: MO messages to them go to this account.
    #[serde(default)]
    pub short_codes: Vec<String>,
}

fn all_bind_types() -> Vec<BindType> {
    vec![
        BindType::Transmitter,
        BindType::Receiver,
        BindType::Transceiver,
    ]
}

fn default_max_binds() -> u32 {
    4
}

/// A bind type, as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindType {
    /// bind_transmitter.
    Transmitter,
    /// bind_receiver.
    Receiver,
    /// bind_transceiver.
    Transceiver,
}

impl From<smpp::BindKind> for BindType {
    fn from(k: smpp::BindKind) -> Self {
        match k {
            smpp::BindKind::Transmitter => Self::Transmitter,
            smpp::BindKind::Receiver => Self::Receiver,
            smpp::BindKind::Transceiver => Self::Transceiver,
        }
    }
}

/// One operator network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Display name (also the `network` label of metrics).
    pub name: String,
    /// International number prefixes (digits, no `+`); `""` matches every number.
    pub prefixes: Vec<String>,
    /// Delivery latency distribution.
    #[serde(default)]
    pub latency: Latency,
    /// Final outcome mix of messages to handsets that are on (weights, need not sum to 1).
    #[serde(default)]
    pub mix: OutcomeMix,
    /// Share of handsets in each state (the rest are on).
    #[serde(default)]
    pub handsets: HandsetMix,
    /// Error code (`err:`) of a failed delivery (UNDELIV).
    #[serde(default = "default_failure_err")]
    pub failure_err: u16,
}

fn default_failure_err() -> u16 {
    34 // GSM MAP "system failure"
}

/// Latency: `min + exponential(mean = typical - min)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Shortest latency.
    #[serde(with = "humantime_serde")]
    pub min: Duration,
    /// Mean latency.
    #[serde(with = "humantime_serde")]
    pub typical: Duration,
    /// Longest latency.
    #[serde(with = "humantime_serde")]
    pub max: Duration,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(100),
            typical: Duration::from_millis(800),
            max: Duration::from_secs(30),
        }
    }
}

/// Weights of the final outcomes for a handset that is on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeMix {
    /// DELIVRD.
    pub delivered: f64,
    /// UNDELIV with the network's `failure_err`.
    pub failed: f64,
    /// Never delivered: EXPIRED at the end of the validity period.
    pub expired: f64,
}

impl Default for OutcomeMix {
    fn default() -> Self {
        Self {
            delivered: 0.97,
            failed: 0.02,
            expired: 0.01,
        }
    }
}

/// Shares of handsets by state; each number's state is a fixed function of (seed, number).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandsetMix {
    /// Switched off for `off_for` out of every `off_period` (delivery waits until it is on).
    pub off: f64,
    /// Absent subscriber: never reachable, messages expire (err 027).
    pub absent: f64,
    /// Unknown subscriber: UNDELIV err 001 at once.
    pub unknown: f64,
    /// Length of an off spell.
    #[serde(with = "humantime_serde")]
    pub off_for: Duration,
    /// One off spell per this period (its start is a fixed function of the number).
    #[serde(with = "humantime_serde")]
    pub off_period: Duration,
}

impl Default for HandsetMix {
    fn default() -> Self {
        Self {
            off: 0.02,
            absent: 0.005,
            unknown: 0.005,
            off_for: Duration::from_secs(600),
            off_period: Duration::from_secs(3600),
        }
    }
}

/// A reserved range with a fixed behaviour (see `docs/simulator.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRange {
    /// International number prefix (digits).
    pub prefix: String,
    /// What happens to messages to these numbers.
    pub behaviour: Behaviour,
    /// `err:` code for `fail`, `reject_receipt`, `absent` and `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err: Option<u16>,
    /// Delay for `delay`.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
    /// command_status for `reject` (e.g. 0x58 = 88 throttled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u32>,
}

/// Behaviours of reserved ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Delivered at once (no latency).
    DeliverInstantly,
    /// UNDELIV with `err` (default 034) at once.
    Fail,
    /// Never delivered: EXPIRED at the end of the validity period.
    NeverDeliver,
    /// Delivered after exactly `delay`.
    Delay,
    /// Absent subscriber: EXPIRED at the end of validity, err `err` (default 027).
    Absent,
    /// Unknown subscriber: UNDELIV err `err` (default 001) at once.
    Unknown,
    /// REJECTD receipt with `err` (default 011) at once.
    RejectReceipt,
    /// Refused at submit with command_status `status` (default ESME_RSUBMITFAIL).
    Reject,
}

/// How SMSC message ids are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageIdConfig {
    /// `hex` (lower case) or `decimal`.
    pub format: IdFormat,
    /// The first id handed out; later ones count up from it.
    pub first: u64,
    /// Quirk of some real SMSCs: the receipt *text* carries the id in 10-digit zero-padded
    /// decimal while submit_sm_resp and the `receipted_message_id` TLV carry it in hex.
    pub decimal_in_receipt_text: bool,
}

impl Default for MessageIdConfig {
    fn default() -> Self {
        Self {
            format: IdFormat::Hex,
            first: 0x0386_01fa,
            decimal_in_receipt_text: false,
        }
    }
}

/// Message id notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdFormat {
    /// Lower-case hex, no padding (`38601fa`).
    Hex,
    /// Decimal, no padding (`59113978`).
    Decimal,
}

/// Delivery receipt options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptConfig {
    /// Put the first 20 characters of the message in `text:`.
    pub include_text: bool,
    /// Add `receipted_message_id`, `message_state` and (on failure) `network_error_code`.
    pub include_tlvs: bool,
    /// Offset of the MC's local time (receipt dates) from UTC, in minutes (Kenya: 180).
    pub utc_offset_minutes: i32,
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        Self {
            include_text: true,
            include_tlvs: true,
            utc_offset_minutes: 0,
        }
    }
}

/// A configuration that cannot be used, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML, an unknown key, or a value of the wrong type (the TOML parser's message names
    /// the key and the line).
    #[error("invalid simulator config: {0}")]
    Toml(String),
    /// A value of the right type that is not allowed.
    #[error("invalid simulator config: `{key}`: {message}")]
    Invalid {
        /// The key, as a path (`networks[1].prefixes[0]`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

impl SimConfig {
    /// Parses and checks a TOML configuration. Missing keys take their defaults; a file that
    /// sets `networks` or `test_ranges` replaces the default tables entirely.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad key.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: SimConfig =
            toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values serde cannot (digits, weights, limits).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if self.country_code.is_empty() || !digits(&self.country_code) {
            return Err(invalid("country_code", "must be 1 or more digits"));
        }
        if self.system_id.is_empty() || self.system_id.len() > 15 {
            return Err(invalid("system_id", "must be 1 to 15 characters"));
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if a.system_id.is_empty() || a.system_id.len() > 15 {
                return Err(invalid(
                    format!("accounts[{i}].system_id"),
                    "must be 1 to 15 characters",
                ));
            }
            if a.password.len() > 16 {
                return Err(invalid(
                    format!("accounts[{i}].password"),
                    "must be at most 16 characters",
                ));
            }
            if a.bind_types.is_empty() {
                return Err(invalid(
                    format!("accounts[{i}].bind_types"),
                    "must list at least one bind type",
                ));
            }
            if self.accounts[..i]
                .iter()
                .any(|b| b.system_id == a.system_id)
            {
                return Err(invalid(
                    format!("accounts[{i}].system_id"),
                    format!("duplicate system_id {:?}", a.system_id),
                ));
            }
        }
        if self.networks.is_empty() {
            return Err(invalid("networks", "at least one network is needed"));
        }
        for (i, n) in self.networks.iter().enumerate() {
            for (j, p) in n.prefixes.iter().enumerate() {
                if !digits(p) {
                    return Err(invalid(
                        format!("networks[{i}].prefixes[{j}]"),
                        "must be digits only",
                    ));
                }
            }
            let m = n.mix;
            let weights = [m.delivered, m.failed, m.expired];
            if weights.iter().any(|w| !w.is_finite() || *w < 0.0)
                || weights.iter().sum::<f64>() <= 0.0
            {
                return Err(invalid(
                    format!("networks[{i}].mix"),
                    "weights must be finite, non-negative, and not all 0",
                ));
            }
            let h = n.handsets;
            let shares = [h.off, h.absent, h.unknown];
            if shares.iter().any(|w| !w.is_finite() || *w < 0.0) || shares.iter().sum::<f64>() > 1.0
            {
                return Err(invalid(
                    format!("networks[{i}].handsets"),
                    "shares must be between 0 and 1 and sum to at most 1",
                ));
            }
            if h.off_for > h.off_period || h.off_period.is_zero() {
                return Err(invalid(
                    format!("networks[{i}].handsets.off_for"),
                    "must be at most off_period, and off_period must not be 0",
                ));
            }
            if n.latency.min > n.latency.typical || n.latency.typical > n.latency.max {
                return Err(invalid(
                    format!("networks[{i}].latency"),
                    "must have min <= typical <= max",
                ));
            }
        }
        if !self
            .networks
            .iter()
            .any(|n| n.prefixes.iter().any(String::is_empty))
        {
            return Err(invalid(
                "networks",
                "one network must have the catch-all prefix \"\"",
            ));
        }
        for (i, t) in self.test_ranges.iter().enumerate() {
            if t.prefix.is_empty() || !digits(&t.prefix) {
                return Err(invalid(
                    format!("test_ranges[{i}].prefix"),
                    "must be 1 or more digits",
                ));
            }
            if t.behaviour == Behaviour::Delay && t.delay.is_none() {
                return Err(invalid(
                    format!("test_ranges[{i}].delay"),
                    "is required for behaviour \"delay\"",
                ));
            }
            if t.behaviour == Behaviour::Reject && t.status == Some(0) {
                return Err(invalid(
                    format!("test_ranges[{i}].status"),
                    "must not be 0 (ESME_ROK) for behaviour \"reject\"",
                ));
            }
        }
        if self.max_validity.is_zero() || self.default_validity > self.max_validity {
            return Err(invalid(
                "default_validity",
                "must be at most max_validity (which must not be 0)",
            ));
        }
        if self.inbox_limit == 0 {
            return Err(invalid("inbox_limit", "must be at least 1"));
        }
        Ok(())
    }
}

impl TestRange {
    /// The status a `reject` range answers with.
    pub fn reject_status(&self) -> CommandStatus {
        CommandStatus(self.status.unwrap_or(CommandStatus::ESME_RSUBMITFAIL.0))
    }
}

fn net(name: &str, prefixes: &[&str], latency_ms: (u64, u64, u64)) -> NetworkConfig {
    NetworkConfig {
        name: name.to_owned(),
        prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
        latency: Latency {
            min: Duration::from_millis(latency_ms.0),
            typical: Duration::from_millis(latency_ms.1),
            max: Duration::from_millis(latency_ms.2),
        },
        mix: OutcomeMix::default(),
        handsets: HandsetMix::default(),
        failure_err: default_failure_err(),
    }
}

fn range(prefix: &str, behaviour: Behaviour) -> TestRange {
    TestRange {
        prefix: prefix.to_owned(),
        behaviour,
        err: None,
        delay: None,
        status: None,
    }
}

impl Default for SimConfig {
    /// Kenya: Safaricom, Airtel and Telkom ranges (PRODUCT.md; keep them current in config),
    /// a catch-all, and the reserved test ranges 2547000001xx-2547000009xx.
    fn default() -> Self {
        let saf: Vec<String> = [
            "70", "71", "72", "74", "757", "758", "759", "768", "769", "79", "110", "111",
        ]
        .iter()
        .map(|p| format!("254{p}"))
        .collect();
        let airtel: Vec<String> = [
            "73", "750", "751", "752", "753", "754", "755", "756", "762", "78", "100", "101", "102",
        ]
        .iter()
        .map(|p| format!("254{p}"))
        .collect();
        let saf: Vec<&str> = saf.iter().map(String::as_str).collect();
        let airtel: Vec<&str> = airtel.iter().map(String::as_str).collect();
        let mut test_ranges = vec![
            range("2547000001", Behaviour::DeliverInstantly),
            range("2547000002", Behaviour::Fail),
            range("2547000003", Behaviour::NeverDeliver),
            range("2547000004", Behaviour::Delay),
            range("2547000005", Behaviour::Absent),
            range("2547000006", Behaviour::Reject),
            range("2547000007", Behaviour::Reject),
            range("2547000008", Behaviour::Unknown),
            range("2547000009", Behaviour::RejectReceipt),
        ];
        // Fixed details of the default ranges (documented in docs/simulator.md).
        if let Some(r) = test_ranges.get_mut(3) {
            r.delay = Some(Duration::from_secs(30));
        }
        if let Some(r) = test_ranges.get_mut(5) {
            r.status = Some(CommandStatus::ESME_RTHROTTLED.0);
        }
        if let Some(r) = test_ranges.get_mut(6) {
            r.status = Some(CommandStatus::ESME_RINVDSTADR.0);
        }
        Self {
            seed: 42,
            system_id: "TUMASIM".to_owned(),
            country_code: "254".to_owned(),
            accounts: Vec::new(),
            networks: vec![
                net("Safaricom", &saf, (100, 600, 20_000)),
                net("Airtel", &airtel, (150, 900, 30_000)),
                net("Telkom", &["25477"], (200, 1200, 45_000)),
                net("Other", &[""], (300, 2000, 60_000)),
            ],
            test_ranges,
            message_ids: MessageIdConfig::default(),
            receipts: ReceiptConfig::default(),
            default_validity: Duration::from_secs(48 * 3600),
            max_validity: Duration::from_secs(7 * 24 * 3600),
            max_queued: 2_000_000,
            retain_finished: 100_000,
            inbox_limit: 100,
            reassembly_timeout: Duration::from_secs(600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips_through_toml() {
        let d = SimConfig::default();
        d.validate().unwrap();
        let text = toml::to_string(&d).unwrap();
        assert_eq!(SimConfig::from_toml(&text).unwrap(), d);
    }

    #[test]
    fn partial_file_keeps_defaults_and_parses_durations() {
        let c = SimConfig::from_toml(
            "seed = 7\ndefault_validity = \"2h\"\n[[accounts]]\nsystem_id = \"acme\"\npassword = \"pw\"\nmax_tps = 10\n",
        )
        .unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.default_validity, Duration::from_secs(7200));
        assert_eq!(c.accounts[0].max_binds, 4);
        assert_eq!(c.accounts[0].bind_types.len(), 3);
        assert_eq!(c.networks, SimConfig::default().networks);
    }

    #[test]
    fn errors_name_the_key() {
        let e = SimConfig::from_toml("sed = 1").unwrap_err();
        assert!(e.to_string().contains("sed"), "{e}");
        let e = SimConfig::from_toml("default_validity = \"soon\"").unwrap_err();
        assert!(e.to_string().contains("default_validity"), "{e}");
        let e = SimConfig::from_toml("[[networks]]\nname = \"x\"\nprefixes = [\"\", \"25a\"]\n")
            .unwrap_err();
        assert_eq!(e, invalid("networks[0].prefixes[1]", "must be digits only"));
        let e = SimConfig::from_toml("[[test_ranges]]\nprefix = \"2541\"\nbehaviour = \"delay\"\n")
            .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { ref key, .. } if key == "test_ranges[0].delay"));
        let e =
            SimConfig::from_toml("[[networks]]\nname = \"x\"\nprefixes = [\"254\"]\n").unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { ref key, .. } if key == "networks"));
    }
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    /// The example in docs/simulator.md must stay a valid configuration.
    #[test]
    fn documented_example_parses() {
        let doc = include_str!("../../../docs/simulator.md");
        let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let len = doc[start..].find("```").expect("closed block");
        let c = SimConfig::from_toml(&doc[start..start + len]).unwrap();
        assert_eq!(c.accounts[0].max_tps, 500);
        assert_eq!(c.networks.len(), 2);
        assert_eq!(c.test_ranges[0].delay, Some(Duration::from_secs(30)));
        assert_eq!(c.message_ids.first, 59_113_978);
    }
}
