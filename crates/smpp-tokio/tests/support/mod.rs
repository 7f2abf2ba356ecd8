//! A scripted SMPP peer over `tokio::io::duplex`, so protocol tests read like the spec:
//! `peer.expect(CommandId::BIND_TRANSCEIVER).await; peer.send(bind_resp).await`.
#![allow(dead_code)] // each test binary uses a different part of it

use std::time::Duration;

use smpp::codec::{check, DEFAULT_MAX_PDU_SIZE};
use smpp::pdu::{Bind, BindResp, SubmitSm, SubmitSmResp};
use smpp::{BindKind, CommandId, CommandStatus, Pdu, PduBody, SessionConfig};
use smpp_tokio::{EsmeClient, EsmeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// How long a scripted step may wait. Long, because with paused time the runtime jumps to
/// the next timer when idle: a short bound would fire before the session's own timers.
pub const STEP: Duration = Duration::from_secs(3600);

/// One end of an in-memory connection, speaking PDUs.
pub struct Peer {
    io: DuplexStream,
    buf: Vec<u8>,
}

impl Peer {
    /// A connected pair: the stream for the code under test, and the scripted peer.
    pub fn pair() -> (DuplexStream, Peer) {
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        (
            ours,
            Peer {
                io: theirs,
                buf: Vec::new(),
            },
        )
    }

    /// The next PDU, or `None` at EOF.
    pub async fn recv(&mut self) -> Option<Pdu> {
        tokio::time::timeout(STEP, self.recv_inner())
            .await
            .expect("peer waited too long for a PDU")
    }

    async fn recv_inner(&mut self) -> Option<Pdu> {
        loop {
            if let Some(len) = check(&self.buf, DEFAULT_MAX_PDU_SIZE).expect("well-framed PDU") {
                let frame: Vec<u8> = self.buf.drain(..len).collect();
                return Some(Pdu::decode(&frame).expect("decodable PDU"));
            }
            let mut chunk = [0u8; 4096];
            match self.io.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next PDU, which must be a `command_id`.
    pub async fn expect(&mut self, command_id: CommandId) -> Pdu {
        match self.recv().await {
            Some(pdu) => {
                assert_eq!(pdu.command_id(), command_id, "unexpected PDU {pdu:?}");
                pdu
            }
            None => panic!("EOF while expecting {command_id:?}"),
        }
    }

    /// Asserts that the other side closed the connection, with no PDU before.
    pub async fn expect_eof(&mut self) {
        if let Some(pdu) = self.recv().await {
            panic!("expected EOF, got {pdu:?}");
        }
    }

    /// Asserts that nothing arrives within `wait` (use with paused time).
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Ok(pdu) = tokio::time::timeout(wait, self.recv_inner()).await {
            panic!("expected silence, got {pdu:?}");
        }
    }

    /// Sends one PDU.
    pub async fn send(&mut self, pdu: Pdu) {
        self.send_raw(&pdu.to_vec()).await;
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.io
            .write_all(bytes)
            .await
            .expect("write to the peer's stream");
    }

    /// Answers `request` with ESME_ROK and `body`.
    pub async fn respond(&mut self, request: &Pdu, body: PduBody) {
        self.send(Pdu::new(request.sequence_number, body)).await;
    }
}

/// An ESME config binding as `kind` with test credentials and `window`.
pub fn esme_config(kind: BindKind, window: usize) -> EsmeConfig {
    let bind = Bind::new("esme1".parse().unwrap(), "secret".parse().unwrap());
    let mut config = EsmeConfig::new(kind, bind);
    config.session = SessionConfig {
        window,
        response_timeout: Duration::from_secs(30),
        bind_timeout: Duration::from_secs(10),
        enquire_link_interval: None,
        ..SessionConfig::default()
    };
    config
}

/// bind_*_resp for `request` (a bind), ESME_ROK, system_id "mc".
pub fn bind_ok(request: &Pdu) -> Pdu {
    let response = BindResp::new("mc".parse().unwrap());
    let body = match request.command_id() {
        CommandId::BIND_TRANSMITTER => PduBody::BindTransmitterResp(response),
        CommandId::BIND_RECEIVER => PduBody::BindReceiverResp(response),
        _ => PduBody::BindTransceiverResp(response),
    };
    Pdu::new(request.sequence_number, body)
}

/// A submit_sm to `to` with `text`.
pub fn submit(to: &str, text: &str) -> SubmitSm {
    SubmitSm::try_new("Acme", to, text.as_bytes()).unwrap()
}

/// submit_sm_resp with `message_id`.
pub fn submit_resp(message_id: &str) -> PduBody {
    PduBody::SubmitSmResp(SubmitSmResp::new(message_id.parse().unwrap()))
}

/// The message_id of a submit_sm_resp.
pub fn message_id(pdu: &Pdu) -> String {
    match &pdu.body {
        PduBody::SubmitSmResp(r) => r.message_id.to_string(),
        other => panic!("not a submit_sm_resp: {other:?}"),
    }
}

/// A transceiver client bound over a duplex stream, and its scripted MC.
pub async fn bound_client(config: EsmeConfig) -> (EsmeClient, Peer) {
    let (stream, mut peer) = Peer::pair();
    let connect = tokio::spawn(EsmeClient::connect(stream, config));
    let bind = peer.expect(CommandId::BIND_TRANSCEIVER).await;
    peer.send(bind_ok(&bind)).await;
    let client = connect.await.unwrap().expect("bound");
    (client, peer)
}

/// A status helper for readability.
pub const OK: CommandStatus = CommandStatus::ESME_ROK;

// ---------------------------------------------------------------------------------------
// A trivial MC handler for the listener tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use smpp::session::CloseReason;
use smpp::types::MessageId;
use smpp_tokio::{BindRequest, McHandle, McHandler, McSession, Reply};

/// Accepts password "secret", answers submit_sm with sequential message ids, defers
/// query_sm (to be answered through the handle), refuses everything else.
#[derive(Default)]
pub struct TestMc {
    /// submit_sm answered, over all sessions.
    pub submits: AtomicU64,
    /// The handle of every accepted session, in bind order.
    pub handles: Mutex<Vec<McHandle>>,
    /// Deferred query_sm sequence numbers.
    pub deferred: Mutex<Vec<u32>>,
    /// Close reasons reported to sessions.
    pub closed: Mutex<Vec<CloseReason>>,
    pub binds: Mutex<Vec<BindRequest>>,
}

pub struct TestMcSession {
    mc: Arc<TestMc>,
    next_id: u64,
}

/// Writes `n` in decimal without allocating (the answer path of a fast handler).
pub fn decimal_id(n: u64) -> MessageId {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    MessageId::new(&buf[i..]).expect("digits fit a message_id")
}

/// The handler for `serve`: shares one `TestMc`.
pub struct TestMcHandler(pub Arc<TestMc>);

impl McHandler for TestMcHandler {
    type Session = TestMcSession;

    fn on_bind(
        &self,
        request: &BindRequest,
        handle: McHandle,
    ) -> Result<(smpp::types::SystemId, TestMcSession), CommandStatus> {
        self.0.binds.lock().unwrap().push(request.clone());
        if request.bind.password != "secret" {
            return Err(CommandStatus::ESME_RINVPASWD);
        }
        self.0.handles.lock().unwrap().push(handle);
        Ok((
            "sim".parse().unwrap(),
            TestMcSession {
                mc: self.0.clone(),
                next_id: 0,
            },
        ))
    }
}

impl McSession for TestMcSession {
    fn on_request(&mut self, request: Pdu) -> Reply {
        match request.body {
            PduBody::SubmitSm(_) => {
                self.next_id += 1;
                self.mc.submits.fetch_add(1, Ordering::Relaxed);
                Reply::ok(PduBody::SubmitSmResp(SubmitSmResp::new(decimal_id(
                    self.next_id,
                ))))
            }
            PduBody::QuerySm(_) => {
                self.mc
                    .deferred
                    .lock()
                    .unwrap()
                    .push(request.sequence_number);
                Reply::Later
            }
            _ => Reply::error(request.command_id(), CommandStatus::ESME_RINVCMDID),
        }
    }

    fn on_closed(&mut self, reason: CloseReason) {
        self.mc.closed.lock().unwrap().push(reason);
    }
}

/// Waits (bounded) until `cond` holds, polling every millisecond of tokio time.
pub async fn wait_until(mut cond: impl FnMut() -> bool) {
    tokio::time::timeout(STEP, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("condition never held");
}
