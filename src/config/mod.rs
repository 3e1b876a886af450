//! The configuration file (SPEC §4): YAML in, validated [`Config`] out.
//!
//! A file is accepted or refused as a whole, and every refusal names the
//! file, line and key (`config/x.yml:14: targets[2].modes: unknown mode
//! "pasive", expected passive or active`), so that a failed reload can keep
//! the running configuration and still tell the operator what to fix.
//!
//! Reading happens in three steps, one file each: `raw` (serde structs, which
//! with `fields` and `units` check single values and so get their position
//! from the parser), `resolve` (merge `defaults:`, read secrets, cross-key
//! checks; positions via `locate`), and `target` (the result and its plans).
//!
//! Choices the SPEC leaves open:
//! - `timeout` longer than `interval` is an error, not silently capped;
//! - an IPv6 address needs brackets (`[::1]:2121`); a bare `::1` is refused;
//! - tls_* keys on a `tls: none` target are accepted with a warning;
//! - `targets` must list at least one target.

mod error;
mod fields;
mod locate;
mod raw;
mod resolve;
mod target;
mod units;

use std::path::{Path, PathBuf};

pub use error::ConfigError;
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
    pub metrics: MetricsConfig,
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
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
            message: format!("cannot read the configuration file: {e}"),
        })?;
        Config::parse(&text, path)
    }

    /// As [`Config::load`], from text; `source` names the file in messages and
    /// anchors relative `password_file` / `tls_ca_file` paths.
    pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigError> {
        let ctx = Ctx { text, source };
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
        let metrics = match raw.metrics.and_then(|m| m.duration_buckets) {
            Some(b) => MetricsConfig { duration_buckets: b.0 },
            None => MetricsConfig::default(),
        };
        Ok(Config { source: source.to_path_buf(), targets, metrics })
    }
}

/// serde_norway's error, with the two document-level cases it words for a
/// programmer rewritten for an operator.
fn yaml_error(ctx: &Ctx, e: &serde_norway::Error) -> ConfigError {
    let mut err = ConfigError::from_yaml(ctx.source, e);
    if err.key.is_empty() {
        if let Some(found) = err
            .message
            .strip_prefix("invalid type: ")
            .and_then(|m| m.strip_suffix(", expected struct RawFile"))
        {
            err.message = format!("expected a mapping with a `targets:` list, found {found}");
        } else if err.line.is_none() && err.message.contains("more than one document") {
            // Point at the second `---`, the start of the unexpected document.
            err.line =
                ctx.text.lines().enumerate().filter(|(_, l)| l.starts_with("---")).nth(1).map(|(i, _)| i + 1);
            err.message = "only one YAML document is allowed (remove the second `---`)".into();
        }
    }
    err
}
