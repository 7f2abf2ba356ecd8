//! deliver_sm (MC→ESME: MO messages and delivery receipts) and deliver_sm_resp
//! (smpp-reference §5.5, §5.6).

use crate::pdu::{message_id_resp, short_message_pdu};

short_message_pdu! {
    /// deliver_sm: a message (MO) or a delivery receipt (`esm_class` 0x04) from the MC.
    /// Same layout as submit_sm; the receipt TLVs are reachable through [`DeliverSm::tlvs`]
    /// (`receipted_message_id()`, `message_state()`, `network_error_code()`).
    DeliverSm
}

message_id_resp! {
    /// deliver_sm_resp: `message_id` is unused and should be empty (a single NUL); a body
    /// carrying an id, or no body at all, is accepted on decode.
    DeliverSmResp
}

impl DeliverSm {
    /// True when `esm_class` marks this as an MC delivery receipt.
    pub fn is_delivery_receipt(&self) -> bool {
        self.esm_class.is_delivery_receipt()
    }
}
