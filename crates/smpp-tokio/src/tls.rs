//! TLS with rustls (ring provider): a client connector and a server acceptor.
//!
//! The configs are built with an explicit crypto provider, so nothing depends on a
//! process-wide default being installed.

use std::io;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpStream;
pub use tokio_rustls::client::TlsStream as ClientTlsStream;
pub use tokio_rustls::server::TlsStream as ServerTlsStream;
pub use tokio_rustls::{TlsAcceptor, TlsConnector};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server acceptor presenting `cert_chain` (leaf first) with `key`; no client
/// certificates.
///
/// # Errors
/// The key does not match the certificate or is of an unsupported type.
pub fn acceptor(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, rustls::Error> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A client connector trusting `roots` (e.g. the MC's self-signed certificate, or a CA).
///
/// # Errors
/// Only if the provider supports no safe protocol version (not the case with ring).
pub fn connector(roots: RootCertStore) -> Result<TlsConnector, rustls::Error> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Dials `addr` over TCP (Nagle off) and runs the TLS handshake, checking the server's
/// certificate against `server_name`. Use it as the dial function of
/// [`crate::EsmeClient::connect_with`] / [`crate::EsmeClient::connect_with_reconnect`].
pub async fn dial_tls(
    connector: TlsConnector,
    server_name: ServerName<'static>,
    addr: String,
) -> io::Result<ClientTlsStream<TcpStream>> {
    let tcp = crate::esme::dial_tcp(addr).await?;
    connector.connect(server_name, tcp).await
}
