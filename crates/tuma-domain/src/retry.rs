//! What to do after a `submit_sm` attempt: the retry policy.
//!
//! Each outcome falls in one [`Class`]:
//!
//! - **success**: `ESME_ROK`.
//! - **throttle**: `ESME_RTHROTTLED` (0x58) and `ESME_RMSGQFUL` (0x14). The SMSC asks us to
//!   slow down, not to give up: the whole connector pauses and resends *in order*, and the
//!   message's attempt count does not grow (so a busy operator never fails a message).
//! - **temporary**: `ESME_RSYSERR` (0x08), `ESME_RX_T_APPN` (0x64), `ESME_RINVBNDSTS` (0x04,
//!   the session was not bound: it rebinds), `ESME_RUNKNOWNERR` (0xFF), a response timeout, a
//!   lost connection. Retried after `base * 2^(attempt-1)`, capped at `max_delay`, until
//!   `max_attempts` attempts have been made; then the message fails.
//! - **permanent**: everything else (invalid destination 0x0B, invalid source 0x0A,
//!   `ESME_RX_P_APPN` 0x65, `ESME_RX_R_APPN` 0x66, ...), including statuses the specification
//!   does not define: resending an unknown refusal rarely helps, and an override fixes a
//!   vendor code that should be retried.
//!
//! Overrides (per status value) change the class of any status, e.g. a vendor's 0x0400
//! "subscriber busy" as temporary.
//!
//! There is no jitter: the policy is a pure function; the caller may spread retries.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use smpp::CommandStatus;

/// The result of one submission attempt, as the connector saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubmitOutcome {
    /// A `submit_sm_resp` arrived with this `command_status`.
    Status(CommandStatus),
    /// No response within the response timeout.
    Timeout,
    /// The connection closed with the request in flight.
    ConnectionLost,
}

/// How an outcome is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Accepted by the SMSC.
    Success,
    /// Pause the connector, resend in order.
    Throttle,
    /// Retry this message later.
    Temporary,
    /// Fail this message.
    Permanent,
}

/// What the dispatcher does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The SMSC accepted the segment.
    Submitted,
    /// Resend this segment after `after`.
    Retry {
        /// Delay before the next attempt.
        after: Duration,
    },
    /// Pause the whole connector for `duration`, then resend in the same order.
    Pause {
        /// How long to pause.
        duration: Duration,
    },
    /// Give up on this segment.
    Fail {
        /// Stable snake_case code for APIs and webhooks, e.g. `smpp_invalid_dest_addr`.
        code: String,
        /// Human-readable explanation with the SMPP status name and number.
        message: String,
    },
}

/// The retry policy; build with [`RetryPolicy::default`] and adjust the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the second attempt.
    pub base_delay: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
    /// Attempts in all (the first included) before a temporary error fails the message;
    /// at least 1.
    pub max_attempts: u32,
    /// How long a throttle pauses the connector.
    pub throttle_pause: Duration,
    /// Classes that replace the defaults, by `command_status` value.
    pub overrides: BTreeMap<u32, Class>,
}

impl Default for RetryPolicy {
    /// 5 s, 10 s, 20 s... capped at 5 minutes, 6 attempts (about 2.5 minutes of retrying in
    /// all); throttling pauses the connector for 1 s.
    fn default() -> Self {
        Self {
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(300),
            max_attempts: 6,
            throttle_pause: Duration::from_secs(1),
            overrides: BTreeMap::new(),
        }
    }
}

impl RetryPolicy {
    /// The class of an outcome, overrides first.
    pub fn classify(&self, outcome: SubmitOutcome) -> Class {
        match outcome {
            SubmitOutcome::Timeout | SubmitOutcome::ConnectionLost => Class::Temporary,
            SubmitOutcome::Status(status) => self
                .overrides
                .get(&status.0)
                .copied()
                .unwrap_or_else(|| default_class(status)),
        }
    }

    /// Decides what follows attempt number `attempt` (1 for the first submission) that ended
    /// with `outcome`.
    pub fn decide(&self, outcome: SubmitOutcome, attempt: u32) -> Decision {
        match self.classify(outcome) {
            Class::Success => Decision::Submitted,
            Class::Throttle => Decision::Pause {
                duration: self.throttle_pause,
            },
            Class::Temporary if attempt < self.max_attempts => Decision::Retry {
                after: self.delay(attempt),
            },
            Class::Temporary => {
                let (code, what) = describe(outcome);
                Decision::Fail {
                    code,
                    message: format!("{what}; gave up after {attempt} attempts"),
                }
            }
            Class::Permanent => {
                let (code, message) = describe(outcome);
                Decision::Fail { code, message }
            }
        }
    }

    /// `base_delay * 2^(attempt-1)`, capped at `max_delay` (saturating, never overflows).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// The built-in class of a status (see the module documentation).
pub fn default_class(status: CommandStatus) -> Class {
    match status {
        CommandStatus::ESME_ROK => Class::Success,
        CommandStatus::ESME_RTHROTTLED | CommandStatus::ESME_RMSGQFUL => Class::Throttle,
        CommandStatus::ESME_RSYSERR
        | CommandStatus::ESME_RX_T_APPN
        | CommandStatus::ESME_RINVBNDSTS
        | CommandStatus::ESME_RUNKNOWNERR => Class::Temporary,
        _ => Class::Permanent,
    }
}

/// The stable snake_case code for a status: a name for the common ones, else
/// `smpp_status_0x0000XXXX`. These codes are API: never rename one.
pub fn error_code(status: CommandStatus) -> String {
    let name = match status.0 {
        0x01 => "invalid_message_length",
        0x02 => "invalid_command_length",
        0x03 => "invalid_command_id",
        0x04 => "invalid_bind_status",
        0x05 => "already_bound",
        0x06 => "invalid_priority_flag",
        0x07 => "invalid_registered_delivery",
        0x08 => "system_error",
        0x0A => "invalid_source_addr",
        0x0B => "invalid_dest_addr",
        0x0C => "invalid_message_id",
        0x14 => "queue_full",
        0x15 => "invalid_service_type",
        0x43 => "invalid_esm_class",
        0x45 => "submit_failed",
        0x48 => "invalid_source_ton",
        0x49 => "invalid_source_npi",
        0x50 => "invalid_dest_ton",
        0x51 => "invalid_dest_npi",
        0x58 => "throttled",
        0x61 => "invalid_schedule_time",
        0x62 => "invalid_validity_period",
        0x64 => "receiver_temporary_error",
        0x65 => "receiver_permanent_error",
        0x66 => "receiver_rejected",
        0xC0..=0xC4 => "invalid_optional_parameter",
        0xFE => "delivery_failure",
        0xFF => "unknown_error",
        0x104 => "invalid_data_coding",
        _ => return format!("smpp_status_0x{:08x}", status.0),
    };
    format!("smpp_{name}")
}

/// The code and message for a failed outcome.
fn describe(outcome: SubmitOutcome) -> (String, String) {
    match outcome {
        SubmitOutcome::Status(status) => (
            error_code(status),
            format!("SMSC refused submit_sm: {}", StatusName(status)),
        ),
        SubmitOutcome::Timeout => (
            "smpp_response_timeout".to_owned(),
            "no submit_sm_resp within the response timeout".to_owned(),
        ),
        SubmitOutcome::ConnectionLost => (
            "smpp_connection_lost".to_owned(),
            "connection to the SMSC lost before submit_sm_resp".to_owned(),
        ),
    }
}

/// `ESME_RINVDSTADR (0x0000000B)`, or `command_status 0x00000400` for undefined values.
struct StatusName(CommandStatus);

impl fmt::Display for StatusName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.name() {
            Some(name) => write!(f, "{name} (0x{:08X})", self.0 .0),
            None => write!(f, "command_status 0x{:08X}", self.0 .0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: fn(u32) -> SubmitOutcome = |v| SubmitOutcome::Status(CommandStatus(v));

    #[test]
    fn default_classes() {
        let p = RetryPolicy::default();
        assert_eq!(p.decide(S(0), 1), Decision::Submitted);
        for v in [0x58, 0x14] {
            assert_eq!(
                p.decide(S(v), 1),
                Decision::Pause {
                    duration: Duration::from_secs(1)
                }
            );
            // Throttling never exhausts attempts.
            assert_eq!(
                p.decide(S(v), 100),
                Decision::Pause {
                    duration: Duration::from_secs(1)
                }
            );
        }
        for o in [
            S(0x08),
            S(0x64),
            SubmitOutcome::Timeout,
            SubmitOutcome::ConnectionLost,
        ] {
            assert_eq!(
                p.decide(o, 1),
                Decision::Retry {
                    after: Duration::from_secs(5)
                }
            );
        }
        assert_eq!(
            p.decide(S(0x0B), 1),
            Decision::Fail {
                code: "smpp_invalid_dest_addr".into(),
                message: "SMSC refused submit_sm: ESME_RINVDSTADR (0x0000000B)".into()
            }
        );
        for (v, code) in [
            (0x0A, "smpp_invalid_source_addr"),
            (0x65, "smpp_receiver_permanent_error"),
            (0x66, "smpp_receiver_rejected"),
        ] {
            assert!(matches!(p.decide(S(v), 1), Decision::Fail { code: c, .. } if c == code));
        }
        assert_eq!(
            p.decide(S(0x400), 1),
            Decision::Fail {
                code: "smpp_status_0x00000400".into(),
                message: "SMSC refused submit_sm: command_status 0x00000400".into()
            }
        );
    }

    #[test]
    fn exponential_backoff_with_cap_and_attempt_limit() {
        let p = RetryPolicy::default();
        let delays: Vec<u64> = (1..=5)
            .map(|a| match p.decide(S(0x08), a) {
                Decision::Retry { after } => after.as_secs(),
                other => panic!("attempt {a}: {other:?}"),
            })
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 80]);
        assert_eq!(
            p.decide(S(0x08), 6),
            Decision::Fail {
                code: "smpp_system_error".into(),
                message:
                    "SMSC refused submit_sm: ESME_RSYSERR (0x00000008); gave up after 6 attempts"
                        .into()
            }
        );
        let p = RetryPolicy {
            max_attempts: 100,
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(7), Duration::from_secs(300));
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(300));
        assert!(
            matches!(p.decide(SubmitOutcome::Timeout, 100), Decision::Fail { code, .. } if code == "smpp_response_timeout")
        );
    }

    #[test]
    fn overrides_win() {
        let mut p = RetryPolicy::default();
        p.overrides.insert(0x400, Class::Temporary);
        p.overrides.insert(0x58, Class::Permanent);
        assert!(matches!(p.decide(S(0x400), 1), Decision::Retry { .. }));
        assert!(
            matches!(p.decide(S(0x58), 1), Decision::Fail { code, .. } if code == "smpp_throttled")
        );
    }

    proptest! {
        /// Delays never decrease with the attempt number and never exceed the cap.
        #[test]
        fn delays_monotonic_and_capped(base in 0u64..10_000, cap in 0u64..1_000_000, a in 1u32..200) {
            let p = RetryPolicy {
                base_delay: Duration::from_millis(base),
                max_delay: Duration::from_millis(cap),
                ..RetryPolicy::default()
            };
            prop_assert!(p.delay(a) <= p.delay(a + 1));
            prop_assert!(p.delay(a) <= p.max_delay);
        }

        /// Every status gets a decision, codes are snake_case and a temporary error always
        /// ends in a failure by `max_attempts`.
        #[test]
        fn every_status_decided(v in any::<u32>(), max in 1u32..10) {
            let p = RetryPolicy { max_attempts: max, ..RetryPolicy::default() };
            let code = error_code(CommandStatus(v));
            prop_assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' ), "{}", code);
            match p.decide(S(v), max) {
                Decision::Retry { .. } => prop_assert!(false, "retry at the last attempt"),
                Decision::Submitted => prop_assert_eq!(v, 0),
                Decision::Pause { .. } => prop_assert!(v == 0x58 || v == 0x14),
                Decision::Fail { .. } => {}
            }
        }
    }
}
