//! The command line of docs/flags.md: the exporter itself (no subcommand),
//! `check-config`, `probe` and `demo` (feature `demo`, on by default; the
//! container image is built without it). Flag names follow the Prometheus
//! exporters' dotted style (`--config.file`, `--web.listen-address`) so
//! that Helm charts and runbooks written for them carry over.

pub mod logging;
pub mod probe;

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{CommandFactory, Parser, Subcommand};

use crate::app::{App, AppOptions};
use crate::config::{Config, Policy};
use crate::http::{Limits, WebConfig};
use crate::shard::Shard;
use logging::{LogFormat, LogLevel};

#[derive(Debug, Parser)]
#[command(
    name = "ftp_exporter",
    version,
    about = "Prometheus exporter that checks FTP servers end to end, in active and passive mode"
)]
pub struct Cli {
    /// Configuration file (YAML).
    #[arg(long = "config.file", default_value = "ftp_exporter.yml", global = true)]
    pub config_file: PathBuf,
    /// Refuse a configuration with a target or module that would send a
    /// (non-anonymous) password without TLS (`tls: none`), at start, on
    /// reload (the running configuration stays) and in `check-config`.
    #[arg(long = "config.require-tls", global = true)]
    pub require_tls: bool,
    /// Address to serve HTTP on: `:9612` (all interfaces), `127.0.0.1:9612`, `[::1]:9612`.
    #[arg(long = "web.listen-address", default_value = ":9612", global = true)]
    pub listen_address: String,
    /// Path under which metrics are exposed.
    #[arg(long = "web.telemetry-path", default_value = "/metrics", value_parser = url_path)]
    pub telemetry_path: String,
    /// exporter-toolkit web configuration: TLS certificate and key, basic-auth users with bcrypt hashes.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    #[arg(long = "log.level", value_enum, default_value = "info", global = true)]
    pub log_level: LogLevel,
    #[arg(long = "log.format", value_enum, default_value = "logfmt", global = true)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub web_limits: WebLimits,
    /// Checks allowed to run at once, over all targets.
    #[arg(long = "checks.max-concurrency", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrency: u32,
    /// `/probe` checks allowed to run at once; more are answered 503 at
    /// once, so that probes never delay the scheduled checks.
    #[arg(long = "probe.max-concurrency", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_probes: u32,
    /// Subtracted from `X-Prometheus-Scrape-Timeout-Seconds` so that a
    /// probe answers inside its scrape.
    #[arg(long = "probe.timeout-offset", default_value = "500ms", value_parser = crate::config::parse_duration)]
    pub probe_timeout_offset: Duration,
    /// On SIGTERM or SIGINT, how long running checks and HTTP requests get
    /// to finish before checks are cancelled (each sends QUIT); keep it
    /// below the pod's terminationGracePeriodSeconds.
    #[arg(long = "shutdown.grace-period", default_value = "10s", value_parser = crate::config::parse_duration)]
    pub shutdown_grace: Duration,
    /// Transcripts of successful checks kept for the status page (the
    /// transcripts of failing checks are always kept).
    #[arg(long = "store.successful-transcripts", default_value_t = crate::store::transcripts::DEFAULT_MAX_SUCCESSES)]
    pub successful_transcripts: usize,
    /// Memory all kept transcripts may use together; past it the oldest
    /// successes go first, then the oldest failures.
    #[arg(long = "store.transcript-bytes", default_value = "64MiB", value_parser = crate::config::parse_size)]
    pub transcript_bytes: u64,
    /// Split the targets over this many exporters: this one checks only the targets with
    /// fnv1a(name) % count == index. Needs --shard.index or --shard.index-from-hostname.
    #[arg(long = "shard.count", value_name = "N")]
    pub shard_count: Option<u32>,
    /// This exporter's shard, 0 to N-1.
    #[arg(long = "shard.index", value_name = "I", requires = "shard_count")]
    pub shard_index: Option<u32>,
    /// Take the shard index from the host name's trailing ordinal, as a StatefulSet names
    /// its pods (ftp-exporter-2 → 2).
    #[arg(long = "shard.index-from-hostname", requires = "shard_count", conflicts_with = "shard_index")]
    pub shard_index_from_hostname: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration file and exit: 0 when valid, 1 (with the reason on stderr) when not.
    CheckConfig,
    /// Check one server now, in one or both modes, and explain the result.
    Probe(probe::ProbeArgs),
    /// Run an in-process FTP server and the exporter checking it: see it work in seconds.
    #[cfg(feature = "demo")]
    Demo(crate::demo::DemoArgs),
}

impl Cli {
    /// The shard the flags ask for; `None` when not sharded.
    pub fn shard(&self) -> Result<Option<Shard>, String> {
        let Some(count) = self.shard_count else { return Ok(None) };
        let shard = match (self.shard_index, self.shard_index_from_hostname) {
            (Some(index), _) => Shard::new(index, count),
            (None, true) => Shard::from_hostname(crate::config::hostname::read().as_deref(), count),
            (None, false) => {
                return Err("--shard.count needs --shard.index or --shard.index-from-hostname".into())
            }
        };
        shard.map(Some).map_err(|e| e.to_string())
    }
}

/// The HTTP side's limits ([`Limits`]); defaults from `Limits::default()`.
#[derive(Debug, Clone, clap::Args)]
pub struct WebLimits {
    /// HTTP connections open at once; when all are taken, a new one evicts the oldest idle one
    /// (not serving a request), and waits only if every one is serving.
    #[arg(long = "web.max-connections", default_value_t = Limits::default().max_connections,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub max_connections: usize,
    /// Time a client gets to send a request's head (and again its body); idle keep-alive
    /// connections and TLS handshakes are cut after it too.
    #[arg(long = "web.header-read-timeout", default_value = "10s", value_parser = crate::config::parse_duration)]
    pub header_read_timeout: Duration,
    /// Largest request head, request line included; larger ones get 431.
    #[arg(long = "web.max-header-bytes", default_value = "16KiB", value_parser = header_bytes)]
    pub max_header_bytes: usize,
    /// Largest request body (no endpoint reads one; 0 refuses any); larger ones get 413.
    #[arg(long = "web.max-request-body-bytes", default_value = "4KiB", value_parser = crate::config::parse_size)]
    pub max_request_body_bytes: u64,
    /// Longest life of one HTTP connection (a /probe running longer is cut off).
    #[arg(long = "web.max-connection-lifetime", default_value = "5m", value_parser = crate::config::parse_duration)]
    pub max_connection_lifetime: Duration,
}

impl From<&WebLimits> for Limits {
    fn from(w: &WebLimits) -> Limits {
        Limits {
            max_connections: w.max_connections,
            header_read_timeout: w.header_read_timeout,
            max_header_bytes: w.max_header_bytes,
            max_request_body_bytes: w.max_request_body_bytes,
            max_connection_lifetime: w.max_connection_lifetime,
        }
    }
}

/// A request head must fit a request line with the longest query accepted (8 KiB).
fn header_bytes(s: &str) -> Result<usize, String> {
    let n = crate::config::parse_size(s)?;
    if !(10 * 1024..=1 << 20).contains(&n) {
        return Err(format!("{s:?}: must be between 10KiB and 1MiB"));
    }
    Ok(n as usize)
}

fn url_path(s: &str) -> Result<String, String> {
    if s.starts_with('/') {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a URL path: it must start with /"))
    }
}

/// Parses the command line, runs what it asks for, returns the exit code.
pub async fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Probe(args)) => probe::run(args).await,
        Some(Command::CheckConfig) => check_config(&cli.config_file, Policy { require_tls: cli.require_tls }),
        #[cfg(feature = "demo")]
        Some(Command::Demo(ref args)) => {
            logging::init(cli.log_level, cli.log_format);
            crate::demo::run(args.clone(), cli.listen_address.clone()).await
        }
        None => {
            let shard = match cli.shard() {
                Ok(s) => s,
                Err(e) => {
                    // Like clap's own usage errors: message, usage, exit 2.
                    let _ = Cli::command().error(clap::error::ErrorKind::ArgumentConflict, e).print();
                    return 2;
                }
            };
            logging::init(cli.log_level, cli.log_format);
            run_exporter(cli, shard).await
        }
    }
}

fn check_config(path: &std::path::Path, policy: Policy) -> i32 {
    match Config::load_with(path, policy) {
        Ok(c) => {
            println!("{}: OK, {} targets, {} modules", path.display(), c.targets.len(), c.modules.len());
            for t in c.targets.iter().filter(|t| t.cleartext_credentials()) {
                eprintln!("warning: target {:?} sends its password in clear (tls: none)", t.name);
            }
            for m in c.modules.iter().filter(|m| m.cleartext_credentials()) {
                eprintln!("warning: module {:?} sends its password in clear (tls: none)", m.name);
            }
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

async fn run_exporter(cli: Cli, shard: Option<Shard>) -> i32 {
    let web = match &cli.web_config_file {
        None => WebConfig::default(),
        Some(path) => match WebConfig::load(path) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "invalid --web.config.file");
                return 1;
            }
        },
    };
    let opts = AppOptions {
        config_file: cli.config_file,
        policy: Policy { require_tls: cli.require_tls },
        listen_address: cli.listen_address,
        telemetry_path: cli.telemetry_path,
        web,
        max_concurrency: cli.max_concurrency as usize,
        max_probes: cli.max_probes as usize,
        probe_timeout_offset: cli.probe_timeout_offset,
        http_limits: (&cli.web_limits).into(),
        store: crate::store::StoreOptions {
            max_successful_transcripts: cli.successful_transcripts,
            max_transcript_bytes: usize::try_from(cli.transcript_bytes).unwrap_or(usize::MAX),
        },
        shutdown_grace: cli.shutdown_grace,
        check: None,
        shard,
        resolver: None,
    };
    let grace = opts.shutdown_grace;
    // Before starting: SIGHUP's default action ends the process, and a
    // reload sent while the exporter starts must not kill it.
    #[cfg(unix)]
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::error!("cannot install the SIGHUP handler");
        return 1;
    };
    let app = match App::start(opts).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return 1;
        }
    };
    #[cfg(unix)]
    {
        let stop = wait_for_stop();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = hup.recv() => {
                    // Errors are logged and exported by reload itself.
                    let _ = app.reload().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    wait_for_stop().await;
    tracing::info!("shutting down");
    app.shutdown(grace).await;
    0
}

/// Resolves on SIGINT or SIGTERM (what `docker stop` and Kubernetes send).
pub async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard_of(args: &[&str]) -> Result<Option<Shard>, String> {
        let cli = Cli::try_parse_from([&["ftp_exporter"], args].concat()).map_err(|e| e.to_string())?;
        cli.shard()
    }

    #[test]
    fn shard_flags() {
        assert_eq!(shard_of(&[]), Ok(None));
        assert_eq!(shard_of(&["--shard.count=3", "--shard.index=2"]), Ok(Some(Shard { index: 2, count: 3 })));
        assert_eq!(
            shard_of(&["--shard.count", "1", "--shard.index", "0"]),
            Ok(Some(Shard { index: 0, count: 1 }))
        );
        let err = |args: &[&str]| shard_of(args).unwrap_err();
        assert_eq!(err(&["--shard.count=0", "--shard.index=0"]), "--shard.count must be at least 1");
        assert!(err(&["--shard.count=3", "--shard.index=3"]).contains("must be 0 to 2"));
        assert_eq!(
            err(&["--shard.count=3"]),
            "--shard.count needs --shard.index or --shard.index-from-hostname"
        );
        // clap's own refusals name the flags.
        assert!(err(&["--shard.index=1"]).contains("--shard.count"), "{}", err(&["--shard.index=1"]));
        assert!(err(&["--shard.index-from-hostname"]).contains("--shard.count"));
        let both = err(&["--shard.count=3", "--shard.index=1", "--shard.index-from-hostname"]);
        assert!(both.contains("cannot be used with"), "{both}");
        assert!(err(&["--shard.count=-1", "--shard.index=0"]).contains("--shard.count"));
    }

    #[test]
    fn check_config_needs_no_shard_flags() {
        let cli = Cli::try_parse_from(["ftp_exporter", "check-config", "--config.file=x.yml"]).unwrap();
        assert!(matches!(cli.command, Some(Command::CheckConfig)));
        assert_eq!(cli.shard(), Ok(None));
    }

    #[test]
    fn web_limit_flags_default_to_the_limits_defaults_and_parse_units() {
        let cli = Cli::parse_from(["ftp_exporter"]);
        assert_eq!(Limits::from(&cli.web_limits), Limits::default());
        let cli = Cli::parse_from([
            "ftp_exporter",
            "--web.max-connections=10",
            "--web.header-read-timeout=1500ms",
            "--web.max-header-bytes=32KiB",
            "--web.max-request-body-bytes=0",
            "--web.max-connection-lifetime=1m",
        ]);
        let l = Limits::from(&cli.web_limits);
        assert_eq!(
            (l.max_connections, l.header_read_timeout, l.max_header_bytes, l.max_request_body_bytes),
            (10, Duration::from_millis(1500), 32 * 1024, 0)
        );
        assert_eq!(l.max_connection_lifetime, Duration::from_secs(60));
        for bad in ["--web.max-connections=0", "--web.max-header-bytes=1KiB", "--web.header-read-timeout=0s"]
        {
            assert!(Cli::try_parse_from(["ftp_exporter", bad]).is_err(), "{bad}");
        }
    }
}
