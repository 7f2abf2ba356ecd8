//! MC sessions (`serve_connection`) against a scripted ESME over `tokio::io::duplex`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use smpp::pdu::{Bind, DeliverSm, DeliverSmResp, QuerySm, QuerySmResp};
use smpp::session::CloseReason;
use smpp::{CommandId, CommandStatus, Pdu, PduBody};
use smpp_tokio::{serve_connection, McConfig, RequestError};
use support::*;
use tokio::task::JoinHandle;

fn start(mc: &Arc<TestMc>, config: McConfig) -> (Peer, JoinHandle<CloseReason>) {
    let (stream, peer) = Peer::pair();
    let task = tokio::spawn(serve_connection(
        stream,
        None,
        Arc::new(TestMcHandler(mc.clone())),
        config,
    ));
    (peer, task)
}

fn bind_trx(sequence_number: u32, password: &str) -> Pdu {
    let bind = Bind::new("esme1".parse().unwrap(), password.parse().unwrap());
    Pdu::new(sequence_number, PduBody::BindTransceiver(bind))
}

async fn bound(mc: &Arc<TestMc>) -> (Peer, JoinHandle<CloseReason>) {
    let (mut peer, task) = start(mc, McConfig::default());
    peer.send(bind_trx(1, "secret")).await;
    let resp = peer.expect(CommandId::BIND_TRANSCEIVER_RESP).await;
    assert_eq!(resp.command_status, OK);
    (peer, task)
}

#[tokio::test(start_paused = true)]
async fn accepted_bind_then_submits_are_answered_in_the_task() {
    let mc = Arc::new(TestMc::default());
    let (mut peer, _task) = start(&mc, McConfig::default());
    peer.send(bind_trx(1, "secret")).await;
    let resp = peer.expect(CommandId::BIND_TRANSCEIVER_RESP).await;
    assert_eq!((resp.sequence_number, resp.command_status), (1, OK));
    match &resp.body {
        PduBody::BindTransceiverResp(r) => assert_eq!(r.system_id, "sim"),
        other => panic!("{other:?}"),
    }
    assert_eq!(mc.binds.lock().unwrap()[0].bind.system_id, "esme1");
    // Several submits in one write: each answered, in order, with its own id.
    let mut burst = Vec::new();
    for seq in 10..13 {
        burst.extend(Pdu::new(seq, PduBody::SubmitSm(Box::new(submit("1", "x")))).to_vec());
    }
    peer.send_raw(&burst).await;
    for (seq, id) in (10..13).zip(1..) {
        let r = peer.expect(CommandId::SUBMIT_SM_RESP).await;
        assert_eq!((r.sequence_number, r.command_status), (seq, OK));
        assert_eq!(message_id(&r), id.to_string());
    }
    // An operation the handler refuses gets its own response type with the status.
    peer.send(Pdu::new(20, PduBody::CancelSm(Default::default())))
        .await;
    let r = peer.expect(CommandId::CANCEL_SM_RESP).await;
    assert_eq!(
        (r.sequence_number, r.command_status),
        (20, CommandStatus::ESME_RINVCMDID)
    );
}

#[tokio::test(start_paused = true)]
async fn rejected_bind_gets_the_status_and_the_connection_closes() {
    let mc = Arc::new(TestMc::default());
    let (mut peer, task) = start(&mc, McConfig::default());
    peer.send(bind_trx(4, "wrong")).await;
    let resp = peer.expect(CommandId::BIND_TRANSCEIVER_RESP).await;
    assert_eq!(
        (resp.sequence_number, resp.command_status),
        (4, CommandStatus::ESME_RINVPASWD)
    );
    peer.expect_eof().await;
    assert_eq!(task.await.unwrap(), CloseReason::BindFailed);
    assert!(mc.handles.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn deferred_reply_is_sent_through_the_handle() {
    let mc = Arc::new(TestMc::default());
    let (mut peer, _task) = bound(&mc).await;
    let query = QuerySm {
        message_id: "42".parse().unwrap(),
        ..Default::default()
    };
    peer.send(Pdu::new(33, PduBody::QuerySm(query))).await;
    wait_until(|| !mc.deferred.lock().unwrap().is_empty()).await;
    assert_eq!(mc.deferred.lock().unwrap()[0], 33);
    let handle = mc.handles.lock().unwrap()[0].clone();
    let body = smpp_tokio::mc::empty_response(CommandId::QUERY_SM);
    assert!(matches!(body, PduBody::QuerySmResp(QuerySmResp { .. })));
    handle
        .respond(33, CommandStatus::ESME_RQUERYFAIL, body)
        .unwrap();
    let r = peer.expect(CommandId::QUERY_SM_RESP).await;
    assert_eq!(
        (r.sequence_number, r.command_status),
        (33, CommandStatus::ESME_RQUERYFAIL)
    );
}

#[tokio::test(start_paused = true)]
async fn deliver_sm_pushed_through_the_handle_gets_its_response() {
    let mc = Arc::new(TestMc::default());
    let (mut peer, _task) = bound(&mc).await;
    let handle = mc.handles.lock().unwrap()[0].clone();
    assert!(handle.is_bound());
    let sm = DeliverSm::try_new("447700900123", "Acme", b"mo text").unwrap();
    let deliver = tokio::spawn(async move { handle.deliver(sm).await });
    let req = peer.expect(CommandId::DELIVER_SM).await;
    let PduBody::DeliverSm(sm) = &req.body else {
        unreachable!()
    };
    assert_eq!(sm.short_message.as_bytes(), b"mo text");
    peer.respond(&req, PduBody::DeliverSmResp(DeliverSmResp::default()))
        .await;
    let resp = deliver.await.unwrap().unwrap();
    assert_eq!(
        (resp.sequence_number, resp.command_status),
        (req.sequence_number, OK)
    );
}

#[tokio::test(start_paused = true)]
async fn mc_unbind_closes_after_unbind_resp() {
    let mc = Arc::new(TestMc::default());
    let (mut peer, task) = bound(&mc).await;
    let handle = mc.handles.lock().unwrap()[0].clone();
    let unbind = tokio::spawn(async move { handle.unbind().await });
    let u = peer.expect(CommandId::UNBIND).await;
    peer.respond(&u, PduBody::UnbindResp).await;
    unbind.await.unwrap();
    assert_eq!(task.await.unwrap(), CloseReason::Unbound);
    assert_eq!(*mc.closed.lock().unwrap(), [CloseReason::Unbound]);
    // The handle now refuses requests as not sent.
    let handle = mc.handles.lock().unwrap()[0].clone();
    assert!(handle.is_closed());
    let sm = DeliverSm::try_new("1", "2", b"x").unwrap();
    assert!(matches!(
        handle.deliver(sm).await,
        Err(RequestError::Closed)
    ));
}

#[tokio::test(start_paused = true)]
async fn huge_command_length_is_nacked_and_closes_only_that_session() {
    let mc = Arc::new(TestMc::default());
    let (mut peer, task) = bound(&mc).await;
    // command_length 0x7FFFFFFF: must not be buffered or waited for.
    let mut frame = vec![0x7F, 0xFF, 0xFF, 0xFF];
    frame.extend_from_slice(&CommandId::SUBMIT_SM.0.to_be_bytes());
    frame.extend_from_slice(&[0; 8]);
    peer.send_raw(&frame).await;
    let nack = peer.expect(CommandId::GENERIC_NACK).await;
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDLEN);
    peer.expect_eof().await;
    assert!(matches!(task.await.unwrap(), CloseReason::Framing(_)));
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_never_binds_is_dropped_after_the_bind_timeout() {
    let mc = Arc::new(TestMc::default());
    let mut config = McConfig::default();
    config.session.bind_timeout = Duration::from_secs(4);
    let (mut peer, task) = start(&mc, config);
    let start = tokio::time::Instant::now();
    peer.expect_eof().await;
    assert_eq!(start.elapsed(), Duration::from_secs(4));
    assert_eq!(task.await.unwrap(), CloseReason::BindTimeout);
}

#[tokio::test(start_paused = true)]
async fn esme_disconnect_reports_close_to_the_session_handler() {
    let mc = Arc::new(TestMc::default());
    let (peer, task) = bound(&mc).await;
    drop(peer);
    assert_eq!(task.await.unwrap(), CloseReason::ConnectionLost);
    assert_eq!(*mc.closed.lock().unwrap(), [CloseReason::ConnectionLost]);
}

#[tokio::test(start_paused = true)]
async fn alert_notification_is_pushed_through_the_handle() {
    let mc = Arc::new(TestMc::default());
    let (mut peer, _task) = bound(&mc).await;
    let handle = mc.handles.lock().unwrap()[0].clone();
    let alert = smpp::pdu::AlertNotification {
        source_addr: "447700900123".parse().unwrap(),
        ..Default::default()
    };
    handle.alert(alert).unwrap();
    let a = peer.expect(CommandId::ALERT_NOTIFICATION).await;
    let PduBody::AlertNotification(a) = a.body else {
        unreachable!()
    };
    assert_eq!(a.source_addr, "447700900123");
    // alert_notification has no response: the request API refuses it as not sent.
    let err = handle
        .send_request(PduBody::AlertNotification(Default::default()))
        .await
        .unwrap_err();
    assert!(err.is_not_sent(), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn deliver_sm_window_is_enforced_on_the_mc_side_too() {
    let mc = Arc::new(TestMc::default());
    let mut config = McConfig::default();
    config.session.window = 1;
    let (mut peer, _task) = start(&mc, config);
    peer.send(bind_trx(1, "secret")).await;
    peer.expect(CommandId::BIND_TRANSCEIVER_RESP).await;
    let handle = mc.handles.lock().unwrap()[0].clone();
    let first = handle
        .start_request(PduBody::DeliverSm(Box::new(
            DeliverSm::try_new("1", "2", b"a").unwrap(),
        )))
        .await
        .unwrap();
    let second = tokio::spawn({
        let handle = handle.clone();
        async move {
            handle
                .deliver(DeliverSm::try_new("1", "2", b"b").unwrap())
                .await
        }
    });
    let r1 = peer.expect(CommandId::DELIVER_SM).await;
    peer.expect_silence(Duration::from_secs(2)).await;
    peer.respond(&r1, PduBody::DeliverSmResp(DeliverSmResp::default()))
        .await;
    first.await.unwrap();
    let r2 = peer.expect(CommandId::DELIVER_SM).await;
    peer.send(smpp::Pdu::with_status(
        r2.sequence_number,
        CommandStatus::ESME_RX_T_APPN,
        PduBody::DeliverSmResp(DeliverSmResp::default()),
    ))
    .await;
    assert_eq!(
        second.await.unwrap().unwrap().command_status,
        CommandStatus::ESME_RX_T_APPN
    );
}
