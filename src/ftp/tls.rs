//! FTPS client side with rustls (RFC 4217).
//!
//! One [`TlsClient`] per check: the control connection and every data
//! connection share its `Arc<ClientConfig>`, so the data connections resume
//! the control connection's TLS session from the config's session store.
//! Servers such as vsftpd (`require_ssl_reuse=YES`, its default) refuse a
//! data connection that does not (`522 SSL connection failed: session reuse
//! required`). A fresh config per check also keeps the `tls` phase honest:
//! every check does a full handshake on its control connection.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, HandshakeKind, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::error::{Error, Result};

/// Builds the certificate verifier: the system roots, or only `ca_file`.
/// Expensive (parses every root), so callers build it once per CA and share it.
/// Largest `tls_ca_file` read: a big system bundle is a few hundred KiB.
pub const MAX_CA_FILE: u64 = 4 << 20;

pub fn root_verifier(ca_file: Option<&Path>) -> Result<Arc<dyn ServerCertVerifier>> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = crate::small_file::read(path, MAX_CA_FILE)
                .map_err(|e| Error::Local(format!("{}: {e}", path.display())))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| Error::Local(format!("{}: {e}", path.display())))?;
                roots.add(cert).map_err(|e| Error::Local(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            let loaded = rustls_native_certs::load_native_certs();
            for cert in loaded.certs {
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(Error::Local("no trusted CA certificates found".into()));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map(|v| v as Arc<dyn ServerCertVerifier>)
        .map_err(|e| Error::Local(e.to_string()))
}

/// One provider for the process: building it per check is waste at thousands of targets.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: std::sync::OnceLock<Arc<CryptoProvider>> = std::sync::OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

/// The TLS side of one check (cheap to clone: it shares the config).
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    name: ServerName<'static>,
    recorder: Arc<Recorder>,
}

impl TlsClient {
    /// `verifier` is `None` for `tls_insecure_skip_verify`.
    pub fn new(
        verifier: Option<Arc<dyn ServerCertVerifier>>,
        server_name: &str,
        tls12_only: bool,
    ) -> Result<Self> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| Error::Local(format!("invalid TLS server name {server_name:?}")))?;
        let recorder =
            Arc::new(Recorder { inner: verifier, not_after: Mutex::new(None), provider: provider() });
        let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .map_err(|e| Error::Local(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        Ok(TlsClient { connector: TlsConnector::from(Arc::new(config)), name, recorder })
    }

    /// Handshakes over `tcp`. Errors say whether the certificate or the
    /// negotiation failed, because operators fix those in different places.
    pub async fn connect(&self, tcp: TcpStream, deadline: Instant) -> Result<TlsStream<TcpStream>> {
        let handshake = self.connector.connect(self.name.clone(), tcp);
        match timeout_at(deadline, handshake).await {
            Err(_) => Err(Error::Timeout),
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(handshake_error(e)),
        }
    }

    /// notAfter (Unix seconds) of the last leaf certificate the server presented,
    /// also when it failed verification (an expired certificate is the case to report).
    pub fn cert_not_after(&self) -> Option<i64> {
        self.recorder.not_after.lock().ok().and_then(|g| *g)
    }
}

/// Facts about an established TLS connection, for the transcript.
pub fn describe(stream: &TlsStream<TcpStream>) -> (String, String, bool) {
    let conn = stream.get_ref().1;
    let version = conn.protocol_version().and_then(|v| v.as_str()).unwrap_or("?").replace('_', ".");
    let cipher = conn.negotiated_cipher_suite().and_then(|c| c.suite().as_str()).unwrap_or("?").to_string();
    let resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
    (version, cipher, resumed)
}

fn handshake_error(e: std::io::Error) -> Error {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => Error::TlsCertificate(format!("{c:?}")),
        Some(other) => Error::TlsHandshake(other.to_string()),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::TlsHandshake("server closed the connection during the handshake".into())
        }
        None => Error::TlsHandshake(e.to_string()),
    }
}

/// Delegates verification (or skips it) and remembers the leaf's notAfter.
#[derive(Debug)]
struct Recorder {
    inner: Option<Arc<dyn ServerCertVerifier>>,
    not_after: Mutex<Option<i64>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Ok((_, cert)) = x509_parser::parse_x509_certificate(end_entity.as_ref()) {
            if let Ok(mut slot) = self.not_after.lock() {
                *slot = Some(cert.validity().not_after.timestamp());
            }
        }
        match &self.inner {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
