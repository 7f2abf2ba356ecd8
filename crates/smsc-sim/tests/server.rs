//! The simulator on real loopback sockets (port 0), driven by our ESME client and by raw
//! TCP peers.

use std::net::SocketAddr;
use std::time::Duration;

use smpp::pdu::{Bind, DeliverSm, SubmitSm};
use smpp::types::{Address, DataCoding, EsmClass, Npi, RegisteredDelivery, ShortMessage, Ton};
use smpp::{BindKind, CommandId, CommandStatus, MessageState, Pdu, PduBody};
use smpp_tokio::{EsmeClient, EsmeConfig, EsmeEvent, IncomingRequest};
use smsc_sim::config::{AccountConfig, BindType};
use smsc_sim::{Engine, ServerOptions, Sim, SimConfig, SimServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for anything a test waits for: a stall detector, not a timing.
const PATIENCE: Duration = Duration::from_secs(60);

fn config() -> SimConfig {
    SimConfig {
        accounts: vec![AccountConfig {
            system_id: "acme".into(),
            password: "secret".into(),
            bind_types: vec![
                BindType::Transmitter,
                BindType::Receiver,
                BindType::Transceiver,
            ],
            max_binds: 16,
            max_tps: 0,
            short_codes: vec!["5000".into()],
        }],
        ..SimConfig::default()
    }
}

async fn start_with(retry: Duration) -> SimServer {
    let sim = Sim::new(Engine::new(config()).expect("valid config"));
    let mut options = ServerOptions::new("127.0.0.1:0".parse().expect("address"));
    options.http_addr = Some("127.0.0.1:0".parse().expect("address"));
    options.deliver_retry_delay = retry;
    SimServer::start_with(sim, options)
        .await
        .expect("server starts")
}

async fn start() -> SimServer {
    start_with(Duration::from_millis(50)).await
}

fn bind(system_id: &str, password: &str) -> Bind {
    Bind {
        system_id: system_id.parse().expect("system_id"),
        password: password.parse().expect("password"),
        ..Bind::default()
    }
}

async fn connect(server: &SimServer, kind: BindKind, window: usize) -> EsmeClient {
    let mut config = EsmeConfig::new(kind, bind("acme", "secret"));
    config.session.window = window;
    config.event_capacity = 4096;
    EsmeClient::connect_tcp(&server.smpp_addr().to_string(), config)
        .await
        .expect("bind succeeds")
}

fn submit_sm(to: &str, data_coding: u8, udhi: bool, bytes: &[u8], receipt: bool) -> SubmitSm {
    let mut sm = SubmitSm::new(
        "Acme".parse::<Address>().expect("source"),
        to.parse::<Address>().expect("destination"),
        ShortMessage::new(bytes).expect("fits one SMS"),
    );
    sm.source_addr_ton = Ton::ALPHANUMERIC;
    sm.source_addr_npi = Npi::UNKNOWN;
    sm.dest_addr_ton = Ton::INTERNATIONAL;
    sm.dest_addr_npi = Npi::ISDN;
    sm.esm_class = EsmClass::DEFAULT.with_udhi(udhi);
    sm.data_coding = DataCoding(data_coding);
    sm.registered_delivery = RegisteredDelivery(u8::from(receipt));
    sm
}

/// Submits `text` (split by `sms_text::encode`) and returns the message id of each part.
async fn submit_text(client: &EsmeClient, to: &str, text: &str, reference: u8) -> Vec<String> {
    let options = sms_text::Options {
        concat: sms_text::Concat::Udh8 { reference },
        ..sms_text::Options::default()
    };
    let encoded = sms_text::encode(text, &options).expect("encodable");
    let mut ids = Vec::new();
    for part in &encoded.parts {
        let sm = submit_sm(
            to,
            encoded.data_coding,
            part.udhi,
            &part.short_message,
            true,
        );
        let resp = client.submit(sm).await.expect("answered");
        assert_eq!(resp.command_status, CommandStatus::ESME_ROK, "{resp:?}");
        let PduBody::SubmitSmResp(r) = resp.body else {
            panic!("not a submit_sm_resp: {resp:?}");
        };
        ids.push(r.message_id.as_str().expect("ASCII id").to_owned());
    }
    ids
}

/// The next deliver_sm the client receives (other events are skipped), with its request.
async fn next_deliver(client: &mut EsmeClient) -> (DeliverSm, IncomingRequest) {
    loop {
        let event = tokio::time::timeout(PATIENCE, client.next_event())
            .await
            .expect("a deliver_sm arrives in time")
            .expect("client still running");
        if let EsmeEvent::Request(mut request) = event {
            let pdu = request.take_pdu().expect("request carries its PDU");
            if let PduBody::DeliverSm(sm) = pdu.body {
                return (*sm, request);
            }
            panic!("unexpected request {pdu:?}");
        }
    }
}

/// A raw HTTP/1.1 exchange; returns (status, body).
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("HTTP connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: sim\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.expect("HTTP write");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut response))
        .await
        .expect("HTTP answer in time")
        .expect("HTTP read");
    let response = String::from_utf8(response).expect("UTF-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, body.to_owned())
}

async fn inbox_texts(server: &SimServer, msisdn: &str) -> Vec<String> {
    let addr = server.http_addr().expect("HTTP enabled");
    let (status, body) = http(addr, "GET", &format!("/v1/handsets/{msisdn}/messages"), "").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON inbox");
    v.as_array()
        .expect("array")
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_owned())
        .collect()
}

fn header_pdu(command_id: u32, status: u32, sequence: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&16u32.to_be_bytes());
    v.extend_from_slice(&command_id.to_be_bytes());
    v.extend_from_slice(&status.to_be_bytes());
    v.extend_from_slice(&sequence.to_be_bytes());
    v
}

/// Reads one whole PDU from a raw stream (`None` on EOF).
async fn read_pdu(s: &mut (impl AsyncReadExt + Unpin)) -> Option<Pdu> {
    let mut len = [0u8; 4];
    match tokio::time::timeout(PATIENCE, s.read_exact(&mut len)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return None,
        Err(_) => panic!("no PDU and no EOF in time"),
    }
    let n = u32::from_be_bytes(len) as usize;
    let mut frame = vec![0u8; n];
    frame[..4].copy_from_slice(&len);
    tokio::time::timeout(PATIENCE, s.read_exact(&mut frame[4..]))
        .await
        .expect("rest of the PDU in time")
        .expect("rest of the PDU");
    Some(Pdu::decode(&frame).expect("the server sends valid PDUs"))
}

/// True when the peer closed (EOF) in time; reading further PDUs until then.
async fn closes(s: &mut TcpStream) -> bool {
    while let Some(pdu) = read_pdu(s).await {
        let _ = pdu;
    }
    true
}

#[tokio::test]
async fn bind_ok_and_wrong_password_is_refused_and_closed() {
    let server = start().await;
    let client = connect(&server, BindKind::Transceiver, 10).await;
    assert!(client.is_bound());
    assert_eq!(server.sim().lock().stats().bound, 1);

    // Through our client: the bind fails with the precise status.
    let config = EsmeConfig::new(BindKind::Transmitter, bind("acme", "wrong"));
    let err = EsmeClient::connect_tcp(&server.smpp_addr().to_string(), config)
        .await
        .expect_err("wrong password refused");
    assert!(
        format!("{err:?}").contains("ESME_RINVPASWD"),
        "unexpected error {err:?}"
    );

    // On the wire: bind_transmitter_resp ESME_RINVPASWD, then the server closes.
    let mut raw = TcpStream::connect(server.smpp_addr())
        .await
        .expect("connect");
    let wire = Pdu::new(7, PduBody::BindTransmitter(bind("acme", "wrong"))).to_vec();
    raw.write_all(&wire).await.expect("write bind");
    let resp = read_pdu(&mut raw).await.expect("a bind response");
    assert_eq!(resp.command_id(), CommandId::BIND_TRANSMITTER_RESP);
    assert_eq!(resp.command_status, CommandStatus::ESME_RINVPASWD);
    assert_eq!(resp.sequence_number, 7);
    assert!(
        read_pdu(&mut raw).await.is_none(),
        "connection closed after refusal"
    );

    let stats = server.sim().lock().stats();
    assert_eq!((stats.bound, stats.bind_failures), (1, 2));
    client.unbind().await;
    server.shutdown().await;
}

#[tokio::test]
async fn texts_reach_the_inbox_and_every_segment_gets_its_receipt() {
    let server = start().await;
    let mut client = connect(&server, BindKind::Transceiver, 10).await;
    let gsm = "Habari! Your code is 123456. Cost: 10 KES [promo] {ok} ~ 100€";
    let ucs2 = ("Karibu 😀 tuma inatuma ujumbe mrefu sana 🚀🎉 ".repeat(4))
        .trim()
        .to_owned();
    let to = "254700000100";
    let mut ids = submit_text(&client, to, gsm, 1).await;
    assert_eq!(ids.len(), 1);
    let long_ids = submit_text(&client, to, &ucs2, 2).await;
    assert!(long_ids.len() >= 3, "the UCS-2 text is split: {long_ids:?}");
    ids.extend(long_ids);

    let mut pending = ids.clone();
    while !pending.is_empty() {
        let (sm, request) = next_deliver(&mut client).await;
        let info = sm.receipt().expect("a receipt").expect("a valid receipt");
        let id = info.message_id().0.as_str().to_owned();
        let at = pending
            .iter()
            .position(|p| *p == id)
            .unwrap_or_else(|| panic!("receipt for unknown or repeated id {id}"));
        pending.remove(at);
        assert_eq!(info.state().map(|s| s.0), Some(MessageState::Delivered));
        assert_eq!(info.ids_agree(), Some(true));
        assert_eq!(sm.destination_addr.as_bytes(), b"Acme");
        assert_eq!(sm.source_addr.as_bytes(), to.as_bytes());
        request.ack().expect("ack sent");
    }

    assert_eq!(inbox_texts(&server, to).await, vec![gsm.to_owned(), ucs2]);
    client.unbind().await;
    server.shutdown().await;
}

#[tokio::test]
async fn mo_posted_over_http_arrives_at_the_transceiver() {
    let server = start().await;
    let mut client = connect(&server, BindKind::Transceiver, 10).await;
    let addr = server.http_addr().expect("HTTP");
    let (status, body) = http(
        addr,
        "POST",
        "/v1/handsets/254712345678/messages",
        r#"{"to": "5000", "text": "NDIYO 👍"}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (sm, request) = next_deliver(&mut client).await;
    assert!(!sm.is_delivery_receipt());
    assert_eq!(sm.source_addr.as_bytes(), b"254712345678");
    assert_eq!(sm.destination_addr.as_bytes(), b"5000");
    let text = sms_text::decode(sm.data_coding.0, sm.short_message.as_bytes()).expect("text");
    assert_eq!(text, "NDIYO 👍");
    request.ack().expect("ack");
    client.unbind().await;
    server.shutdown().await;
}

#[tokio::test]
async fn failing_range_gives_undeliv_and_throttle_range_is_refused_at_submit() {
    let server = start().await;
    let mut client = connect(&server, BindKind::Transceiver, 10).await;
    let ids = submit_text(&client, "254700000200", "will fail", 3).await;
    let (sm, request) = next_deliver(&mut client).await;
    let info = sm.receipt().expect("receipt").expect("valid");
    assert_eq!(info.message_id().0.as_str(), ids[0]);
    assert_eq!(info.state().map(|s| s.0), Some(MessageState::Undeliverable));
    let text = info.text().expect("text receipt");
    assert_eq!(text.stat.as_ref().map(|s| s.word()), Some("UNDELIV"));
    assert_eq!(text.err.as_ref().map(|e| e.raw()), Some("034"));
    request.ack().expect("ack");

    let resp = client
        .submit(submit_sm("254700000600", 0, false, b"too fast", true))
        .await
        .expect("answered");
    assert_eq!(resp.command_status, CommandStatus::ESME_RTHROTTLED);
    client.unbind().await;
    server.shutdown().await;
}

#[tokio::test]
async fn refused_or_unanswered_receipts_are_delivered_again() {
    let server = start().await;
    let mut first = connect(&server, BindKind::Transceiver, 10).await;
    let ids = submit_text(&first, "254700000101", "again", 4).await;

    // Dropping the request answers ESME_RX_T_APPN: the receipt comes back after the delay.
    let (sm, request) = next_deliver(&mut first).await;
    assert_eq!(
        sm.receipt().expect("r").expect("v").message_id().0.as_str(),
        ids[0]
    );
    drop(request);
    let (again, request) = next_deliver(&mut first).await;
    assert_eq!(again, sm, "the same receipt, redelivered");

    // Holding it unanswered and losing the connection: the next bind gets it.
    let (held, _keep) = (again, request);
    // Our unbind waits only for our own requests; the server closes with its deliver_sm
    // unanswered, and puts it back.
    first.unbind().await;
    let mut second = connect(&server, BindKind::Receiver, 10).await;
    let (third, request) = next_deliver(&mut second).await;
    assert_eq!(third, held);
    request.ack().expect("ack");
    second.unbind().await;
    assert_eq!(server.sim().lock().stats().outbound_pending, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn fifty_thousand_submits_with_a_window_of_fifty_are_all_answered() {
    const N: usize = 50_000;
    let server = start().await;
    let client = connect(&server, BindKind::Transceiver, 50).await;
    let (handle, mut events) = client.into_parts();

    // Receipts are acknowledged as they come, by their own task.
    let receipts = tokio::spawn(async move {
        let mut count = 0usize;
        while count < N {
            match events.recv().await {
                Some(EsmeEvent::Request(r)) => {
                    if let PduBody::DeliverSm(sm) = &r.pdu().body {
                        assert!(sm.is_delivery_receipt());
                        count += 1;
                    }
                    r.ack().expect("ack");
                }
                Some(_) => {}
                None => break,
            }
        }
        count
    });

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let h = handle.clone();
    let sender = tokio::spawn(async move {
        for i in 0..N {
            let to = format!("2547000001{:02}", i % 100);
            let sm = submit_sm(&to, 0, false, b"load", true);
            let fut = h
                .start_request(PduBody::SubmitSm(Box::new(sm)))
                .await
                .expect("queued");
            tx.send(fut).expect("collector alive");
        }
    });
    let mut ok = 0usize;
    let answered = tokio::time::timeout(PATIENCE * 2, async {
        while let Some(fut) = rx.recv().await {
            let resp = fut.await.expect("every submit is answered");
            assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
            ok += 1;
        }
    })
    .await;
    assert!(answered.is_ok(), "stalled after {ok} answers");
    sender.await.expect("sender");
    assert_eq!(ok, N);
    let received = tokio::time::timeout(PATIENCE * 2, receipts)
        .await
        .expect("receipts in time")
        .expect("receipt task");
    assert_eq!(received, N);
    let stats = server.sim().lock().stats();
    assert_eq!(stats.accepted, N as u64);
    assert_eq!(stats.receipts_sent, N as u64);
    handle.unbind().await;
    server.shutdown().await;
}

#[tokio::test]
async fn hostile_peers_affect_only_their_own_session() {
    let server = start().await;
    let good = connect(&server, BindKind::Transmitter, 20).await;
    let addr = server.smpp_addr();

    // 1. Huge command_length: generic_nack ESME_RINVCMDLEN, then closed.
    let mut huge = TcpStream::connect(addr).await.expect("connect");
    let mut wire = header_pdu(0x0000_0004, 0, 1);
    wire[..4].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
    huge.write_all(&wire).await.expect("write");
    let nack = read_pdu(&mut huge).await.expect("a generic_nack");
    assert_eq!(nack.command_id(), CommandId::GENERIC_NACK);
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDLEN);
    assert!(closes(&mut huge).await);

    // 2. Garbage: an unknown command id is answered and the session stays; then bytes that
    // are not a frame (length 3) close it.
    let mut garbage = TcpStream::connect(addr).await.expect("connect");
    garbage
        .write_all(&header_pdu(0x7ABC_DEF0, 0, 2))
        .await
        .expect("write");
    let nack = read_pdu(&mut garbage).await.expect("a generic_nack");
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDID);
    assert_eq!(nack.sequence_number, 2);
    garbage
        .write_all(&[0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef])
        .await
        .expect("write");
    let nack = read_pdu(&mut garbage).await.expect("a generic_nack");
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDLEN);
    assert!(closes(&mut garbage).await);

    // 3. PDUs in the wrong state: submit_sm before binding, deliver_sm_resp never asked for,
    // a second bind.
    let mut early = TcpStream::connect(addr).await.expect("connect");
    let sm = submit_sm("254700000100", 0, false, b"early", false);
    early
        .write_all(&Pdu::new(3, PduBody::SubmitSm(Box::new(sm.clone()))).to_vec())
        .await
        .expect("write");
    let resp = read_pdu(&mut early).await.expect("answer");
    assert_eq!(resp.command_id(), CommandId::SUBMIT_SM_RESP);
    assert_eq!(resp.command_status, CommandStatus::ESME_RINVBNDSTS);
    let bind_pdu = |seq| Pdu::new(seq, PduBody::BindTransceiver(bind("acme", "secret"))).to_vec();
    early.write_all(&bind_pdu(4)).await.expect("write");
    assert_eq!(
        read_pdu(&mut early)
            .await
            .expect("bind resp")
            .command_status,
        CommandStatus::ESME_ROK
    );
    early.write_all(&bind_pdu(5)).await.expect("write");
    assert_eq!(
        read_pdu(&mut early)
            .await
            .expect("bind resp")
            .command_status,
        CommandStatus::ESME_RALYBND
    );
    // Still usable after the errors.
    early
        .write_all(&Pdu::new(6, PduBody::SubmitSm(Box::new(sm))).to_vec())
        .await
        .expect("write");
    let resp = read_pdu(&mut early).await.expect("answer");
    assert_eq!(
        (resp.sequence_number, resp.command_status),
        (6, CommandStatus::ESME_ROK)
    );

    // 4. A flood of enquire_link from a peer that does not read its answers.
    const FLOOD: u32 = 200_000;
    let flood = TcpStream::connect(addr).await.expect("connect");
    let (flood_rx, mut flood_tx) = flood.into_split();
    let mut flood_rx = tokio::io::BufReader::new(flood_rx);
    let writer = tokio::spawn(async move {
        let mut wire = Vec::with_capacity(FLOOD as usize * 16);
        for seq in 1..=FLOOD {
            wire.extend_from_slice(&header_pdu(0x0000_0015, 0, seq));
        }
        flood_tx.write_all(&wire).await.expect("flood written");
        flood_tx
    });

    // Meanwhile the well-behaved session goes on.
    for i in 0..1000 {
        let to = format!("2547000001{:02}", i % 100);
        let resp = tokio::time::timeout(
            PATIENCE,
            good.submit(submit_sm(&to, 0, false, b"ok", false)),
        )
        .await
        .expect("answered in time")
        .expect("answered");
        assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    }

    // The flood is answered in full and in order once its peer reads.
    for seq in 1..=FLOOD {
        let resp = read_pdu(&mut flood_rx).await.expect("enquire_link_resp");
        assert_eq!(resp.command_id(), CommandId::ENQUIRE_LINK_RESP);
        assert_eq!(resp.sequence_number, seq);
    }
    let _tx = writer.await.expect("writer");

    let resp = good
        .submit(submit_sm("254700000100", 0, false, b"still fine", false))
        .await
        .expect("answered");
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    good.unbind().await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_unbinds_sessions_and_frees_the_ports() {
    let server = start().await;
    let mut client = connect(&server, BindKind::Transceiver, 10).await;
    assert_eq!(server.bound_sessions(), 1);
    let (smpp, http_addr) = (server.smpp_addr(), server.http_addr().expect("HTTP"));
    server.shutdown().await;
    // The client saw an unbind from the server and is finished.
    let mut saw_disconnect = false;
    while let Some(event) = tokio::time::timeout(PATIENCE, client.next_event())
        .await
        .expect("events end in time")
    {
        if let EsmeEvent::Disconnected { reason } = event {
            assert_eq!(reason, smpp::session::CloseReason::PeerUnbound);
            saw_disconnect = true;
        }
    }
    assert!(saw_disconnect);
    assert!(TcpStream::connect(smpp).await.is_err(), "SMPP port closed");
    assert!(
        TcpStream::connect(http_addr).await.is_err(),
        "HTTP port closed"
    );
}

#[tokio::test]
async fn receipts_are_spread_over_the_binds_of_an_account() {
    const N: usize = 200;
    let server = start().await;
    let tx = connect(&server, BindKind::Transmitter, 50).await;
    // `stuck` never answers: it can hold at most its window (64) of deliver_sm, and the
    // account's other bind must get everything else.
    let mut stuck = connect(&server, BindKind::Receiver, 10).await;
    let mut live = connect(&server, BindKind::Receiver, 10).await;
    let mut ids = std::collections::HashSet::new();
    for i in 0..N {
        let to = format!("2547000001{:02}", i % 100);
        let resp = tx
            .submit(submit_sm(&to, 0, false, b"spread", true))
            .await
            .expect("answered");
        let PduBody::SubmitSmResp(r) = resp.body else {
            panic!("not a submit_sm_resp");
        };
        ids.insert(r.message_id.as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), N);
    let mut held = Vec::new();
    let mut seen_live = 0usize;
    while !ids.is_empty() {
        let (sm, request, on_live) = tokio::select! {
            (sm, r) = next_deliver(&mut stuck) => (sm, r, false),
            (sm, r) = next_deliver(&mut live) => (sm, r, true),
        };
        let info = sm.receipt().expect("receipt").expect("valid");
        let id = info.message_id().0.as_str().to_owned();
        assert!(ids.remove(&id), "receipt {id} unknown or seen twice");
        if on_live {
            seen_live += 1;
            request.ack().expect("ack");
        } else {
            held.push(request);
        }
    }
    assert!(
        held.len() <= 64,
        "the stuck bind got {} > its window",
        held.len()
    );
    assert_eq!(held.len() + seen_live, N);
    assert!(seen_live >= N - 64);
    drop(held);
    tx.unbind().await;
    live.unbind().await;
    stuck.unbind().await;
    server.shutdown().await;
}
