//! The exporter's own families (docs/metrics.md): build, configuration, scheduler,
//! and the standard `process_*` metrics every Prometheus exporter has.

use prometheus::core::Collector;
use prometheus::proto::MetricType;

use super::exposition::{Kind, Writer};
use super::targets::Lazy;
use crate::store::{Histogram, Store};

/// The `process_*` families, read from `/proc/self` by the prometheus
/// crate's collector at each scrape.
pub struct Process {
    #[cfg(target_os = "linux")]
    collector: prometheus::process_collector::ProcessCollector,
}

impl Process {
    pub fn new() -> Self {
        Process {
            #[cfg(target_os = "linux")]
            collector: prometheus::process_collector::ProcessCollector::for_self(),
        }
    }

    fn write(&self, w: &mut Writer) {
        #[cfg(target_os = "linux")]
        for family in self.collector.collect() {
            let kind = match family.get_field_type() {
                MetricType::COUNTER => Kind::Counter,
                MetricType::GAUGE => Kind::Gauge,
                _ => continue,
            };
            w.family(family.name(), kind, family.help());
            for m in family.get_metric() {
                let s = w.series(family.name(), "");
                for l in m.get_label() {
                    s.label(l.name(), l.value());
                }
                let v = match kind {
                    Kind::Counter => m.get_counter().value(),
                    _ => m.get_gauge().value(),
                };
                s.value(v);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = w;
    }
}

impl Default for Process {
    fn default() -> Self {
        Self::new()
    }
}

pub fn write(w: &mut Writer, store: &Store, targets: usize, process: &Process) {
    let e = store.exporter();
    w.family("ftp_exporter_build_info", Kind::Info, "The exporter's version; always 1.");
    w.series("ftp_exporter_build_info", "").label("version", env!("CARGO_PKG_VERSION")).value(1.0);
    w.family(
        "ftp_exporter_config_last_reload_successful",
        Kind::Gauge,
        "1 if the last configuration load succeeded, else 0.",
    );
    w.series("ftp_exporter_config_last_reload_successful", "").value(if e.reload_successful() {
        1.0
    } else {
        0.0
    });
    w.family(
        "ftp_exporter_config_last_reload_success_timestamp_seconds",
        Kind::Gauge,
        "Time of the last successful configuration load, Unix time.",
    );
    w.series("ftp_exporter_config_last_reload_success_timestamp_seconds", "")
        .value(e.reload_success_timestamp());
    w.family("ftp_exporter_targets", Kind::Gauge, "Configured targets (of this shard, when sharded).");
    w.series("ftp_exporter_targets", "").value_u64(targets as u64);
    w.family("ftp_exporter_checks_in_flight", Kind::Gauge, "Checks running right now.");
    w.series("ftp_exporter_checks_in_flight", "").value(e.checks_in_flight() as f64);
    w.family(
        "ftp_exporter_transcript_bytes",
        Kind::Gauge,
        "Bytes of check transcripts the exporter keeps (bounded; see --store.transcript-bytes).",
    );
    w.series("ftp_exporter_transcript_bytes", "").value_u64(store.transcript_bytes() as u64);
    histogram(
        w,
        "ftp_exporter_schedule_delay_seconds",
        "How late checks start relative to their schedule, in seconds.",
        &e.schedule_delays(),
    );
    if let Some(shard) = e.shard() {
        w.family(
            "ftp_exporter_shard_info",
            Kind::Info,
            "This exporter's shard of the target list; always 1.",
        );
        let (mut c, mut i) = (itoa::Buffer::new(), itoa::Buffer::new());
        w.series("ftp_exporter_shard_info", "")
            .label("count", c.format(shard.count))
            .label("index", i.format(shard.index))
            .value(1.0);
    }
    process.write(w);
}

fn histogram(w: &mut Writer, name: &'static str, help: &'static str, h: &Histogram) {
    let mut f = Lazy::new(name, Kind::Histogram, help);
    for (le, n) in h.cumulative() {
        f.sample(w, "_bucket").label_f64("le", le).value_u64(n);
    }
    f.sample(w, "_sum").value(h.sum());
    f.sample(w, "_count").value_u64(h.count());
}
