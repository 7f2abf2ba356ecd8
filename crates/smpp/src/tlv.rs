//! Optional parameters (TLVs): tag (2 octets), length (2 octets), value.
//!
//! Every tag of smpp-reference §14 has a typed [`Tlv`] variant; any other tag (vendor TLVs
//! such as 0x1402) is kept as [`Tlv::Other`]. A PDU's TLVs live in [`Tlvs`], which keeps their
//! wire order so that a decoded PDU re-encodes byte for byte, and which only ever holds values
//! that fit their wire form (checked on decode and in [`Tlvs::push`]), so encoding cannot fail.

use crate::codec::{DecodeErrorKind, FieldError, Reader};
use crate::message_state::{MessageState, NetworkErrorCode};
use crate::types::COctetString;
use bytes::{BufMut, Bytes};
use std::fmt;

/// A TLV value that does not fit its tag's wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("TLV {tag:#06x}: value length {len} is outside {min}..={max}")]
pub struct TlvError {
    /// The tag.
    pub tag: u16,
    /// The rejected length.
    pub len: usize,
    /// Smallest allowed length.
    pub min: usize,
    /// Largest allowed length.
    pub max: usize,
}

/// Declares the TLV enum, its tag constants, and the per-kind encode/decode code, so that the
/// tag table is written exactly once.
macro_rules! tlv_table {
    (
        u8 { $( $(#[$m1:meta])* $v1:ident = $t1:ident $x1:literal, )* }
        u16 { $( $(#[$m2:meta])* $v2:ident = $t2:ident $x2:literal, )* }
        u32 { $( $(#[$m4:meta])* $v4:ident = $t4:ident $x4:literal, )* }
        bytes { $( $(#[$mb:meta])* $vb:ident = $tb:ident $xb:literal [$minb:literal, $maxb:literal], )* }
        cstr { $( $(#[$mc:meta])* $vc:ident = $tc:ident $xc:literal <$maxc:literal>, )* }
    ) => {
        /// Tag values of the TLVs this crate knows by name.
        pub mod tag {
            $( #[doc = concat!("`", stringify!($v1), "` (1-octet integer).")] pub const $t1: u16 = $x1; )*
            $( #[doc = concat!("`", stringify!($v2), "` (2-octet integer).")] pub const $t2: u16 = $x2; )*
            $( #[doc = concat!("`", stringify!($v4), "` (4-octet integer).")] pub const $t4: u16 = $x4; )*
            $( #[doc = concat!("`", stringify!($vb), "` (octet string).")] pub const $tb: u16 = $xb; )*
            $( #[doc = concat!("`", stringify!($vc), "` (C-Octet String).")] pub const $tc: u16 = $xc; )*
            /// `additional_status_info_text` (C-Octet String, at most 256 octets).
            pub const ADDITIONAL_STATUS_INFO_TEXT: u16 = 0x001D;
            /// `network_error_code` (3 octets).
            pub const NETWORK_ERROR_CODE: u16 = 0x0423;
            /// `message_state` (1 octet).
            pub const MESSAGE_STATE: u16 = 0x0427;
            /// `alert_on_message_delivery` (length 0, or 1 in SMPP 5.0).
            pub const ALERT_ON_MESSAGE_DELIVERY: u16 = 0x130C;
        }

        /// One optional parameter with a typed value.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Tlv {
            $( $(#[$m1])* $v1(u8), )*
            $( $(#[$m2])* $v2(u16), )*
            $( $(#[$m4])* $v4(u32), )*
            $( $(#[$mb])* $vb(Bytes), )*
            $( $(#[$mc])* $vc(COctetString<$maxc>), )*
            /// 0x001D `additional_status_info_text` (boxed: 256 octets inline would make every
            /// TLV that large).
            AdditionalStatusInfoText(Box<COctetString<256>>),
            /// 0x0423 `network_error_code`.
            NetworkErrorCode(NetworkErrorCode),
            /// 0x0427 `message_state`.
            MessageState(MessageState),
            /// 0x130C `alert_on_message_delivery`: `None` = length 0 (3.4), `Some` = the 5.0
            /// one-octet form.
            AlertOnMessageDelivery(Option<u8>),
            /// Any other tag (vendor-specific or unknown), kept verbatim.
            Other {
                /// The tag.
                tag: u16,
                /// The raw value.
                value: Bytes,
            },
        }

        impl Tlv {
            /// The tag.
            pub fn tag(&self) -> u16 {
                match self {
                    $( Self::$v1(_) => $x1, )*
                    $( Self::$v2(_) => $x2, )*
                    $( Self::$v4(_) => $x4, )*
                    $( Self::$vb(_) => $xb, )*
                    $( Self::$vc(_) => $xc, )*
                    Self::AdditionalStatusInfoText(_) => tag::ADDITIONAL_STATUS_INFO_TEXT,
                    Self::NetworkErrorCode(_) => tag::NETWORK_ERROR_CODE,
                    Self::MessageState(_) => tag::MESSAGE_STATE,
                    Self::AlertOnMessageDelivery(_) => tag::ALERT_ON_MESSAGE_DELIVERY,
                    Self::Other { tag, .. } => *tag,
                }
            }

            /// The specification's name of the tag (`None` for [`Tlv::Other`]).
            pub fn name(&self) -> Option<&'static str> {
                Some(match self {
                    $( Self::$v1(_) => stringify!($v1), )*
                    $( Self::$v2(_) => stringify!($v2), )*
                    $( Self::$v4(_) => stringify!($v4), )*
                    $( Self::$vb(_) => stringify!($vb), )*
                    $( Self::$vc(_) => stringify!($vc), )*
                    Self::AdditionalStatusInfoText(_) => "AdditionalStatusInfoText",
                    Self::NetworkErrorCode(_) => "NetworkErrorCode",
                    Self::MessageState(_) => "MessageState",
                    Self::AlertOnMessageDelivery(_) => "AlertOnMessageDelivery",
                    Self::Other { .. } => return None,
                })
            }

            /// Length of the value on the wire (without the 4-octet tag/length header).
            pub fn value_len(&self) -> usize {
                match self {
                    $( Self::$v1(_) => 1, )*
                    $( Self::$v2(_) => 2, )*
                    $( Self::$v4(_) => 4, )*
                    $( Self::$vb(b) => b.len(), )*
                    $( Self::$vc(s) => s.encoded_len(), )*
                    Self::AdditionalStatusInfoText(s) => s.encoded_len(),
                    Self::NetworkErrorCode(_) => 3,
                    Self::MessageState(_) => 1,
                    Self::AlertOnMessageDelivery(v) => usize::from(v.is_some()),
                    Self::Other { value, .. } => value.len(),
                }
            }

            fn encode_value(&self, out: &mut impl BufMut) {
                match self {
                    $( Self::$v1(v) => out.put_u8(*v), )*
                    $( Self::$v2(v) => out.put_u16(*v), )*
                    $( Self::$v4(v) => out.put_u32(*v), )*
                    $( Self::$vb(b) => out.put_slice(b), )*
                    $( Self::$vc(s) => s.encode(out), )*
                    Self::AdditionalStatusInfoText(s) => s.encode(out),
                    Self::NetworkErrorCode(c) => {
                        out.put_u8(c.network_type);
                        out.put_u16(c.error_code);
                    }
                    Self::MessageState(s) => out.put_u8(s.to_u8()),
                    Self::AlertOnMessageDelivery(v) => {
                        if let Some(v) = v {
                            out.put_u8(*v);
                        }
                    }
                    Self::Other { value, .. } => out.put_slice(value),
                }
            }

            /// Allowed value lengths of a tag: `(min, max)`.
            fn length_limits(tag: u16) -> (usize, usize) {
                match tag {
                    $( $x1 => (1, 1), )*
                    $( $x2 => (2, 2), )*
                    $( $x4 => (4, 4), )*
                    $( $xb => ($minb, $maxb), )*
                    // Lenient: the NUL may be missing (it is added back on encode).
                    $( $xc => (0, $maxc), )*
                    tag::ADDITIONAL_STATUS_INFO_TEXT => (0, 256),
                    tag::NETWORK_ERROR_CODE => (3, 3),
                    tag::MESSAGE_STATE => (1, 1),
                    tag::ALERT_ON_MESSAGE_DELIVERY => (0, 1),
                    _ => (0, u16::MAX as usize),
                }
            }

            /// Builds the typed TLV for `tag` from its raw value. Not on the decoding path
            /// (see [`Tlv::parse_into`]): [`Tlv::validate`] uses it for a raw
            /// [`Tlv::Other`], so it shares the decoder's table rather than repeating it.
            fn parse(
                tag: u16,
                value: &[u8],
                to_bytes: impl FnOnce() -> Bytes,
            ) -> Result<Self, DecodeErrorKind> {
                let mut one = Vec::with_capacity(1);
                Self::parse_into(tag, value, to_bytes, &mut one)?;
                // `parse_into` pushed exactly one TLV when it returned `Ok`.
                one.pop().ok_or(DecodeErrorKind::TlvInvalidValue { tag })
            }

            /// Appends the typed TLV for `tag`, built from its raw value, to `out`.
            /// `to_bytes` produces the value as `Bytes` (sliced or copied) for octet-string
            /// variants only, so integer TLVs never touch the allocator.
            ///
            /// This is the decoder's hot path, written for it: one `match` on the tag both
            /// checks the length (the limits of [`Tlv::length_limits`]) and builds the
            /// value, where looking the tag up twice cost as much as the rest. A C-string
            /// value is pushed empty and filled where it lies: built on the stack (zeroed,
            /// copied, length set) and then moved into the `Vec`, its move read back in
            /// 16-octet loads what had just been written in narrow stores, which the CPU
            /// cannot forward; `perf annotate` put a quarter of a receipt's decode time on
            /// that one load.
            fn parse_into(
                tag: u16,
                value: &[u8],
                to_bytes: impl FnOnce() -> Bytes,
                out: &mut Vec<Self>,
            ) -> Result<(), DecodeErrorKind> {
                let len = value.len();
                // u16 is the wire length, so `value.len()` fits.
                let bad_length = || DecodeErrorKind::TlvInvalidLength {
                    tag,
                    length: len as u16,
                };
                match tag {
                    $( $x1 => match value {
                        &[v] => out.push(Self::$v1(v)),
                        _ => return Err(bad_length()),
                    }, )*
                    $( $x2 => match value {
                        &[a, b] => out.push(Self::$v2(u16::from_be_bytes([a, b]))),
                        _ => return Err(bad_length()),
                    }, )*
                    $( $x4 => match value {
                        &[a, b, c, d] => {
                            out.push(Self::$v4(u32::from_be_bytes([a, b, c, d])))
                        }
                        _ => return Err(bad_length()),
                    }, )*
                    $( $xb => {
                        if !($minb..=$maxb).contains(&len) {
                            return Err(bad_length());
                        }
                        out.push(Self::$vb(to_bytes()));
                    } )*
                    // Lenient: the NUL may be missing (it is added back on encode).
                    $( $xc => {
                        if len > $maxc {
                            return Err(bad_length());
                        }
                        let content = c_string_content::<$maxc>(tag, value)?;
                        // Pushed empty and filled where it lies (see above).
                        out.push(Self::$vc(COctetString::empty()));
                        if let Some(Self::$vc(s)) = out.last_mut() {
                            s.set_checked(content);
                        }
                    } )*
                    tag::ADDITIONAL_STATUS_INFO_TEXT => {
                        if len > 256 {
                            return Err(bad_length());
                        }
                        let content = c_string_content::<256>(tag, value)?;
                        out.push(Self::AdditionalStatusInfoText(Box::new(
                            COctetString::from_checked(content),
                        )));
                    }
                    tag::NETWORK_ERROR_CODE => match value {
                        &[t, a, b] => out.push(Self::NetworkErrorCode(NetworkErrorCode {
                            network_type: t,
                            error_code: u16::from_be_bytes([a, b]),
                        })),
                        _ => return Err(bad_length()),
                    },
                    tag::MESSAGE_STATE => match value {
                        &[v] => out.push(Self::MessageState(MessageState::from_u8(v))),
                        _ => return Err(bad_length()),
                    },
                    tag::ALERT_ON_MESSAGE_DELIVERY => match value {
                        [] => out.push(Self::AlertOnMessageDelivery(None)),
                        &[v] => out.push(Self::AlertOnMessageDelivery(Some(v))),
                        _ => return Err(bad_length()),
                    },
                    // Any length is valid for a tag this crate does not know.
                    _ => out.push(Self::Other { tag, value: to_bytes() }),
                }
                Ok(())
            }
        }
    };
}

/// The content of a C-string TLV value that fits `COctetString<MAX>`: at most one NUL, and
/// only as the last octet. A missing NUL is tolerated (some MCs omit it); the value is
/// re-encoded with its NUL.
fn c_string_content<const MAX: usize>(tag: u16, value: &[u8]) -> Result<&[u8], DecodeErrorKind> {
    let content = match value.split_last() {
        Some((0, content)) => content,
        _ => value,
    };
    if content.len() >= MAX || crate::codec::find_nul(content).is_some() {
        return Err(DecodeErrorKind::TlvInvalidValue { tag });
    }
    Ok(content)
}

tlv_table! {
    u8 {
        /// 0x0005 `dest_addr_subunit`.
        DestAddrSubunit = DEST_ADDR_SUBUNIT 0x0005,
        /// 0x0006 `dest_network_type`.
        DestNetworkType = DEST_NETWORK_TYPE 0x0006,
        /// 0x0007 `dest_bearer_type`.
        DestBearerType = DEST_BEARER_TYPE 0x0007,
        /// 0x000D `source_addr_subunit`.
        SourceAddrSubunit = SOURCE_ADDR_SUBUNIT 0x000D,
        /// 0x000E `source_network_type`.
        SourceNetworkType = SOURCE_NETWORK_TYPE 0x000E,
        /// 0x000F `source_bearer_type`.
        SourceBearerType = SOURCE_BEARER_TYPE 0x000F,
        /// 0x0019 `payload_type`.
        PayloadType = PAYLOAD_TYPE 0x0019,
        /// 0x0030 `ms_msg_wait_facilities`.
        MsMsgWaitFacilities = MS_MSG_WAIT_FACILITIES 0x0030,
        /// 0x0201 `privacy_indicator`.
        PrivacyIndicator = PRIVACY_INDICATOR 0x0201,
        /// 0x0205 `user_response_code`.
        UserResponseCode = USER_RESPONSE_CODE 0x0205,
        /// 0x020D `language_indicator`.
        LanguageIndicator = LANGUAGE_INDICATOR 0x020D,
        /// 0x020E `sar_total_segments`.
        SarTotalSegments = SAR_TOTAL_SEGMENTS 0x020E,
        /// 0x020F `sar_segment_seqnum`.
        SarSegmentSeqnum = SAR_SEGMENT_SEQNUM 0x020F,
        /// 0x0210 `sc_interface_version`.
        ScInterfaceVersion = SC_INTERFACE_VERSION 0x0210,
        /// 0x0302 `callback_num_pres_ind`.
        CallbackNumPresInd = CALLBACK_NUM_PRES_IND 0x0302,
        /// 0x0304 `number_of_messages`.
        NumberOfMessages = NUMBER_OF_MESSAGES 0x0304,
        /// 0x0420 `dpf_result`.
        DpfResult = DPF_RESULT 0x0420,
        /// 0x0421 `set_dpf`.
        SetDpf = SET_DPF 0x0421,
        /// 0x0422 `ms_availability_status`.
        MsAvailabilityStatus = MS_AVAILABILITY_STATUS 0x0422,
        /// 0x0425 `delivery_failure_reason`.
        DeliveryFailureReason = DELIVERY_FAILURE_REASON 0x0425,
        /// 0x0426 `more_messages_to_send`.
        MoreMessagesToSend = MORE_MESSAGES_TO_SEND 0x0426,
        /// 0x0428 `congestion_state` (5.0).
        CongestionState = CONGESTION_STATE 0x0428,
        /// 0x0501 `ussd_service_op`.
        UssdServiceOp = USSD_SERVICE_OP 0x0501,
        /// 0x0600 `broadcast_channel_indicator` (5.0).
        BroadcastChannelIndicator = BROADCAST_CHANNEL_INDICATOR 0x0600,
        /// 0x0603 `broadcast_message_class` (5.0).
        BroadcastMessageClass = BROADCAST_MESSAGE_CLASS 0x0603,
        /// 0x0608 `broadcast_area_success` (5.0).
        BroadcastAreaSuccess = BROADCAST_AREA_SUCCESS 0x0608,
        /// 0x0611 `dest_addr_np_resolution` (5.0).
        DestAddrNpResolution = DEST_ADDR_NP_RESOLUTION 0x0611,
        /// 0x1201 `display_time`.
        DisplayTime = DISPLAY_TIME 0x1201,
        /// 0x1380 `its_reply_type`.
        ItsReplyType = ITS_REPLY_TYPE 0x1380,
    }
    u16 {
        /// 0x0008 `dest_telematics_id`.
        DestTelematicsId = DEST_TELEMATICS_ID 0x0008,
        /// 0x0204 `user_message_reference`.
        UserMessageReference = USER_MESSAGE_REFERENCE 0x0204,
        /// 0x020A `source_port`.
        SourcePort = SOURCE_PORT 0x020A,
        /// 0x020B `destination_port`.
        DestinationPort = DESTINATION_PORT 0x020B,
        /// 0x020C `sar_msg_ref_num`.
        SarMsgRefNum = SAR_MSG_REF_NUM 0x020C,
        /// 0x0604 `broadcast_rep_num` (5.0).
        BroadcastRepNum = BROADCAST_REP_NUM 0x0604,
        /// 0x1203 `sms_signal`.
        SmsSignal = SMS_SIGNAL 0x1203,
        /// 0x1383 `its_session_info` (session number, sequence octet).
        ItsSessionInfo = ITS_SESSION_INFO 0x1383,
    }
    u32 {
        /// 0x0017 `qos_time_to_live` (seconds).
        QosTimeToLive = QOS_TIME_TO_LIVE 0x0017,
        /// 0x0607 `broadcast_error_status` (5.0; a command_status value).
        BroadcastErrorStatus = BROADCAST_ERROR_STATUS 0x0607,
    }
    bytes {
        /// 0x0010 `source_telematics_id`: 1 octet (Kannel, OpenSMPP) or 2 (Rusmpp); kept raw.
        SourceTelematicsId = SOURCE_TELEMATICS_ID 0x0010 [1, 2],
        /// 0x0202 `source_subaddress` (2–23 octets).
        SourceSubaddress = SOURCE_SUBADDRESS 0x0202 [2, 23],
        /// 0x0203 `dest_subaddress` (2–23 octets).
        DestSubaddress = DEST_SUBADDRESS 0x0203 [2, 23],
        /// 0x0303 `callback_num_atag` (at most 65 octets).
        CallbackNumAtag = CALLBACK_NUM_ATAG 0x0303 [0, 65],
        /// 0x0381 `callback_num` (4–19 octets).
        CallbackNum = CALLBACK_NUM 0x0381 [4, 19],
        /// 0x0424 `message_payload` (0–65535 octets).
        MessagePayload = MESSAGE_PAYLOAD 0x0424 [0, 65535],
        /// 0x0601 `broadcast_content_type` (5.0, 3 octets).
        BroadcastContentType = BROADCAST_CONTENT_TYPE 0x0601 [3, 3],
        /// 0x0602 `broadcast_content_type_info` (5.0).
        BroadcastContentTypeInfo = BROADCAST_CONTENT_TYPE_INFO 0x0602 [0, 255],
        /// 0x0605 `broadcast_frequency_interval` (5.0, 3 octets).
        BroadcastFrequencyInterval = BROADCAST_FREQUENCY_INTERVAL 0x0605 [3, 3],
        /// 0x0606 `broadcast_area_identifier` (5.0).
        BroadcastAreaIdentifier = BROADCAST_AREA_IDENTIFIER 0x0606 [0, 100],
        /// 0x060A `broadcast_service_group` (5.0).
        BroadcastServiceGroup = BROADCAST_SERVICE_GROUP 0x060A [0, 255],
        /// 0x060B `billing_identification` (5.0, at most 1024 octets).
        BillingIdentification = BILLING_IDENTIFICATION 0x060B [0, 1024],
        /// 0x060F `source_node_id` (5.0, 6 octets).
        SourceNodeId = SOURCE_NODE_ID 0x060F [6, 6],
        /// 0x0610 `dest_node_id` (5.0, 6 octets).
        DestNodeId = DEST_NODE_ID 0x0610 [6, 6],
        /// 0x0612 `dest_addr_np_information` (5.0, 10 octets).
        DestAddrNpInformation = DEST_ADDR_NP_INFORMATION 0x0612 [10, 10],
        /// 0x0613 `dest_addr_np_country` (5.0, 5-octet integer).
        DestAddrNpCountry = DEST_ADDR_NP_COUNTRY 0x0613 [5, 5],
        /// 0x1204 `ms_validity`: 1 octet (3.4) or 4 (5.0: behaviour, units, count).
        MsValidity = MS_VALIDITY 0x1204 [1, 4],
    }
    cstr {
        /// 0x001E `receipted_message_id` (C-string, at most 65 octets with the NUL).
        ReceiptedMessageId = RECEIPTED_MESSAGE_ID 0x001E <65>,
        /// 0x0609 `broadcast_end_time` (5.0, time string).
        BroadcastEndTime = BROADCAST_END_TIME 0x0609 <17>,
        /// 0x060D `source_network_id` (5.0).
        SourceNetworkId = SOURCE_NETWORK_ID 0x060D <65>,
        /// 0x060E `dest_network_id` (5.0).
        DestNetworkId = DEST_NETWORK_ID 0x060E <65>,
    }
}

impl Tlv {
    /// Length on the wire including the 4-octet tag/length header.
    pub fn encoded_len(&self) -> usize {
        4 + self.value_len()
    }

    /// Writes tag, length and value. Meant for TLVs that passed [`Tlv::validate`] (every TLV
    /// in a [`Tlvs`] did); a value over 65535 octets would not fit the 2-octet length, and its
    /// length is then written as 65535.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u16(self.tag());
        out.put_u16(u16::try_from(self.value_len()).unwrap_or(u16::MAX));
        self.encode_value(out);
    }

    /// Checks that the value fits the tag's wire form, and turns an [`Tlv::Other`] carrying a
    /// known tag into its typed variant (so that a pushed TLV equals its decoded self).
    ///
    /// # Errors
    /// [`TlvError`] when the value length is outside the tag's range (or above 65535).
    pub fn validate(self) -> Result<Self, TlvError> {
        let tag = self.tag();
        let (min, max) = Self::length_limits(tag);
        let len = self.value_len();
        let err = TlvError { tag, len, min, max };
        let mut tlv = self;
        if let Tlv::Other { value, .. } = &tlv {
            if len > max {
                return Err(err);
            }
            let raw = value.clone();
            tlv = Self::parse(tag, value, || raw.clone()).map_err(|_| err)?;
        }
        // C-string values count their NUL here; the decoder also accepts them without.
        if tlv.value_len() < min || tlv.value_len() > max {
            return Err(err);
        }
        Ok(tlv)
    }
}

/// The TLVs of one PDU, in wire order. Empty `Tlvs` do not allocate.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Tlvs(Vec<Tlv>);

impl Tlvs {
    /// No TLVs.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends a TLV (after [`Tlv::validate`]).
    ///
    /// # Errors
    /// [`TlvError`] when the value does not fit the tag's wire form.
    pub fn push(&mut self, tlv: Tlv) -> Result<(), TlvError> {
        self.0.push(tlv.validate()?);
        Ok(())
    }

    /// Builder form of [`Tlvs::push`].
    ///
    /// # Errors
    /// As [`Tlvs::push`].
    pub fn with(mut self, tlv: Tlv) -> Result<Self, TlvError> {
        self.push(tlv)?;
        Ok(self)
    }

    /// Removes every TLV with this tag; returns how many were removed.
    pub fn remove(&mut self, tag: u16) -> usize {
        let before = self.0.len();
        self.0.retain(|t| t.tag() != tag);
        before - self.0.len()
    }

    /// The TLVs in wire order.
    pub fn as_slice(&self) -> &[Tlv] {
        &self.0
    }

    /// Iterates in wire order.
    pub fn iter(&self) -> std::slice::Iter<'_, Tlv> {
        self.0.iter()
    }

    /// Number of TLVs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first TLV with this tag.
    pub fn find(&self, tag: u16) -> Option<&Tlv> {
        self.0.iter().find(|t| t.tag() == tag)
    }

    /// `message_payload` (0x0424).
    pub fn message_payload(&self) -> Option<&Bytes> {
        self.0.iter().find_map(|t| match t {
            Tlv::MessagePayload(b) => Some(b),
            _ => None,
        })
    }

    /// `receipted_message_id` (0x001E).
    pub fn receipted_message_id(&self) -> Option<&COctetString<65>> {
        self.0.iter().find_map(|t| match t {
            Tlv::ReceiptedMessageId(s) => Some(s),
            _ => None,
        })
    }

    /// `message_state` (0x0427).
    pub fn message_state(&self) -> Option<MessageState> {
        self.0.iter().find_map(|t| match t {
            Tlv::MessageState(s) => Some(*s),
            _ => None,
        })
    }

    /// `network_error_code` (0x0423).
    pub fn network_error_code(&self) -> Option<NetworkErrorCode> {
        self.0.iter().find_map(|t| match t {
            Tlv::NetworkErrorCode(c) => Some(*c),
            _ => None,
        })
    }

    /// `sc_interface_version` (0x0210).
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.0.iter().find_map(|t| match t {
            Tlv::ScInterfaceVersion(v) => Some(*v),
            _ => None,
        })
    }

    /// The SAR triple `(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)` when all
    /// three are present.
    pub fn sar(&self) -> Option<(u16, u8, u8)> {
        let mut r = None;
        let mut total = None;
        let mut seq = None;
        for t in &self.0 {
            match t {
                Tlv::SarMsgRefNum(v) => r = Some(*v),
                Tlv::SarTotalSegments(v) => total = Some(*v),
                Tlv::SarSegmentSeqnum(v) => seq = Some(*v),
                _ => {}
            }
        }
        Some((r?, total?, seq?))
    }

    /// Octets on the wire.
    pub fn encoded_len(&self) -> usize {
        self.0.iter().map(Tlv::encoded_len).sum()
    }

    /// Writes every TLV in order.
    pub fn encode(&self, out: &mut impl BufMut) {
        for t in &self.0 {
            t.encode(out);
        }
    }

    /// Reads TLVs until the body ends. 1–3 leftover octets, or a length past the end, are a
    /// malformed TLV stream (ESME_RINVOPTPARSTREAM).
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let mut tlvs = Self::new();
        tlvs.decode_append(r)?;
        Ok(tlvs)
    }

    /// [`Tlvs::decode`], appending to `self` in place (a boxed PDU's TLVs are filled where
    /// they are, so no empty `Tlvs` is built, moved and dropped).
    pub(crate) fn decode_append(&mut self, r: &mut Reader<'_>) -> Result<(), FieldError> {
        if r.remaining() == 0 {
            return Ok(());
        }
        // One allocation of the right size instead of growing from empty: counting the
        // headers first is a few instructions per TLV, a reallocation is a malloc and a copy.
        let count = count_whole_tlvs(r.as_slice());
        if self.0.capacity() == 0 {
            // The decoder's case; `with_capacity` skips `reserve`'s general regrowth path.
            self.0 = Vec::with_capacity(count);
        } else {
            self.0.reserve_exact(count);
        }
        let tlvs = &mut self.0;
        while let Some(header) = r.as_slice().first_chunk::<4>() {
            let [t0, t1, l0, l1] = *header;
            let tag = u16::from_be_bytes([t0, t1]);
            let length = u16::from_be_bytes([l0, l1]);
            r.skip_header();
            if usize::from(length) > r.remaining() {
                return Err(FieldError::new(
                    "tlv",
                    DecodeErrorKind::TlvLengthOverrun {
                        tag,
                        length,
                        remaining: r.remaining(),
                    },
                ));
            }
            let (value, bytes) = r.take_lazy(usize::from(length));
            Tlv::parse_into(tag, value, bytes, tlvs).map_err(|k| FieldError::new("tlv", k))?;
        }
        if r.remaining() > 0 {
            return Err(FieldError::new(
                "tlv",
                DecodeErrorKind::TlvStrayOctets {
                    count: r.remaining(),
                },
            ));
        }
        Ok(())
    }
}

/// How many whole TLVs (header and value) `buf` starts with; the decoder reports whatever
/// follows them.
fn count_whole_tlvs(mut buf: &[u8]) -> usize {
    let mut n = 0;
    while let Some((&[_, _, l0, l1], rest)) = buf.split_first_chunk::<4>() {
        match rest.get(usize::from(u16::from_be_bytes([l0, l1]))..) {
            Some(rest) => {
                n += 1;
                buf = rest;
            }
            None => break,
        }
    }
    n
}

impl std::ops::Deref for Tlvs {
    type Target = [Tlv];
    fn deref(&self) -> &[Tlv] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Tlvs {
    type Item = &'a Tlv;
    type IntoIter = std::slice::Iter<'a, Tlv>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl TryFrom<Vec<Tlv>> for Tlvs {
    type Error = TlvError;
    fn try_from(v: Vec<Tlv>) -> Result<Self, TlvError> {
        v.into_iter()
            .map(Tlv::validate)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl fmt::Debug for Tlvs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Tlvs, FieldError> {
        let mut r = Reader::new(bytes, None, 0);
        Tlvs::decode(&mut r)
    }

    fn encode(t: &Tlvs) -> Vec<u8> {
        let mut out = Vec::new();
        t.encode(&mut out);
        assert_eq!(out.len(), t.encoded_len());
        out
    }

    #[test]
    fn known_and_unknown_tags_round_trip_in_order() {
        let wire = [
            0x04, 0x27, 0, 1, 2, // message_state DELIVERED
            0x14, 0x03, 0, 3, b'a', b'b', 0, // vendor
            0x00, 0x1E, 0, 4, b'x', b'y', b'z', 0, // receipted_message_id
            0x04, 0x23, 0, 3, 3, 0x01, 0x02, // network_error_code
            0x02, 0x0C, 0, 2, 0x12, 0x34, // sar_msg_ref_num
            0x13, 0x0C, 0, 0, // alert_on_message_delivery
        ];
        let t = decode(&wire).unwrap();
        assert_eq!(t.len(), 6);
        assert_eq!(t.message_state(), Some(MessageState::Delivered));
        assert_eq!(
            t.find(0x1403),
            Some(&Tlv::Other {
                tag: 0x1403,
                value: Bytes::from_static(b"ab\0")
            })
        );
        assert_eq!(t.receipted_message_id().unwrap(), "xyz");
        assert_eq!(
            t.network_error_code(),
            Some(NetworkErrorCode {
                network_type: 3,
                error_code: 0x0102
            })
        );
        assert_eq!(t[4], Tlv::SarMsgRefNum(0x1234));
        assert_eq!(t[5], Tlv::AlertOnMessageDelivery(None));
        assert_eq!(encode(&t), wire);
    }

    #[test]
    fn malformed_streams_are_precise_errors() {
        assert_eq!(
            decode(&[0x02, 0x10, 0]).unwrap_err().kind,
            DecodeErrorKind::TlvStrayOctets { count: 3 }
        );
        assert_eq!(
            decode(&[0x04, 0x24, 0, 5, 1, 2]).unwrap_err().kind,
            DecodeErrorKind::TlvLengthOverrun {
                tag: 0x0424,
                length: 5,
                remaining: 2
            }
        );
        assert_eq!(
            decode(&[0x04, 0x27, 0, 2, 1, 2]).unwrap_err().kind,
            DecodeErrorKind::TlvInvalidLength {
                tag: 0x0427,
                length: 2
            }
        );
        assert_eq!(
            decode(&[0x00, 0x1E, 0, 3, b'a', 0, b'b']).unwrap_err().kind,
            DecodeErrorKind::TlvInvalidValue { tag: 0x001E }
        );
    }

    #[test]
    fn decoded_tlvs_are_allocated_once_at_their_count() {
        let wire = [
            0x04, 0x27, 0, 1, 2, // message_state
            0x00, 0x1E, 0, 3, b'4', b'2', 0, // receipted_message_id
            0x14, 0x03, 0, 0, // vendor, empty
        ];
        let t = decode(&wire).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.0.capacity(), 3);
        assert_eq!(count_whole_tlvs(&wire), 3);
        // A stream that goes wrong counts only the whole TLVs before the fault.
        assert_eq!(count_whole_tlvs(&wire[..wire.len() - 1]), 2);
        assert_eq!(count_whole_tlvs(&[0x04, 0x27, 0, 2, 1]), 0);
        assert_eq!(count_whole_tlvs(&[]), 0);
    }

    #[test]
    fn c_string_tlv_limits() {
        // receipted_message_id is C(65): 64 octets and a NUL, or 64 without the NUL.
        let mut wire = vec![0x00, 0x1E, 0, 65];
        wire.extend_from_slice(&[b'7'; 64]);
        wire.push(0);
        assert_eq!(
            decode(&wire).unwrap().receipted_message_id().unwrap().len(),
            64
        );
        let mut wire = vec![0x00, 0x1E, 0, 64];
        wire.extend_from_slice(&[b'7'; 64]);
        assert_eq!(
            decode(&wire).unwrap().receipted_message_id().unwrap().len(),
            64
        );
        // 65 octets without a NUL fit the length but not the string.
        let mut wire = vec![0x00, 0x1E, 0, 65];
        wire.extend_from_slice(&[b'7'; 65]);
        assert_eq!(
            decode(&wire).unwrap_err().kind,
            DecodeErrorKind::TlvInvalidValue { tag: 0x001E }
        );
        // 66 octets are over the tag's length limit.
        let mut wire = vec![0x00, 0x1E, 0, 66];
        wire.extend_from_slice(&[b'7'; 65]);
        wire.push(0);
        assert_eq!(
            decode(&wire).unwrap_err().kind,
            DecodeErrorKind::TlvInvalidLength {
                tag: 0x001E,
                length: 66
            }
        );
    }

    #[test]
    fn c_string_tlv_without_nul_is_tolerated_and_re_terminated() {
        let t = decode(&[0x00, 0x1E, 0, 2, b'4', b'2']).unwrap();
        assert_eq!(t.receipted_message_id().unwrap(), "42");
        assert_eq!(encode(&t), [0x00, 0x1E, 0, 3, b'4', b'2', 0]);
    }

    #[test]
    fn push_validates_and_normalises() {
        let mut t = Tlvs::new();
        assert_eq!(
            t.push(Tlv::MessagePayload(Bytes::from(vec![0; 65536]))),
            Err(TlvError {
                tag: 0x0424,
                len: 65536,
                min: 0,
                max: 65535
            })
        );
        assert!(t
            .push(Tlv::CallbackNum(Bytes::from_static(b"123")))
            .is_err());
        t.push(Tlv::Other {
            tag: 0x0427,
            value: Bytes::from_static(&[5]),
        })
        .unwrap();
        assert_eq!(t[0], Tlv::MessageState(MessageState::Undeliverable));
        assert!(t
            .push(Tlv::Other {
                tag: 0x0427,
                value: Bytes::from_static(&[5, 6]),
            })
            .is_err());
        t.push(Tlv::SarMsgRefNum(7)).unwrap();
        t.push(Tlv::SarTotalSegments(2)).unwrap();
        assert_eq!(t.sar(), None);
        t.push(Tlv::SarSegmentSeqnum(1)).unwrap();
        assert_eq!(t.sar(), Some((7, 2, 1)));
        assert_eq!(t.remove(0x020C), 1);
        assert_eq!(t.sar(), None);
    }
}
