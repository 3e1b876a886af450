//! The metrics reference (`docs/metrics.md`) as data: the one list of
//! metric names tests check the exposition and the dashboards against.

use std::collections::BTreeMap;
use std::path::Path;

/// Metric family name → its type as documented (`gauge`, `counter`,
/// `histogram`, or empty for the process metrics row).
pub fn documented_metrics() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/metrics.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "", "`name`[, `name`…]", "type", …
        let kind = cells.get(2).map(|k| k.split_whitespace().next().unwrap_or("")).unwrap_or("");
        for name in cells[1].split('`').skip(1).step_by(2) {
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "docs/metrics.md: {name:?} is not a metric name"
            );
            assert!(out.insert(name.to_string(), kind.to_string()).is_none(), "{name} documented twice");
        }
    }
    assert!(out.len() > 20, "docs/metrics.md lists only {} metrics: is its table format intact?", out.len());
    out
}

/// Series names a PromQL query may select: histograms by their
/// `_bucket`, `_sum` and `_count` series.
pub fn queryable_series() -> std::collections::BTreeSet<String> {
    let mut set = std::collections::BTreeSet::new();
    for (name, kind) in documented_metrics() {
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                set.insert(format!("{name}{suffix}"));
            }
        } else {
            set.insert(name);
        }
    }
    set
}
