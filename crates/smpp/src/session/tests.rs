//! Session tests: two sessions (ESME and MC) wired back to back, plus hand-made byte vectors
//! from shared/reference/test-vectors.md. Time is a fake clock: `t0 + Duration`.

use super::*;
use crate::codec;

// Vectors from test-vectors.md (section D negatives, section E PDUs).
const V01_ENQUIRE_LINK: &str = "0000001000000015000000000A342EE7";
const V06_BIND_TRANSMITTER: &str =
    "0000002500000002000000000003995F747769747465720074776974746572000034000000";
const V08_BIND_TRANSCEIVER: &str =
    "00000023000000090000000000039951414C4C5F545700414C4C5F5457000034010200";
const V10_OUTBIND: &str = "000000230000000B0000000000000001534D50503354455354007365637265743038\
    00";
const V11_BIND_TRANSCEIVER_RESP: &str =
    "0000001F800000090000000000039951536D73632053696D756C61746F7200";
const V16_SUBMIT_SM: &str = "00000039000000040000000000004FE80001013430343034000101343439353133363139323000000000000001000000084024232125262F3A";
const V18_SUBMIT_SM_RESP: &str = "0000001C80000004000000000A342EE1393432353834333135393400";
const V22_DELIVER_SM: &str = "00000040000000050000000000000003000201383736353433323100040934\
    3034303400000000000000000000084024232125262F3A000E0001010006000101";
const V28_DELIVER_SM_BIG_SEQ: &str = "000000400000000500000000A2859F22313030310001013434393531333631393230000001343034303430343034303430343034300000000000000000080000";
const V29_DELIVER_SM_RESP: &str = "000000118000000500000000806A179B00";
const V33_QUERY_SM: &str = "0000001E000000030000000000004FE83132333435000101343034303400";
const V40_ALERT_NOTIFICATION: &str =
    "00000025000001020000000200004FE8010135353532373130303030000101343034303400";
const N4_UNKNOWN_REQUEST: &str = "0000001000000110000000000a342ee7";
const N5_UNKNOWN_RESPONSE: &str = "0000001080000110000000000a342ee7";
const N6_UNKNOWN_WITH_BODY_THEN_ENQUIRE_LINK: &str =
    "0000001100000110000000000a342ee70F0000001000000015000000000a342ee7";
const N7_TOP_BIT_LENGTH: &str = "F000001100000110000000000a342ee7";
const N9_DELIVER_SM_OVERRUN: &str =
    "00000039000000050000000000000001000101393939393139393134353933000000363436340000000000000000080010c1e1e9edf3faf1fc";

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn decode(text: &str) -> Pdu {
    Pdu::decode(&hex(text)).unwrap_or_else(|e| panic!("vector {text} must decode: {e}"))
}

fn bind_body() -> Bind {
    match decode(V08_BIND_TRANSCEIVER).body {
        PduBody::BindTransceiver(bind) => bind,
        other => panic!("V08 is a bind_transceiver, got {other:?}"),
    }
}

fn bind_resp() -> BindResp {
    match decode(V11_BIND_TRANSCEIVER_RESP).body {
        PduBody::BindTransceiverResp(resp) => resp,
        other => panic!("V11 is a bind_transceiver_resp, got {other:?}"),
    }
}

fn submit_sm() -> PduBody {
    decode(V16_SUBMIT_SM).body
}

fn submit_sm_resp() -> PduBody {
    decode(V18_SUBMIT_SM_RESP).body
}

fn deliver_sm() -> PduBody {
    decode(V22_DELIVER_SM).body
}

fn deliver_sm_resp() -> PduBody {
    decode(V29_DELIVER_SM_RESP).body
}

fn config() -> SessionConfig {
    SessionConfig {
        window: 3,
        response_timeout: Duration::from_secs(30),
        bind_timeout: Duration::from_secs(10),
        enquire_link_interval: Some(Duration::from_secs(60)),
        enquire_link_timeout: Duration::from_secs(5),
        unbind_timeout: Duration::from_secs(4),
        inactivity_timeout: None,
        max_pdu_size: codec::DEFAULT_MAX_PDU_SIZE,
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn output(session: &mut Session) -> Vec<u8> {
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    out
}

fn events(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

/// (command_id, command_status, sequence_number) of every frame in `bytes`; each frame must
/// also decode with the codec, so the session never writes what our own decoder rejects.
fn headers(bytes: &[u8]) -> Vec<(CommandId, CommandStatus, u32)> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = codec::check(rest, usize::MAX)
            .unwrap()
            .expect("whole frames only");
        let (frame, tail) = rest.split_at(len);
        let pdu = Pdu::decode(frame)
            .unwrap_or_else(|e| panic!("session wrote an undecodable frame {frame:02x?}: {e}"));
        out.push((pdu.command_id(), pdu.command_status, pdu.sequence_number));
        rest = tail;
    }
    out
}

/// Moves bytes between the two sessions until neither has anything to send.
fn pump(now: Instant, a: &mut Session, b: &mut Session) {
    for _ in 0..100 {
        let ab = output(a);
        b.handle_input(now, &ab);
        let ba = output(b);
        a.handle_input(now, &ba);
        if ab.is_empty() && ba.is_empty() {
            return;
        }
    }
    panic!("sessions kept talking");
}

/// An ESME and an MC session bound as `kind` at `t0`, with every event drained.
fn bound_pair(t0: Instant, kind: BindKind, config: SessionConfig) -> (Session, Session) {
    let mut esme = Session::new(Role::Esme, config.clone(), t0);
    let mut mc = Session::new(Role::Mc, config, t0);
    esme.bind(t0, kind, bind_body()).unwrap();
    pump(t0, &mut esme, &mut mc);
    match events(&mut mc).as_slice() {
        [Event::BindRequest { kind: k, .. }] => assert_eq!(*k, kind),
        other => panic!("expected one BindRequest, got {other:?}"),
    }
    mc.accept_bind(t0, bind_resp()).unwrap();
    pump(t0, &mut esme, &mut mc);
    match events(&mut esme).as_slice() {
        [Event::Bound { kind: k, .. }] => assert_eq!(*k, kind),
        other => panic!("expected one Bound, got {other:?}"),
    }
    (esme, mc)
}

// ---------------------------------------------------------------------------------------
// Bind

#[test]
fn bind_transceiver_succeeds_back_to_back() {
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    let mut mc = Session::new(Role::Mc, config(), t0);
    assert_eq!(esme.state(), SessionState::Open);
    let seq = esme.bind(t0, BindKind::Transceiver, bind_body()).unwrap();
    assert_eq!(seq, 1);
    assert_eq!(esme.state(), SessionState::Binding);
    let wire = output(&mut esme);
    assert_eq!(
        headers(&wire),
        vec![(CommandId::BIND_TRANSCEIVER, CommandStatus::ESME_ROK, 1)]
    );
    mc.handle_input(t0, &wire);
    assert_eq!(mc.state(), SessionState::Binding);
    match events(&mut mc).as_slice() {
        [Event::BindRequest {
            sequence_number: 1,
            kind: BindKind::Transceiver,
            bind,
        }] => {
            assert_eq!(bind.system_id.as_bytes(), b"ALL_TW");
        }
        other => panic!("expected BindRequest, got {other:?}"),
    }
    mc.accept_bind(t0, bind_resp()).unwrap();
    assert_eq!(mc.state(), SessionState::BoundTrx);
    let wire = output(&mut mc);
    assert_eq!(
        headers(&wire),
        vec![(CommandId::BIND_TRANSCEIVER_RESP, CommandStatus::ESME_ROK, 1)]
    );
    esme.handle_input(t0, &wire);
    assert_eq!(esme.state(), SessionState::BoundTrx);
    assert_eq!(esme.bound_kind(), Some(BindKind::Transceiver));
    match events(&mut esme).as_slice() {
        [Event::Bound {
            kind: BindKind::Transceiver,
            response,
        }] => {
            assert_eq!(response.system_id.as_bytes(), b"Smsc Simulator");
        }
        other => panic!("expected Bound, got {other:?}"),
    }
    // Bind timers are gone once bound: the next wake-up is the keepalive.
    assert_eq!(esme.poll_timeout(), Some(t0 + secs(60)));
    assert_eq!(mc.poll_timeout(), Some(t0 + secs(60)));
}

#[test]
fn bind_rejected_by_mc_closes_both_sides() {
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    let mut mc = Session::new(Role::Mc, config(), t0);
    esme.bind(t0, BindKind::Transmitter, bind_body()).unwrap();
    mc.handle_input(t0, &output(&mut esme));
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::BindRequest {
            kind: BindKind::Transmitter,
            ..
        }]
    ));
    assert_eq!(
        mc.reject_bind(t0, CommandStatus::ESME_ROK),
        Err(SendError::RejectWithOk {
            status: CommandStatus::ESME_ROK
        })
    );
    mc.reject_bind(t0, CommandStatus::ESME_RBINDFAIL).unwrap();
    assert!(mc.is_closed());
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::Closed {
            reason: CloseReason::BindFailed
        }]
    ));
    let wire = output(&mut mc);
    assert_eq!(
        headers(&wire),
        vec![(
            CommandId::BIND_TRANSMITTER_RESP,
            CommandStatus::ESME_RBINDFAIL,
            1
        )]
    );
    esme.handle_input(t0, &wire);
    assert!(esme.is_closed());
    match events(&mut esme).as_slice() {
        [Event::BindFailed {
            failure: BindFailure::Rejected { status },
        }, Event::Closed {
            reason: CloseReason::BindFailed,
        }] => {
            assert_eq!(*status, CommandStatus::ESME_RBINDFAIL)
        }
        other => panic!("expected BindFailed then Closed, got {other:?}"),
    }
    assert_eq!(esme.send_request(t0, submit_sm()), Err(SendError::Closed));
}

#[test]
fn esme_bind_rejected_by_hand_made_resp_with_system_id() {
    // V12: bind_transceiver_resp status 0x0E with a system_id, seq 0x4DB3.
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    esme.next_sequence_number = 0x4DB3;
    assert_eq!(
        esme.bind(t0, BindKind::Transceiver, bind_body()),
        Ok(0x4DB3)
    );
    esme.handle_input(t0, &hex("00000015800000090000000E00004DB3534D534300"));
    assert!(matches!(
        events(&mut esme).as_slice(),
        [
            Event::BindFailed {
                failure: BindFailure::Rejected {
                    status: CommandStatus::ESME_RINVPASWD
                }
            },
            Event::Closed { .. }
        ]
    ));
}

#[test]
fn esme_bind_times_out() {
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    assert_eq!(
        esme.poll_timeout(),
        None,
        "an unbound ESME has nothing to wait for"
    );
    esme.bind(t0 + secs(1), BindKind::Receiver, bind_body())
        .unwrap();
    assert_eq!(headers(&output(&mut esme)).len(), 1);
    assert_eq!(esme.poll_timeout(), Some(t0 + secs(11)));
    esme.handle_timeout(t0 + secs(11) - Duration::from_millis(1));
    assert_eq!(esme.state(), SessionState::Binding);
    assert!(events(&mut esme).is_empty());
    esme.handle_timeout(t0 + secs(11));
    assert!(matches!(
        events(&mut esme).as_slice(),
        [
            Event::BindFailed {
                failure: BindFailure::TimedOut { .. }
            },
            Event::Closed {
                reason: CloseReason::BindTimeout
            }
        ]
    ));
    // A late bind_resp is ignored.
    esme.handle_input(t0 + secs(12), &hex(V11_BIND_TRANSCEIVER_RESP));
    assert!(events(&mut esme).is_empty());
    assert!(output(&mut esme).is_empty());
}

#[test]
fn mc_closes_when_no_bind_arrives_or_is_accepted_in_time() {
    let t0 = Instant::now();
    let mut mc = Session::new(Role::Mc, config(), t0);
    assert_eq!(mc.poll_timeout(), Some(t0 + secs(10)));
    mc.handle_timeout(t0 + secs(10));
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::Closed {
            reason: CloseReason::BindTimeout
        }]
    ));

    // A bind that the application never answers does not keep the session alive either.
    let mut mc = Session::new(Role::Mc, config(), t0);
    mc.handle_input(t0 + secs(2), &hex(V06_BIND_TRANSMITTER));
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::BindRequest { .. }]
    ));
    mc.handle_timeout(t0 + secs(10));
    assert!(mc.is_closed());
    assert_eq!(
        mc.accept_bind(t0 + secs(11), bind_resp()),
        Err(SendError::Closed)
    );
}

#[test]
fn accept_bind_without_request_is_refused() {
    let t0 = Instant::now();
    let mut mc = Session::new(Role::Mc, config(), t0);
    assert_eq!(
        mc.accept_bind(t0, bind_resp()),
        Err(SendError::NoPendingBind)
    );
    let mut esme = Session::new(Role::Esme, config(), t0);
    assert_eq!(
        esme.accept_bind(t0, bind_resp()),
        Err(SendError::NoPendingBind)
    );
    assert!(output(&mut mc).is_empty() && output(&mut esme).is_empty());
}

#[test]
fn bind_twice_is_refused_both_ways() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transceiver, config());
    assert!(matches!(
        esme.bind(t0, BindKind::Transmitter, bind_body()),
        Err(SendError::NotAllowed {
            state: SessionState::BoundTrx,
            ..
        })
    ));
    assert!(output(&mut esme).is_empty());
    // V06 bind_transmitter arriving at a bound MC: bind_transmitter_resp ESME_RALYBND.
    mc.handle_input(t0, &hex(V06_BIND_TRANSMITTER));
    assert_eq!(
        headers(&output(&mut mc)),
        vec![(
            CommandId::BIND_TRANSMITTER_RESP,
            CommandStatus::ESME_RALYBND,
            0x0003_995F
        )]
    );
    assert_eq!(mc.state(), SessionState::BoundTrx);
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::ProtocolError(ProtocolError::RequestRejected {
            status: CommandStatus::ESME_RALYBND,
            ..
        })]
    ));
}

#[test]
fn outbind_then_bind_receiver() {
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    let mut mc = Session::new(Role::Mc, config(), t0);
    let outbind = match decode(V10_OUTBIND).body {
        body @ PduBody::Outbind(_) => body,
        other => panic!("V10 is an outbind, got {other:?}"),
    };
    assert!(matches!(
        esme.send_request(t0, decode(V10_OUTBIND).body),
        Err(SendError::NotAllowed { .. })
    ));
    mc.send_request(t0, outbind).unwrap();
    assert_eq!(mc.state(), SessionState::Outbound);
    assert_eq!(
        mc.in_flight(),
        0,
        "outbind has no response and takes no window slot"
    );
    esme.handle_input(t0, &output(&mut mc));
    assert_eq!(esme.state(), SessionState::Outbound);
    match events(&mut esme).as_slice() {
        [Event::Outbind(outbind)] => assert_eq!(outbind.system_id.as_bytes(), b"SMPP3TEST"),
        other => panic!("expected Outbind, got {other:?}"),
    }
    esme.bind(t0, BindKind::Receiver, bind_body()).unwrap();
    pump(t0, &mut esme, &mut mc);
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::BindRequest {
            kind: BindKind::Receiver,
            ..
        }]
    ));
    mc.accept_bind(t0, bind_resp()).unwrap();
    pump(t0, &mut esme, &mut mc);
    assert_eq!(esme.state(), SessionState::BoundRx);
    assert_eq!(mc.state(), SessionState::BoundRx);
}

// ---------------------------------------------------------------------------------------
// Requests, responses, window

#[test]
fn submit_and_response_round_trip_back_to_back() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transmitter, config());
    let seq = esme.send_request(t0, submit_sm()).unwrap();
    assert_eq!(seq, 2, "1 went to the bind");
    assert_eq!(esme.in_flight(), 1);
    mc.handle_input(t0, &output(&mut esme));
    let request = match events(&mut mc).pop() {
        Some(Event::Request(pdu)) => pdu,
        other => panic!("expected Request, got {other:?}"),
    };
    assert_eq!(request.command_id(), CommandId::SUBMIT_SM);
    assert_eq!(request.sequence_number, seq);
    mc.send_response(
        t0,
        request.sequence_number,
        CommandStatus::ESME_ROK,
        submit_sm_resp(),
    )
    .unwrap();
    esme.handle_input(t0, &output(&mut mc));
    match events(&mut esme).as_slice() {
        [Event::Response {
            sequence_number,
            request_id: CommandId::SUBMIT_SM,
            pdu,
        }] => {
            assert_eq!(*sequence_number, seq);
            assert_eq!(pdu.command_id(), CommandId::SUBMIT_SM_RESP);
        }
        other => panic!("expected Response, got {other:?}"),
    }
    assert_eq!(esme.in_flight(), 0);
    assert_eq!(esme.window_available(), 3);
}

#[test]
fn window_full_rejects_without_writing_and_a_response_frees_a_slot() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transmitter, config());
    let seqs: Vec<u32> = (0..3)
        .map(|_| esme.send_request(t0, submit_sm()).unwrap())
        .collect();
    assert_eq!(esme.window_available(), 0);
    let before = output(&mut esme);
    assert_eq!(headers(&before).len(), 3);
    assert_eq!(
        esme.send_request(t0, submit_sm()),
        Err(SendError::WindowFull { window: 3 })
    );
    assert!(
        output(&mut esme).is_empty(),
        "a refused request writes nothing"
    );
    mc.handle_input(t0, &before);
    let _ = events(&mut mc);
    mc.send_response(t0, seqs[1], CommandStatus::ESME_ROK, submit_sm_resp())
        .unwrap();
    esme.handle_input(t0, &output(&mut mc));
    assert_eq!(esme.window_available(), 1);
    let next = esme.send_request(t0, submit_sm()).unwrap();
    assert!(next > seqs[2]);
}

#[test]
fn responses_are_matched_in_any_order() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transceiver, config());
    let seqs: Vec<u32> = (0..3)
        .map(|_| esme.send_request(t0, submit_sm()).unwrap())
        .collect();
    mc.handle_input(t0, &output(&mut esme));
    let _ = events(&mut mc);
    for &i in &[2usize, 0, 1] {
        mc.send_response(t0, seqs[i], CommandStatus(i as u32), submit_sm_resp())
            .unwrap();
    }
    esme.handle_input(t0, &output(&mut mc));
    let got: Vec<(u32, CommandStatus)> = events(&mut esme)
        .into_iter()
        .map(|e| match e {
            Event::Response {
                sequence_number,
                pdu,
                ..
            } => (sequence_number, pdu.command_status),
            other => panic!("expected Response, got {other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (seqs[2], CommandStatus(2)),
            (seqs[0], CommandStatus(0)),
            (seqs[1], CommandStatus(1))
        ]
    );
    assert_eq!(esme.in_flight(), 0);
    assert_eq!(
        esme.poll_timeout(),
        Some(t0 + secs(60)),
        "no stale response deadline is left"
    );
}

#[test]
fn generic_nack_answers_our_request_and_frees_its_slot() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, config());
    let seq = esme.send_request(t0, submit_sm()).unwrap();
    assert_eq!(headers(&output(&mut esme)).len(), 1);
    let mut nack = hex("00000010800000000000000300000000");
    nack[12..16].copy_from_slice(&seq.to_be_bytes());
    esme.handle_input(t0, &nack);
    match events(&mut esme).as_slice() {
        [Event::Response {
            sequence_number,
            request_id: CommandId::SUBMIT_SM,
            pdu,
        }] => {
            assert_eq!(*sequence_number, seq);
            assert_eq!(pdu.command_id(), CommandId::GENERIC_NACK);
            assert_eq!(pdu.command_status, CommandStatus::ESME_RINVCMDID);
        }
        other => panic!("expected Response(generic_nack), got {other:?}"),
    }
    assert_eq!(esme.in_flight(), 0);
    assert!(
        output(&mut esme).is_empty(),
        "a generic_nack is never answered"
    );
}

#[test]
fn unmatched_and_mismatched_responses_are_reported_and_dropped() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, config());
    let seq = esme.send_request(t0, submit_sm()).unwrap();
    assert_eq!(headers(&output(&mut esme)).len(), 1);
    // V18 submit_sm_resp with a sequence number we never used.
    esme.handle_input(t0, &hex(V18_SUBMIT_SM_RESP));
    // A query_sm_resp for our submit_sm's number does not answer it.
    let wrong_type = hex(&format!("000000148000000300000000{seq:08X}00000600"));
    esme.handle_input(t0, &wrong_type);
    // N5: unknown response id.
    esme.handle_input(t0, &hex(N5_UNKNOWN_RESPONSE));
    let evs = events(&mut esme);
    assert_eq!(evs.len(), 3, "{evs:?}");
    assert!(evs.iter().all(|e| matches!(
        e,
        Event::ProtocolError(ProtocolError::UnexpectedResponse { .. })
    )));
    assert!(matches!(
        evs[0],
        Event::ProtocolError(ProtocolError::UnexpectedResponse {
            sequence_number: 0x0A34_2EE1,
            ..
        })
    ));
    assert_eq!(
        esme.in_flight(),
        1,
        "the submit_sm still awaits its own response"
    );
    assert!(output(&mut esme).is_empty(), "responses are never answered");
}

#[test]
fn response_timeout_frees_the_slot_and_a_late_response_is_unexpected() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transmitter, config());
    let first = esme.send_request(t0 + secs(1), submit_sm()).unwrap();
    let second = esme.send_request(t0 + secs(2), submit_sm()).unwrap();
    mc.handle_input(t0 + secs(2), &output(&mut esme));
    let _ = events(&mut mc);
    assert_eq!(esme.poll_timeout(), Some(t0 + secs(31)));
    esme.handle_timeout(t0 + secs(31));
    match events(&mut esme).as_slice() {
        [Event::ResponseTimeout {
            sequence_number,
            command_id: CommandId::SUBMIT_SM,
            timeout,
        }] => {
            assert_eq!(*sequence_number, first);
            assert_eq!(*timeout, secs(30));
        }
        other => panic!("expected one ResponseTimeout, got {other:?}"),
    }
    assert_eq!(esme.in_flight(), 1);
    assert_eq!(esme.poll_timeout(), Some(t0 + secs(32)));
    mc.send_response(t0, first, CommandStatus::ESME_ROK, submit_sm_resp())
        .unwrap();
    mc.send_response(t0, second, CommandStatus::ESME_ROK, submit_sm_resp())
        .unwrap();
    esme.handle_input(t0 + secs(31), &output(&mut mc));
    let evs = events(&mut esme);
    assert!(
        matches!(evs[0], Event::ProtocolError(ProtocolError::UnexpectedResponse { sequence_number, .. }) if sequence_number == first)
    );
    assert!(matches!(evs[1], Event::Response { sequence_number, .. } if sequence_number == second));
    assert_eq!(esme.in_flight(), 0);
}

#[test]
fn deadline_queue_stays_bounded_behind_one_slow_request() {
    let t0 = Instant::now();
    let cfg = SessionConfig {
        window: 4,
        ..config()
    };
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transmitter, cfg);
    let _slow = esme.send_request(t0, submit_sm()).unwrap();
    for i in 0..10_000u64 {
        let now = t0 + Duration::from_micros(i);
        let seq = esme.send_request(now, submit_sm()).unwrap();
        mc.send_response(now, seq, CommandStatus::ESME_ROK, submit_sm_resp())
            .unwrap();
        esme.handle_input(now, &output(&mut mc));
        assert!(
            esme.deadlines.len() <= 2 * esme.slots.len() + 1,
            "deadline queue grew to {}",
            esme.deadlines.len()
        );
    }
    assert_eq!(esme.in_flight(), 1);
    assert_eq!(
        esme.poll_timeout(),
        Some(t0 + secs(30)),
        "the slow request's deadline stays first"
    );
}

// ---------------------------------------------------------------------------------------
// Sequence numbers

#[test]
fn our_sequence_numbers_wrap_to_one() {
    let t0 = Instant::now();
    let cfg = SessionConfig {
        window: 8,
        ..config()
    };
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, cfg);
    esme.next_sequence_number = MAX_SEQUENCE_NUMBER - 1;
    let seqs: Vec<u32> = (0..3)
        .map(|_| esme.send_request(t0, submit_sm()).unwrap())
        .collect();
    assert_eq!(seqs, vec![MAX_SEQUENCE_NUMBER - 1, MAX_SEQUENCE_NUMBER, 1]);
    let on_wire: Vec<u32> = headers(&output(&mut esme)).iter().map(|h| h.2).collect();
    assert_eq!(on_wire, seqs);
}

#[test]
fn busy_slot_is_skipped_not_overwritten() {
    let t0 = Instant::now();
    let cfg = SessionConfig {
        window: 2,
        ..config()
    };
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transmitter, cfg);
    let capacity = esme.slots.len() as u32;
    let stuck = esme.send_request(t0, submit_sm()).unwrap();
    // Cycle the other slot until the numbering comes back around to `stuck`'s slot.
    for _ in 0..capacity {
        let seq = esme.send_request(t0, submit_sm()).unwrap();
        assert_ne!(seq as usize & esme.mask, stuck as usize & esme.mask);
        mc.send_response(t0, seq, CommandStatus::ESME_ROK, submit_sm_resp())
            .unwrap();
        esme.handle_input(t0, &output(&mut mc));
    }
    mc.send_response(t0, stuck, CommandStatus::ESME_ROK, submit_sm_resp())
        .unwrap();
    esme.handle_input(t0, &output(&mut mc));
    let last = events(&mut esme).pop();
    assert!(
        matches!(last, Some(Event::Response { sequence_number, .. }) if sequence_number == stuck)
    );
}

#[test]
fn peer_sequence_above_0x7fffffff_is_echoed_verbatim() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Receiver, config());
    esme.handle_input(t0, &hex(V28_DELIVER_SM_BIG_SEQ));
    let request = match events(&mut esme).pop() {
        Some(Event::Request(pdu)) => pdu,
        other => panic!("expected Request, got {other:?}"),
    };
    assert_eq!(request.sequence_number, 0xA285_9F22);
    esme.send_response(
        t0,
        request.sequence_number,
        CommandStatus::ESME_ROK,
        deliver_sm_resp(),
    )
    .unwrap();
    assert_eq!(output(&mut esme), hex("000000118000000500000000A2859F2200"));
}

// ---------------------------------------------------------------------------------------
// Keepalive

#[test]
fn enquire_link_sent_after_idle_and_answered_silently() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transmitter, config());
    // Traffic at t0+20 pushes the keepalive back.
    let seq = esme.send_request(t0 + secs(20), submit_sm()).unwrap();
    mc.handle_input(t0 + secs(20), &output(&mut esme));
    let _ = events(&mut mc);
    mc.send_response(
        t0 + secs(20),
        seq,
        CommandStatus::ESME_ROK,
        submit_sm_resp(),
    )
    .unwrap();
    esme.handle_input(t0 + secs(20), &output(&mut mc));
    let _ = events(&mut esme);
    assert_eq!(esme.poll_timeout(), Some(t0 + secs(80)));
    esme.handle_timeout(t0 + secs(79));
    assert!(output(&mut esme).is_empty());
    esme.handle_timeout(t0 + secs(80));
    let wire = output(&mut esme);
    let sent = headers(&wire);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].0, sent[0].1),
        (CommandId::ENQUIRE_LINK, CommandStatus::ESME_ROK)
    );
    assert_eq!(
        esme.in_flight(),
        0,
        "our own enquire_link takes no window slot"
    );
    assert_eq!(
        esme.poll_timeout(),
        Some(t0 + secs(85)),
        "now waiting for enquire_link_resp"
    );
    esme.handle_timeout(t0 + secs(80));
    assert!(output(&mut esme).is_empty(), "one keepalive at a time");
    mc.handle_input(t0 + secs(81), &wire);
    let answer = output(&mut mc);
    assert_eq!(
        headers(&answer),
        vec![(
            CommandId::ENQUIRE_LINK_RESP,
            CommandStatus::ESME_ROK,
            sent[0].2
        )]
    );
    assert!(
        events(&mut mc).is_empty(),
        "enquire_link is handled by the session"
    );
    esme.handle_input(t0 + secs(81), &answer);
    assert!(
        events(&mut esme).is_empty(),
        "our keepalive's response is not surfaced"
    );
    assert_eq!(esme.poll_timeout(), Some(t0 + secs(141)));
    esme.handle_timeout(t0 + secs(100));
    assert!(!esme.is_closed());
}

#[test]
fn keepalive_timeout_closes_and_reports_in_flight_requests() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, config());
    esme.handle_timeout(t0 + secs(60));
    assert_eq!(headers(&output(&mut esme))[0].0, CommandId::ENQUIRE_LINK);
    let pending = esme.send_request(t0 + secs(61), submit_sm()).unwrap();
    esme.handle_timeout(t0 + secs(64));
    assert!(!esme.is_closed());
    esme.handle_timeout(t0 + secs(65));
    assert!(esme.is_closed());
    match events(&mut esme).as_slice() {
        [Event::KeepaliveTimeout { timeout }, Event::Unanswered {
            sequence_number,
            command_id: CommandId::SUBMIT_SM,
        }, Event::Closed {
            reason: CloseReason::KeepaliveTimeout,
        }] => {
            assert_eq!(*timeout, secs(5));
            assert_eq!(*sequence_number, pending);
        }
        other => panic!("expected KeepaliveTimeout, Unanswered, Closed; got {other:?}"),
    }
    assert_eq!(esme.poll_timeout(), None);
    assert_eq!(esme.in_flight(), 0);
}

#[test]
fn enquire_link_answered_while_window_full() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, config());
    while esme.send_request(t0, submit_sm()).is_ok() {}
    assert_eq!(esme.window_available(), 0);
    let _ = output(&mut esme);
    esme.handle_input(t0, &hex(V01_ENQUIRE_LINK));
    assert_eq!(output(&mut esme), hex("0000001080000015000000000A342EE7"));
    assert!(events(&mut esme).is_empty());
}

#[test]
fn enquire_link_answered_before_bind_too() {
    let t0 = Instant::now();
    let mut mc = Session::new(Role::Mc, config(), t0);
    mc.handle_input(t0, &hex(V01_ENQUIRE_LINK));
    assert_eq!(output(&mut mc), hex("0000001080000015000000000A342EE7"));
    assert_eq!(mc.state(), SessionState::Open);
}

#[test]
fn mc_inactivity_timeout_closes_a_silent_session() {
    let t0 = Instant::now();
    let cfg = SessionConfig {
        inactivity_timeout: Some(secs(90)),
        enquire_link_interval: None,
        ..config()
    };
    let (_esme, mut mc) = bound_pair(t0, BindKind::Transmitter, cfg);
    mc.handle_input(t0 + secs(50), &hex(V01_ENQUIRE_LINK));
    let _ = output(&mut mc);
    assert_eq!(mc.poll_timeout(), Some(t0 + secs(140)));
    mc.handle_timeout(t0 + secs(139));
    assert!(!mc.is_closed());
    mc.handle_timeout(t0 + secs(140));
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::Closed {
            reason: CloseReason::InactivityTimeout
        }]
    ));
}

// ---------------------------------------------------------------------------------------
// Unbind

#[test]
fn esme_unbinds_and_both_sides_close() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transceiver, config());
    let seq = esme.unbind(t0).unwrap();
    assert_eq!(esme.state(), SessionState::Unbinding);
    assert!(matches!(
        esme.send_request(t0, submit_sm()),
        Err(SendError::NotAllowed {
            state: SessionState::Unbinding,
            ..
        })
    ));
    // The MC delivers a message before it sees the unbind: still handed over and answerable.
    let delivered = mc.send_request(t0, deliver_sm()).unwrap();
    let from_mc = output(&mut mc);
    mc.handle_input(t0, &output(&mut esme));
    assert_eq!(
        headers(&output(&mut mc)),
        vec![(CommandId::UNBIND_RESP, CommandStatus::ESME_ROK, seq)]
    );
    match events(&mut mc).as_slice() {
        [Event::Unanswered {
            sequence_number,
            command_id: CommandId::DELIVER_SM,
        }, Event::Closed {
            reason: CloseReason::PeerUnbound,
        }] => {
            assert_eq!(*sequence_number, delivered)
        }
        other => panic!("expected Unanswered + Closed, got {other:?}"),
    }
    esme.handle_input(t0, &from_mc);
    let request = match events(&mut esme).pop() {
        Some(Event::Request(pdu)) => pdu,
        other => panic!("expected Request while unbinding, got {other:?}"),
    };
    esme.send_response(
        t0,
        request.sequence_number,
        CommandStatus::ESME_ROK,
        deliver_sm_resp(),
    )
    .unwrap();
    esme.handle_input(t0, &hex(&format!("000000108000000600000000{seq:08X}")));
    assert!(matches!(
        events(&mut esme).as_slice(),
        [Event::Closed {
            reason: CloseReason::Unbound
        }]
    ));
    assert_eq!(esme.state(), SessionState::Closed);
}

#[test]
fn mc_unbinds_and_esme_answers_automatically() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Receiver, config());
    let seq = mc.unbind(t0).unwrap();
    esme.handle_input(t0, &output(&mut mc));
    let answer = output(&mut esme);
    assert_eq!(
        headers(&answer),
        vec![(CommandId::UNBIND_RESP, CommandStatus::ESME_ROK, seq)]
    );
    assert!(matches!(
        events(&mut esme).as_slice(),
        [Event::Closed {
            reason: CloseReason::PeerUnbound
        }]
    ));
    mc.handle_input(t0, &answer);
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::Closed {
            reason: CloseReason::Unbound
        }]
    ));
}

#[test]
fn unbind_crossing_closes_both_sides() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transceiver, config());
    esme.unbind(t0).unwrap();
    mc.unbind(t0).unwrap();
    pump(t0, &mut esme, &mut mc);
    assert!(esme.is_closed() && mc.is_closed());
    assert!(matches!(
        events(&mut esme).last(),
        Some(Event::Closed { .. })
    ));
    assert!(matches!(events(&mut mc).last(), Some(Event::Closed { .. })));
}

#[test]
fn unbind_timeout_closes() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, config());
    esme.unbind(t0 + secs(1)).unwrap();
    assert_eq!(esme.poll_timeout(), Some(t0 + secs(5)));
    esme.handle_timeout(t0 + secs(5));
    assert!(matches!(
        events(&mut esme).as_slice(),
        [Event::Closed {
            reason: CloseReason::UnbindTimeout
        }]
    ));
}

#[test]
fn unbind_before_bind_is_refused_and_answered() {
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    assert!(matches!(
        esme.unbind(t0),
        Err(SendError::NotAllowed {
            state: SessionState::Open,
            ..
        })
    ));
    let mut mc = Session::new(Role::Mc, config(), t0);
    mc.handle_input(t0, &hex("00000010000000060000000000000001"));
    assert_eq!(
        headers(&output(&mut mc)),
        vec![(CommandId::UNBIND_RESP, CommandStatus::ESME_RINVBNDSTS, 1)]
    );
    assert!(!mc.is_closed());
}

// ---------------------------------------------------------------------------------------
// State violations

#[test]
fn submit_before_bind_is_refused_both_ways() {
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    assert!(matches!(
        esme.send_request(t0, submit_sm()),
        Err(SendError::NotAllowed {
            command_id: CommandId::SUBMIT_SM,
            role: Role::Esme,
            state: SessionState::Open
        })
    ));
    assert!(output(&mut esme).is_empty());
    let mut mc = Session::new(Role::Mc, config(), t0);
    mc.handle_input(t0, &hex(V16_SUBMIT_SM));
    assert_eq!(
        headers(&output(&mut mc)),
        vec![(
            CommandId::SUBMIT_SM_RESP,
            CommandStatus::ESME_RINVBNDSTS,
            0x4FE8
        )]
    );
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::ProtocolError(ProtocolError::RequestRejected {
            command_id: CommandId::SUBMIT_SM,
            sequence_number: 0x4FE8,
            status: CommandStatus::ESME_RINVBNDSTS
        })]
    ));
}

#[test]
fn deliver_sm_to_a_transmitter_is_refused_both_ways() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transmitter, config());
    assert!(matches!(
        mc.send_request(t0, deliver_sm()),
        Err(SendError::NotAllowed {
            command_id: CommandId::DELIVER_SM,
            role: Role::Mc,
            state: SessionState::BoundTx
        })
    ));
    assert!(output(&mut mc).is_empty());
    esme.handle_input(t0, &hex(V22_DELIVER_SM));
    assert_eq!(
        headers(&output(&mut esme)),
        vec![(
            CommandId::DELIVER_SM_RESP,
            CommandStatus::ESME_RINVBNDSTS,
            3
        )]
    );
    // And a receiver may not submit.
    let (mut rx, mut rx_mc) = bound_pair(t0, BindKind::Receiver, config());
    assert!(matches!(
        rx.send_request(t0, submit_sm()),
        Err(SendError::NotAllowed { .. })
    ));
    rx_mc.handle_input(t0, &hex(V33_QUERY_SM));
    assert_eq!(
        headers(&output(&mut rx_mc)),
        vec![(
            CommandId::QUERY_SM_RESP,
            CommandStatus::ESME_RINVBNDSTS,
            0x4FE8
        )]
    );
}

#[test]
fn wrong_direction_is_an_invalid_command() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transceiver, config());
    // submit_sm sent to an ESME, deliver_sm sent to an MC.
    esme.handle_input(t0, &hex(V16_SUBMIT_SM));
    assert_eq!(
        headers(&output(&mut esme)),
        vec![(
            CommandId::SUBMIT_SM_RESP,
            CommandStatus::ESME_RINVCMDID,
            0x4FE8
        )]
    );
    mc.handle_input(t0, &hex(V22_DELIVER_SM));
    assert_eq!(
        headers(&output(&mut mc)),
        vec![(CommandId::DELIVER_SM_RESP, CommandStatus::ESME_RINVCMDID, 3)]
    );
    assert!(matches!(
        esme.send_request(t0, deliver_sm()),
        Err(SendError::NotAllowed { .. })
    ));
}

#[test]
fn send_response_checks_kind_and_state() {
    let t0 = Instant::now();
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transmitter, config());
    assert_eq!(
        esme.send_response(t0, 7, CommandStatus::ESME_ROK, submit_sm()),
        Err(SendError::NotAResponse {
            command_id: CommandId::SUBMIT_SM
        })
    );
    assert_eq!(
        esme.send_request(t0, submit_sm_resp()),
        Err(SendError::NotARequest {
            command_id: CommandId::SUBMIT_SM_RESP
        })
    );
    // A transmitter never receives deliver_sm, so it never answers one.
    assert!(matches!(
        esme.send_response(t0, 7, CommandStatus::ESME_ROK, deliver_sm_resp()),
        Err(SendError::NotAllowed {
            command_id: CommandId::DELIVER_SM_RESP,
            ..
        })
    ));
    // The MC answers submit_sm, not deliver_sm.
    assert!(matches!(
        mc.send_response(t0, 7, CommandStatus::ESME_ROK, deliver_sm_resp()),
        Err(SendError::NotAllowed { .. })
    ));
    assert!(output(&mut esme).is_empty() && output(&mut mc).is_empty());
    // generic_nack is always available to the application.
    let nack = decode("00000010800000000000000800000007").body;
    esme.send_response(t0, 7, CommandStatus::ESME_RSYSERR, nack)
        .unwrap();
    assert_eq!(
        headers(&output(&mut esme)),
        vec![(CommandId::GENERIC_NACK, CommandStatus::ESME_RSYSERR, 7)]
    );
}

#[test]
fn alert_notification_reaches_receivers_only() {
    let t0 = Instant::now();
    let (mut rx, _) = bound_pair(t0, BindKind::Receiver, config());
    rx.handle_input(t0, &hex(V40_ALERT_NOTIFICATION));
    assert!(matches!(
        events(&mut rx).as_slice(),
        [Event::AlertNotification(_)]
    ));
    assert!(
        output(&mut rx).is_empty(),
        "alert_notification has no response"
    );
    let (mut tx, _) = bound_pair(t0, BindKind::Transmitter, config());
    tx.handle_input(t0, &hex(V40_ALERT_NOTIFICATION));
    assert_eq!(
        headers(&output(&mut tx)),
        vec![(
            CommandId::GENERIC_NACK,
            CommandStatus::ESME_RINVBNDSTS,
            0x4FE8
        )]
    );
}

// ---------------------------------------------------------------------------------------
// Malformed input

#[test]
fn unknown_command_gets_generic_nack_and_session_continues() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transceiver, config());
    esme.handle_input(t0, &hex(N4_UNKNOWN_REQUEST));
    assert_eq!(output(&mut esme), hex("0000001080000000000000030a342ee7"));
    // N6: a 17-octet unknown PDU then an enquire_link in the same read.
    esme.handle_input(t0, &hex(N6_UNKNOWN_WITH_BODY_THEN_ENQUIRE_LINK));
    assert_eq!(
        headers(&output(&mut esme)),
        vec![
            (
                CommandId::GENERIC_NACK,
                CommandStatus::ESME_RINVCMDID,
                0x0A34_2EE7
            ),
            (
                CommandId::ENQUIRE_LINK_RESP,
                CommandStatus::ESME_ROK,
                0x0A34_2EE7
            )
        ]
    );
    assert_eq!(esme.state(), SessionState::BoundTrx);
}

#[test]
fn malformed_body_is_answered_with_the_decoders_status() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Receiver, config());
    let frame = hex(N9_DELIVER_SM_OVERRUN);
    let expected = Pdu::decode(&frame).expect_err("N9 overruns its short_message");
    esme.handle_input(t0, &frame);
    assert_eq!(
        headers(&output(&mut esme)),
        vec![(CommandId::DELIVER_SM_RESP, expected.status(), 1)]
    );
    assert_eq!(expected.status(), CommandStatus::ESME_RINVMSGLEN);
    match events(&mut esme).as_slice() {
        [Event::ProtocolError(ProtocolError::MalformedRequest { error })] => {
            assert_eq!(*error, expected)
        }
        other => panic!("expected MalformedRequest, got {other:?}"),
    }
    // The session carries on.
    esme.handle_input(t0, &hex(V28_DELIVER_SM_BIG_SEQ));
    assert!(matches!(events(&mut esme).as_slice(), [Event::Request(_)]));
}

#[test]
fn malformed_response_to_our_request_frees_its_slot() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, config());
    let seq = esme.send_request(t0, submit_sm()).unwrap();
    assert_eq!(headers(&output(&mut esme)).len(), 1);
    // N8: submit_sm_resp whose message_id has no NUL, renumbered to our request.
    let mut frame = hex("0000001180000004000000000a342ee139");
    frame[12..16].copy_from_slice(&seq.to_be_bytes());
    esme.handle_input(t0, &frame);
    match events(&mut esme).as_slice() {
        [Event::ResponseUndecodable {
            sequence_number,
            request_id: CommandId::SUBMIT_SM,
            command_status,
            ..
        }] => {
            assert_eq!(*sequence_number, seq);
            assert_eq!(*command_status, CommandStatus::ESME_ROK);
        }
        other => panic!("expected ResponseUndecodable, got {other:?}"),
    }
    assert_eq!(esme.in_flight(), 0);
    assert!(
        output(&mut esme).is_empty(),
        "responses are never answered, even broken ones"
    );
}

#[test]
fn bad_length_sends_generic_nack_and_closes() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, config());
    let pending = esme.send_request(t0, submit_sm()).unwrap();
    let _ = output(&mut esme);
    let mut input = hex(N7_TOP_BIT_LENGTH);
    input.extend(hex(V01_ENQUIRE_LINK));
    esme.handle_input(t0, &input);
    assert_eq!(
        output(&mut esme),
        hex("00000010800000000000000200000000"),
        "nothing after the bad frame is read"
    );
    match events(&mut esme).as_slice() {
        [Event::Unanswered {
            sequence_number, ..
        }, Event::Closed {
            reason:
                CloseReason::Framing(FrameError::TooLong {
                    length: 0xF000_0011,
                    ..
                }),
        }] => {
            assert_eq!(*sequence_number, pending)
        }
        other => panic!("expected Unanswered + Closed(Framing), got {other:?}"),
    }
    esme.handle_input(t0, &hex(V01_ENQUIRE_LINK));
    assert!(
        output(&mut esme).is_empty(),
        "a closed session ignores input"
    );

    let mut mc = Session::new(Role::Mc, config(), t0);
    mc.handle_input(t0, &hex("0000000F00000015000000000000000100"));
    assert!(matches!(
        events(&mut mc).as_slice(),
        [Event::Closed {
            reason: CloseReason::Framing(FrameError::TooShort(15))
        }]
    ));
}

#[test]
fn session_written_error_responses_decode() {
    // Every error answer the session writes by hand must decode with our own codec.
    let t0 = Instant::now();
    let mut session = Session::new(Role::Mc, config(), t0);
    for id in [
        CommandId::BIND_TRANSMITTER,
        CommandId::BIND_RECEIVER,
        CommandId::BIND_TRANSCEIVER,
        CommandId::SUBMIT_SM,
        CommandId::DELIVER_SM,
        CommandId::DATA_SM,
        CommandId::SUBMIT_MULTI,
        CommandId::QUERY_SM,
        CommandId::CANCEL_SM,
        CommandId::REPLACE_SM,
        CommandId::UNBIND,
        CommandId::OUTBIND,
        CommandId::ALERT_NOTIFICATION,
        CommandId(0x0000_0111),
    ] {
        session.answer_error(id, 42, CommandStatus::ESME_RSYSERR);
        let expected = match id.response_id() {
            Some(resp) if rules::classify(id) != Op::Unknown => resp,
            _ => CommandId::GENERIC_NACK,
        };
        assert_eq!(
            headers(&output(&mut session)),
            vec![(expected, CommandStatus::ESME_RSYSERR, 42)],
            "{id:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Framing

/// A stream exercising several paths: unknown request, enquire_link, deliver_sm with a large
/// sequence number, a malformed deliver_sm, an unmatched response, alert_notification.
fn mixed_stream() -> Vec<u8> {
    [
        N4_UNKNOWN_REQUEST,
        V01_ENQUIRE_LINK,
        V28_DELIVER_SM_BIG_SEQ,
        N9_DELIVER_SM_OVERRUN,
        V18_SUBMIT_SM_RESP,
        V22_DELIVER_SM,
        V40_ALERT_NOTIFICATION,
    ]
    .iter()
    .flat_map(|v| hex(v))
    .collect()
}

fn run_split(chunks: &[&[u8]]) -> (Vec<u8>, String) {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transceiver, config());
    for chunk in chunks {
        esme.handle_input(t0, chunk);
    }
    (output(&mut esme), format!("{:?}", events(&mut esme)))
}

#[test]
fn input_split_at_every_boundary_gives_the_same_result() {
    let stream = mixed_stream();
    let (whole_out, whole_events) = run_split(&[&stream]);
    // The session itself answers the unknown command, the enquire_link and the malformed
    // deliver_sm; the good deliver_sms are the application's to answer.
    assert_eq!(
        headers(&whole_out),
        vec![
            (
                CommandId::GENERIC_NACK,
                CommandStatus::ESME_RINVCMDID,
                0x0A34_2EE7
            ),
            (
                CommandId::ENQUIRE_LINK_RESP,
                CommandStatus::ESME_ROK,
                0x0A34_2EE7
            ),
            (
                CommandId::DELIVER_SM_RESP,
                CommandStatus::ESME_RINVMSGLEN,
                1
            ),
        ]
    );
    assert!(whole_events.contains("AlertNotification"));
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(
            run_split(&[a, b]),
            (whole_out.clone(), whole_events.clone()),
            "cut at {cut}"
        );
    }
    for (a, b) in [(3usize, 17usize), (16, 20), (1, 2)] {
        let (x, rest) = stream.split_at(a);
        let (y, z) = rest.split_at(b);
        assert_eq!(
            run_split(&[x, y, z]),
            (whole_out.clone(), whole_events.clone())
        );
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(
        run_split(&bytes),
        (whole_out, whole_events),
        "one byte at a time"
    );
}

#[test]
fn window_is_clamped() {
    let t0 = Instant::now();
    let tiny = Session::new(
        Role::Esme,
        SessionConfig {
            window: 0,
            ..config()
        },
        t0,
    );
    assert_eq!(tiny.config().window, 1);
    let huge = Session::new(
        Role::Esme,
        SessionConfig {
            window: usize::MAX,
            ..config()
        },
        t0,
    );
    assert_eq!(huge.config().window, MAX_WINDOW);
    assert_eq!(huge.slots.len(), 2 * MAX_WINDOW);
}

#[test]
fn huge_timeouts_do_not_overflow() {
    let t0 = Instant::now();
    let cfg = SessionConfig {
        response_timeout: Duration::MAX,
        enquire_link_interval: Some(Duration::MAX),
        ..config()
    };
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, cfg);
    let seq = esme.send_request(t0, submit_sm()).unwrap();
    assert_eq!(esme.poll_timeout(), None);
    esme.connection_lost();
    assert!(matches!(
        events(&mut esme).as_slice(),
        [Event::Unanswered { sequence_number, .. }, Event::Closed { reason: CloseReason::ConnectionLost }] if *sequence_number == seq
    ));
}

#[test]
fn malformed_bind_resp_fails_the_bind_when_the_codec_rejects_it() {
    // N10: bind_transmitter_resp with interface_version appended as a bare byte.
    let frame = hex("0000001B800000020000000000000001534D505033544553540050");
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    esme.bind(t0, BindKind::Transmitter, bind_body()).unwrap();
    esme.handle_input(t0, &frame);
    let evs = events(&mut esme);
    // Our codec is strict about the stray octet (ESME_RINVOPTPARSTREAM), so the bind fails.
    let expected = Pdu::decode(&frame).expect_err("N10 must not decode");
    assert_eq!(expected.status(), CommandStatus::ESME_RINVOPTPARSTREAM);
    match evs.as_slice() {
        [Event::BindFailed {
            failure: BindFailure::Malformed { error },
        }, Event::Closed {
            reason: CloseReason::BindFailed,
        }] => assert_eq!(*error, expected),
        other => panic!("expected BindFailed(Malformed), got {other:?}"),
    }
}

#[test]
fn data_sm_flows_both_ways_on_a_transceiver_only() {
    let t0 = Instant::now();
    let data_sm = || {
        decode("000000300000010300000000000000000001013535353237313030303000000139363935000001000424000454657374").body
    };
    let (mut esme, mut mc) = bound_pair(t0, BindKind::Transceiver, config());
    let up = esme.send_request(t0, data_sm()).unwrap();
    let down = mc.send_request(t0, data_sm()).unwrap();
    pump(t0, &mut esme, &mut mc);
    assert!(matches!(events(&mut mc).as_slice(), [Event::Request(p)] if p.sequence_number == up));
    assert!(
        matches!(events(&mut esme).as_slice(), [Event::Request(p)] if p.sequence_number == down)
    );
    let (mut rx, _) = bound_pair(t0, BindKind::Receiver, config());
    assert!(matches!(
        rx.send_request(t0, data_sm()),
        Err(SendError::NotAllowed { .. })
    ));
    let (_, mut tx_mc) = bound_pair(t0, BindKind::Transmitter, config());
    assert!(matches!(
        tx_mc.send_request(t0, data_sm()),
        Err(SendError::NotAllowed { .. })
    ));
}

#[test]
fn vendor_request_uses_the_window_and_its_response_is_matched() {
    let t0 = Instant::now();
    let (mut esme, _mc) = bound_pair(t0, BindKind::Transmitter, config());
    let vendor = PduBody::Other {
        command_id: CommandId(0x0001_0200),
        body: bytes::Bytes::from_static(b"\x01\x02"),
    };
    let seq = esme.send_request(t0, vendor).unwrap();
    assert_eq!(esme.in_flight(), 1);
    assert_eq!(
        headers(&output(&mut esme)),
        vec![(CommandId(0x0001_0200), CommandStatus::ESME_ROK, seq)]
    );
    esme.handle_input(t0, &hex(&format!("000000108001020000000000{seq:08X}")));
    assert!(matches!(
        events(&mut esme).as_slice(),
        [Event::Response {
            request_id: CommandId(0x0001_0200),
            ..
        }]
    ));
}

#[test]
fn bind_through_send_request_is_the_same_as_bind() {
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    let seq = esme
        .send_request(t0, PduBody::BindReceiver(bind_body()))
        .unwrap();
    assert_eq!(esme.state(), SessionState::Binding);
    assert_eq!(esme.in_flight(), 0, "the bind takes no window slot");
    assert_eq!(
        headers(&output(&mut esme)),
        vec![(CommandId::BIND_RECEIVER, CommandStatus::ESME_ROK, seq)]
    );
    assert_eq!(esme.poll_timeout(), Some(t0 + secs(10)));
}

/// xorshift64*: a few lines of deterministic randomness, enough to shake the input path.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_streams_never_panic_and_only_valid_frames_are_written() {
    let t0 = Instant::now();
    let base = mixed_stream();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut closed, mut requests, mut errors) = (0, 0, 0);
    for round in 0..3_000 {
        let mut stream = base.clone();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(stream.len());
            stream[i] = rng.next() as u8;
        }
        // Sometimes hit the length field or the command id on purpose.
        if round % 3 == 0 {
            let i = rng.below(8);
            stream[i] = rng.next() as u8;
        }
        let kind = [
            BindKind::Transmitter,
            BindKind::Receiver,
            BindKind::Transceiver,
        ][round % 3];
        let (mut esme, mut mc) = bound_pair(t0, kind, config());
        let _ = esme.send_request(t0, PduBody::EnquireLink);
        let _ = output(&mut esme);
        for session in [&mut esme, &mut mc] {
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let (chunk, tail) = rest.split_at(1 + rng.below(rest.len()));
                session.handle_input(t0 + secs(1), chunk);
                rest = tail;
            }
            session.handle_timeout(t0 + secs(1_000));
            // Everything the session wrote must decode with our own codec.
            let _ = headers(&output(session));
            assert!(session.in_flight() <= session.config().window);
            let evs = events(session);
            requests += evs
                .iter()
                .filter(|e| matches!(e, Event::Request(_)))
                .count();
            errors += evs
                .iter()
                .filter(|e| matches!(e, Event::ProtocolError(_)))
                .count();
            if session.is_closed() {
                closed += 1;
                assert!(
                    matches!(evs.last(), Some(Event::Closed { .. })),
                    "round {round}: {evs:?}"
                );
            }
        }
    }
    // The mutations reached every path: closes, delivered requests, handled errors.
    assert!(
        closed > 100 && requests > 100 && errors > 100,
        "{closed} {requests} {errors}"
    );
}
