//! `tuma smsc` as a process: its `--window` flag reaches every bind.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{free_port, spawn_smsc, Proc, BIN};
use smpp::pdu::{Bind, SubmitSm};
use smpp::types::{Address, Npi, RegisteredDelivery, ShortMessage, Ton};
use smpp::{BindKind, PduBody};
use smpp_tokio::{EsmeClient, EsmeConfig, EsmeEvent, IncomingRequest};

/// Starts `tuma smsc` with `extra` flags and binds a transceiver to it (retrying while the
/// process starts).
async fn smsc_and_client(extra: &[&str]) -> (Proc, EsmeClient) {
    let (smpp, http) = (free_port(), free_port());
    let sim = spawn_smsc(smpp, http, extra);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut config = EsmeConfig::new(
            BindKind::Transceiver,
            Bind {
                system_id: "acme".parse().unwrap(),
                password: "secret".parse().unwrap(),
                ..Bind::default()
            },
        );
        config.event_capacity = 1024;
        match EsmeClient::connect_tcp(&format!("127.0.0.1:{smpp}"), config).await {
            Ok(client) => return (sim, client),
            Err(e) => {
                assert!(Instant::now() < deadline, "tuma smsc did not bind: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Submits `n` messages with receipts requested to numbers the default network delivers at
/// once, never answers a deliver_sm, and returns how many arrived within `quiet` of the last.
async fn receipts_held_unanswered(client: &mut EsmeClient, n: usize) -> usize {
    for i in 0..n {
        let mut sm = SubmitSm::new(
            "Acme".parse::<Address>().unwrap(),
            format!("2547000001{i:02}").parse::<Address>().unwrap(),
            ShortMessage::new(b"window").unwrap(),
        );
        sm.source_addr_ton = Ton::ALPHANUMERIC;
        sm.dest_addr_ton = Ton::INTERNATIONAL;
        sm.dest_addr_npi = Npi::ISDN;
        sm.registered_delivery = RegisteredDelivery(1);
        let resp = client.submit(sm).await.expect("submit answered");
        assert!(matches!(resp.body, PduBody::SubmitSmResp(_)), "{resp:?}");
    }
    // Held, not answered: each keeps its slot of the simulator's window.
    let mut held: Vec<IncomingRequest> = Vec::new();
    let quiet = Duration::from_millis(1500);
    while let Ok(Some(event)) = tokio::time::timeout(quiet, client.next_event()).await {
        if let EsmeEvent::Request(mut request) = event {
            let pdu = request.take_pdu().expect("request carries its PDU");
            assert!(matches!(pdu.body, PduBody::DeliverSm(_)), "{pdu:?}");
            held.push(request);
        }
    }
    held.len()
}

#[tokio::test]
async fn window_flag_bounds_the_receipts_awaiting_an_answer() {
    let (_sim, mut client) = smsc_and_client(&["--window", "3"]).await;
    assert_eq!(receipts_held_unanswered(&mut client, 10).await, 3);

    // The default (64) holds back none of ten: the flag is what limited them.
    let (_sim, mut client) = smsc_and_client(&[]).await;
    assert_eq!(receipts_held_unanswered(&mut client, 10).await, 10);
}

#[test]
fn window_flag_rejects_zero() {
    let out = Command::new(BIN)
        .args(["smsc", "--window", "0"])
        .output()
        .expect("running tuma smsc");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--window"), "{stderr}");
}
