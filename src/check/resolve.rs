//! Name resolution behind a trait, so tests can produce `dns_error` without
//! sending a DNS query anywhere.
//!
//! The system resolver is asynchronous (hickory-resolver, reading
//! `/etc/resolv.conf` and `/etc/hosts` as glibc does): a slow or dead DNS
//! server costs each check a pending future bounded by its deadline, never
//! a blocked thread, so thousands of targets against a dead resolver cannot
//! exhaust the blocking pool as `getaddrinfo` on `spawn_blocking` would.
//! IP literals never reach a resolver (the runner parses them first).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use hickory_resolver::config::{LookupIpStrategy, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::TokioResolver;

/// Why a name gave no address; the two cases an operator acts on differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The name does not exist (NXDOMAIN) or has no A/AAAA record: fix the target.
    NotFound(String),
    /// The resolver did not answer in time or could not be reached: fix DNS.
    Unavailable(String),
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::NotFound(why) => write!(f, "no such name ({why})"),
            LookupError::Unavailable(why) => write!(f, "resolver timed out or unreachable ({why})"),
        }
    }
}

/// The future a [`Resolver`] returns.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, LookupError>> + Send + 'a>>;

/// Resolves a host name to addresses (A and AAAA, in the resolver's order).
pub trait Resolver: Send + Sync + 'static {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a>;

    /// Re-reads the resolver's system files (a config reload is when
    /// operators expect a changed `/etc/hosts` to count). Default: nothing.
    fn refresh(&self) {}
}

/// The system's resolver configuration, through hickory-resolver.
///
/// Built on first use, on a blocking thread (it reads files), and again
/// after [`Resolver::refresh`]. Both families are asked for at once
/// (`Ipv4AndIpv6`): Happy Eyeballs needs every address.
#[derive(Default)]
pub struct SystemResolver {
    built: Mutex<Option<Arc<TokioResolver>>>,
    /// Replaces `/etc/resolv.conf` (tests point it at a loopback server).
    config: Option<(ResolverConfig, ResolverOpts)>,
}

impl SystemResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// A resolver with this configuration instead of `/etc/resolv.conf`'s,
    /// still reading `/etc/hosts` first and asking for both families.
    pub fn with_config(config: ResolverConfig, options: ResolverOpts) -> Self {
        SystemResolver { built: Mutex::default(), config: Some((config, options)) }
    }

    async fn get(&self) -> Result<Arc<TokioResolver>, LookupError> {
        if let Some(r) = self.built.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return Ok(r.clone());
        }
        let config = self.config.clone();
        let build = tokio::task::spawn_blocking(move || build(config));
        let resolver = match build.await {
            Ok(Ok(r)) => Arc::new(r),
            Ok(Err(e)) => return Err(LookupError::Unavailable(format!("cannot set up the resolver: {e}"))),
            Err(e) => return Err(LookupError::Unavailable(e.to_string())),
        };
        *self.built.lock().unwrap_or_else(|e| e.into_inner()) = Some(resolver.clone());
        Ok(resolver)
    }
}

fn build(config: Option<(ResolverConfig, ResolverOpts)>) -> Result<TokioResolver, NetError> {
    let mut builder = match config {
        Some((c, o)) => TokioResolver::builder_with_config(c, Default::default()).with_options(o),
        None => match TokioResolver::builder_tokio() {
            Ok(b) => b,
            // No (readable) /etc/resolv.conf, as in a bare chroot: /etc/hosts
            // still answers, and every other name is a dns_error that says why.
            Err(e) => {
                tracing::warn!(error = %e, "cannot read /etc/resolv.conf; resolving from /etc/hosts only");
                TokioResolver::builder_with_config(ResolverConfig::default(), Default::default())
            }
        },
    };
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    opts.use_hosts_file = ResolveHosts::Always;
    builder.build()
}

/// NXDOMAIN and "no records" say the name is wrong; everything else
/// (timeouts, refused or unreachable servers, garbage) says DNS is.
fn lookup_error(e: &NetError) -> LookupError {
    if e.is_nx_domain() {
        LookupError::NotFound("NXDOMAIN".into())
    } else if e.is_no_records_found() {
        LookupError::NotFound("no A or AAAA record".into())
    } else {
        LookupError::Unavailable(e.to_string())
    }
}

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a> {
        Box::pin(async move {
            let resolver = self.get().await?;
            let found = resolver.lookup_ip(host).await.map_err(|e| lookup_error(&e))?;
            Ok(found.iter().map(|ip| SocketAddr::new(ip, port)).collect())
        })
    }

    fn refresh(&self) {
        self.built.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

impl fmt::Debug for SystemResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemResolver").finish_non_exhaustive()
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

    /// Drops the cached verifiers so that CA files are read again, and has
    /// the resolver re-read its system files: a config reload is when
    /// operators expect a rotated `tls_ca_file` or a changed `/etc/hosts` to count.
    pub fn refresh(&self) {
        if let Ok(mut cache) = self.verifiers.lock() {
            cache.clear();
        }
        self.resolver.refresh();
    }
}

impl Default for CheckEnv {
    fn default() -> Self {
        CheckEnv::with_resolver(Arc::new(SystemResolver::new()))
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
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig};

    /// Asks only the DNS server at 127.0.0.1:`port` (UDP), after /etc/hosts.
    fn loopback_dns(port: u16) -> SystemResolver {
        let mut udp = ConnectionConfig::udp();
        udp.port = port;
        let server = NameServerConfig::new("127.0.0.1".parse().unwrap(), true, vec![udp]);
        let mut config = ResolverConfig::default();
        config.name_servers.push(server);
        let mut options = ResolverOpts::default();
        options.timeout = std::time::Duration::from_millis(300);
        options.attempts = 1;
        SystemResolver::with_config(config, options)
    }

    /// Answers every query with NXDOMAIN (RFC 1035 §4.1.1: RCODE 3), echoing its question.
    async fn nxdomain_server() -> u16 {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let q = &buf[..n];
                // The question: a name (labels up to a zero byte), then type and class.
                let mut end = 12;
                while end < n && q[end] != 0 {
                    end += 1 + q[end] as usize;
                }
                let end = (end + 5).min(n);
                let mut reply = q[..end].to_vec();
                reply[2] = 0x80 | (q[2] & 0x79); // QR, opcode and RD as asked
                reply[3] = 0x80 | 3; // RA, NXDOMAIN
                reply[6..12].fill(0); // no answer, authority or additional records
                let _ = socket.send_to(&reply, from).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn the_hosts_file_answers_without_a_dns_server() {
        // The DNS server is dead: localhost must come from /etc/hosts.
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let found = loopback_dns(port).resolve("localhost", 21).await.unwrap();
        assert!(found.iter().all(|a| a.ip().is_loopback() && a.port() == 21), "{found:?}");
        assert!(!found.is_empty());
    }

    #[tokio::test]
    async fn no_such_name_and_a_dead_resolver_are_told_apart() {
        let name = "no-such-name.ftp-exporter.test";
        let port = nxdomain_server().await;
        let err = loopback_dns(port).resolve(name, 21).await.unwrap_err();
        assert_eq!(err, LookupError::NotFound("NXDOMAIN".into()));
        assert_eq!(err.to_string(), "no such name (NXDOMAIN)");

        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let dead = loopback_dns(port);
        let t = std::time::Instant::now();
        let err = tokio::time::timeout(std::time::Duration::from_secs(30), dead.resolve(name, 21))
            .await
            .expect("hickory gives up by itself")
            .unwrap_err();
        assert!(matches!(err, LookupError::Unavailable(_)), "{err:?} after {:?}", t.elapsed());
        assert!(err.to_string().starts_with("resolver timed out or unreachable"), "{err}");
    }

    #[tokio::test]
    async fn verifiers_are_cached_until_forgotten() {
        let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/test-ca.pem");
        let env = CheckEnv::default();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let a = env.verifier(Some(&ca), deadline).await.unwrap();
        let b = env.verifier(Some(&ca), deadline).await.unwrap();
        assert!(Arc::ptr_eq(&a, &b), "one verifier per CA file");
        env.clone().refresh();
        let c = env.verifier(Some(&ca), deadline).await.unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "a clone shares the cache, and forgetting reads the file again");
    }
}
