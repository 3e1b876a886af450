//! The exporter's own Prometheus registry and every metric of SPEC §5.
//!
//! This module records what checks measured and never measures anything
//! itself: the scheduler hands it finished [`Outcome`]s, the HTTP layer asks
//! it for text. It knows nothing of HTTP or of the config file's format.
//!
//! Its own registry (not the crate's global default) so that tests and
//! `/probe` can build independent ones, and so that nothing a dependency
//! registers globally leaks into `/metrics`.

mod exporter;
mod info;
mod target;

use std::sync::{Arc, RwLock};

use prometheus::{Encoder, Registry, TextEncoder};

use crate::check::{Mode, Outcome};

pub use exporter::{ExporterMetrics, InFlight};
pub use info::{valid_static_label, TargetInfo};
pub use target::TargetMetrics;

/// Everything `/metrics` shows.
pub struct Metrics {
    registry: Registry,
    targets: TargetMetrics,
    pub exporter: ExporterMetrics,
}

impl Metrics {
    /// The registry behind `/metrics`: per-target metrics, the exporter's own,
    /// and the standard `process_*` metrics.
    pub fn new(duration_buckets: &[f64]) -> prometheus::Result<Arc<Self>> {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        let targets = TargetMetrics::new(&registry, duration_buckets, true)?;
        let exporter = ExporterMetrics::new(&registry)?;
        Ok(Arc::new(Metrics { registry, targets, exporter }))
    }

    /// Declares a target (or updates its static facts): its `ftp_target_info`
    /// series and zeroed `ftp_checks_total` for each mode, so that `rate()`
    /// works from the first check on.
    pub fn add_target(&self, info: TargetInfo, modes: &[Mode]) {
        self.targets.add(info, modes);
    }

    /// Removes every series of a target (SPEC §5: a removed target's series
    /// disappear on reload).
    pub fn remove_target(&self, name: &str) {
        self.targets.remove(name);
    }

    /// Records one finished check of `target`.
    pub fn record(&self, target: &str, outcome: &Outcome) {
        self.targets.record(target, outcome);
    }

    /// Replaces the buckets of `ftp_check_latency_seconds` (a reload changed
    /// `metrics.duration_buckets`); the histogram restarts from zero.
    pub fn set_duration_buckets(&self, buckets: &[f64]) -> prometheus::Result<()> {
        self.targets.set_duration_buckets(&self.registry, buckets)
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn encode(&self) -> String {
        encode(&self.registry)
    }
}

/// A one-off registry holding the result of checks run on demand by
/// `/probe`: the same per-target metric names, without counters, histograms
/// or exporter metrics, because one check has no history.
pub struct ProbeMetrics {
    registry: Registry,
    targets: TargetMetrics,
}

impl ProbeMetrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let targets = TargetMetrics::new(&registry, &[], false)?;
        Ok(ProbeMetrics { registry, targets })
    }

    pub fn record(&self, info: &TargetInfo, outcome: &Outcome) {
        self.targets.add(info.clone(), &[]);
        self.targets.record(&info.name, outcome);
    }

    pub fn encode(&self) -> String {
        encode(&self.registry)
    }
}

fn encode(registry: &Registry) -> String {
    let mut buf = Vec::new();
    // Encoding into a Vec only fails on a malformed family, which the
    // collectors here never build; an empty answer is the safe fallback.
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buf) {
        tracing::error!(error = %e, "encoding metrics failed");
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// Guards against a poisoned lock: every critical section in this module
/// leaves its data consistent, so the value is still good after a panic.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
