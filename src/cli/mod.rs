//! The command line of SPEC §7: the exporter itself (no subcommand),
//! `check-config`, `probe` and `demo` (feature `demo`, on by default; the
//! container image is built without it). Flag names follow the Prometheus
//! exporters' dotted style (`--config.file`, `--web.listen-address`) so
//! that Helm charts and runbooks written for them carry over.

pub mod logging;
pub mod probe;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::app::{App, AppOptions};
use crate::config::Config;
use crate::http::WebConfig;
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
    /// Checks allowed to run at once, over all targets.
    #[arg(long = "checks.max-concurrency", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrency: u32,
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
        Some(Command::CheckConfig) => check_config(&cli.config_file),
        #[cfg(feature = "demo")]
        Some(Command::Demo(ref args)) => {
            logging::init(cli.log_level, cli.log_format);
            crate::demo::run(args.clone(), cli.listen_address.clone()).await
        }
        None => {
            logging::init(cli.log_level, cli.log_format);
            run_exporter(cli).await
        }
    }
}

fn check_config(path: &std::path::Path) -> i32 {
    match Config::load(path) {
        Ok(c) => {
            println!("{}: OK, {} targets", path.display(), c.targets.len());
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

async fn run_exporter(cli: Cli) -> i32 {
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
        listen_address: cli.listen_address,
        telemetry_path: cli.telemetry_path,
        web,
        max_concurrency: cli.max_concurrency as usize,
        http_limits: Default::default(),
        check: None,
    };
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
    app.shutdown(Duration::from_secs(5)).await;
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
