//! Name resolution behind a trait, so tests can produce `dns_error` without
//! sending a DNS query anywhere.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Resolves a host name to addresses.
pub trait Resolver: Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The system resolver (getaddrinfo through tokio's blocking pool).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

type VerifierCache = HashMap<Option<PathBuf>, Arc<dyn rustls::client::danger::ServerCertVerifier>>;

/// What a check needs from its surroundings, shared by all checks.
#[derive(Clone)]
pub struct CheckEnv {
    pub resolver: Arc<dyn Resolver>,
    /// Certificate verifiers by CA file: parsing the system roots once per
    /// check would dominate the cost of watching thousands of servers.
    pub(super) verifiers: Arc<Mutex<VerifierCache>>,
}

impl CheckEnv {
    pub fn with_resolver(resolver: Arc<dyn Resolver>) -> Self {
        CheckEnv { resolver, verifiers: Arc::default() }
    }

    /// Drops the cached verifiers so that CA files are read again: a config
    /// reload is when operators expect a rotated `tls_ca_file` to count.
    pub fn forget_verifiers(&self) {
        if let Ok(mut cache) = self.verifiers.lock() {
            cache.clear();
        }
    }
}

impl Default for CheckEnv {
    fn default() -> Self {
        CheckEnv::with_resolver(Arc::new(SystemResolver))
    }
}

impl std::fmt::Debug for CheckEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckEnv").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifiers_are_cached_until_forgotten() {
        let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/test-ca.pem");
        let env = CheckEnv::default();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let a = env.verifier(Some(&ca), deadline).await.unwrap();
        let b = env.verifier(Some(&ca), deadline).await.unwrap();
        assert!(Arc::ptr_eq(&a, &b), "one verifier per CA file");
        env.clone().forget_verifiers();
        let c = env.verifier(Some(&ca), deadline).await.unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "a clone shares the cache, and forgetting reads the file again");
    }
}
