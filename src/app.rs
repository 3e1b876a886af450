//! The exporter as one running thing: config loaded into the scheduler,
//! results recorded into metrics and status, served over HTTP, reloadable.
//!
//! `main` and the integration tests both start it here, so the tests
//! exercise exactly the wiring users run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::check::{self, CheckEnv, CheckPlan, Mode, Outcome};
use crate::config::{Config, Target};
use crate::http::{self, Backend, BoxFuture, HttpState, Limits, Probed, WebConfig};
use crate::metrics::{Metrics, TargetInfo};
use crate::scheduler::{CheckFn, ProbeRefused, Schedulable, Scheduler};
use crate::shard::Shard;
use crate::status::Status;

impl Schedulable for Target {
    fn name(&self) -> &str {
        &self.name
    }
    fn interval(&self) -> Duration {
        self.interval
    }
    fn modes(&self) -> Vec<Mode> {
        self.modes.clone()
    }
    fn plan(&self, mode: Mode) -> CheckPlan {
        Target::plan(self, mode)
    }
    fn info(&self) -> TargetInfo {
        TargetInfo {
            name: self.name.clone(),
            address: self.address.clone(),
            tls: self.tls,
            labels: self.labels.clone(),
        }
    }
}

/// How to start the exporter.
pub struct AppOptions {
    pub config_file: PathBuf,
    /// `host:port`, `:port` (all interfaces) or `[v6]:port`.
    pub listen_address: String,
    pub telemetry_path: String,
    pub web: WebConfig,
    pub max_concurrency: usize,
    pub http_limits: Limits,
    /// The check to run; `None`: the real one ([`check::run`] with the system resolver).
    pub check: Option<CheckFn>,
    /// Check only this shard's targets (`--shard.count`, `--shard.index`).
    pub shard: Option<Shard>,
}

impl AppOptions {
    pub fn new(config_file: impl Into<PathBuf>) -> Self {
        AppOptions {
            config_file: config_file.into(),
            listen_address: ":9612".into(),
            telemetry_path: "/metrics".into(),
            web: WebConfig::default(),
            max_concurrency: 64,
            http_limits: Limits::default(),
            check: None,
            shard: None,
        }
    }
}

/// The real check: what production runs.
pub fn real_check(env: CheckEnv) -> CheckFn {
    Arc::new(move |plan: CheckPlan| {
        let env = env.clone();
        Box::pin(async move { check::run(&plan, &env).await })
    })
}

fn diagnose(outcomes: &[&Outcome]) -> Option<String> {
    check::diagnose(outcomes).map(|d| d.summary)
}

struct Inner {
    config_file: PathBuf,
    scheduler: tokio::sync::Mutex<Scheduler<Target>>,
    metrics: Arc<Metrics>,
    status: Arc<Status>,
    buckets: Mutex<Vec<f64>>,
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
        Some(port) => match TcpListener::bind(format!("[::]:{port}")).await {
            Ok(l) => Ok(l),
            Err(_) => TcpListener::bind(format!("0.0.0.0:{port}")).await,
        },
        None => TcpListener::bind(address).await,
    }
}

impl App {
    /// Loads the configuration (an invalid one is an error: nothing starts),
    /// starts the scheduler and serves HTTP.
    pub async fn start(opts: AppOptions) -> Result<App, String> {
        let config = Config::load(&opts.config_file).map_err(|e| e.to_string())?;
        let metrics = Metrics::new(&config.metrics.duration_buckets).map_err(|e| e.to_string())?;
        let status = Status::new(diagnose);
        let env = CheckEnv::default();
        let check = opts.check.unwrap_or_else(|| real_check(env.clone()));
        let scheduler = Scheduler::new(metrics.clone(), status.clone(), check, opts.max_concurrency);
        let inner = Arc::new(Inner {
            config_file: opts.config_file,
            scheduler: tokio::sync::Mutex::new(scheduler),
            metrics: metrics.clone(),
            status: status.clone(),
            buckets: Mutex::new(config.metrics.duration_buckets.clone()),
            env,
            reloading: tokio::sync::Mutex::new(()),
            shard: opts.shard,
        });
        if let Some(s) = opts.shard {
            metrics.exporter.shard_info(s.index, s.count);
        }
        // Bind first: an exporter that cannot serve must not start checking.
        let listener = bind(&opts.listen_address)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", opts.listen_address))?;
        inner.install(config).await;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let state = Arc::new(HttpState {
            metrics,
            status,
            backend: inner.clone(),
            telemetry_path: opts.telemetry_path,
            ready: AtomicBool::new(false),
            web: opts.web,
            limits: opts.http_limits,
        });
        state.ready.store(true, Ordering::Release);
        let (stop, stop_rx) = watch::channel(false);
        let http = tokio::spawn(http::serve(listener, state, stop_rx));
        tracing::info!(address = %addr, "listening");
        Ok(App { inner, addr, stop, http })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Reloads the configuration file (SIGHUP, `POST /-/reload`).
    pub async fn reload(&self) -> Result<(), String> {
        self.inner.reload().await
    }

    /// Stops serving and scheduling; running checks get `grace` to finish.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = self.http.await;
        self.inner.scheduler.lock().await.shutdown(grace).await;
    }
}

impl Inner {
    /// Installs a loaded configuration: at start and on every reload, so a
    /// sharded exporter keeps only its own targets whatever the file says.
    async fn install(&self, mut config: Config) {
        let configured = config.targets.len();
        if let Some(shard) = &self.shard {
            config.targets.retain(|t| shard.owns(&t.name));
        }
        let n = config.targets.len();
        self.env.forget_verifiers();
        {
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            if *buckets != config.metrics.duration_buckets {
                if let Err(e) = self.metrics.set_duration_buckets(&config.metrics.duration_buckets) {
                    tracing::error!(error = %e, "cannot change metrics.duration_buckets");
                } else {
                    *buckets = config.metrics.duration_buckets.clone();
                }
            }
        }
        self.scheduler.lock().await.apply(config.targets).await;
        self.metrics.exporter.config_loaded(true, n);
        match &self.shard {
            None => tracing::info!(file = %self.config_file.display(), targets = n, "configuration loaded"),
            Some(s) => tracing::info!(
                file = %self.config_file.display(),
                targets = n,
                configured,
                shard = s.index,
                shards = s.count,
                "configuration loaded; checking this shard's targets"
            ),
        }
    }

    async fn reload(&self) -> Result<(), String> {
        let _one_at_a_time = self.reloading.lock().await;
        match Config::load(&self.config_file) {
            Ok(config) => {
                self.install(config).await;
                Ok(())
            }
            Err(e) => {
                self.metrics.exporter.config_loaded(false, 0);
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
    ) -> BoxFuture<'a, Result<Probed, ProbeRefused>> {
        Box::pin(async move {
            let modes: Vec<Mode> = mode.into_iter().collect();
            let (t, run) = self.scheduler.lock().await.check_now(target, &modes)?;
            let outcomes = run.await;
            // The diagnosis compares modes: fill in the modes not probed now
            // with their last scheduled result.
            let stored: Vec<Arc<Outcome>> = t
                .modes
                .iter()
                .filter(|m| !outcomes.iter().any(|o| o.mode == **m))
                .filter_map(|m| self.status.last(target, *m))
                .collect();
            let all: Vec<&Outcome> = outcomes.iter().chain(stored.iter().map(|o| o.as_ref())).collect();
            let diagnosis = diagnose(&all);
            Ok(Probed { info: t.info(), outcomes, diagnosis })
        })
    }
}
