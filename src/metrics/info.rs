//! `ftp_target_info{target,address,tls,<static labels>}`: one series per
//! target whose label *names* differ between targets (each target brings its
//! own `labels:` map, SPEC §4).
//!
//! The prometheus crate's `GaugeVec` fixes its label names at creation, so
//! this is a small custom collector that builds the metric family itself.
//! The registry merges families by name without a consistency check, and the
//! text format allows differing label sets inside one family (Prometheus
//! joins them with `group_left` on `target`, which is the point of an info
//! metric).

use std::collections::BTreeMap;
use std::sync::Mutex;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::check::TlsMode;

pub const NAME: &str = "ftp_target_info";
const HELP: &str = "Static facts about a configured target; always 1, carries the target's labels.";

/// What `ftp_target_info` says about one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    pub name: String,
    /// `host:port` as configured.
    pub address: String,
    pub tls: TlsMode,
    /// The target's static `labels:`.
    pub labels: BTreeMap<String, String>,
}

/// Whether `name` is a label name Prometheus accepts and that does not clash
/// with one the exporter sets (the config module is expected to refuse these
/// already; this keeps the exposition valid whatever it lets through).
pub fn valid_static_label(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
        && !crate::check::labels::EXPORTER_LABELS.contains(&name)
}

pub struct InfoCollector {
    desc: Desc,
    targets: Mutex<BTreeMap<String, TargetInfo>>,
}

impl InfoCollector {
    pub fn new() -> prometheus::Result<Self> {
        // No variable labels declared: the registry only uses the Desc to
        // detect duplicate registrations, never to validate the series.
        let desc = Desc::new(NAME.into(), HELP.into(), Vec::new(), Default::default())?;
        Ok(InfoCollector { desc, targets: Mutex::new(BTreeMap::new()) })
    }

    pub fn set(&self, info: TargetInfo) {
        self.lock().insert(info.name.clone(), info);
    }

    pub fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, TargetInfo>> {
        // A panic while holding this lock leaves a consistent map (every
        // operation is a single insert/remove), so poisoning is ignored.
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn pair(name: &str, value: &str) -> LabelPair {
    let mut p = LabelPair::default();
    p.set_name(name.to_string());
    p.set_value(value.to_string());
    p
}

impl Collector for InfoCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let targets = self.lock();
        let mut family = MetricFamily::default();
        family.set_name(NAME.into());
        family.set_help(HELP.into());
        family.set_field_type(MetricType::GAUGE);
        for info in targets.values() {
            let mut labels = vec![
                pair("address", &info.address),
                pair("target", &info.name),
                pair("tls", info.tls.as_str()),
            ];
            for (k, v) in &info.labels {
                if valid_static_label(k) {
                    labels.push(pair(k, v));
                }
            }
            labels.sort_by(|a, b| a.name().cmp(b.name()));
            let mut gauge = Gauge::default();
            gauge.set_value(1.0);
            let mut metric = Metric::from_gauge(gauge);
            metric.set_label(labels);
            family.mut_metric().push(metric);
        }
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_checked() {
        assert!(valid_static_label("env"));
        assert!(valid_static_label("_team2"));
        assert!(!valid_static_label("2env"));
        assert!(!valid_static_label("e-nv"));
        assert!(!valid_static_label("__name__"));
        assert!(!valid_static_label("target"));
        assert!(!valid_static_label(""));
    }
}
