//! `--web.config.file`: the subset of Prometheus exporter-toolkit's web
//! configuration that an exporter on a shared network needs — HTTPS with a
//! certificate and key, and Basic auth users with bcrypt hashes — so the
//! same file works for this exporter and for node_exporter.
//!
//! ```yaml
//! tls_server_config: { cert_file: server.crt, key_file: server.key }
//! basic_auth_users: { prometheus: "$2y$10$…" }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hyper::header::AUTHORIZATION;
use hyper::HeaderMap;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

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
}

/// Web settings; the default serves plain HTTP without authentication.
#[derive(Default, Clone)]
pub struct WebConfig {
    tls: Option<TlsAcceptor>,
    users: Arc<BTreeMap<String, String>>,
    /// Digests of credentials that already passed bcrypt: bcrypt is slow on
    /// purpose, and Prometheus sends the same header every scrape.
    verified: Arc<Mutex<HashSet<[u8; 32]>>>,
    /// A hash of the users' cost to check unknown users against, so that
    /// the answer takes as long for them and does not reveal who exists.
    dummy: Arc<String>,
}

impl WebConfig {
    pub fn load(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let raw = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        let file: File = serde_norway::from_str(&raw).map_err(|e| format!("{shown}: {e}"))?;
        // Paths in the file are relative to the file, as in exporter-toolkit.
        let base = path.parent().unwrap_or(Path::new("."));
        for (user, hash) in &file.basic_auth_users {
            if !hash.starts_with("$2") {
                return Err(format!("{shown}: basic_auth_users.{user}: not a bcrypt hash"));
            }
        }
        let tls = match file.tls_server_config {
            None => None,
            Some(t) => Some(tls_acceptor(&base.join(&t.cert_file), &base.join(&t.key_file))?),
        };
        // "$2y$10$…": the cost is the number between the 2nd and 3rd `$`.
        let cost = file
            .basic_auth_users
            .values()
            .next()
            .and_then(|h| h.split('$').nth(2))
            .and_then(|c| c.parse().ok())
            .unwrap_or(bcrypt::DEFAULT_COST);
        let dummy = if file.basic_auth_users.is_empty() {
            String::new()
        } else {
            bcrypt::hash("ftp_exporter: no such user", cost).map_err(|e| format!("{shown}: {e}"))?
        };
        Ok(WebConfig {
            tls,
            users: Arc::new(file.basic_auth_users),
            verified: Default::default(),
            dummy: Arc::new(dummy),
        })
    }

    pub fn tls_acceptor(&self) -> Option<TlsAcceptor> {
        self.tls.clone()
    }

    /// Whether the request may be served: always without users, otherwise
    /// with a valid `Authorization: Basic` header.
    pub async fn authorized(&self, headers: &HeaderMap) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some((user, password)) = basic_credentials(headers) else { return false };
        let (known, hash) = match self.users.get(&user) {
            Some(h) => (true, h.clone()),
            None => (false, self.dummy.as_ref().clone()),
        };
        let digest: [u8; 32] = Sha256::new()
            .chain_update(&user)
            .chain_update([0])
            .chain_update(&password)
            .chain_update(&hash)
            .finalize()
            .into();
        if self.verified.lock().unwrap_or_else(|e| e.into_inner()).contains(&digest) {
            return true;
        }
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
            && known;
        if ok {
            let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            // Bounded: a handful of users, each with one password.
            if verified.len() > 1000 {
                verified.clear();
            }
            verified.insert(digest);
        }
        ok
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let open = |p: &Path| {
        std::fs::File::open(p).map(std::io::BufReader::new).map_err(|e| format!("{}: {e}", p.display()))
    };
    let certs: Vec<_> = rustls_pemfile::certs(&mut open(cert)?)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", cert.display()));
    }
    let key = rustls_pemfile::private_key(&mut open(key)?)
        .map_err(|e| format!("{}: {e}", key.display()))?
        .ok_or_else(|| format!("{}: no private key found", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        h.insert(AUTHORIZATION, format!("Basic {v}").parse().unwrap());
        h
    }

    #[tokio::test]
    async fn basic_auth_with_bcrypt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  prom: '{hash}'\n")).unwrap();
        let web = WebConfig::load(&path).unwrap();
        assert!(web.authorized(&header("prom", "s3cret")).await);
        assert!(web.authorized(&header("prom", "s3cret")).await, "cached");
        assert!(!web.authorized(&header("prom", "wrong")).await);
        assert!(!web.authorized(&header("other", "s3cret")).await);
        assert!(!web.authorized(&HeaderMap::new()).await);
        assert!(WebConfig::default().authorized(&HeaderMap::new()).await);
    }

    #[test]
    fn refuses_unknown_keys_and_plain_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, "basic_auth_users:\n  prom: plain\n").unwrap();
        assert!(WebConfig::load(&path).err().unwrap().contains("not a bcrypt hash"));
        std::fs::write(&path, "bogus: 1\n").unwrap();
        assert!(WebConfig::load(&path).is_err());
    }
}
