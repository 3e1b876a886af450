//! The configuration file (docs/configuration.md): YAML in, validated [`Config`] out.
//!
//! A file is accepted or refused as a whole, and every refusal names the
//! file, line and key (`config/x.yml:14: targets[2].modes: unknown mode
//! "pasive", expected passive or active`), so that a failed reload can keep
//! the running configuration and still tell the operator what to fix.
//!
//! Reading happens in three steps, one file each: `raw` (serde structs, which
//! with `fields`, `address` and `units` check single values and so get their position
//! from the parser), `resolve` (merge `defaults:`, read secrets, cross-key
//! checks; positions via `locate`), and `target` (the result and its plans).
//!
//! Choices the format makes (docs/configuration.md):
//! - `timeout` longer than `interval` is an error, not silently capped;
//! - an IPv6 address needs brackets (`[::1]:2121`); a bare `::1` is refused;
//! - tls_* keys on a `tls: none` target are accepted with a warning;
//! - `targets` must list at least one target;
//! - a non-anonymous password on `tls: none` is a warning, or an error
//!   under `--config.require-tls` ([`Policy`]).

mod address;
pub mod allow;
mod error;
mod fields;
pub mod hostname;
mod locate;
mod module;
mod raw;
mod resolve;
mod target;
mod units;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

pub use error::ConfigError;
pub use module::{Admission, Module, ProbeTarget};
pub use target::{CheckSpec, Target};
pub use units::{parse_duration, parse_size};

use error::KeyPath;
use raw::RawFile;
use resolve::Ctx;

/// `ftp_check_latency_seconds` buckets when the file sets none: from a fast
/// LAN login (50 ms) to a slow transfer near the default timeout.
pub const DEFAULT_DURATION_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// A loaded configuration. `Debug` is safe to log: passwords are [`crate::secret::Secret`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from (for messages and reloads).
    pub source: PathBuf,
    pub targets: Vec<Target>,
    /// `modules:`, in the order written (names are unique).
    pub modules: Vec<Module>,
    pub metrics: MetricsConfig,
}

/// What the exporter's flags require of every file it loads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// `--config.require-tls`: refuse a target or module that would send a
    /// non-anonymous password without TLS.
    pub require_tls: bool,
}

/// The `metrics:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// Buckets of `ftp_check_latency_seconds`; empty disables the histogram.
    pub duration_buckets: Vec<f64>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { duration_buckets: DEFAULT_DURATION_BUCKETS.to_vec() }
    }
}

impl Config {
    /// Reads and validates `path`, resolving secrets from the environment and files.
    ///
    /// Blocking file I/O: on the async runtime use [`Config::load_off_runtime`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, Policy::default())
    }

    /// As [`Config::load`], under `policy`.
    pub fn load_with(path: &Path, policy: Policy) -> Result<Config, ConfigError> {
        let text = read_config(path)
            .map_err(|e| load_error(path, &format!("cannot read the configuration file: {e}")))?;
        Config::parse_with(&text, path, hostname::this_host(), policy)
    }

    /// As [`Config::load`], on a blocking thread and under `timeout`, so a
    /// file on a hung mount cannot wedge the async workers that serve
    /// `/metrics` (start-up and every reload go through here).
    ///
    /// A load cut off by the timeout leaves its thread blocked in the
    /// kernel; while it is, a new load of the same file is refused at once
    /// instead of blocking one more thread (at most one stuck per file).
    pub async fn load_off_runtime(
        path: &Path,
        timeout: Duration,
        policy: Policy,
    ) -> Result<Config, ConfigError> {
        let Some(guard) = LoadGuard::claim(path) else {
            return Err(load_error(
                path,
                "the previous load of this file is still blocked reading it (a hung mount?); not starting another",
            ));
        };
        let owned = path.to_path_buf();
        let load = tokio::task::spawn_blocking(move || {
            let _guard = guard; // released when the load really ends
            Config::load_with(&owned, policy)
        });
        match tokio::time::timeout(timeout, load).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(load_error(path, &format!("the load failed: {join}"))),
            Err(_) => Err(load_error(
                path,
                &format!(
                    "loading took longer than {}: a file it reads (the config, a password_file, a \
                     tls_ca_file) does not answer; keeping the running configuration",
                    humantime::format_duration(timeout)
                ),
            )),
        }
    }

    /// As [`Config::load`], from text; `source` names the file in messages and
    /// anchors relative `password_file` / `tls_ca_file` paths.
    pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigError> {
        Config::parse_as(text, source, hostname::this_host())
    }

    /// As [`Config::parse`], with `hostname` for `{hostname}` in `store.path`
    /// (tests play several exporters in one process this way).
    pub fn parse_as(text: &str, source: &Path, hostname: &str) -> Result<Config, ConfigError> {
        Config::parse_with(text, source, hostname, Policy::default())
    }

    /// As [`Config::parse_as`], under `policy`.
    pub fn parse_with(
        text: &str,
        source: &Path,
        hostname: &str,
        policy: Policy,
    ) -> Result<Config, ConfigError> {
        let ctx = Ctx { text, source, hostname, policy };
        let root = KeyPath::root();
        let raw: Option<RawFile> = serde_norway::from_str(text).map_err(|e| yaml_error(&ctx, &e))?;
        let Some(raw) = raw else {
            return Err(ConfigError::new(
                source,
                Some(1),
                &root,
                "the file is empty; expected a `targets:` list",
            ));
        };
        let defaults = raw.defaults.unwrap_or_default();
        resolve::check_defaults(&ctx, &defaults)?;
        let Some(targets) = raw.targets else {
            return Err(ConfigError::new(
                source,
                Some(1),
                &root,
                "missing key `targets` (the FTP servers to check)",
            ));
        };
        let targets = resolve::targets(&ctx, &targets, &defaults)?;
        let modules = match &raw.modules {
            Some(m) => module::modules(&ctx, m)?,
            None => Vec::new(),
        };
        let metrics = match raw.metrics.and_then(|m| m.duration_buckets) {
            Some(b) => MetricsConfig { duration_buckets: b.0 },
            None => MetricsConfig::default(),
        };
        Ok(Config { source: source.to_path_buf(), targets, modules, metrics })
    }
}

/// How long start-up and reloads give [`Config::load_off_runtime`].
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(10);

fn load_error(path: &Path, message: &str) -> ConfigError {
    ConfigError { file: path.to_path_buf(), line: None, key: String::new(), message: message.to_string() }
}

/// Marks a file as being loaded, process-wide, until dropped.
struct LoadGuard(PathBuf);

static LOADING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

impl LoadGuard {
    fn claim(path: &Path) -> Option<LoadGuard> {
        let mut loading = LOADING.lock().unwrap_or_else(|e| e.into_inner());
        if loading.iter().any(|p| p == path) {
            return None;
        }
        loading.push(path.to_path_buf());
        Some(LoadGuard(path.to_path_buf()))
    }
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        let mut loading = LOADING.lock().unwrap_or_else(|e| e.into_inner());
        loading.retain(|p| *p != self.0);
    }
}

/// Reads the file, bounded and checked before it is opened:
/// `--config.file=/dev/zero` or a FIFO must fail, not fill memory or block.
fn read_config(path: &Path) -> Result<String, crate::small_file::FileError> {
    crate::small_file::read_text(path, 16 << 20)
}

/// serde_norway's error, reworded where it speaks to a programmer (our type
/// names, a repeated key placed at its mapping, a second document).
fn yaml_error(ctx: &Ctx, e: &serde_norway::Error) -> ConfigError {
    let mut err = ConfigError::from_yaml(ctx.source, ctx.text, e);
    // "expected struct RawTarget" names our type, not the user's mistake.
    for raw in ["RawTarget", "RawCheck", "RawRetrieve", "RawStore", "RawPassive", "RawActive", "RawMetrics"] {
        err.message = err.message.replace(&format!("expected struct {raw}"), "expected a mapping");
    }
    // serde reports a repeated key at its mapping; point at the repeat.
    if let Some(field) = err.message.strip_prefix("duplicate field `").and_then(|m| m.split('`').next()) {
        let field = field.to_string();
        let path = KeyPath::parse(&err.key).key(&field);
        err.line = locate::line_of_repeat(ctx.text, &path).or(err.line);
        err.key = path.to_string();
        err.message = format!("`{field}` is set twice");
    }
    if err.key.is_empty() {
        if let Some(found) = err
            .message
            .strip_prefix("invalid type: ")
            .and_then(|m| m.strip_suffix(", expected struct RawFile"))
        {
            err.message = format!("expected a mapping with a `targets:` list, found {found}");
        } else if err.line.is_none() && err.message.contains("more than one document") {
            // Point at the second `---`, the start of the unexpected document.
            err.line = second_document_line(ctx.text);
            err.message = "only one YAML document is allowed (remove the second `---`)".into();
        }
    }
    err
}

/// The line of the `---` that starts a second document: the first one after
/// any content (a leading `---` only opens the first document).
fn second_document_line(text: &str) -> Option<usize> {
    let mut content = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("---") && content {
            return Some(i + 1);
        }
        let t = line.trim();
        content |= !t.is_empty() && !t.starts_with('#') && !t.starts_with("---") && !t.starts_with('%');
    }
    None
}
