//! The HTTPS side of `--web.config.file`: the server certificate, the TLS
//! versions, and client certificates verified against `client_ca_file`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio_rustls::TlsAcceptor;

use super::web_config::read_bounded;

/// Largest certificate, key or CA file read (a CA bundle of the system's
/// size is ~200 KiB).
const MAX_PEM_BYTES: u64 = 4 << 20;

/// exporter-toolkit's `client_auth_type`, the values rustls can honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `NoClientCert`: none is asked for.
    None,
    /// `VerifyClientCertIfGiven`: a client may send none; one it sends must verify.
    IfGiven,
    /// `RequireAndVerifyClientCert`: no verified certificate, no connection.
    Required,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// `tls_server_config`, checked, with paths resolved against the file's directory.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_bounded(path, MAX_PEM_BYTES)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(certs)
}

/// Builds the acceptor; `Err` names the file at fault.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let chain = certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read_bounded(&files.key, MAX_PEM_BYTES)?)
        .map_err(|e| format!("{}: no private key found ({e})", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(TlsVersion::Tls12, &rustls::version::TLS12), (TlsVersion::Tls13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (files.min_version..=files.max_version).contains(v))
            .map(|(_, p)| p)
            .collect();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let builder = match (&files.client_ca, files.client_auth) {
        (Some(ca), ClientAuth::IfGiven | ClientAuth::Required) => {
            let mut roots = RootCertStore::empty();
            for cert in certs(ca)? {
                roots.add(cert).map_err(|e| format!("{}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match files.client_auth {
                ClientAuth::IfGiven => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("{}: {e}", ca.display()))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let config =
        builder.with_single_cert(chain, key).map_err(|e| format!("{}: {e}", files.cert.display()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
