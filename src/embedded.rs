//! A real FTP server in-process (libunftp over a directory), for the
//! `demo` command and for tests: a newcomer sees both modes checked without
//! installing an FTP server, and tests need no system package.
//!
//! libunftp's `listen()` never reports the port it bound, so we accept
//! connections ourselves on a listener whose address we know and hand each
//! one to `Server::service`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use libunftp::options::{ActivePassiveMode, PassiveHost};
use libunftp::ServerBuilder;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal};
use unftp_sbe_fs::Filesystem;

use crate::secret::Secret;

/// Accepts one user with one password.
#[derive(Debug)]
struct OneUser {
    username: String,
    password: Secret,
}

#[async_trait]
impl Authenticator for OneUser {
    async fn authenticate(
        &self,
        username: &str,
        creds: &Credentials,
    ) -> Result<Principal, AuthenticationError> {
        if username != self.username {
            return Err(AuthenticationError::BadUser);
        }
        match &creds.password {
            Some(p) if p == self.password.expose() => Ok(Principal { username: username.to_string() }),
            _ => Err(AuthenticationError::BadPassword),
        }
    }
}

/// Options of an embedded server.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub root: PathBuf,
    pub username: String,
    pub password: Secret,
    /// Address to listen on (port 0: any).
    pub bind: SocketAddr,
    /// Advertise this address in 227 instead of the connection's own (to simulate NAT).
    pub passive_host: Option<std::net::Ipv4Addr>,
    /// Certificate chain and key (PEM) to offer explicit FTPS (AUTH TLS).
    pub ftps: Option<(PathBuf, PathBuf)>,
}

impl EmbeddedOptions {
    pub fn new(root: &Path, username: &str, password: &str) -> Self {
        EmbeddedOptions {
            root: root.to_path_buf(),
            username: username.into(),
            password: Secret::new(password),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            passive_host: None,
            ftps: None,
        }
    }
}

/// A running embedded server; stops when dropped.
pub struct EmbeddedServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl EmbeddedServer {
    pub async fn start(opts: EmbeddedOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind(opts.bind).await?;
        let addr = listener.local_addr()?;
        // Validate the root now so a bad path is an error here, not a failing session later.
        Filesystem::new(&opts.root)?;
        let opts = Arc::new(opts);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let opts = opts.clone();
                tokio::spawn(async move {
                    if let Ok(server) = build(&opts) {
                        let _ = server.service(stream).await;
                    }
                });
            }
        });
        Ok(EmbeddedServer { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn build(
    opts: &EmbeddedOptions,
) -> Result<libunftp::Server<Filesystem, unftp_core::auth::DefaultUser>, libunftp::ServerError> {
    let root = opts.root.clone();
    let auth = Arc::new(OneUser { username: opts.username.clone(), password: opts.password.clone() });
    let passive_host = match opts.passive_host {
        Some(ip) => PassiveHost::Ip(ip),
        None => PassiveHost::FromConnection,
    };
    // libunftp's generator cannot fail. The root was opened once in `start`;
    // should it vanish later, the panic stays inside this one session's task.
    let storage = Box::new(move || Filesystem::new(&root).expect("embedded server root directory vanished"));
    let mut builder = ServerBuilder::with_authenticator(storage, auth)
        .greeting("ftp_exporter embedded server (libunftp)")
        .passive_host(passive_host)
        .active_passive_mode(ActivePassiveMode::ActiveAndPassive);
    if let Some((cert, key)) = &opts.ftps {
        builder = builder.ftps(cert.clone(), key.clone());
    }
    builder.build()
}
