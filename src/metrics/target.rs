//! Per target × mode and per target metrics (SPEC §5), and the bookkeeping
//! that keeps them honest: the series of a phase that did not run, of a
//! failure that is over, of a target that is gone, must not linger — a
//! stale `ftp_check_failure` series would keep an alert firing forever.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::info::{InfoCollector, TargetInfo};
use crate::check::{Mode, Operation, Outcome, Phase, Reason};

/// What was last written for one target × mode, so it can be taken back.
#[derive(Default)]
struct Written {
    phases: BTreeSet<Phase>,
    failure: Option<(Phase, Reason, String)>,
    operations: BTreeSet<Operation>,
    failure_counters: BTreeSet<(Phase, Reason)>,
}

pub struct TargetMetrics {
    up: GaugeVec,
    check_duration: GaugeVec,
    phase_duration: GaugeVec,
    check_failure: GaugeVec,
    checks_total: Option<IntCounterVec>,
    failures_total: Option<IntCounterVec>,
    last_check: Option<GaugeVec>,
    last_success: Option<GaugeVec>,
    transfer_bytes: GaugeVec,
    latency: RwLock<Option<HistogramVec>>,
    passive_mismatch: GaugeVec,
    ip_protocol: GaugeVec,
    cert_expiry: GaugeVec,
    info: std::sync::Arc<InfoCollector>,
    written: Mutex<BTreeMap<(String, Mode), Written>>,
}

const TM: &[&str] = &["target", "mode"];

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<GaugeVec> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn latency_histogram(registry: &Registry, buckets: &[f64]) -> prometheus::Result<Option<HistogramVec>> {
    if buckets.is_empty() {
        return Ok(None);
    }
    let opts = HistogramOpts::new("ftp_check_latency_seconds", "Durations of all checks, in seconds.")
        .buckets(buckets.to_vec());
    let h = HistogramVec::new(opts, TM)?;
    registry.register(Box::new(h.clone()))?;
    Ok(Some(h))
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl TargetMetrics {
    /// `history`: register the metrics that only make sense across many
    /// checks (counters, timestamps, the latency histogram). `/probe` builds
    /// one without them.
    pub fn new(registry: &Registry, buckets: &[f64], history: bool) -> prometheus::Result<Self> {
        let info = std::sync::Arc::new(InfoCollector::new()?);
        registry.register(Box::new(ArcCollector(info.clone())))?;
        let (checks_total, failures_total, last_check, last_success) = if history {
            (
                Some(counter(registry, "ftp_checks_total", "Checks completed.", TM)?),
                Some(counter(
                    registry,
                    "ftp_check_failures_total",
                    "Failed checks, by the phase they failed in and the reason.",
                    &["target", "mode", "phase", "reason"],
                )?),
                Some(gauge(
                    registry,
                    "ftp_last_check_timestamp_seconds",
                    "End of the last check, Unix time.",
                    TM,
                )?),
                Some(gauge(
                    registry,
                    "ftp_last_success_timestamp_seconds",
                    "End of the last successful check, Unix time.",
                    TM,
                )?),
            )
        } else {
            (None, None, None, None)
        };
        Ok(TargetMetrics {
            up: gauge(registry, "ftp_up", "1 if the last check succeeded, else 0.", TM)?,
            check_duration: gauge(
                registry,
                "ftp_check_duration_seconds",
                "Wall time of the last check, in seconds.",
                TM,
            )?,
            phase_duration: gauge(
                registry,
                "ftp_phase_duration_seconds",
                "Time spent in each phase of the last check, in seconds.",
                &["target", "mode", "phase"],
            )?,
            check_failure: gauge(
                registry,
                "ftp_check_failure",
                "1 while the last check failed, with where, why and the FTP reply code; absent otherwise.",
                &["target", "mode", "phase", "reason", "code"],
            )?,
            checks_total,
            failures_total,
            last_check,
            last_success,
            transfer_bytes: gauge(
                registry,
                "ftp_transfer_bytes",
                "Bytes moved by each data operation of the last check.",
                &["target", "mode", "operation"],
            )?,
            latency: RwLock::new(if history { latency_histogram(registry, buckets)? } else { None }),
            passive_mismatch: gauge(
                registry,
                "ftp_passive_address_mismatch",
                "1 if the last 227 reply advertised an address other than the control connection's peer.",
                &["target"],
            )?,
            ip_protocol: gauge(
                registry,
                "ftp_ip_protocol",
                "4 or 6: the address family the last check's control connection used.",
                TM,
            )?,
            cert_expiry: gauge(
                registry,
                "ftp_tls_certificate_expiry_timestamp_seconds",
                "notAfter of the server's leaf certificate, Unix time.",
                &["target"],
            )?,
            info,
            written: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn add(&self, info: TargetInfo, modes: &[Mode]) {
        if let Some(c) = &self.checks_total {
            for mode in modes {
                c.with_label_values(&[info.name.as_str(), mode.as_str()]);
            }
        }
        self.info.set(info);
    }

    pub fn record(&self, target: &str, outcome: &Outcome) {
        let mode = outcome.mode.as_str();
        let tm = [target, mode];
        let mut written_all = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let written = written_all.entry((target.to_string(), outcome.mode)).or_default();

        self.up.with_label_values(&tm).set(if outcome.success() { 1.0 } else { 0.0 });
        self.check_duration.with_label_values(&tm).set(outcome.duration.as_secs_f64());

        let phases: BTreeSet<Phase> = outcome.phases.iter().map(|(p, _)| *p).collect();
        for gone in written.phases.difference(&phases) {
            let _ = self.phase_duration.remove_label_values(&[target, mode, gone.as_str()]);
        }
        for (phase, d) in &outcome.phases {
            self.phase_duration.with_label_values(&[target, mode, phase.as_str()]).set(d.as_secs_f64());
        }
        written.phases = phases;

        let failure = outcome.failure.as_ref().map(|f| (f.phase, f.reason, f.code.clone()));
        if written.failure != failure {
            if let Some((p, r, c)) = &written.failure {
                let _ = self.check_failure.remove_label_values(&[target, mode, p.as_str(), r.as_str(), c]);
            }
        }
        if let Some((p, r, c)) = &failure {
            self.check_failure.with_label_values(&[target, mode, p.as_str(), r.as_str(), c]).set(1.0);
            if let Some(f) = &self.failures_total {
                f.with_label_values(&[target, mode, p.as_str(), r.as_str()]).inc();
                written.failure_counters.insert((*p, *r));
            }
        }
        written.failure = failure;

        let operations: BTreeSet<Operation> = outcome.bytes.iter().map(|(o, _)| *o).collect();
        for gone in written.operations.difference(&operations) {
            let _ = self.transfer_bytes.remove_label_values(&[target, mode, gone.as_str()]);
        }
        for (op, n) in &outcome.bytes {
            // f64 holds integers exactly up to 2^53 bytes (8 PiB): beyond any probe file.
            self.transfer_bytes.with_label_values(&[target, mode, op.as_str()]).set(*n as f64);
        }
        written.operations = operations;

        if let Some(c) = &self.checks_total {
            c.with_label_values(&tm).inc();
        }
        let finished = unix_seconds(outcome.finished_at);
        if let Some(g) = &self.last_check {
            g.with_label_values(&tm).set(finished);
        }
        if outcome.success() {
            if let Some(g) = &self.last_success {
                g.with_label_values(&tm).set(finished);
            }
        }
        if let Some(h) = super::read(&self.latency).as_ref() {
            h.with_label_values(&tm).observe(outcome.duration.as_secs_f64());
        }
        // No control connection, no family: the series goes rather than lie.
        match outcome.ip_protocol() {
            Some(family) => self.ip_protocol.with_label_values(&tm).set(f64::from(family)),
            None => {
                let _ = self.ip_protocol.remove_label_values(&tm);
            }
        }

        // A passive check that got through data setup with EPSV (229 carries
        // no address, RFC 2428) cannot have a mismatch: that is a 0, not
        // "unknown". Checks that never reached data setup say nothing.
        let mismatch = outcome.passive_address_mismatch.or_else(|| {
            (outcome.mode == Mode::Passive && outcome.phase(Phase::DataSetup).is_some() && outcome.success())
                .then_some(false)
        });
        if let Some(mismatch) = mismatch {
            self.passive_mismatch.with_label_values(&[target]).set(if mismatch { 1.0 } else { 0.0 });
        }
        if let Some(not_after) = outcome.tls.as_ref().and_then(|t| t.cert_not_after) {
            self.cert_expiry.with_label_values(&[target]).set(not_after as f64);
        }
    }

    pub fn remove(&self, target: &str) {
        let mut written_all = self.written.lock().unwrap_or_else(|e| e.into_inner());
        for mode in Mode::ALL {
            let m = mode.as_str();
            let tm = [target, m];
            let _ = self.up.remove_label_values(&tm);
            let _ = self.check_duration.remove_label_values(&tm);
            let _ = self.ip_protocol.remove_label_values(&tm);
            for c in [&self.checks_total].into_iter().flatten() {
                let _ = c.remove_label_values(&tm);
            }
            for g in [&self.last_check, &self.last_success].into_iter().flatten() {
                let _ = g.remove_label_values(&tm);
            }
            if let Some(h) = super::read(&self.latency).as_ref() {
                let _ = h.remove_label_values(&tm);
            }
            let Some(written) = written_all.remove(&(target.to_string(), *mode)) else { continue };
            for p in &written.phases {
                let _ = self.phase_duration.remove_label_values(&[target, m, p.as_str()]);
            }
            if let Some((p, r, c)) = &written.failure {
                let _ = self.check_failure.remove_label_values(&[target, m, p.as_str(), r.as_str(), c]);
            }
            for o in &written.operations {
                let _ = self.transfer_bytes.remove_label_values(&[target, m, o.as_str()]);
            }
            if let Some(f) = &self.failures_total {
                for (p, r) in &written.failure_counters {
                    let _ = f.remove_label_values(&[target, m, p.as_str(), r.as_str()]);
                }
            }
        }
        let _ = self.passive_mismatch.remove_label_values(&[target]);
        let _ = self.cert_expiry.remove_label_values(&[target]);
        self.info.remove(target);
    }

    pub fn set_duration_buckets(&self, registry: &Registry, buckets: &[f64]) -> prometheus::Result<()> {
        let mut latency = super::write(&self.latency);
        if let Some(old) = latency.take() {
            registry.unregister(Box::new(old))?;
        }
        *latency = latency_histogram(registry, buckets)?;
        Ok(())
    }
}

/// Lets the registry own a handle to a collector the metrics also keep.
struct ArcCollector(std::sync::Arc<InfoCollector>);

impl prometheus::core::Collector for ArcCollector {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.0.desc()
    }
    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.0.collect()
    }
}
