//! Throughput of the shell: our ESME client against our MC listener over loopback, with a
//! trivial handler that answers every submit_sm at once.
//!
//! `cargo run -p smpp-tokio --release --example loopback_throughput -- [total] [window] [connections]`
//! (defaults: 1,000,000 submits, window 1000, 1 connection).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smpp::pdu::{Bind, SubmitSm, SubmitSmResp};
use smpp::types::{MessageId, SystemId};
use smpp::{BindKind, CommandStatus, Pdu, PduBody, SessionConfig};
use smpp_tokio::{
    BindRequest, EsmeClient, EsmeConfig, McConfig, McHandle, McHandler, McListener, McSession,
    Reply,
};

struct Trivial;
struct TrivialSession(u64);

impl McHandler for Trivial {
    type Session = TrivialSession;
    fn on_bind(
        &self,
        _: &BindRequest,
        _: McHandle,
    ) -> Result<(SystemId, TrivialSession), CommandStatus> {
        Ok((
            SystemId::new(b"bench").map_err(|_| CommandStatus::ESME_RSYSERR)?,
            TrivialSession(0),
        ))
    }
}

impl McSession for TrivialSession {
    fn on_request(&mut self, request: Pdu) -> Reply {
        match request.body {
            PduBody::SubmitSm(_) => {
                self.0 += 1;
                // Fixed-width hex id from the counter, no allocation.
                let mut id = [0u8; 16];
                for (i, b) in id.iter_mut().enumerate() {
                    *b = b"0123456789abcdef"[((self.0 >> (60 - 4 * i)) & 0xF) as usize];
                }
                match MessageId::new(&id) {
                    Ok(id) => Reply::ok(PduBody::SubmitSmResp(SubmitSmResp::new(id))),
                    Err(_) => Reply::error(request.command_id(), CommandStatus::ESME_RSYSERR),
                }
            }
            _ => Reply::error(request.command_id(), CommandStatus::ESME_RINVCMDID),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let total = args.next().transpose()?.unwrap_or(1_000_000);
    let window = args.next().transpose()?.unwrap_or(1000);
    let connections = args.next().transpose()?.unwrap_or(1).max(1);

    let listener = McListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let mut mc_config = McConfig::default();
    mc_config.session.enquire_link_interval = None;
    tokio::spawn(listener.serve(Arc::new(Trivial), mc_config));

    let mut config = EsmeConfig::new(
        BindKind::Transmitter,
        Bind::new("bench".parse()?, "pw".parse()?),
    );
    config.session = SessionConfig {
        window,
        response_timeout: Duration::from_secs(60),
        enquire_link_interval: None,
        ..SessionConfig::default()
    };
    let mut clients = Vec::new();
    for _ in 0..connections {
        clients.push(EsmeClient::connect_tcp(&addr, config.clone()).await?);
    }
    let sm = SubmitSm::try_new("Acme", "447700900123", b"Hello from the loopback benchmark")?;

    let started = Instant::now();
    let per = total / connections;
    let mut tasks = Vec::new();
    for client in &clients {
        let handle = client.handle();
        let sm = sm.clone();
        tasks.push(tokio::spawn(async move {
            let mut in_flight = VecDeque::with_capacity(window);
            let (mut sent, mut ok) = (0, 0usize);
            while ok < per {
                while sent < per && in_flight.len() < window {
                    let body = PduBody::SubmitSm(Box::new(sm.clone()));
                    in_flight.push_back(handle.start_request(body).await.expect("queued"));
                    sent += 1;
                }
                if let Some(f) = in_flight.pop_front() {
                    let resp = f.await.expect("answered");
                    assert!(resp.command_status.is_ok());
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut answered = 0;
    for task in tasks {
        answered += task.await?;
    }
    let elapsed = started.elapsed();
    println!(
        "{answered} submits answered in {:.3} s over {connections} connection(s), window {window}: {:.0} submits/s",
        elapsed.as_secs_f64(),
        answered as f64 / elapsed.as_secs_f64()
    );
    for client in &clients {
        client.unbind().await;
    }
    Ok(())
}
