//! The exporter as one running thing: configuration loaded into the store,
//! the scheduler checking what the store holds, HTTP serving it, reloadable.
//!
//! `main` and the integration tests both start it here, so the tests
//! exercise exactly the wiring users run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::check::{self, CheckEnv, CheckPlan, Mode, Resolver};
use crate::config::{Config, Module, Policy, LOAD_TIMEOUT};
use crate::http::{self, Backend, BoxFuture, HttpState, Limits, Probed, WebConfig};
use crate::metrics::Collector;
use crate::scheduler::{CheckFn, ProbeRefused, Scheduler};
use crate::shard::Shard;
use crate::store::{Store, StoreOptions};

/// How to start the exporter.
pub struct AppOptions {
    pub config_file: PathBuf,
    /// What every load of the file must satisfy (`--config.require-tls`).
    pub policy: Policy,
    /// `host:port`, `:port` (all interfaces) or `[v6]:port`.
    pub listen_address: String,
    pub telemetry_path: String,
    pub web: WebConfig,
    /// Scheduled checks at once.
    pub max_concurrency: usize,
    /// `/probe` checks at once.
    pub max_probes: usize,
    /// Subtracted from the scraper's timeout for `/probe`.
    pub probe_timeout_offset: Duration,
    pub http_limits: Limits,
    pub store: StoreOptions,
    /// How long running checks (and HTTP requests in flight) get to finish
    /// when the exporter stops.
    pub shutdown_grace: Duration,
    /// The check to run; `None`: the real one ([`check::run`] with `resolver`).
    pub check: Option<CheckFn>,
    /// Check only this shard's targets (`--shard.count`, `--shard.index`).
    pub shard: Option<Shard>,
    /// The resolver of the real check and of module probes' allow-list
    /// checks; `None`: the system's.
    pub resolver: Option<Arc<dyn Resolver>>,
}

impl AppOptions {
    pub fn new(config_file: impl Into<PathBuf>) -> Self {
        AppOptions {
            config_file: config_file.into(),
            policy: Policy::default(),
            listen_address: ":9612".into(),
            telemetry_path: "/metrics".into(),
            web: WebConfig::default(),
            max_concurrency: 64,
            max_probes: 8,
            probe_timeout_offset: Duration::from_millis(500),
            http_limits: Limits::default(),
            store: StoreOptions::default(),
            shutdown_grace: Duration::from_secs(10),
            check: None,
            shard: None,
            resolver: None,
        }
    }
}

/// HTTP connections get this much longer than checks at shutdown: a probe
/// in flight is answered after its check is cancelled.
const HTTP_DRAIN_SLACK: Duration = Duration::from_secs(2);

/// The real check: what production runs. A cancelled check stops its
/// phase, deletes a probe file it owes and says QUIT (within 1 s) before
/// its outcome, which the caller discards, is returned.
pub fn real_check(env: CheckEnv) -> CheckFn {
    Arc::new(move |plan: CheckPlan, cancel: CancellationToken| {
        let env = env.clone();
        Box::pin(async move { check::run_cancellable(&plan, &env, cancel).await })
    })
}

struct Inner {
    config_file: PathBuf,
    policy: Policy,
    store: Arc<Store>,
    /// The loaded configuration's modules, by name (templates, not targets:
    /// the store never holds what they probe).
    modules: RwLock<Arc<BTreeMap<String, Arc<Module>>>>,
    scheduler: Scheduler,
    /// Shared with the running checks; its CA cache is dropped on every (re)load.
    env: CheckEnv,
    /// One reload at a time, from reading the file to installing it: a
    /// SIGHUP racing a `POST /-/reload` must not install the older read last.
    reloading: tokio::sync::Mutex<()>,
    shard: Option<Shard>,
}

pub struct App {
    inner: Arc<Inner>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
}

/// Binds `:9612`-style addresses: an empty host means every interface,
/// IPv6 too where the machine has it.
async fn bind(address: &str) -> std::io::Result<TcpListener> {
    match address.strip_prefix(':') {
        Some(port) => match http::listen(&format!("[::]:{port}")).await {
            Ok(l) => Ok(l),
            Err(_) => http::listen(&format!("0.0.0.0:{port}")).await,
        },
        None => http::listen(address).await,
    }
}

impl App {
    /// Binds and serves HTTP, loads the configuration (an invalid one is an
    /// error: nothing is checked and the server stops again), then starts
    /// checking. While the file loads (password files and CA bundles may sit
    /// on slow mounts; the load has a deadline) `/-/healthy` answers and
    /// `/-/ready` says 503.
    pub async fn start(opts: AppOptions) -> Result<App, String> {
        let store = Store::new(opts.store, crate::store::diagnose);
        let env = opts.resolver.map(CheckEnv::with_resolver).unwrap_or_default();
        let check = opts.check.unwrap_or_else(|| real_check(env.clone()));
        let scheduler = Scheduler::new(store.clone(), check, opts.max_concurrency, opts.max_probes);
        let inner = Arc::new(Inner {
            config_file: opts.config_file,
            policy: opts.policy,
            store: store.clone(),
            modules: RwLock::default(),
            scheduler,
            env,
            reloading: tokio::sync::Mutex::new(()),
            shard: opts.shard,
        });
        store.exporter().set_shard(opts.shard);
        // Bind first: an exporter that cannot serve must not start checking.
        let listener = bind(&opts.listen_address)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", opts.listen_address))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let state = Arc::new(HttpState {
            store,
            collector: Arc::new(Collector::default()),
            backend: inner.clone(),
            telemetry_path: opts.telemetry_path,
            ready: AtomicBool::new(false),
            web: opts.web,
            limits: opts.http_limits,
            probe_timeout_offset: opts.probe_timeout_offset,
        });
        let (stop, stop_rx) = watch::channel(false);
        let http = tokio::spawn(http::serve(
            listener,
            state.clone(),
            stop_rx,
            opts.shutdown_grace + HTTP_DRAIN_SLACK,
        ));
        tracing::info!(address = %addr, "listening");
        let app = App { inner, addr, stop, http };
        match Config::load_off_runtime(&app.inner.config_file, LOAD_TIMEOUT, app.inner.policy).await {
            Ok(config) => {
                app.inner.install(config);
                state.ready.store(true, Ordering::Release);
                Ok(app)
            }
            Err(e) => {
                let _ = app.stop.send(true);
                let _ = app.http.await;
                Err(e.to_string())
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// Reloads the configuration file (SIGHUP, `POST /-/reload`).
    pub async fn reload(&self) -> Result<(), String> {
        self.inner.reload().await
    }

    /// Graceful stop (SIGTERM): no new HTTP connection and no new check;
    /// requests in flight are answered and running checks get `grace` to
    /// finish (and are recorded), then are cancelled (QUIT sent); HTTP
    /// connections are awaited as long.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let http = self.http;
        let scheduler = self.inner.scheduler.shutdown(grace);
        let (_, ()) = tokio::join!(http, scheduler);
    }
}

impl Inner {
    /// Installs a loaded configuration: the store takes the new target set
    /// as a whole, the scheduler starts what is new or changed. At start and
    /// on every reload, so a sharded exporter keeps only its own targets
    /// whatever the file says.
    fn install(&self, mut config: Config) {
        let configured = config.targets.len();
        if let Some(shard) = &self.shard {
            config.targets.retain(|t| shard.owns(&t.name));
        }
        let n = config.targets.len();
        let modules: BTreeMap<String, Arc<Module>> =
            config.modules.into_iter().map(|m| (m.name.clone(), Arc::new(m))).collect();
        let m = modules.len();
        self.env.refresh();
        let started = self.store.apply(config.targets, &config.metrics.duration_buckets);
        *self.modules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(modules);
        self.scheduler.start(started);
        self.store.exporter().config_loaded(true);
        match &self.shard {
            None => {
                tracing::info!(file = %self.config_file.display(), targets = n, modules = m, "configuration loaded")
            }
            Some(s) => tracing::info!(
                file = %self.config_file.display(),
                targets = n,
                configured,
                modules = m,
                shard = s.index,
                shards = s.count,
                "configuration loaded; checking this shard's targets"
            ),
        }
    }

    async fn reload(&self) -> Result<(), String> {
        let _one_at_a_time = self.reloading.lock().await;
        match Config::load_off_runtime(&self.config_file, LOAD_TIMEOUT, self.policy).await {
            Ok(config) => {
                self.install(config);
                Ok(())
            }
            Err(e) => {
                self.store.exporter().config_loaded(false);
                tracing::error!(error = %e, "reload failed; keeping the running configuration");
                Err(e.to_string())
            }
        }
    }
}

impl Backend for Inner {
    fn reload(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(Inner::reload(self))
    }

    fn probe<'a>(
        &'a self,
        target: &'a str,
        mode: Option<Mode>,
        budget: Option<Duration>,
    ) -> BoxFuture<'a, Result<Probed, ProbeRefused>> {
        Box::pin(async move {
            let modes: Vec<Mode> = mode.into_iter().collect();
            let probe = self.scheduler.probe(target, &modes, budget)?;
            let entry = probe.subject.clone();
            let recorded = probe.finish().await?;
            // Recorded through the store: its diagnosis already compares
            // the probed modes with the other modes' last results.
            let diagnosis = entry.results().diagnosis.clone();
            Ok(Probed { target: entry.target.clone(), recorded, diagnosis })
        })
    }

    fn probe_module<'a>(
        &'a self,
        module: &'a str,
        target: &'a str,
        mode: Option<Mode>,
        budget: Option<Duration>,
    ) -> BoxFuture<'a, Result<Probed, ProbeRefused>> {
        Box::pin(async move {
            let found = self.modules.read().unwrap_or_else(|e| e.into_inner()).get(module).cloned();
            let module = found.ok_or(ProbeRefused::UnknownModule)?;
            let modes: Vec<Mode> = mode.into_iter().collect();
            let resolver = self.env.resolver.clone();
            let probe = self.scheduler.probe_module(module, target, &modes, budget, resolver)?;
            let target = probe.subject.clone();
            let recorded = probe.finish().await?;
            let outcomes: Vec<&check::Outcome> = recorded.iter().map(|r| &*r.outcome).collect();
            let diagnosis = crate::store::diagnose(&outcomes).map(Arc::from);
            Ok(Probed { target, recorded, diagnosis })
        })
    }
}
