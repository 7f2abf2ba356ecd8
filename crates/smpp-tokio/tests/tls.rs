//! ESME and MC over TLS (rustls) with a self-signed certificate from rcgen.
#![cfg(feature = "tls")]

mod support;

use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use smpp::{BindKind, CommandStatus};
use smpp_tokio::tls;
use smpp_tokio::{EsmeClient, McConfig, McListener};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_over_tls_with_a_self_signed_certificate() {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    let acceptor = tls::acceptor(vec![cert.der().clone()], key).unwrap();

    let mc = Arc::new(TestMc::default());
    let listener = McListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(listener.serve_tls(
        acceptor,
        Arc::new(TestMcHandler(mc.clone())),
        McConfig::default(),
    ));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let connector = tls::connector(roots).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let dial_addr = addr.clone();
    let dial_connector = connector.clone();
    let client = EsmeClient::connect_with(
        move || tls::dial_tls(dial_connector.clone(), name.clone(), dial_addr.clone()),
        esme_config(BindKind::Transceiver, 10),
    )
    .await
    .unwrap();
    for n in 1..=100 {
        let resp = client
            .submit(submit("447700900001", "secure"))
            .await
            .unwrap();
        assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
        assert_eq!(message_id(&resp), n.to_string());
    }

    // A client that does not trust the certificate cannot connect.
    let untrusting = tls::connector(rustls::RootCertStore::empty()).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let err = tls::dial_tls(untrusting, name, addr).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    client.unbind().await;
    server.abort();
}
