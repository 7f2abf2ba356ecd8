//! Our ESME against our MC listener over real loopback sockets.

mod support;

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use smpp::pdu::DeliverSm;
use smpp::session::CloseReason;
use smpp::{BindKind, CommandId, CommandStatus, PduBody};
use smpp_tokio::{ConnectError, EsmeClient, EsmeEvent, McConfig, McListener};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn listen(mc: &Arc<TestMc>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = McListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task =
        tokio::spawn(listener.serve(Arc::new(TestMcHandler(mc.clone())), McConfig::default()));
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esme_and_mc_exchange_submit_deliver_and_unbind() {
    let mc = Arc::new(TestMc::default());
    let (addr, server) = listen(&mc).await;
    let mut client = EsmeClient::connect_tcp(&addr, esme_config(BindKind::Transceiver, 10))
        .await
        .unwrap();
    let resp = client.submit(submit("447700900001", "hi")).await.unwrap();
    assert_eq!(
        (resp.command_status, message_id(&resp)),
        (CommandStatus::ESME_ROK, "1".into())
    );

    // MC -> ESME deliver_sm, answered by the application.
    let handle = mc.handles.lock().unwrap()[0].clone();
    let peer = mc.binds.lock().unwrap()[0].peer.expect("TCP peer address");
    assert!(peer.ip().is_loopback());
    let sm = DeliverSm::try_new("447700900001", "Acme", b"mo").unwrap();
    let deliver = tokio::spawn(async move { handle.deliver(sm).await });
    loop {
        match client.next_event().await.unwrap() {
            EsmeEvent::Request(request) => {
                assert_eq!(request.command_id(), CommandId::DELIVER_SM);
                request
                    .respond_status(CommandStatus::ESME_RX_P_APPN)
                    .unwrap();
                break;
            }
            EsmeEvent::Connected | EsmeEvent::Bound { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    let resp = deliver.await.unwrap().unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_RX_P_APPN);

    client.unbind().await;
    wait_until(|| mc.closed.lock().unwrap().len() == 1).await;
    assert_eq!(*mc.closed.lock().unwrap(), [CloseReason::PeerUnbound]);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_over_tcp() {
    let mc = Arc::new(TestMc::default());
    let (addr, server) = listen(&mc).await;
    let mut config = esme_config(BindKind::Transmitter, 10);
    config.bind.password = "nope".parse().unwrap();
    match EsmeClient::connect_tcp(&addr, config).await {
        Err(ConnectError::BindFailed(smpp::session::BindFailure::Rejected { status })) => {
            assert_eq!(status, CommandStatus::ESME_RINVPASWD)
        }
        other => panic!("{other:?}"),
    }
    server.abort();
}

/// Keeps `window` requests in flight from one task until `total` are answered; returns
/// the message ids.
async fn pump(client: &EsmeClient, total: usize, window: usize) -> Vec<String> {
    let mut in_flight = VecDeque::with_capacity(window);
    let mut ids = Vec::with_capacity(total);
    let mut sent = 0;
    while ids.len() < total {
        while sent < total && in_flight.len() < window {
            let body = PduBody::SubmitSm(Box::new(submit("447700900001", "load")));
            in_flight.push_back(client.start_request(body).await.unwrap());
            sent += 1;
        }
        let resp = in_flight.pop_front().unwrap().await.expect("answered");
        assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
        ids.push(message_id(&resp));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_submits_with_window_fifty_are_all_answered() {
    let mc = Arc::new(TestMc::default());
    let (addr, server) = listen(&mc).await;
    let client = EsmeClient::connect_tcp(&addr, esme_config(BindKind::Transmitter, 50))
        .await
        .unwrap();
    let ids = tokio::time::timeout(Duration::from_secs(120), pump(&client, 50_000, 50))
        .await
        .expect("no stall");
    // Every submit got its own answer: ids 1..=50000 each exactly once.
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 50_000);
    assert!(ids
        .iter()
        .all(|id| (1..=50_000).contains(&id.parse::<u32>().unwrap())));
    assert_eq!(mc.submits.load(Ordering::Relaxed), 50_000);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_one_connection_does_not_disturb_a_healthy_one() {
    let mc = Arc::new(TestMc::default());
    let (addr, server) = listen(&mc).await;
    let client = EsmeClient::connect_tcp(&addr, esme_config(BindKind::Transceiver, 20))
        .await
        .unwrap();
    let healthy = tokio::spawn({
        let client = client.handle();
        async move {
            let mut answered = 0;
            for _ in 0..2_000 {
                let resp = client.submit(submit("447700900001", "ok")).await.unwrap();
                assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
                answered += 1;
            }
            answered
        }
    });
    // Text instead of PDUs: "GET " read as command_length 0x47455420 (1.2 GB).
    let mut garbage = TcpStream::connect(&addr).await.unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), garbage.read_to_end(&mut reply))
        .await
        .expect("closed promptly")
        .ok();
    // One generic_nack ESME_RINVCMDLEN, then EOF.
    assert_eq!(reply.len(), 16);
    assert_eq!(&reply[4..8], &CommandId::GENERIC_NACK.0.to_be_bytes());
    assert_eq!(
        &reply[8..12],
        &CommandStatus::ESME_RINVCMDLEN.0.to_be_bytes()
    );

    // A flood of well-framed but undecodable requests, never reading the answers.
    let mut flood = TcpStream::connect(&addr).await.unwrap();
    let junk: Vec<u8> = (0..2_000u32)
        .flat_map(|i| {
            let mut f = vec![0, 0, 0, 20, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0];
            f.extend_from_slice(&i.to_be_bytes());
            f.extend_from_slice(&[0xFF; 4]);
            f
        })
        .collect();
    let _ = tokio::time::timeout(Duration::from_secs(5), flood.write_all(&junk)).await;

    assert_eq!(healthy.await.unwrap(), 2_000);
    // And the healthy session still works afterwards.
    let resp = client
        .submit(submit("447700900001", "after"))
        .await
        .unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    server.abort();
}
