//! `message_state` (TLV 0x0427, query_sm_resp) and `network_error_code` (TLV 0x0423): shared by
//! the TLV codec and the delivery-receipt parser.

/// The state of a message in the MC, as carried by the `message_state` TLV, `query_sm_resp`
/// and (as a 7-letter word) the `stat:` field of a text delivery receipt.
///
/// Unknown numeric values are preserved in [`MessageState::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// 0: scheduled (SMPP 5.0 only).
    Scheduled,
    /// 1: in transit (intermediate).
    Enroute,
    /// 2: delivered to the handset.
    Delivered,
    /// 3: validity period expired.
    Expired,
    /// 4: deleted (cancelled).
    Deleted,
    /// 5: undeliverable.
    Undeliverable,
    /// 6: accepted (read/accepted by an operator).
    Accepted,
    /// 7: unknown / invalid state.
    Unknown,
    /// 8: rejected.
    Rejected,
    /// 9: skipped (SMPP 5.0 only).
    Skipped,
    /// Any other value, preserved verbatim.
    Other(u8),
}

impl MessageState {
    /// Decodes the one-octet wire value. Total: unknown values become [`MessageState::Other`].
    pub const fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Scheduled,
            1 => Self::Enroute,
            2 => Self::Delivered,
            3 => Self::Expired,
            4 => Self::Deleted,
            5 => Self::Undeliverable,
            6 => Self::Accepted,
            7 => Self::Unknown,
            8 => Self::Rejected,
            9 => Self::Skipped,
            other => Self::Other(other),
        }
    }

    /// The one-octet wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Scheduled => 0,
            Self::Enroute => 1,
            Self::Delivered => 2,
            Self::Expired => 3,
            Self::Deleted => 4,
            Self::Undeliverable => 5,
            Self::Accepted => 6,
            Self::Unknown => 7,
            Self::Rejected => 8,
            Self::Skipped => 9,
            Self::Other(v) => v,
        }
    }

    /// True for states after which the message will not change any more (2..=9).
    pub const fn is_final(self) -> bool {
        !matches!(self, Self::Scheduled | Self::Enroute | Self::Other(_))
    }
}

/// The `network_error_code` TLV (0x0423): network type (1 = ANSI-136, 2 = IS-95, 3 = GSM,
/// 4 = ANSI-41, 8 = SMPP...) and a network-specific error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkErrorCode {
    /// Network type octet.
    pub network_type: u8,
    /// Network-specific error code.
    pub error_code: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_state_round_trips_every_octet() {
        for v in 0..=u8::MAX {
            assert_eq!(MessageState::from_u8(v).to_u8(), v);
        }
        assert_eq!(MessageState::from_u8(2), MessageState::Delivered);
        assert!(MessageState::Delivered.is_final());
        assert!(!MessageState::Enroute.is_final());
        assert!(!MessageState::from_u8(42).is_final());
    }
}
