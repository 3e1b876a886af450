//! The HTTP side (SPEC §6): serves what was already measured and never
//! waits on an FTP server, except in `/probe`, which exists to do exactly
//! that on request.
//!
//! Its own limits (SPEC §9): a bounded number of connections, a deadline for
//! request headers (a slowloris client cannot hold a slot), a cap on a
//! connection's lifetime, and no request bodies read at all.

mod routes;
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
use tokio::sync::{watch, Semaphore};

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
}

/// The result of an on-demand check, as the store recorded it.
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

/// The HTTP side's own limits (SPEC §9).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Time a client gets to send a request's headers.
    pub header_read_timeout: Duration,
    /// Longest life of one connection: enough for a `/probe` of both modes
    /// with timeouts up to two minutes each (a longer one is cut off), short
    /// enough that idle keep-alive connections cannot pin every slot.
    pub max_connection_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
            max_connection_lifetime: Duration::from_secs(300),
        }
    }
}

/// Serves HTTP on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, state: Arc<HttpState>, mut stop: watch::Receiver<bool>) {
    let limits = state.limits;
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let slot = tokio::select! {
            _ = stopped(&mut stop) => return,
            s = slots.clone().acquire_owned() => s,
        };
        let Ok(slot) = slot else { return };
        let (stream, peer) = tokio::select! {
            _ = stopped(&mut stop) => return,
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
        let state = state.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let served =
                tokio::time::timeout(limits.max_connection_lifetime, serve_connection(stream, state)).await;
            if let Ok(Err(e)) = served {
                tracing::debug!(peer = %peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
}

/// Resolves once `stop` is true (or its sender is gone), holding no borrow of it.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn serve_connection(stream: tokio::net::TcpStream, state: Arc<HttpState>) -> Result<(), String> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.limits.header_read_timeout)
        .max_buf_size(64 * 1024);
    let svc_state = state.clone();
    let service = service_fn(move |req| {
        let state = svc_state.clone();
        async move { Ok::<_, std::convert::Infallible>(routes::handle(&state, req).await) }
    });
    match state.web.tls_acceptor() {
        Some(acceptor) => {
            let tls = tokio::time::timeout(state.limits.header_read_timeout, acceptor.accept(stream))
                .await
                .map_err(|_| "TLS handshake timed out".to_string())?
                .map_err(|e| format!("TLS handshake: {e}"))?;
            builder.serve_connection(TokioIo::new(tls), service).await.map_err(|e| e.to_string())
        }
        None => builder.serve_connection(TokioIo::new(stream), service).await.map_err(|e| e.to_string()),
    }
}
