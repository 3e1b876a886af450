//! The HTTP side (docs/http.md): serves what was already measured and never
//! waits on an FTP server, except in `/probe`, which exists to do exactly
//! that on request.
//!
//! Its own limits (docs/security.md, [`Limits`]): a bounded number of connections
//! where idle ones give way to new ones (`conns`), a deadline and a size cap
//! for request heads, a cap on request bodies and on a connection's
//! lifetime; every request then passes `guard` (body, auth, query).

mod auth;
mod conns;
mod guard;
mod query;
mod routes;
mod tls;
pub mod web_config;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::check::Mode;
use crate::config::Target;
use crate::metrics::Collector;
use crate::scheduler::ProbeRefused;
use crate::store::{Recorded, Store};

pub use web_config::WebConfig;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the HTTP side asks of the rest of the exporter, beyond reading
/// the store: reloading, and checking a target on demand.
pub trait Backend: Send + Sync + 'static {
    /// Reloads the configuration; `Err` carries the message for the operator (file:line: key: …).
    fn reload(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Checks a configured target now, in `mode` or all of its modes,
    /// ending within `budget`. Dropping the future (the client went away)
    /// cancels the check.
    fn probe<'a>(
        &'a self,
        target: &'a str,
        mode: Option<Mode>,
        budget: Option<Duration>,
    ) -> BoxFuture<'a, Result<Probed, ProbeRefused>>;
    /// Checks `target` (`host[:port]`, not configured) with `module`'s
    /// settings, if its allow list lets it; as [`Backend::probe`] otherwise.
    fn probe_module<'a>(
        &'a self,
        module: &'a str,
        target: &'a str,
        mode: Option<Mode>,
        budget: Option<Duration>,
    ) -> BoxFuture<'a, Result<Probed, ProbeRefused>>;
}

/// The result of an on-demand check, as the store recorded it (a
/// module's target: as the store would have; it keeps nothing of it).
pub struct Probed {
    pub target: Arc<Target>,
    pub recorded: Vec<Recorded>,
    /// The target's diagnosis after the probe (its other modes' last
    /// results included).
    pub diagnosis: Option<Arc<str>>,
}

/// Everything a request handler may read.
pub struct HttpState {
    pub store: Arc<Store>,
    pub collector: Arc<Collector>,
    pub backend: Arc<dyn Backend>,
    pub telemetry_path: String,
    /// Set once a configuration is loaded (`/-/ready`).
    pub ready: AtomicBool,
    pub web: WebConfig,
    pub limits: Limits,
    /// Subtracted from `X-Prometheus-Scrape-Timeout-Seconds` so that a
    /// probe's answer arrives inside the scrape (blackbox's `--timeout-offset`).
    pub probe_timeout_offset: Duration,
}

/// The HTTP side's own limits (docs/security.md), each a `--web.*` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once (`--web.max-connections`). When all are
    /// taken, a new one evicts the oldest that is not serving a request;
    /// only when every one is serving does it wait in the accept queue.
    pub max_connections: usize,
    /// Time a client gets to send a request's head, and again its body
    /// (`--web.header-read-timeout`); an idle keep-alive connection is cut
    /// after it too. TLS handshakes get the same time.
    pub header_read_timeout: Duration,
    /// Longest request head, request line included (`--web.max-header-bytes`);
    /// larger ones get 431.
    pub max_header_bytes: usize,
    /// Longest request body (`--web.max-request-body-bytes`); no endpoint
    /// reads one, larger ones get 413.
    pub max_request_body_bytes: u64,
    /// Longest life of one connection (`--web.max-connection-lifetime`):
    /// enough for a `/probe` of both modes with timeouts up to two minutes
    /// each (a longer one is cut off).
    pub max_connection_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_request_body_bytes: 4096,
            max_connection_lifetime: Duration::from_secs(300),
        }
    }
}

/// Accept queue of the HTTP listener. std and mio use 128: a burst of more
/// connections than that (a slowloris opening hundreds at once) overflows
/// it, the kernel drops the SYNs, and a scrape caught in the burst waits a
/// whole SYN retransmission (1 s) before it is even accepted.
const BACKLOG: u32 = 1024;

/// Binds `address` (`host:port`, `[v6]:port`) for [`serve`], with a [`BACKLOG`] accept queue.
pub async fn listen(address: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(address).await? {
        let socket =
            if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() };
        let bound = socket.and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(addr)?;
            s.listen(BACKLOG)
        });
        match bound {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other(format!("{address}: no address to listen on"))))
}

/// Serves HTTP on `listener` until `stop` turns true, then stops accepting,
/// asks every connection to finish its request in flight and close (idle
/// keep-alive connections close at once), and waits for them — at most
/// `drain` — as tokio's mini-redis does: a scrape or a probe answered
/// during shutdown is answered whole, not cut.
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let limits = state.limits;
    let conns = conns::Conns::new(limits.max_connections);
    let tasks = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stopped(&mut stop) => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let slot = tokio::select! {
            _ = stopped(&mut stop) => break,
            s = conns.admit() => s,
        };
        let state = state.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            let served = tokio::select! {
                s = tokio::time::timeout(limits.max_connection_lifetime, serve_connection(stream, state, &slot, stop)) => s,
                _ = slot.evict.notified() => {
                    tracing::debug!(peer = %peer, "HTTP connection evicted: idle while all slots were taken");
                    return;
                }
            };
            if let Ok(Err(e)) = served {
                tracing::debug!(peer = %peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    tasks.close();
    if tokio::time::timeout(drain, tasks.wait()).await.is_err() {
        tracing::warn!(open = tasks.len(), "HTTP connections still open at shutdown are dropped");
    }
}

/// Resolves once `stop` is true (or its sender is gone), holding no borrow of it.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    state: Arc<HttpState>,
    slot: &conns::Slot,
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.limits.header_read_timeout)
        .max_header_size(state.limits.max_header_bytes)
        .max_buf_size((state.limits.max_header_bytes + 1024).max(64 * 1024));
    let svc_state = state.clone();
    let busy = slot.busy.clone();
    let service = service_fn(move |req| {
        let state = svc_state.clone();
        // Busy from the request head until the response is written.
        let mark = conns::Busy::new(&busy);
        async move {
            let response = routes::handle(&state, req).await;
            Ok::<_, std::convert::Infallible>(response.map(|body| conns::Tracked::new(body, mark)))
        }
    });
    match state.web.tls_acceptor() {
        Some(acceptor) => {
            let tls = tokio::time::timeout(state.limits.header_read_timeout, acceptor.accept(stream))
                .await
                .map_err(|_| "TLS handshake timed out".to_string())?
                .map_err(|e| format!("TLS handshake: {e}"))?;
            until_stopped(builder.serve_connection(TokioIo::new(tls), service), stop).await
        }
        None => until_stopped(builder.serve_connection(TokioIo::new(stream), service), stop).await,
    }
}

/// Drives one connection; once `stop` turns true it finishes the request
/// in flight, then closes (hyper's graceful shutdown).
async fn until_stopped<I, S>(
    conn: http1::Connection<I, S>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => return r.map_err(|e| e.to_string()),
        _ = stopped(&mut stop) => {}
    }
    conn.as_mut().graceful_shutdown();
    conn.await.map_err(|e| e.to_string())
}
