//! A scripted FTP server that misbehaves on purpose.
//!
//! Real FTP servers cannot be told to send a malformed 227, reset the
//! connection after `USER` or connect back from the wrong address, yet those
//! are exactly the failures docs/failures.md must name. This server is a minimal,
//! correct FTP server (RFC 959, with RFC 2428 `EPSV`/`EPRT`) over an
//! in-memory file map until a [`Script`] injects one fault.
//!
//! It listens on loopback only, serves any number of connections at once,
//! and stops when the [`FaultServer`] is dropped (every task is aborted).
//! A flapping server ([`FaultServer::start_rotating`]) gives each new
//! connection the next script of a list, and can be given another list
//! while it runs; every session's lifetime is recorded.

mod banner;
mod data;
mod session;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// What the server sends when a client connects.
#[derive(Debug, Clone, Default)]
pub enum Banner {
    /// `220 fault server ready`.
    #[default]
    Ready,
    /// Accept the connection and never send a byte (a hung server, a tarpit).
    Silent,
    /// The normal greeting, one byte at a time with this pause per byte:
    /// slow but valid, so a reader that expects whole lines per read breaks.
    ByteByByte(Duration),
    /// An HTTP error response, as from a web server listening on port 21.
    Http,
    /// `220 ` and this many bytes without a line end, streamed, never built in memory.
    HugeLine(usize),
    /// `220-` continuation lines forever (streamed in small batches with a pause).
    EndlessMultiline,
    /// Send this reply (e.g. `421 Too many users`) and close, as a full server does.
    ReplyAndClose(String),
    /// Send this greeting (CRLF added), then serve as usual: a hostile
    /// server's markup, quotes and control characters in its banner.
    Text(String),
}

/// How the server answers one command verb, instead of its default behaviour.
#[derive(Debug, Clone)]
pub enum Reaction {
    /// Reply with this text (CRLF is added; embed `\r\n` for multi-line replies).
    Reply(String),
    /// Reply with this text after a pause: a slow server, or a failure that
    /// arrives just before the client's deadline.
    ReplyAfter(Duration, String),
    /// Close the control connection (FIN) without replying.
    Close,
    /// Reset the control connection (SO_LINGER 0, then drop: a TCP RST).
    Reset,
    /// Never reply; from then on every command is read, recorded and ignored.
    Never,
}

/// The answer to `FEAT` (RFC 2389).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Feat {
    /// `211-` listing EPRT, EPSV, SIZE and UTF8.
    #[default]
    Full,
    /// The same without EPSV, as old servers (and some firewalls) do.
    WithoutEpsv,
    /// `502`: FEAT itself is unknown (pre-RFC 2389 servers).
    Rejected,
}

/// Misbehaviour of the `PASV` reply.
#[derive(Debug, Clone)]
pub enum PasvFault {
    /// Send this text instead of a well-formed 227.
    Malformed(String),
    /// Advertise this address while listening on the control connection's
    /// address only: a server behind NAT that announces its private address.
    Advertise(Ipv4Addr),
    /// Advertise a port where nothing listens.
    ClosedPort,
}

/// Misbehaviour of the `EPSV` reply.
#[derive(Debug, Clone)]
pub enum EpsvFault {
    /// Send this text instead of a well-formed 229.
    Malformed(String),
    /// Advertise a port where nothing listens.
    ClosedPort,
}

/// Misbehaviour of the server's side of an active-mode (`PORT`/`EPRT`) transfer.
#[derive(Debug, Clone)]
pub enum ActiveFault {
    /// Never connect back and never reply: a firewall drops the connection
    /// back to the client (the seed's "login works but ls hangs").
    NeverConnect,
    /// Reply `425 Can't open data connection` instead of connecting.
    Refuse,
    /// Connect back from this source address (bound before connecting), so
    /// the client sees a data connection from an unexpected peer.
    FromSource(IpAddr),
}

/// Misbehaviour of a transfer (`LIST`, `NLST`, `RETR`, `STOR`).
#[derive(Debug, Clone)]
pub enum TransferFault {
    /// Open the data connection, send 150, then nothing: no data, no final reply.
    SilentAfter150,
    /// Send 150, this many bytes, close the data connection, then
    /// `426 Connection closed; transfer aborted`.
    AbortAfter(usize),
    /// The same, but the data connection is reset (RST), not closed.
    ResetAfter(usize),
    /// `550 No such file`, before any data connection.
    Unavailable,
    /// `RETR` serves bytes other than those stored (same length).
    Corrupt,
    /// Send data in chunks of `chunk` bytes with `delay` between them.
    Slow { chunk: usize, delay: Duration },
    /// Send listing lines forever (until the client closes), whatever the
    /// command: a runaway LIST or RETR that only a size bound stops.
    Endless,
}

/// What one fault server does: default behaviour plus at most a few faults.
#[derive(Debug, Clone, Default)]
pub struct Script {
    banner: Banner,
    credentials: Option<(String, String)>,
    feat: Feat,
    reactions: HashMap<String, Reaction>,
    pasv: Option<PasvFault>,
    epsv: Option<EpsvFault>,
    active: Option<ActiveFault>,
    transfer: Option<TransferFault>,
    files: BTreeMap<String, Vec<u8>>,
    delays: Delays,
}

/// Pauses of a slow but correct server, one per place a phase can wait on
/// it: what the per-phase timing tests measure the runner against.
#[derive(Debug, Clone, Default)]
struct Delays {
    banner: std::time::Duration,
    /// Before answering a verb (upper case), after it was read.
    verbs: HashMap<String, std::time::Duration>,
    /// Active mode: before connecting back.
    connect_back: std::time::Duration,
    /// After a download's bytes were sent, before the data connection closes.
    data_end: std::time::Duration,
}

impl Script {
    /// A correct server: any user and password log in, no files.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn banner(mut self, banner: Banner) -> Self {
        self.banner = banner;
        self
    }

    /// Accept only this user and password; anything else gets 530.
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.to_string(), password.to_string()));
        self
    }

    pub fn feat(mut self, feat: Feat) -> Self {
        self.feat = feat;
        self
    }

    /// Answer `verb` (any case) with `reaction` instead of the default.
    pub fn on(mut self, verb: &str, reaction: Reaction) -> Self {
        self.reactions.insert(verb.to_ascii_uppercase(), reaction);
        self
    }

    pub fn pasv(mut self, fault: PasvFault) -> Self {
        self.pasv = Some(fault);
        self
    }

    pub fn epsv(mut self, fault: EpsvFault) -> Self {
        self.epsv = Some(fault);
        self
    }

    pub fn active(mut self, fault: ActiveFault) -> Self {
        self.active = Some(fault);
        self
    }

    pub fn transfer(mut self, fault: TransferFault) -> Self {
        self.transfer = Some(fault);
        self
    }

    /// Waits `pause` after accepting a connection before the greeting.
    pub fn banner_delay(mut self, pause: Duration) -> Self {
        self.delays.banner = pause;
        self
    }

    /// Waits `pause` before answering `verb`, then answers as usual (or as
    /// a reaction says): a slow but correct server.
    pub fn delay(mut self, verb: &str, pause: Duration) -> Self {
        self.delays.verbs.insert(verb.to_ascii_uppercase(), pause);
        self
    }

    /// Active mode: waits `pause` before connecting back to the client.
    pub fn connect_back_delay(mut self, pause: Duration) -> Self {
        self.delays.connect_back = pause;
        self
    }

    /// Downloads (LIST, RETR): waits `pause` after the last byte before
    /// closing the data connection and sending 226.
    pub fn data_end_delay(mut self, pause: Duration) -> Self {
        self.delays.data_end = pause;
        self
    }

    /// A file in the in-memory tree; `path` is absolute (`/health/ok.txt`).
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.to_string(), content.into());
        self
    }
}

/// State shared by every session of one server.
struct Shared {
    /// The scripts new connections take in turn.
    rotation: Mutex<Vec<Arc<Script>>>,
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    commands: Mutex<Vec<String>>,
    connections: AtomicUsize,
    /// How long each finished session lasted, from accept to its end.
    lifetimes: Mutex<Vec<Duration>>,
}

impl Shared {
    /// Records a command line, masking the argument of PASS and ACCT.
    fn record(&self, line: &str) {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let kept = if (verb == "PASS" || verb == "ACCT") && line.len() > 4 {
            format!("{} ****", &line[..4])
        } else {
            line.to_string()
        };
        self.commands.lock().unwrap().push(kept);
    }
}

/// A running fault server; dropping it stops it.
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FaultServer {
    /// Starts a server on 127.0.0.1 (a free port).
    pub async fn start(script: Script) -> FaultServer {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), script).await
    }

    /// Starts a server on [::1] (a free port), for EPRT/EPSV over IPv6.
    pub async fn start_v6(script: Script) -> FaultServer {
        Self::start_on(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)), script).await
    }

    async fn start_on(bind: SocketAddr, script: Script) -> FaultServer {
        Self::start_rotating_on(bind, vec![script]).await
    }

    /// Starts a flapping server on 127.0.0.1: connection n gets
    /// `scripts[n % len]`. The files are the first script's.
    pub async fn start_rotating(scripts: Vec<Script>) -> FaultServer {
        Self::start_rotating_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), scripts).await
    }

    async fn start_rotating_on(bind: SocketAddr, scripts: Vec<Script>) -> FaultServer {
        assert!(!scripts.is_empty(), "fault server: at least one script");
        let listener = TcpListener::bind(bind).await.expect("fault server: bind the control listener");
        let addr = listener.local_addr().expect("fault server: local address");
        let files = Mutex::new(scripts[0].files.clone());
        let shared = Arc::new(Shared {
            rotation: Mutex::new(scripts.into_iter().map(Arc::new).collect()),
            files,
            commands: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            lifetimes: Mutex::default(),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        FaultServer { addr, shared, task }
    }

    /// From now on, new connections take these scripts in turn (the files stay).
    pub fn set_rotation(&self, scripts: Vec<Script>) {
        assert!(!scripts.is_empty(), "fault server: at least one script");
        *self.shared.rotation.lock().unwrap() = scripts.into_iter().map(Arc::new).collect();
    }

    /// How long each finished session lasted, in the order they ended.
    pub fn lifetimes(&self) -> Vec<Duration> {
        self.shared.lifetimes.lock().unwrap().clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The IP literal to put in a plan's `host` (no brackets).
    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    /// Every command line received, over all connections, in arrival order
    /// (`PASS ****`).
    pub fn commands(&self) -> Vec<String> {
        self.shared.commands.lock().unwrap().clone()
    }

    /// The upper-cased verbs of [`FaultServer::commands`].
    pub fn verbs(&self) -> Vec<String> {
        self.commands().iter().map(|c| c.split(' ').next().unwrap_or("").to_ascii_uppercase()).collect()
    }

    /// Whether a command with this verb arrived.
    pub fn received(&self, verb: &str) -> bool {
        self.verbs().iter().any(|v| v.eq_ignore_ascii_case(verb))
    }

    /// The current content of a file (after STOR/DELE).
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.shared.files.lock().unwrap().get(path).cloned()
    }

    /// How many control connections were accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every session.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let n = shared.connections.fetch_add(1, Ordering::SeqCst);
                let script = {
                    let rotation = shared.rotation.lock().unwrap();
                    rotation[n % rotation.len()].clone()
                };
                let shared = shared.clone();
                sessions.spawn(async move {
                    let accepted = Instant::now();
                    session::run(stream, shared.clone(), script).await;
                    shared.lifetimes.lock().unwrap().push(accepted.elapsed());
                });
            }
            // Out of file descriptors and the like: back off rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
        while sessions.try_join_next().is_some() {}
    }
}
