//! Metrics about the exporter itself (SPEC §5): is its config current, how
//! many targets, how busy and how late is the scheduler.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{Gauge, GaugeVec, Histogram, HistogramOpts, IntGauge, Opts, Registry};

pub struct ExporterMetrics {
    shard: GaugeVec,
    reload_successful: IntGauge,
    reload_success_timestamp: Gauge,
    targets: IntGauge,
    in_flight: IntGauge,
    schedule_delay: Histogram,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: C) -> prometheus::Result<C> {
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

impl ExporterMetrics {
    pub fn new(r: &Registry) -> prometheus::Result<Self> {
        let build = GaugeVec::new(
            Opts::new("ftp_exporter_build_info", "The exporter's version; always 1."),
            &["version"],
        )?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1.0);
        r.register(Box::new(build))?;
        Ok(ExporterMetrics {
            // No sample until `shard_info` is called: an unsharded exporter has no such series.
            shard: register(
                r,
                GaugeVec::new(
                    Opts::new("ftp_exporter_shard_info", "This exporter's shard of the targets; always 1."),
                    &["index", "count"],
                )?,
            )?,
            reload_successful: register(
                r,
                IntGauge::new(
                    "ftp_exporter_config_last_reload_successful",
                    "1 if the last configuration load succeeded, else 0.",
                )?,
            )?,
            reload_success_timestamp: register(
                r,
                Gauge::new(
                    "ftp_exporter_config_last_reload_success_timestamp_seconds",
                    "Time of the last successful configuration load, Unix time.",
                )?,
            )?,
            targets: register(r, IntGauge::new("ftp_exporter_targets", "Configured targets.")?)?,
            in_flight: register(
                r,
                IntGauge::new("ftp_exporter_checks_in_flight", "Checks running right now.")?,
            )?,
            // Delays are normally milliseconds; seconds-long ones mean the
            // concurrency limit is too low for the number of targets.
            schedule_delay: register(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "ftp_exporter_schedule_delay_seconds",
                        "How late checks start relative to their schedule, in seconds.",
                    )
                    .buckets(vec![0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0]),
                )?,
            )?,
        })
    }

    /// This exporter checks shard `index` of `count` (`--shard.*`).
    pub fn shard_info(&self, index: u32, count: u32) {
        self.shard.reset();
        self.shard.with_label_values(&[&index.to_string(), &count.to_string()]).set(1.0);
    }

    /// A configuration was loaded (`ok`) or refused.
    pub fn config_loaded(&self, ok: bool, targets: usize) {
        self.reload_successful.set(i64::from(ok));
        if ok {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
            self.reload_success_timestamp.set(now);
            self.targets.set(i64::try_from(targets).unwrap_or(i64::MAX));
        }
    }

    pub fn schedule_delay(&self, late: Duration) {
        self.schedule_delay.observe(late.as_secs_f64());
    }

    /// Counts a check as running until the returned guard is dropped — also
    /// when the check is aborted by a reload or shutdown.
    pub fn check_started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    pub fn checks_in_flight(&self) -> i64 {
        self.in_flight.get()
    }
}

pub struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
