//! `--web.config.file`: the subset of Prometheus exporter-toolkit's web
//! configuration that an exporter on a shared network needs — HTTPS with a
//! certificate and key, optionally client certificates checked against a
//! CA, and Basic auth users with bcrypt hashes — so the same file works for
//! this exporter and for node_exporter.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_ca_file: clients-ca.pem            # optional
//!   client_auth_type: RequireAndVerifyClientCert  # or VerifyClientCertIfGiven, NoClientCert
//!   min_version: TLS12                         # TLS12 (default) or TLS13
//!   max_version: TLS13
//! basic_auth_users: { prometheus: "$2y$10$…" }
//! ```
//!
//! As in exporter-toolkit, paths are relative to the file, a `client_ca_file`
//! without a verifying `client_auth_type` is refused (it would silently
//! verify nothing), and so is a verifying type without a CA.

use std::collections::BTreeMap;
use std::path::Path;

use hyper::HeaderMap;
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

use super::auth::{self, Users};
use super::tls::{self, ClientAuth, TlsFiles, TlsVersion};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: String,
    key_file: String,
    client_ca_file: Option<String>,
    client_auth_type: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
}

/// Largest web config file read: a few users and paths fit in far less, and
/// `--web.config.file=/dev/zero` must fail instead of filling memory.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Web settings; the default serves plain HTTP without authentication.
#[derive(Default, Clone)]
pub struct WebConfig {
    tls: Option<TlsAcceptor>,
    users: Users,
}

impl WebConfig {
    /// Reads and validates `path` (and the certificate files it names).
    pub fn load(path: &Path) -> Result<Self, String> {
        let raw = read_bounded(path, MAX_FILE_BYTES)?;
        let raw = String::from_utf8(raw).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
        WebConfig::parse(&raw, path)
    }

    /// As [`WebConfig::load`], from text; `path` names the file in messages
    /// and anchors the relative paths inside it.
    pub fn parse(text: &str, path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let file: File = serde_norway::from_str(text).map_err(|e| format!("{shown}: {e}"))?;
        let users =
            Users::new(file.basic_auth_users).map_err(|e| format!("{shown}: basic_auth_users.{e}"))?;
        let tls = match file.tls_server_config {
            None => None,
            Some(t) => {
                let files = tls_files(t, path.parent().unwrap_or(Path::new(".")))
                    .map_err(|e| format!("{shown}: tls_server_config.{e}"))?;
                Some(tls::acceptor(&files)?)
            }
        };
        Ok(WebConfig { tls, users })
    }

    pub fn tls_acceptor(&self) -> Option<TlsAcceptor> {
        self.tls.clone()
    }

    /// Whether users are configured (requests then need Basic auth).
    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether the request may be served: always without users, otherwise
    /// with a valid `Authorization: Basic` header.
    pub async fn authorized(&self, headers: &HeaderMap) -> bool {
        auth::authorized(&self.users, headers).await
    }
}

/// The checked `tls_server_config`; `Err` is `key: message`.
fn tls_files(t: TlsFile, base: &Path) -> Result<TlsFiles, String> {
    let client_auth = match t.client_auth_type.as_deref() {
        None | Some("NoClientCert") => ClientAuth::None,
        Some("VerifyClientCertIfGiven") => ClientAuth::IfGiven,
        Some("RequireAndVerifyClientCert") => ClientAuth::Required,
        Some(other @ ("RequestClientCert" | "RequireAnyClientCert")) => {
            return Err(format!(
                "client_auth_type: {other} (a client certificate that is not verified) is not \
                 supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            ))
        }
        Some(other) => {
            return Err(format!(
                "client_auth_type: unknown value {other:?}, expected NoClientCert, \
                 VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            ))
        }
    };
    let client_ca = match (t.client_ca_file, client_auth) {
        (Some(_), ClientAuth::None) => {
            return Err("client_ca_file: set without a client_auth_type that verifies \
                        (VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                .into())
        }
        (None, ClientAuth::IfGiven | ClientAuth::Required) => {
            return Err("client_auth_type: verifying client certificates needs client_ca_file".into())
        }
        (ca, _) => ca.map(|c| base.join(c)),
    };
    let version = |key: &str, v: Option<String>, default: TlsVersion| match v.as_deref() {
        None => Ok(default),
        Some("TLS12") => Ok(TlsVersion::Tls12),
        Some("TLS13") => Ok(TlsVersion::Tls13),
        Some(v @ ("TLS10" | "TLS11")) => {
            Err(format!("{key}: {v} is not supported (it is obsolete, RFC 8996); use TLS12 or TLS13"))
        }
        Some(v) => Err(format!("{key}: unknown TLS version {v:?}, expected TLS12 or TLS13")),
    };
    let min_version = version("min_version", t.min_version, TlsVersion::Tls12)?;
    let max_version = version("max_version", t.max_version, TlsVersion::Tls13)?;
    if min_version > max_version {
        return Err("min_version: higher than max_version".into());
    }
    Ok(TlsFiles {
        cert: base.join(t.cert_file),
        key: base.join(t.key_file),
        client_ca,
        client_auth,
        min_version,
        max_version,
    })
}

/// A regular file of at most `limit` bytes ([`crate::small_file`]: a FIFO or
/// `/dev/stdin` would block, `/dev/zero` never end); `Err` names the file.
pub(super) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    crate::small_file::read(path, limit).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<WebConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, text).unwrap();
        WebConfig::load(&path)
    }

    #[test]
    fn refuses_unknown_keys_and_contradictions() {
        assert!(load("bogus: 1\n").is_err());
        let tls = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n";
        for (extra, wanted) in [
            ("  client_ca_file: ca.pem\n", "without a client_auth_type"),
            ("  client_auth_type: RequireAndVerifyClientCert\n", "needs client_ca_file"),
            ("  client_auth_type: RequireAnyClientCert\n", "not supported"),
            ("  client_auth_type: Sometimes\n", "unknown value"),
            ("  min_version: TLS11\n", "not supported"),
            ("  min_version: TLS13\n  max_version: TLS12\n", "higher than max_version"),
            ("", "c.pem"),
        ] {
            let err = load(&format!("{tls}{extra}")).err().unwrap();
            assert!(err.contains(wanted), "{extra:?}: {err}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_regular_small_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(WebConfig::load(dir.path()).err().unwrap().contains("not a regular file"));
        let big = dir.path().join("big.yml");
        std::fs::write(&big, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert!(WebConfig::load(&big).err().unwrap().contains("larger than"));
    }
}
