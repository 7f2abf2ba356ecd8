//! Shared helpers for the `smpp` integration tests: public test vectors, a tiny seeded PRNG,
//! and proptest strategies that generate valid PDUs of every operation.
//!
//! Each integration test is its own crate and uses a different subset of this module, hence
//! the `dead_code` allowance.
#![allow(dead_code)]

pub mod golden;

/// Decodes a hex string (no separators). Test-only data, so malformed hex is a bug in the
/// test itself and panics with the offending position.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd-length hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .unwrap_or_else(|_| panic!("bad hex at {i}: {:?}", &s[i..i + 2]))
        })
        .collect()
}

/// xorshift64*: a few lines, fast, and reproducible from its seed, which is all a
/// mutation-based robustness test needs (it is not used for anything cryptographic).
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed`; zero (the one fixed point of xorshift) is mapped to a constant.
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A random octet.
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Public SMPP vectors from `shared/reference/test-vectors.md` (sources cited there): name, hex.
/// V20, V21 and V30 are "tolerate on decode" cases; all others re-encode byte for byte.
pub const VECTORS: &[(&str, &str)] = &[
    ("V01", golden::V01),
    ("V02", golden::V02),
    ("V03", golden::V03),
    ("V04", golden::V04),
    ("V05", golden::V05),
    ("V06", golden::V06),
    ("V07", golden::V07),
    ("V08", golden::V08),
    ("V09", golden::V09),
    ("V10", golden::V10),
    ("V11", golden::V11),
    ("V12", golden::V12),
    ("V13", golden::V13),
    ("V14", golden::V14),
    ("V15", golden::V15),
    ("V16", golden::V16),
    ("V17", golden::V17),
    ("V18", golden::V18),
    ("V19", golden::V19),
    ("V20", golden::V20),
    ("V21", golden::V21),
    ("V22", golden::V22),
    ("V23", golden::V23),
    ("V24", golden::V24),
    ("V25", golden::V25),
    ("V26", golden::V26),
    ("V27", golden::V27),
    ("V28", golden::V28),
    ("V29", golden::V29),
    ("V30", golden::V30),
    ("V31", golden::V31),
    ("V32", golden::V32),
    ("V33", golden::V33),
    ("V34", golden::V34),
    ("V35", golden::V35),
    ("V36", golden::V36),
    ("V37", golden::V37),
    ("V38", golden::V38),
    ("V39", golden::V39),
    ("V40", golden::V40),
    ("V41", golden::V41),
    ("V42", golden::V42),
    ("C1 part 1/2", golden::C1_1),
    ("C1 part 2/2", golden::C1_2),
    ("C2", golden::C2),
];

// ---------------------------------------------------------------------------------------------
// proptest strategies
// ---------------------------------------------------------------------------------------------

pub mod strategies {
    //! Strategies for valid values of every PDU. [`Domain`] narrows them to what another
    //! implementation can represent (rusmpp: ASCII strings, NULL-or-full time strings, a
    //! TLV subset), for the differential test.

    use bytes::Bytes;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use smpp::pdu::*;
    use smpp::tlv::{Tlv, Tlvs};
    use smpp::types::*;

    /// Which values to generate.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Domain {
        /// Everything our codec accepts: any non-NUL octets in C-strings, any time-string
        /// length, every TLV (typed and unknown), bodies up to the field limits.
        Full,
        /// Values rusmpp 0.4 can hold: ASCII C-strings, time strings NULL or exactly 16
        /// characters, C(21) addresses where rusmpp has C(21), and its commonly used TLVs.
        Rusmpp,
    }

    /// A C-Octet String of up to `MAX - 1` octets.
    pub fn cstr<const MAX: usize>(d: Domain) -> BoxedStrategy<COctetString<MAX>> {
        cstr_max::<MAX>(d, MAX - 1)
    }

    /// A C-Octet String of up to `max` (< MAX) octets.
    pub fn cstr_max<const MAX: usize>(d: Domain, max: usize) -> BoxedStrategy<COctetString<MAX>> {
        let octet = match d {
            Domain::Full => (1u8..=255).boxed(),
            Domain::Rusmpp => (0x20u8..0x7F).boxed(),
        };
        vec(octet, 0..=max)
            .prop_map(|b| COctetString::new(&b).expect("generated within the field limits"))
            .boxed()
    }

    /// An SMPP time string field: NULL, or 16 characters (absolute or relative form).
    /// `Full` also produces other lengths, which the C(17) field allows.
    pub fn time(d: Domain) -> BoxedStrategy<TimeString> {
        let sixteen = (
            vec(b'0'..=b'9', 15),
            prop::sample::select(vec![b'+', b'-', b'R']),
        )
            .prop_map(|(mut digits, last)| {
                digits.push(last);
                TimeString::new(&digits).expect("16 characters")
            });
        match d {
            Domain::Full => prop_oneof![Just(TimeString::empty()), sixteen, cstr::<17>(d)].boxed(),
            Domain::Rusmpp => prop_oneof![Just(TimeString::empty()), sixteen].boxed(),
        }
    }

    /// A short_message of 0..=255 octets (any octets, including 0x00).
    pub fn short_message() -> BoxedStrategy<ShortMessage> {
        prop_oneof![
            Just(Vec::new()),
            vec(any::<u8>(), 0..=255),
            vec(any::<u8>(), 250..=255),
        ]
        .prop_map(|b| ShortMessage::new(&b).expect("at most 255 octets"))
        .boxed()
    }

    /// Known TLV tags and their value lengths per smpp-reference.md §14 (C-string values
    /// count their NUL). Used to build raw TLVs that [`Tlv::validate`] turns into typed ones.
    pub const KNOWN_TLVS: &[(u16, usize, usize)] = &[
        (0x0005, 1, 1),
        (0x0006, 1, 1),
        (0x0007, 1, 1),
        (0x0008, 2, 2),
        (0x000D, 1, 1),
        (0x000E, 1, 1),
        (0x000F, 1, 1),
        (0x0010, 1, 2),
        (0x0017, 4, 4),
        (0x0019, 1, 1),
        (0x001D, 1, 256),
        (0x001E, 1, 65),
        (0x0030, 1, 1),
        (0x0201, 1, 1),
        (0x0202, 2, 23),
        (0x0203, 2, 23),
        (0x0204, 2, 2),
        (0x0205, 1, 1),
        (0x020A, 2, 2),
        (0x020B, 2, 2),
        (0x020C, 2, 2),
        (0x020D, 1, 1),
        (0x020E, 1, 1),
        (0x020F, 1, 1),
        (0x0210, 1, 1),
        (0x0302, 1, 1),
        (0x0303, 0, 65),
        (0x0304, 1, 1),
        (0x0381, 4, 19),
        (0x0420, 1, 1),
        (0x0421, 1, 1),
        (0x0422, 1, 1),
        (0x0423, 3, 3),
        (0x0424, 0, 400),
        (0x0425, 1, 1),
        (0x0426, 1, 1),
        (0x0427, 1, 1),
        (0x0428, 1, 1),
        (0x0501, 1, 1),
        (0x060B, 0, 64),
        (0x060F, 6, 6),
        (0x0610, 6, 6),
        (0x0611, 1, 1),
        (0x0612, 10, 10),
        (0x1201, 1, 1),
        (0x1203, 2, 2),
        (0x1204, 1, 1),
        (0x1204, 4, 4),
        (0x130C, 0, 1),
        (0x1380, 1, 1),
        (0x1383, 2, 2),
    ];

    /// Known TLVs that rusmpp 0.4 reads differently, left out of the rusmpp domain; each
    /// difference is pinned in `tests/differential.rs`: source_telematics_id in its one-octet
    /// form (rusmpp wants two), ms_msg_wait_facilities and callback_num_pres_ind (rusmpp
    /// drops their reserved bits).
    pub const RUSMPP_EXCLUDED: &[(u16, usize, usize)] =
        &[(0x0010, 1, 2), (0x0030, 1, 1), (0x0302, 1, 1)];

    /// Tags whose values are C-Octet Strings (the generated value ends in NUL and has no
    /// other NUL).
    const CSTR_TAGS: &[u16] = &[0x001D, 0x001E, 0x0609, 0x060D, 0x060E];

    /// One TLV: a known tag with a value of a valid length, or a vendor/unknown tag.
    pub fn tlv(d: Domain) -> BoxedStrategy<Tlv> {
        let table: Vec<(u16, usize, usize)> = match d {
            Domain::Full => KNOWN_TLVS.to_vec(),
            Domain::Rusmpp => KNOWN_TLVS
                .iter()
                .filter(|t| !RUSMPP_EXCLUDED.contains(t))
                .copied()
                .chain([(0x0010, 2, 2)])
                .collect(),
        };
        let known = prop::sample::select(table)
            .prop_flat_map(move |(tag, min, max)| {
                let value = if CSTR_TAGS.contains(&tag) {
                    vec(0x20u8..0x7F, min.saturating_sub(1)..max)
                        .prop_map(|mut v| {
                            v.push(0);
                            v
                        })
                        .boxed()
                } else {
                    vec(any::<u8>(), min..=max).boxed()
                };
                (Just(tag), value)
            })
            .boxed();
        // 0x1400–0x3FFF is the vendor range; none of those tags is typed.
        let vendor = (0x1400u16..=0x3FFF, vec(any::<u8>(), 0..40)).boxed();
        let raw = match d {
            Domain::Full => prop_oneof![
                6 => known,
                2 => vendor,
                1 => (any::<u16>(), vec(any::<u8>(), 0..40)),
            ]
            .boxed(),
            Domain::Rusmpp => prop_oneof![4 => known, 1 => vendor].boxed(),
        };
        raw.prop_filter_map("value does not fit the tag", |(tag, value)| {
            Tlv::Other {
                tag,
                value: Bytes::from(value),
            }
            .validate()
            .ok()
        })
        .boxed()
    }

    /// Zero to four TLVs.
    pub fn tlvs(d: Domain) -> BoxedStrategy<Tlvs> {
        vec(tlv(d), 0..4)
            .prop_map(|v| Tlvs::try_from(v).expect("validated TLVs"))
            .boxed()
    }

    fn ton() -> impl Strategy<Value = Ton> {
        any::<u8>().prop_map(Ton)
    }

    fn npi() -> impl Strategy<Value = Npi> {
        any::<u8>().prop_map(Npi)
    }

    /// TLVs for PDUs that rusmpp models without any (binds, outbind, query/cancel): none in
    /// the rusmpp domain, the full set otherwise.
    fn tlvs_if_full(d: Domain) -> BoxedStrategy<Tlvs> {
        match d {
            Domain::Full => tlvs(d),
            Domain::Rusmpp => Just(Tlvs::new()).boxed(),
        }
    }

    /// TLVs restricted to at most one with this tag (PDUs that rusmpp models with a single
    /// optional TLV).
    fn single_tlv(d: Domain, only: Tlv) -> BoxedStrategy<Tlvs> {
        match d {
            Domain::Full => tlvs(d),
            Domain::Rusmpp => prop_oneof![
                Just(Tlvs::new()),
                Just(Tlvs::try_from(vec![only]).expect("valid"))
            ]
            .boxed(),
        }
    }

    /// A password: up to 16 octets (our C(17)); rusmpp keeps to the specification's 8.
    pub fn password(d: Domain) -> BoxedStrategy<smpp::types::Password> {
        match d {
            Domain::Full => cstr(d),
            Domain::Rusmpp => cstr_max(d, 8),
        }
    }

    pub fn bind(d: Domain) -> BoxedStrategy<Bind> {
        (
            (cstr(d), password(d), cstr(d), any::<u8>()),
            (ton(), npi(), cstr(d), tlvs_if_full(d)),
        )
            .prop_map(
                |(
                    (system_id, password, system_type, interface_version),
                    (addr_ton, addr_npi, address_range, tlvs),
                )| Bind {
                    system_id,
                    password,
                    system_type,
                    interface_version,
                    addr_ton,
                    addr_npi,
                    address_range,
                    tlvs,
                },
            )
            .boxed()
    }

    pub fn bind_resp(d: Domain) -> BoxedStrategy<BindResp> {
        // sc_interface_version is an ordinary TLV: usually first, but any other TLV (including
        // a second 0x0210) may follow it, and wire order must survive the round trip.
        (cstr(d), proptest::option::of(any::<u8>()), tlvs_if_full(d))
            .prop_map(|(system_id, sc_interface_version, others)| {
                let mut tlvs = Tlvs::new();
                if let Some(v) = sc_interface_version {
                    tlvs.push(Tlv::ScInterfaceVersion(v))
                        .expect("one octet fits");
                }
                for t in others.iter() {
                    tlvs.push(t.clone()).expect("generated TLVs are valid");
                }
                BindResp { system_id, tlvs }
            })
            .boxed()
    }

    pub fn outbind(d: Domain) -> BoxedStrategy<Outbind> {
        (cstr(d), password(d), tlvs_if_full(d))
            .prop_map(|(system_id, password, tlvs)| Outbind {
                system_id,
                password,
                tlvs,
            })
            .boxed()
    }

    /// The submit_sm / deliver_sm fields, shared by both strategies below.
    #[allow(clippy::type_complexity)]
    fn sm_fields(
        d: Domain,
    ) -> impl Strategy<
        Value = (
            (ServiceType, Ton, Npi, Address, Ton, Npi, Address),
            (EsmClass, u8, PriorityFlag, TimeString, TimeString),
            (RegisteredDelivery, u8, DataCoding, u8, ShortMessage, Tlvs),
        ),
    > {
        (
            (cstr(d), ton(), npi(), cstr(d), ton(), npi(), cstr(d)),
            (
                any::<u8>().prop_map(EsmClass),
                any::<u8>(),
                any::<u8>().prop_map(PriorityFlag),
                time(d),
                time(d),
            ),
            (
                any::<u8>().prop_map(RegisteredDelivery),
                any::<u8>(),
                any::<u8>().prop_map(DataCoding),
                any::<u8>(),
                short_message(),
                tlvs(d),
            ),
        )
    }

    macro_rules! sm_strategy {
        ($fn:ident, $t:ident) => {
            pub fn $fn(d: Domain) -> BoxedStrategy<$t> {
                sm_fields(d)
                    .prop_map(
                        |(
                            (st, ston, snpi, src, dton, dnpi, dst),
                            (esm, pid, prio, sched, val),
                            (rd, rip, dc, def, sm, tlvs),
                        )| $t {
                            service_type: st,
                            source_addr_ton: ston,
                            source_addr_npi: snpi,
                            source_addr: src,
                            dest_addr_ton: dton,
                            dest_addr_npi: dnpi,
                            destination_addr: dst,
                            esm_class: esm,
                            protocol_id: pid,
                            priority_flag: prio,
                            schedule_delivery_time: sched,
                            validity_period: val,
                            registered_delivery: rd,
                            replace_if_present_flag: rip,
                            data_coding: dc,
                            sm_default_msg_id: def,
                            short_message: sm,
                            tlvs,
                        },
                    )
                    .boxed()
            }
        };
    }
    sm_strategy!(submit_sm, SubmitSm);
    sm_strategy!(deliver_sm, DeliverSm);

    macro_rules! message_id_resp_strategy {
        ($fn:ident, $t:ident) => {
            pub fn $fn(d: Domain) -> BoxedStrategy<$t> {
                (cstr(d), tlvs(d))
                    .prop_map(|(message_id, tlvs)| $t { message_id, tlvs })
                    .boxed()
            }
        };
    }
    message_id_resp_strategy!(submit_sm_resp, SubmitSmResp);
    message_id_resp_strategy!(deliver_sm_resp, DeliverSmResp);
    message_id_resp_strategy!(data_sm_resp, DataSmResp);

    pub fn data_sm(d: Domain) -> BoxedStrategy<DataSm> {
        // rusmpp 0.4 models data_sm addresses as C(21); the reference (and we) say C(65).
        let addr = move || match d {
            Domain::Full => cstr::<65>(d),
            Domain::Rusmpp => cstr_max::<65>(d, 20),
        };
        (
            (cstr(d), ton(), npi(), addr(), ton(), npi(), addr()),
            (any::<u8>(), any::<u8>(), any::<u8>(), tlvs(d)),
        )
            .prop_map(
                |((st, ston, snpi, src, dton, dnpi, dst), (esm, rd, dc, tlvs))| DataSm {
                    service_type: st,
                    source_addr_ton: ston,
                    source_addr_npi: snpi,
                    source_addr: src,
                    dest_addr_ton: dton,
                    dest_addr_npi: dnpi,
                    destination_addr: dst,
                    esm_class: EsmClass(esm),
                    registered_delivery: RegisteredDelivery(rd),
                    data_coding: DataCoding(dc),
                    tlvs,
                },
            )
            .boxed()
    }

    pub fn query_sm(d: Domain) -> BoxedStrategy<QuerySm> {
        (cstr(d), ton(), npi(), cstr(d), tlvs_if_full(d))
            .prop_map(
                |(message_id, source_addr_ton, source_addr_npi, source_addr, tlvs)| QuerySm {
                    message_id,
                    source_addr_ton,
                    source_addr_npi,
                    source_addr,
                    tlvs,
                },
            )
            .boxed()
    }

    pub fn query_sm_resp(d: Domain) -> BoxedStrategy<QuerySmResp> {
        (cstr(d), time(d), any::<u8>(), any::<u8>(), tlvs_if_full(d))
            .prop_map(
                |(message_id, final_date, state, error_code, tlvs)| QuerySmResp {
                    message_id,
                    final_date,
                    message_state: smpp::MessageState::from_u8(state),
                    error_code,
                    tlvs,
                },
            )
            .boxed()
    }

    pub fn cancel_sm(d: Domain) -> BoxedStrategy<CancelSm> {
        (
            (cstr(d), cstr(d), ton(), npi(), cstr(d)),
            (ton(), npi(), cstr(d), tlvs_if_full(d)),
        )
            .prop_map(
                |((st, id, ston, snpi, src), (dton, dnpi, dst, tlvs))| CancelSm {
                    service_type: st,
                    message_id: id,
                    source_addr_ton: ston,
                    source_addr_npi: snpi,
                    source_addr: src,
                    dest_addr_ton: dton,
                    dest_addr_npi: dnpi,
                    destination_addr: dst,
                    tlvs,
                },
            )
            .boxed()
    }

    pub fn replace_sm(d: Domain) -> BoxedStrategy<ReplaceSm> {
        let payload = vec(any::<u8>(), 0..300).prop_map(|b| Tlv::MessagePayload(Bytes::from(b)));
        let tlvs = match d {
            Domain::Full => tlvs(d),
            Domain::Rusmpp => proptest::option::of(payload)
                .prop_map(|p| Tlvs::try_from(p.into_iter().collect::<Vec<_>>()).expect("valid"))
                .boxed(),
        };
        (
            (cstr(d), ton(), npi(), cstr(d), time(d), time(d)),
            (any::<u8>(), any::<u8>(), short_message(), tlvs),
        )
            .prop_map(
                |((id, ton, npi, src, sched, val), (rd, def, sm, tlvs))| ReplaceSm {
                    message_id: id,
                    source_addr_ton: ton,
                    source_addr_npi: npi,
                    source_addr: src,
                    schedule_delivery_time: sched,
                    validity_period: val,
                    registered_delivery: RegisteredDelivery(rd),
                    sm_default_msg_id: def,
                    short_message: sm,
                    tlvs,
                },
            )
            .boxed()
    }

    pub fn alert_notification(d: Domain) -> BoxedStrategy<AlertNotification> {
        let tlvs = match d {
            Domain::Full => tlvs(d),
            Domain::Rusmpp => proptest::option::of(any::<u8>().prop_map(Tlv::MsAvailabilityStatus))
                .prop_map(|t| Tlvs::try_from(t.into_iter().collect::<Vec<_>>()).expect("valid"))
                .boxed(),
        };
        ((ton(), npi(), cstr(d)), (ton(), npi(), cstr(d)), tlvs)
            .prop_map(
                |((ston, snpi, src), (eton, enpi, esme), tlvs)| AlertNotification {
                    source_addr_ton: ston,
                    source_addr_npi: snpi,
                    source_addr: src,
                    esme_addr_ton: eton,
                    esme_addr_npi: enpi,
                    esme_addr: esme,
                    tlvs,
                },
            )
            .boxed()
    }

    /// The command_ids this crate decodes into a typed body; `Other` must use another id.
    pub const TYPED_IDS: &[u32] = &[
        0x8000_0000,
        0x0000_0001,
        0x8000_0001,
        0x0000_0002,
        0x8000_0002,
        0x0000_0003,
        0x8000_0003,
        0x0000_0004,
        0x8000_0004,
        0x0000_0005,
        0x8000_0005,
        0x0000_0006,
        0x8000_0006,
        0x0000_0007,
        0x8000_0007,
        0x0000_0008,
        0x8000_0008,
        0x0000_0009,
        0x8000_0009,
        0x0000_000B,
        0x0000_0015,
        0x8000_0015,
        0x0000_0021,
        0x8000_0021,
        0x0000_0102,
        0x0000_0103,
        0x8000_0103,
    ];

    /// The SMPP 5.0 broadcast operations: `Other` for us, typed in rusmpp.
    pub const BROADCAST_IDS: &[u32] = &[
        0x0000_0111,
        0x8000_0111,
        0x0000_0112,
        0x8000_0112,
        0x0000_0113,
        0x8000_0113,
    ];

    /// An operation we do not model: reserved ids, the 5.0 broadcast PDUs (not in the
    /// rusmpp domain, where they are typed), anything else.
    pub fn other(d: Domain) -> BoxedStrategy<PduBody> {
        let id = prop_oneof![
            0x0000_0111u32..=0x0000_0113,
            0x8000_0111u32..=0x8000_0113,
            0u32..=0x1FF,
            0x8000_0000u32..=0x8000_01FF,
            any::<u32>(),
        ]
        .prop_filter("typed command_id", move |id| {
            !TYPED_IDS.contains(id) && (d == Domain::Full || !BROADCAST_IDS.contains(id))
        });
        (id, vec(any::<u8>(), 0..200))
            .prop_map(|(id, body)| PduBody::Other {
                command_id: CommandId(id),
                body: Bytes::from(body),
            })
            .boxed()
    }

    pub fn dest_address(d: Domain) -> BoxedStrategy<DestAddress> {
        prop_oneof![
            (ton(), npi(), cstr(d)).prop_map(|(ton, npi, address)| DestAddress::Sme {
                ton,
                npi,
                address
            }),
            cstr(d).prop_map(DestAddress::DistributionList),
        ]
        .boxed()
    }

    /// 0..=255 destinations (mostly a few; sometimes close to the 255 limit).
    fn dests(d: Domain) -> BoxedStrategy<Vec<DestAddress>> {
        prop_oneof![
            8 => vec(dest_address(d), 0..6),
            1 => vec(dest_address(d), 250..=255),
        ]
        .boxed()
    }

    pub fn submit_multi(d: Domain) -> BoxedStrategy<SubmitMulti> {
        (sm_fields(d), dests(d))
            .prop_map(
                |(
                    (
                        (st, ston, snpi, src, _, _, _),
                        (esm, pid, prio, sched, val),
                        (rd, rip, dc, def, sm, tlvs),
                    ),
                    dests,
                )| {
                    // dest_addresses is private (its length is bounded): start from the default
                    // and set the public fields.
                    let mut m = SubmitMulti::default();
                    m.service_type = st;
                    m.source_addr_ton = ston;
                    m.source_addr_npi = snpi;
                    m.source_addr = src;
                    m.esm_class = esm;
                    m.protocol_id = pid;
                    m.priority_flag = prio;
                    m.schedule_delivery_time = sched;
                    m.validity_period = val;
                    m.registered_delivery = rd;
                    m.replace_if_present_flag = rip;
                    m.data_coding = dc;
                    m.sm_default_msg_id = def;
                    m.short_message = sm;
                    m.tlvs = tlvs;
                    for dest in dests {
                        m.push_dest(dest).expect("at most 255 destinations");
                    }
                    m
                },
            )
            .boxed()
    }

    pub fn submit_multi_resp(d: Domain) -> BoxedStrategy<SubmitMultiResp> {
        let sme = (ton(), npi(), cstr(d), any::<u32>()).prop_map(|(ton, npi, addr, status)| {
            UnsuccessSme {
                dest_addr_ton: ton,
                dest_addr_npi: npi,
                destination_addr: addr,
                error_status_code: CommandStatus(status),
            }
        });
        (cstr(d), vec(sme, 0..6), tlvs(d))
            .prop_map(|(message_id, smes, tlvs)| {
                let mut r = SubmitMultiResp::new(message_id);
                for sme in smes {
                    r.push_unsuccess(sme).expect("at most 255 entries");
                }
                r.tlvs = tlvs;
                r
            })
            .boxed()
    }

    /// Names of the 28 body kinds, in the order [`body_of_kind`] knows them.
    pub const KINDS: &[&str] = &[
        "bind_transmitter",
        "bind_receiver",
        "bind_transceiver",
        "bind_transmitter_resp",
        "bind_receiver_resp",
        "bind_transceiver_resp",
        "outbind",
        "unbind",
        "unbind_resp",
        "generic_nack",
        "enquire_link",
        "enquire_link_resp",
        "submit_sm",
        "submit_sm_resp",
        "deliver_sm",
        "deliver_sm_resp",
        "data_sm",
        "data_sm_resp",
        "submit_multi",
        "submit_multi_resp",
        "query_sm",
        "query_sm_resp",
        "cancel_sm",
        "cancel_sm_resp",
        "replace_sm",
        "replace_sm_resp",
        "alert_notification",
        "other",
    ];

    /// A body of one kind (an index into [`KINDS`]).
    pub fn body_of_kind(kind: usize, d: Domain) -> BoxedStrategy<PduBody> {
        use PduBody as B;
        match kind {
            0 => bind(d).prop_map(B::BindTransmitter).boxed(),
            1 => bind(d).prop_map(B::BindReceiver).boxed(),
            2 => bind(d).prop_map(B::BindTransceiver).boxed(),
            3 => bind_resp(d).prop_map(B::BindTransmitterResp).boxed(),
            4 => bind_resp(d).prop_map(B::BindReceiverResp).boxed(),
            5 => bind_resp(d).prop_map(B::BindTransceiverResp).boxed(),
            6 => outbind(d).prop_map(B::Outbind).boxed(),
            7 => Just(B::Unbind).boxed(),
            8 => Just(B::UnbindResp).boxed(),
            9 => Just(B::GenericNack).boxed(),
            10 => Just(B::EnquireLink).boxed(),
            11 => Just(B::EnquireLinkResp).boxed(),
            12 => submit_sm(d).prop_map(|b| B::SubmitSm(Box::new(b))).boxed(),
            13 => submit_sm_resp(d).prop_map(B::SubmitSmResp).boxed(),
            14 => deliver_sm(d)
                .prop_map(|b| B::DeliverSm(Box::new(b)))
                .boxed(),
            15 => deliver_sm_resp(d).prop_map(B::DeliverSmResp).boxed(),
            16 => data_sm(d).prop_map(|b| B::DataSm(Box::new(b))).boxed(),
            17 => data_sm_resp(d).prop_map(B::DataSmResp).boxed(),
            18 => submit_multi(d)
                .prop_map(|b| B::SubmitMulti(Box::new(b)))
                .boxed(),
            19 => submit_multi_resp(d).prop_map(B::SubmitMultiResp).boxed(),
            20 => query_sm(d).prop_map(B::QuerySm).boxed(),
            21 => query_sm_resp(d).prop_map(B::QuerySmResp).boxed(),
            22 => cancel_sm(d).prop_map(B::CancelSm).boxed(),
            23 => Just(B::CancelSmResp).boxed(),
            24 => replace_sm(d)
                .prop_map(|b| B::ReplaceSm(Box::new(b)))
                .boxed(),
            25 => Just(B::ReplaceSmResp).boxed(),
            26 => alert_notification(d).prop_map(B::AlertNotification).boxed(),
            _ => other(d),
        }
    }

    /// A whole PDU of one kind with any sequence number and status.
    pub fn pdu_of_kind(kind: usize, d: Domain) -> BoxedStrategy<Pdu> {
        (any::<u32>(), any::<u32>(), body_of_kind(kind, d))
            .prop_map(|(seq, status, body)| Pdu::with_status(seq, CommandStatus(status), body))
            .boxed()
    }

    /// A PDU of any kind, each kind equally likely.
    pub fn any_pdu(d: Domain) -> BoxedStrategy<Pdu> {
        (0..KINDS.len())
            .prop_flat_map(move |k| pdu_of_kind(k, d))
            .boxed()
    }
}
