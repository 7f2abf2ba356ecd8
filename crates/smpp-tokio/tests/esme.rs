//! The ESME client against a scripted MC over `tokio::io::duplex`, with paused time.

mod support;

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smpp::pdu::{DeliverSm, SubmitSm};
use smpp::session::{BindFailure, CloseReason};
use smpp::{BindKind, CommandId, CommandStatus, Pdu, PduBody};
use smpp_tokio::{ConnectError, EsmeClient, EsmeEvent, RequestError};
use support::*;
use tokio::time::Instant;

fn deliver_sm(sequence_number: u32, text: &str) -> Pdu {
    let sm = DeliverSm::try_new("447700900123", "Acme", text.as_bytes()).unwrap();
    Pdu::new(sequence_number, PduBody::DeliverSm(Box::new(sm)))
}

/// Skips state events until a `Request`, `Alert` or `Closed`.
async fn next_interesting(client: &mut EsmeClient) -> EsmeEvent {
    loop {
        match client.next_event().await.expect("event") {
            EsmeEvent::Connected | EsmeEvent::Bound { .. } => continue,
            other => return other,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn bind_ok_sends_credentials_and_reports_bound() {
    let (stream, mut peer) = Peer::pair();
    let connect = tokio::spawn(EsmeClient::connect(
        stream,
        esme_config(BindKind::Transmitter, 5),
    ));
    let bind = peer.expect(CommandId::BIND_TRANSMITTER).await;
    match &bind.body {
        PduBody::BindTransmitter(b) => {
            assert_eq!(b.system_id, "esme1");
            assert_eq!(b.password, "secret");
        }
        other => panic!("{other:?}"),
    }
    peer.send(bind_ok(&bind)).await;
    let mut client = connect.await.unwrap().expect("bound");
    assert!(client.is_bound());
    assert!(matches!(
        client.next_event().await,
        Some(EsmeEvent::Connected)
    ));
    match client.next_event().await {
        Some(EsmeEvent::Bound { kind, response }) => {
            assert_eq!(kind, BindKind::Transmitter);
            assert_eq!(response.system_id, "mc");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn bind_rejected_is_a_connect_error_with_the_status() {
    let (stream, mut peer) = Peer::pair();
    let connect = tokio::spawn(EsmeClient::connect(
        stream,
        esme_config(BindKind::Transceiver, 5),
    ));
    let bind = peer.expect(CommandId::BIND_TRANSCEIVER).await;
    peer.send(Pdu::with_status(
        bind.sequence_number,
        CommandStatus::ESME_RINVPASWD,
        PduBody::BindTransceiverResp(Default::default()),
    ))
    .await;
    match connect.await.unwrap() {
        Err(ConnectError::BindFailed(BindFailure::Rejected { status })) => {
            assert_eq!(status, CommandStatus::ESME_RINVPASWD)
        }
        other => panic!("{other:?}"),
    }
    peer.expect_eof().await;
}

#[tokio::test(start_paused = true)]
async fn unanswered_bind_times_out_after_bind_timeout() {
    let (stream, mut peer) = Peer::pair();
    let start = Instant::now();
    let connect = tokio::spawn(EsmeClient::connect(
        stream,
        esme_config(BindKind::Receiver, 5),
    ));
    peer.expect(CommandId::BIND_RECEIVER).await;
    match connect.await.unwrap() {
        Err(ConnectError::BindFailed(BindFailure::TimedOut { timeout })) => {
            assert_eq!(timeout, Duration::from_secs(10));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn submit_resolves_with_its_response() {
    let (client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    let task = tokio::spawn({
        let h = client.handle();
        async move { h.submit(submit("447700900001", "hello")).await }
    });
    let req = peer.expect(CommandId::SUBMIT_SM).await;
    match &req.body {
        PduBody::SubmitSm(sm) => {
            assert_eq!(sm.destination_addr, "447700900001");
            assert_eq!(sm.short_message.as_bytes(), b"hello");
        }
        other => panic!("{other:?}"),
    }
    peer.respond(&req, submit_resp("m-1")).await;
    let resp = task.await.unwrap().expect("response");
    assert_eq!(resp.sequence_number, req.sequence_number);
    assert_eq!(message_id(&resp), "m-1");

    // An error status is a response, not an error.
    let task = tokio::spawn({
        let h = client.handle();
        async move { h.submit(submit("447700900002", "x")).await }
    });
    let req = peer.expect(CommandId::SUBMIT_SM).await;
    peer.send(Pdu::with_status(
        req.sequence_number,
        CommandStatus::ESME_RTHROTTLED,
        submit_resp(""),
    ))
    .await;
    let resp = task.await.unwrap().expect("response");
    assert_eq!(resp.command_status, CommandStatus::ESME_RTHROTTLED);
}

#[tokio::test(start_paused = true)]
async fn generic_nack_is_a_typed_error() {
    let (client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    let f = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "a"))))
        .await
        .unwrap();
    let req = peer.expect(CommandId::SUBMIT_SM).await;
    peer.send(Pdu::generic_nack(
        req.sequence_number,
        CommandStatus::ESME_RINVCMDLEN,
    ))
    .await;
    match f.await {
        Err(e @ RequestError::GenericNack { status, .. }) => {
            assert_eq!(status, CommandStatus::ESME_RINVCMDLEN);
            assert!(!e.is_outcome_unknown());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn out_of_order_responses_reach_their_own_callers() {
    let (client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    let mut futures = Vec::new();
    for i in 0..3 {
        let body = PduBody::SubmitSm(Box::new(submit("447700900001", &format!("msg {i}"))));
        futures.push(client.start_request(body).await.unwrap());
    }
    let mut requests = Vec::new();
    for _ in 0..3 {
        requests.push(peer.expect(CommandId::SUBMIT_SM).await);
    }
    // Answer in reverse order, naming each message id after the request's text.
    for req in requests.iter().rev() {
        let PduBody::SubmitSm(sm) = &req.body else {
            unreachable!()
        };
        let text = String::from_utf8(sm.short_message.as_bytes().to_vec()).unwrap();
        peer.respond(req, submit_resp(&text.replace(' ', "-")))
            .await;
    }
    for (i, f) in futures.into_iter().enumerate() {
        assert_eq!(message_id(&f.await.unwrap()), format!("msg-{i}"));
    }
}

#[tokio::test(start_paused = true)]
async fn the_window_plus_one_submit_waits_for_a_free_slot() {
    let (client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 2)).await;
    let a = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "a"))))
        .await
        .unwrap();
    let _b = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "b"))))
        .await
        .unwrap();
    // Fail-fast variant sees the full window.
    assert!(matches!(
        client.try_send_request(PduBody::SubmitSm(Box::new(submit("1", "x")))),
        Err(RequestError::WindowFull { window: 2 })
    ));
    let third = tokio::spawn({
        let h = client.handle();
        async move { h.submit(submit("1", "c")).await }
    });
    let ra = peer.expect(CommandId::SUBMIT_SM).await;
    peer.expect(CommandId::SUBMIT_SM).await;
    peer.expect_silence(Duration::from_secs(5)).await;
    assert!(!third.is_finished());
    // One response frees one slot: the waiting submit goes out.
    peer.respond(&ra, submit_resp("a")).await;
    assert_eq!(message_id(&a.await.unwrap()), "a");
    let rc = peer.expect(CommandId::SUBMIT_SM).await;
    let PduBody::SubmitSm(sm) = &rc.body else {
        unreachable!()
    };
    assert_eq!(sm.short_message.as_bytes(), b"c");
    peer.respond(&rc, submit_resp("c")).await;
    assert_eq!(message_id(&third.await.unwrap().unwrap()), "c");
}

#[tokio::test(start_paused = true)]
async fn unanswered_submit_times_out_with_unknown_outcome() {
    let mut config = esme_config(BindKind::Transceiver, 5);
    config.session.response_timeout = Duration::from_secs(7);
    let (client, mut peer) = bound_client(config).await;
    let start = Instant::now();
    let f = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "a"))))
        .await
        .unwrap();
    let req = peer.expect(CommandId::SUBMIT_SM).await;
    match f.await {
        Err(
            e @ RequestError::TimedOut {
                sequence_number,
                timeout,
            },
        ) => {
            assert_eq!(sequence_number, req.sequence_number);
            assert_eq!(timeout, Duration::from_secs(7));
            assert!(e.is_outcome_unknown());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(start.elapsed(), Duration::from_secs(7));
    // The slot is free again and the session goes on.
    let f = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "b"))))
        .await
        .unwrap();
    let req = peer.expect(CommandId::SUBMIT_SM).await;
    peer.respond(&req, submit_resp("b")).await;
    assert_eq!(message_id(&f.await.unwrap()), "b");
}

#[tokio::test(start_paused = true)]
async fn keepalive_is_sent_after_a_quiet_period_and_answered_link_stays_up() {
    let mut config = esme_config(BindKind::Transceiver, 5);
    config.session.enquire_link_interval = Some(Duration::from_secs(20));
    let (client, mut peer) = bound_client(config).await;
    let start = Instant::now();
    let ping = peer.expect(CommandId::ENQUIRE_LINK).await;
    assert_eq!(start.elapsed(), Duration::from_secs(20));
    peer.respond(&ping, PduBody::EnquireLinkResp).await;
    // The next one comes a full interval after the answer.
    let ping = peer.expect(CommandId::ENQUIRE_LINK).await;
    assert_eq!(start.elapsed(), Duration::from_secs(40));
    peer.respond(&ping, PduBody::EnquireLinkResp).await;
    assert!(client.is_bound());
}

#[tokio::test(start_paused = true)]
async fn unanswered_keepalive_closes_the_connection() {
    let mut config = esme_config(BindKind::Transceiver, 5);
    config.session.enquire_link_interval = Some(Duration::from_secs(20));
    config.session.enquire_link_timeout = Duration::from_secs(5);
    let (mut client, mut peer) = bound_client(config).await;
    let start = Instant::now();
    peer.expect(CommandId::ENQUIRE_LINK).await;
    peer.expect_eof().await;
    assert_eq!(start.elapsed(), Duration::from_secs(25));
    match next_interesting(&mut client).await {
        EsmeEvent::Disconnected { reason } => assert_eq!(reason, CloseReason::KeepaliveTimeout),
        other => panic!("{other:?}"),
    }
    assert!(matches!(client.next_event().await, Some(EsmeEvent::Closed)));
    assert!(matches!(
        client.submit(submit("1", "a")).await,
        Err(RequestError::Closed)
    ));
}

#[tokio::test(start_paused = true)]
async fn peer_unbind_is_answered_and_ends_the_client() {
    let (mut client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    peer.send(Pdu::new(77, PduBody::Unbind)).await;
    let resp = peer.expect(CommandId::UNBIND_RESP).await;
    assert_eq!(resp.sequence_number, 77);
    peer.expect_eof().await;
    match next_interesting(&mut client).await {
        EsmeEvent::Disconnected { reason } => assert_eq!(reason, CloseReason::PeerUnbound),
        other => panic!("{other:?}"),
    }
    assert!(matches!(client.next_event().await, Some(EsmeEvent::Closed)));
}

#[tokio::test(start_paused = true)]
async fn our_unbind_waits_for_the_window_to_drain_first() {
    let (client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    let f = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "a"))))
        .await
        .unwrap();
    let req = peer.expect(CommandId::SUBMIT_SM).await;
    let unbind = tokio::spawn({
        let h = client.handle();
        async move { h.unbind().await }
    });
    // No unbind while a request awaits its answer, and no new requests taken.
    peer.expect_silence(Duration::from_secs(3)).await;
    assert!(matches!(
        client.try_send_request(PduBody::SubmitSm(Box::new(submit("1", "b")))),
        Err(RequestError::NotBound)
    ));
    peer.respond(&req, submit_resp("a")).await;
    assert_eq!(message_id(&f.await.unwrap()), "a");
    let u = peer.expect(CommandId::UNBIND).await;
    peer.respond(&u, PduBody::UnbindResp).await;
    unbind.await.unwrap();
    peer.expect_eof().await;
}

#[tokio::test(start_paused = true)]
async fn connection_drop_fails_in_flight_requests_as_unknown() {
    let (mut client, peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    let mut peer = peer;
    let f1 = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "a"))))
        .await
        .unwrap();
    let f2 = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "b"))))
        .await
        .unwrap();
    let r1 = peer.expect(CommandId::SUBMIT_SM).await;
    let r2 = peer.expect(CommandId::SUBMIT_SM).await;
    drop(peer);
    for (f, r) in [(f1, r1), (f2, r2)] {
        match f.await {
            Err(e @ RequestError::ConnectionLost { sequence_number }) => {
                assert_eq!(sequence_number, r.sequence_number);
                assert!(e.is_outcome_unknown());
                assert!(!e.is_not_sent());
            }
            other => panic!("{other:?}"),
        }
    }
    match next_interesting(&mut client).await {
        EsmeEvent::Disconnected { reason } => assert_eq!(reason, CloseReason::ConnectionLost),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn deliver_sm_is_an_event_the_app_answers() {
    let (mut client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    peer.send(deliver_sm(901, "reply")).await;
    let EsmeEvent::Request(request) = next_interesting(&mut client).await else {
        panic!("expected a request")
    };
    assert_eq!(request.command_id(), CommandId::DELIVER_SM);
    let PduBody::DeliverSm(sm) = &request.pdu().body else {
        unreachable!()
    };
    assert_eq!(sm.short_message.as_bytes(), b"reply");
    // A wrong response type is refused before anything is sent, and handed back.
    let request = match request.respond(OK, submit_resp("x")) {
        Err(smpp_tokio::RespondError::WrongResponse { given, incoming }) => {
            assert_eq!(given, CommandId::SUBMIT_SM_RESP);
            incoming
        }
        other => panic!("{other:?}"),
    };
    request.ack().unwrap();
    let resp = peer.expect(CommandId::DELIVER_SM_RESP).await;
    assert_eq!((resp.sequence_number, resp.command_status), (901, OK));
}

#[tokio::test(start_paused = true)]
async fn deliver_sm_dropped_unanswered_gets_a_temporary_error() {
    let (mut client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    peer.send(deliver_sm(5, "a")).await;
    let event = next_interesting(&mut client).await;
    assert!(matches!(event, EsmeEvent::Request(_)));
    drop(event);
    let resp = peer.expect(CommandId::DELIVER_SM_RESP).await;
    assert_eq!(
        (resp.sequence_number, resp.command_status),
        (5, CommandStatus::ESME_RX_T_APPN)
    );
}

#[tokio::test(start_paused = true)]
async fn deliver_sm_beyond_the_event_buffer_is_throttled() {
    let mut config = esme_config(BindKind::Transceiver, 5);
    config.event_capacity = 3;
    // The buffer already holds Connected and Bound: one more request fits.
    let (_client, mut peer) = bound_client(config).await;
    peer.send(deliver_sm(1, "a")).await;
    peer.send(deliver_sm(2, "b")).await;
    let resp = peer.expect(CommandId::DELIVER_SM_RESP).await;
    assert_eq!(
        (resp.sequence_number, resp.command_status),
        (2, CommandStatus::ESME_RTHROTTLED)
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_window_never_stops_reading() {
    let (mut client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 1)).await;
    let f = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "a"))))
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let h = client.handle();
        async move { h.submit(submit("1", "b")).await }
    });
    let req = peer.expect(CommandId::SUBMIT_SM).await;
    // Window full and a caller waiting: enquire_link and deliver_sm still get through.
    peer.send(Pdu::new(300, PduBody::EnquireLink)).await;
    let pong = peer.expect(CommandId::ENQUIRE_LINK_RESP).await;
    assert_eq!(pong.sequence_number, 300);
    peer.send(deliver_sm(301, "mo")).await;
    let EsmeEvent::Request(mo) = next_interesting(&mut client).await else {
        panic!()
    };
    mo.ack().unwrap();
    assert_eq!(
        peer.expect(CommandId::DELIVER_SM_RESP)
            .await
            .sequence_number,
        301
    );
    peer.respond(&req, submit_resp("a")).await;
    f.await.unwrap();
    let rb = peer.expect(CommandId::SUBMIT_SM).await;
    peer.respond(&rb, submit_resp("b")).await;
    waiting.await.unwrap().unwrap();
}

/// Dial attempts served from a script: `Err` refuses, `Ok` hands out the next duplex stream.
#[derive(Clone, Default)]
struct Dialer {
    script: Arc<Mutex<VecDeque<io::Result<tokio::io::DuplexStream>>>>,
    dials: Arc<Mutex<Vec<Instant>>>,
}

impl Dialer {
    fn refuse(&self) {
        self.script
            .lock()
            .unwrap()
            .push_back(Err(io::ErrorKind::ConnectionRefused.into()));
    }
    fn accept(&self) -> Peer {
        let (stream, peer) = Peer::pair();
        self.script.lock().unwrap().push_back(Ok(stream));
        peer
    }
    fn dial(
        &self,
    ) -> impl std::future::Future<Output = io::Result<tokio::io::DuplexStream>> + Send + 'static
    {
        self.dials.lock().unwrap().push(Instant::now());
        let next = self.script.lock().unwrap().pop_front();
        async move { next.unwrap_or_else(|| Err(io::ErrorKind::ConnectionRefused.into())) }
    }
}

#[tokio::test(start_paused = true)]
async fn reconnects_with_capped_jittered_backoff_and_fails_in_flight_as_unknown() {
    let mut config = esme_config(BindKind::Transceiver, 5);
    config.backoff = smpp_tokio::Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(3),
        factor: 2.0,
    };
    let dialer = Dialer::default();
    for _ in 0..4 {
        dialer.refuse();
    }
    let mut first = dialer.accept();
    let d = dialer.clone();
    let mut client = EsmeClient::connect_with_reconnect(move || d.dial(), config.clone());

    // Four refusals: retries 1..=4 with ceilings 1, 2, 3 (capped), 3 seconds.
    for (attempt, ceiling) in [(1u32, 1u64), (2, 2), (3, 3), (4, 3)] {
        assert!(matches!(
            client.next_event().await,
            Some(EsmeEvent::ConnectFailed { .. })
        ));
        match client.next_event().await {
            Some(EsmeEvent::Reconnecting { attempt: a, delay }) => {
                assert_eq!(a, attempt);
                let ceiling = Duration::from_secs(ceiling);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{delay:?} vs {ceiling:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // A request queued while down waits for the bind.
    let queued = tokio::spawn({
        let h = client.handle();
        async move { h.submit(submit("1", "queued")).await }
    });
    assert!(matches!(
        client.try_send_request(PduBody::SubmitSm(Box::new(submit("1", "x")))),
        Err(RequestError::NotBound)
    ));
    let bind = first.expect(CommandId::BIND_TRANSCEIVER).await;
    first.send(bind_ok(&bind)).await;
    assert!(matches!(
        client.next_event().await,
        Some(EsmeEvent::Connected)
    ));
    assert!(matches!(
        client.next_event().await,
        Some(EsmeEvent::Bound { .. })
    ));
    let req = first.expect(CommandId::SUBMIT_SM).await;

    // The connection drops with the request in flight: outcome unknown, then re-dial with
    // the backoff reset (ceiling 1 s again).
    let mut second = dialer.accept();
    drop(first);
    match queued.await.unwrap() {
        Err(RequestError::ConnectionLost { sequence_number }) => {
            assert_eq!(sequence_number, req.sequence_number)
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client.next_event().await,
        Some(EsmeEvent::Disconnected {
            reason: CloseReason::ConnectionLost
        })
    ));
    let delay = match client.next_event().await {
        Some(EsmeEvent::Reconnecting { attempt: 1, delay }) => delay,
        other => panic!("{other:?}"),
    };
    assert!(delay <= Duration::from_secs(1));
    let bind = second.expect(CommandId::BIND_TRANSCEIVER).await;
    second.send(bind_ok(&bind)).await;
    let f = tokio::spawn({
        let h = client.handle();
        async move { h.submit(submit("1", "again")).await }
    });
    let req = second.expect(CommandId::SUBMIT_SM).await;
    second.respond(&req, submit_resp("r2")).await;
    assert_eq!(message_id(&f.await.unwrap().unwrap()), "r2");

    // Dial times match the delays: each retry waited its jittered delay.
    let dials = dialer.dials.lock().unwrap().clone();
    assert_eq!(dials.len(), 6);
    for pair in dials.windows(2).take(4) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(500));
    }

    // Unbind ends the supervisor: no more reconnects.
    let unbind = tokio::spawn({
        let h = client.handle();
        async move { h.unbind().await }
    });
    let u = second.expect(CommandId::UNBIND).await;
    second.respond(&u, PduBody::UnbindResp).await;
    unbind.await.unwrap();
    loop {
        match client.next_event().await {
            Some(EsmeEvent::Closed) => break,
            Some(EsmeEvent::Reconnecting { .. }) => panic!("reconnecting after unbind"),
            Some(_) => {}
            None => panic!("no Closed event"),
        }
    }
    assert_eq!(dialer.dials.lock().unwrap().len(), 6);
}

#[tokio::test(start_paused = true)]
async fn submit_sm_body_round_trips_through_submit() {
    // The body the app builds is the body the MC reads, field for field.
    let (client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    let mut sm: SubmitSm = submit("447700900009", "fields");
    sm.registered_delivery = smpp::types::RegisteredDelivery(1);
    let expected = sm.clone();
    let f = tokio::spawn({
        let h = client.handle();
        async move { h.submit(sm).await }
    });
    let req = peer.expect(CommandId::SUBMIT_SM).await;
    assert_eq!(req.body, PduBody::SubmitSm(Box::new(expected)));
    peer.respond(&req, submit_resp("z")).await;
    f.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn outbind_is_reported_then_bound() {
    let (stream, mut peer) = Peer::pair();
    let connect = tokio::spawn(EsmeClient::accept_outbind(
        stream,
        esme_config(BindKind::Receiver, 5),
    ));
    peer.expect_silence(Duration::from_secs(1)).await;
    let outbind = smpp::pdu::Outbind {
        system_id: "mc".parse().unwrap(),
        password: "pw".parse().unwrap(),
        tlvs: Default::default(),
    };
    peer.send(Pdu::new(1, PduBody::Outbind(outbind))).await;
    let bind = peer.expect(CommandId::BIND_RECEIVER).await;
    peer.send(bind_ok(&bind)).await;
    let mut client = connect.await.unwrap().expect("bound");
    assert!(matches!(
        client.next_event().await,
        Some(EsmeEvent::Connected)
    ));
    match client.next_event().await {
        Some(EsmeEvent::Outbind(o)) => assert_eq!(o.system_id, "mc"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client.next_event().await,
        Some(EsmeEvent::Bound { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_unbinds_after_queued_requests() {
    let (client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    let f = client
        .start_request(PduBody::SubmitSm(Box::new(submit("1", "last"))))
        .await
        .unwrap();
    drop(client);
    let req = peer.expect(CommandId::SUBMIT_SM).await;
    peer.respond(&req, submit_resp("l")).await;
    assert_eq!(message_id(&f.await.unwrap()), "l");
    let u = peer.expect(CommandId::UNBIND).await;
    peer.respond(&u, PduBody::UnbindResp).await;
    peer.expect_eof().await;
}

#[tokio::test(start_paused = true)]
async fn alert_notification_is_an_event() {
    let (mut client, mut peer) = bound_client(esme_config(BindKind::Transceiver, 5)).await;
    let alert = smpp::pdu::AlertNotification {
        source_addr: "447700900123".parse().unwrap(),
        esme_addr: "Acme".parse().unwrap(),
        ..Default::default()
    };
    peer.send(Pdu::new(8, PduBody::AlertNotification(alert)))
        .await;
    match next_interesting(&mut client).await {
        EsmeEvent::Alert(a) => assert_eq!(a.source_addr, "447700900123"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_answer_from_a_previous_connection_is_not_sent_on_the_next() {
    let mut config = esme_config(BindKind::Transceiver, 5);
    config.backoff.initial = Duration::from_secs(1);
    let dialer = Dialer::default();
    let mut first = dialer.accept();
    let d = dialer.clone();
    let mut client = EsmeClient::connect_with_reconnect(move || d.dial(), config);
    let bind = first.expect(CommandId::BIND_TRANSCEIVER).await;
    first.send(bind_ok(&bind)).await;
    first.send(deliver_sm(1, "old")).await;
    let EsmeEvent::Request(old) = next_interesting(&mut client).await else {
        panic!()
    };
    let mut second = dialer.accept();
    drop(first);
    let bind = second.expect(CommandId::BIND_TRANSCEIVER).await;
    second.send(bind_ok(&bind)).await;
    // Same sequence number on the new connection: only its own answer may arrive.
    second.send(deliver_sm(1, "new")).await;
    loop {
        if let EsmeEvent::Request(new) = next_interesting(&mut client).await {
            old.respond_status(CommandStatus::ESME_RX_P_APPN).unwrap();
            new.ack().unwrap();
            break;
        }
    }
    let resp = second.expect(CommandId::DELIVER_SM_RESP).await;
    assert_eq!((resp.sequence_number, resp.command_status), (1, OK));
    second.expect_silence(Duration::from_secs(1)).await;
}

/// Answers the next bind on `peer` with `status` (a refusal unless ESME_ROK).
async fn answer_bind(peer: &mut Peer, status: CommandStatus) {
    let bind = peer.expect(CommandId::BIND_TRANSCEIVER).await;
    if status == OK {
        peer.send(bind_ok(&bind)).await;
    } else {
        peer.send(Pdu::with_status(
            bind.sequence_number,
            status,
            PduBody::BindTransceiverResp(Default::default()),
        ))
        .await;
    }
}

/// Reads events up to the next `Reconnecting` and returns its delay; panics on `GaveUp` or
/// `Closed` first.
async fn next_reconnect_delay(client: &mut EsmeClient) -> Duration {
    loop {
        match client.next_event().await {
            Some(EsmeEvent::Reconnecting { delay, .. }) => return delay,
            Some(event @ (EsmeEvent::GaveUp { .. } | EsmeEvent::Closed)) => {
                panic!("expected a reconnect, got {event:?}")
            }
            Some(_) => {}
            None => panic!("event stream ended"),
        }
    }
}

fn refusal_config(give_up_after: Option<u32>) -> smpp_tokio::EsmeConfig {
    let mut config = esme_config(BindKind::Transceiver, 5);
    config.backoff = smpp_tokio::Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(20),
        factor: 2.0,
    };
    config.bind_refusal.give_up_after = give_up_after;
    config
}

#[tokio::test(start_paused = true)]
async fn permanent_bind_refusals_give_up_at_the_limit_and_fail_queued_requests() {
    let dialer = Dialer::default();
    let mut first = dialer.accept();
    let mut second = dialer.accept();
    let d = dialer.clone();
    let mut client = EsmeClient::connect_with_reconnect(move || d.dial(), refusal_config(Some(2)));
    let queued = tokio::spawn({
        let h = client.handle();
        async move { h.submit(submit("1", "never sent")).await }
    });

    answer_bind(&mut first, CommandStatus::ESME_RINVPASWD).await;
    // A permanent refusal waits the longest (jittered) delay, not the 1 s first step.
    let delay = next_reconnect_delay(&mut client).await;
    assert!(
        delay >= Duration::from_secs(10) && delay <= Duration::from_secs(20),
        "{delay:?}"
    );
    answer_bind(&mut second, CommandStatus::ESME_RINVSYSID).await;
    let mut gave_up = None;
    loop {
        match client.next_event().await {
            Some(EsmeEvent::GaveUp { status, refusals }) => gave_up = Some((status, refusals)),
            Some(EsmeEvent::Closed) => break,
            Some(EsmeEvent::Reconnecting { .. }) => panic!("reconnecting after the limit"),
            Some(_) => {}
            None => panic!("no Closed event"),
        }
    }
    assert_eq!(gave_up, Some((CommandStatus::ESME_RINVSYSID, 2)));
    assert!(matches!(queued.await.unwrap(), Err(RequestError::Closed)));
    assert!(matches!(
        client.try_send_request(PduBody::SubmitSm(Box::new(submit("1", "late")))),
        Err(RequestError::Closed)
    ));
    // Nobody dials again, however long we wait.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let dials = dialer.dials.lock().unwrap().clone();
    assert_eq!(dials.len(), 2);
    assert!(dials[1] - dials[0] >= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn temporary_refusals_retry_with_normal_backoff_and_reset_the_count() {
    // Limit 2: permanent, temporary, permanent is not two in a row, so the client binds.
    let dialer = Dialer::default();
    let mut peers: Vec<Peer> = (0..4).map(|_| dialer.accept()).collect();
    let d = dialer.clone();
    let mut client = EsmeClient::connect_with_reconnect(move || d.dial(), refusal_config(Some(2)));
    let statuses = [
        CommandStatus::ESME_RINVPASWD,
        CommandStatus::ESME_RSYSERR,
        CommandStatus::ESME_RINVPASWD,
    ];
    let mut delays = Vec::new();
    for (peer, status) in peers.iter_mut().zip(statuses) {
        answer_bind(peer, status).await;
        delays.push(next_reconnect_delay(&mut client).await);
    }
    // After a permanent refusal: the maximum (20 s ceiling); after the temporary one: the
    // normal second step (2 s ceiling), not the maximum.
    assert!(delays[0] >= Duration::from_secs(10), "{delays:?}");
    assert!(delays[1] <= Duration::from_secs(2), "{delays:?}");
    assert!(delays[2] >= Duration::from_secs(10), "{delays:?}");
    let last = peers.last_mut().unwrap();
    answer_bind(last, OK).await;
    loop {
        match client.next_event().await {
            Some(EsmeEvent::Bound { .. }) => break,
            Some(EsmeEvent::GaveUp { .. } | EsmeEvent::Closed) | None => panic!("gave up"),
            Some(_) => {}
        }
    }
    let f = tokio::spawn({
        let h = client.handle();
        async move { h.submit(submit("1", "after")).await }
    });
    let req = last.expect(CommandId::SUBMIT_SM).await;
    last.respond(&req, submit_resp("ok")).await;
    assert_eq!(message_id(&f.await.unwrap().unwrap()), "ok");
}

#[tokio::test(start_paused = true)]
async fn without_a_limit_permanent_refusals_retry_at_the_maximum_backoff() {
    let dialer = Dialer::default();
    let mut peers: Vec<Peer> = (0..4).map(|_| dialer.accept()).collect();
    let d = dialer.clone();
    let mut client = EsmeClient::connect_with_reconnect(move || d.dial(), refusal_config(None));
    for peer in &mut peers {
        answer_bind(peer, CommandStatus::ESME_RBINDFAIL).await;
        let delay = next_reconnect_delay(&mut client).await;
        assert!(delay >= Duration::from_secs(10), "{delay:?}");
    }
}
