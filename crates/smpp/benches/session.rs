//! Two sans-IO sessions (ESME and MC) back to back in memory: submit_sm out, submit_sm_resp
//! back, with a full window. Measures the session and codec cost per message without sockets.
//!
//! `cargo bench -p smpp --bench session`

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smpp::pdu::{Bind, BindResp, PduBody, SubmitSm, SubmitSmResp};
use smpp::{BindKind, CommandStatus, Event, Role, Session, SessionConfig};

const WINDOW: usize = 1000;
const BATCH: u64 = 10_000;

fn bound_pair(now: Instant) -> (Session, Session) {
    let config = SessionConfig {
        window: WINDOW,
        ..SessionConfig::default()
    };
    let mut esme = Session::new(Role::Esme, config.clone(), now);
    let mut mc = Session::new(Role::Mc, config, now);
    let bind = Bind::new("bench".parse().unwrap(), "secret".parse().unwrap());
    esme.bind(now, BindKind::Transceiver, bind).unwrap();
    let mut wire = Vec::new();
    esme.poll_transmit(&mut wire);
    mc.handle_input(now, &wire);
    assert!(matches!(mc.poll_event(), Some(Event::BindRequest { .. })));
    mc.accept_bind(now, BindResp::new("SMSC".parse().unwrap()))
        .unwrap();
    wire.clear();
    mc.poll_transmit(&mut wire);
    esme.handle_input(now, &wire);
    assert!(matches!(esme.poll_event(), Some(Event::Bound { .. })));
    (esme, mc)
}

/// Sends `n` submit_sm through the pair, answering each, and returns the responses seen.
fn run(now: Instant, esme: &mut Session, mc: &mut Session, n: u64, wire: &mut Vec<u8>) -> u64 {
    let body = PduBody::SubmitSm(Box::new(
        SubmitSm::try_new("ACME", "254712345678", b"Hello from the tuma session bench").unwrap(),
    ));
    let resp = PduBody::SubmitSmResp(SubmitSmResp::new("0123456789abcdef".parse().unwrap()));
    let (mut sent, mut done) = (0u64, 0u64);
    let mut requests = Vec::with_capacity(WINDOW);
    while done < n {
        while sent < n && esme.window_available() > 0 {
            esme.send_request(now, body.clone()).unwrap();
            sent += 1;
        }
        wire.clear();
        esme.poll_transmit(wire);
        mc.handle_input(now, wire);
        while let Some(event) = mc.poll_event() {
            if let Event::Request(pdu) = event {
                requests.push(pdu.sequence_number);
            }
        }
        for seq in requests.drain(..) {
            mc.send_response(now, seq, CommandStatus::ESME_ROK, resp.clone())
                .unwrap();
        }
        wire.clear();
        mc.poll_transmit(wire);
        esme.handle_input(now, wire);
        while let Some(event) = esme.poll_event() {
            if matches!(event, Event::Response { .. }) {
                done += 1;
            }
        }
    }
    done
}

fn session_pair(c: &mut Criterion) {
    let now = Instant::now();
    let (mut esme, mut mc) = bound_pair(now);
    let mut wire = Vec::with_capacity(1 << 20);
    let mut group = c.benchmark_group("session_pair");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("submit_sm+resp window 1000", |b| {
        b.iter(|| assert_eq!(run(now, &mut esme, &mut mc, BATCH, &mut wire), BATCH))
    });
    group.finish();
}

criterion_group!(benches, session_pair);
criterion_main!(benches);
