//! The per-target families (docs/metrics.md), computed at scrape time from each
//! target's last outcomes and accumulated counts in the store.
//!
//! Nothing is kept between scrapes, so nothing can linger: a phase that
//! did not run, a failure that is over, a target that is gone simply has
//! no sample — a stale `ftp_check_failure` would keep an alert firing
//! forever. Labels are written in name order (`le` last), families in a
//! fixed order, targets in name order, modes passive then active.

use std::time::{SystemTime, UNIX_EPOCH};

use super::exposition::{Kind, Writer};
use crate::check::{Mode, Outcome};
use crate::config::Target;
use crate::store::{ModeResults, Results};

/// One target as the collector sees it: its configuration and a snapshot
/// of what is known.
pub struct Row<'a> {
    pub target: &'a Target,
    pub results: &'a Results,
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// A family whose header is written before its first sample only:
/// families without samples are left out, as Prometheus' client libraries do.
pub(super) struct Lazy {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    written: bool,
}

impl Lazy {
    pub(super) fn new(name: &'static str, kind: Kind, help: &'static str) -> Self {
        Lazy { name, kind, help, written: false }
    }

    /// Starts a sample (`suffix`: `_bucket`, `_sum`, `_count` or empty).
    pub(super) fn sample<'w>(&mut self, w: &'w mut Writer, suffix: &str) -> &'w mut Writer {
        if !self.written {
            w.family(self.name, self.kind, self.help);
            self.written = true;
        }
        w.series(self.name, suffix)
    }
}

/// The modes of a target that have a result, passive first.
fn lasts(r: &Results) -> impl Iterator<Item = (Mode, &ModeResults, &Outcome)> {
    Mode::ALL.iter().filter_map(move |m| {
        let mr = r.mode(*m);
        mr.last.as_deref().map(|o| (*m, mr, o))
    })
}

/// Writes every per-target family. `history`: also the counters,
/// timestamps and histogram, which only make sense across many checks
/// (`/probe` answers one check, without them).
pub fn write(w: &mut Writer, rows: &[Row], history: bool) {
    write_last(w, rows);
    if history {
        write_history(w, rows);
    }
    write_per_target(w, rows);
}

/// What the last check of each target × mode measured.
fn write_last(w: &mut Writer, rows: &[Row]) {
    let mut f = Lazy::new("ftp_up", Kind::Gauge, "1 if the last check succeeded, else 0.");
    for row in rows {
        for (mode, _, o) in lasts(row.results) {
            let up = if o.success() { 1.0 } else { 0.0 };
            f.sample(w, "").label("mode", mode.as_str()).label("target", &row.target.name).value(up);
        }
    }
    let mut f =
        Lazy::new("ftp_check_duration_seconds", Kind::Gauge, "Wall time of the last check, in seconds.");
    for row in rows {
        for (mode, _, o) in lasts(row.results) {
            f.sample(w, "")
                .label("mode", mode.as_str())
                .label("target", &row.target.name)
                .value(o.duration.as_secs_f64());
        }
    }
    let mut f = Lazy::new(
        "ftp_phase_duration_seconds",
        Kind::Gauge,
        "Time spent in each phase of the last check, in seconds.",
    );
    for row in rows {
        for (mode, _, o) in lasts(row.results) {
            for (phase, d) in &o.phases {
                f.sample(w, "")
                    .label("mode", mode.as_str())
                    .label("phase", phase.as_str())
                    .label("target", &row.target.name)
                    .value(d.as_secs_f64());
            }
        }
    }
    let mut f = Lazy::new(
        "ftp_check_failure",
        Kind::Gauge,
        "1 while the last check failed, with where, why and the FTP reply code; absent otherwise.",
    );
    for row in rows {
        for (mode, _, o) in lasts(row.results) {
            if let Some(fail) = &o.failure {
                f.sample(w, "")
                    .label("code", &fail.code)
                    .label("mode", mode.as_str())
                    .label("phase", fail.phase.as_str())
                    .label("reason", fail.reason.as_str())
                    .label("target", &row.target.name)
                    .value(1.0);
            }
        }
    }
    let mut f = Lazy::new(
        "ftp_ip_protocol",
        Kind::Gauge,
        "4 or 6: the address family the last check's control connection used.",
    );
    for row in rows {
        for (mode, _, o) in lasts(row.results) {
            // No control connection, no family: no series rather than a guess.
            if let Some(family) = o.ip_protocol() {
                f.sample(w, "")
                    .label("mode", mode.as_str())
                    .label("target", &row.target.name)
                    .value(f64::from(family));
            }
        }
    }
    let mut f =
        Lazy::new("ftp_transfer_bytes", Kind::Gauge, "Bytes moved by each data operation of the last check.");
    for row in rows {
        for (mode, _, o) in lasts(row.results) {
            for (op, n) in &o.bytes {
                f.sample(w, "")
                    .label("mode", mode.as_str())
                    .label("operation", op.as_str())
                    .label("target", &row.target.name)
                    .value_u64(*n);
            }
        }
    }
}

/// What accumulates across checks.
fn write_history(w: &mut Writer, rows: &[Row]) {
    // Every configured mode has a counter from the start (0 before its
    // first check), so that rate() works from the first check on.
    let mut f = Lazy::new("ftp_checks_total", Kind::Counter, "Checks completed.");
    for row in rows {
        for mode in Mode::ALL.iter().filter(|m| row.target.modes.contains(m)) {
            f.sample(w, "")
                .label("mode", mode.as_str())
                .label("target", &row.target.name)
                .value_u64(row.results.mode(*mode).checks);
        }
    }
    let mut f = Lazy::new(
        "ftp_check_failures_total",
        Kind::Counter,
        "Failed checks, by the phase they failed in and the reason.",
    );
    for row in rows {
        for mode in Mode::ALL {
            for (phase, reason, n) in &row.results.mode(*mode).failures {
                f.sample(w, "")
                    .label("mode", mode.as_str())
                    .label("phase", phase.as_str())
                    .label("reason", reason.as_str())
                    .label("target", &row.target.name)
                    .value_u64(*n);
            }
        }
    }
    let mut f =
        Lazy::new("ftp_last_check_timestamp_seconds", Kind::Gauge, "End of the last check, Unix time.");
    for row in rows {
        for (mode, _, o) in lasts(row.results) {
            f.sample(w, "")
                .label("mode", mode.as_str())
                .label("target", &row.target.name)
                .value(unix_seconds(o.finished_at));
        }
    }
    let mut f = Lazy::new(
        "ftp_last_success_timestamp_seconds",
        Kind::Gauge,
        "End of the last successful check, Unix time.",
    );
    for row in rows {
        for (mode, mr, _) in lasts(row.results) {
            if let Some(t) = mr.last_success {
                f.sample(w, "")
                    .label("mode", mode.as_str())
                    .label("target", &row.target.name)
                    .value(unix_seconds(t));
            }
        }
    }
    let mut f =
        Lazy::new("ftp_check_latency_seconds", Kind::Histogram, "Durations of all checks, in seconds.");
    // Every target's histogram has the same bounds: their `le` strings are
    // formatted once per scrape, not once per series.
    let mut les: (Vec<f64>, Vec<String>) = (Vec::new(), Vec::new());
    for row in rows {
        for mode in Mode::ALL.iter().filter(|m| row.target.modes.contains(m)) {
            let Some(h) = &row.results.mode(*mode).latency else { continue };
            if les.0 != h.bounds() {
                les.0 = h.bounds().to_vec();
                les.1 = h.cumulative().map(|(le, _)| super::exposition::format_f64(le)).collect();
            }
            for ((_, n), le) in h.cumulative().zip(&les.1) {
                f.sample(w, "_bucket")
                    .label("mode", mode.as_str())
                    .label("target", &row.target.name)
                    .label("le", le)
                    .value_u64(n);
            }
            f.sample(w, "_sum").label("mode", mode.as_str()).label("target", &row.target.name).value(h.sum());
            f.sample(w, "_count")
                .label("mode", mode.as_str())
                .label("target", &row.target.name)
                .value_u64(h.count());
        }
    }
}

/// Facts about a target rather than one of its modes.
fn write_per_target(w: &mut Writer, rows: &[Row]) {
    let mut f = Lazy::new(
        "ftp_passive_address_mismatch",
        Kind::Gauge,
        "1 if the last 227 reply advertised an address other than the control connection's peer.",
    );
    for row in rows {
        if let Some(m) = row.results.passive_mismatch {
            f.sample(w, "").label("target", &row.target.name).value(if m { 1.0 } else { 0.0 });
        }
    }
    let mut f = Lazy::new(
        "ftp_tls_certificate_expiry_timestamp_seconds",
        Kind::Gauge,
        "notAfter of the server's leaf certificate, Unix time.",
    );
    for row in rows {
        if let Some(t) = row.results.cert_not_after {
            f.sample(w, "").label("target", &row.target.name).value(t as f64);
        }
    }
    let mut f = Lazy::new(
        "ftp_target_info",
        Kind::Info,
        "Static facts about a configured target; always 1, carries the target's labels.",
    );
    for row in rows {
        let t = row.target;
        let s = f.sample(w, "");
        // The fixed labels merged into the target's own (a BTreeMap, so
        // already sorted): one label set in name order, no allocation.
        let fixed = [("address", t.address.as_str()), ("target", t.name.as_str()), ("tls", t.tls.as_str())];
        let mut fixed = fixed.iter().peekable();
        for (k, v) in &t.labels {
            while let Some((fk, fv)) = fixed.next_if(|(fk, _)| *fk < k.as_str()) {
                s.label(fk, fv);
            }
            s.label(k, v);
        }
        for (fk, fv) in fixed {
            s.label(fk, fv);
        }
        s.value(1.0);
    }
    let mut f = Lazy::new(
        "ftp_target_cleartext_credentials",
        Kind::Gauge,
        "1 if the target's checks send a non-anonymous password without TLS (tls: none), else 0.",
    );
    for row in rows {
        let clear = if row.target.cleartext_credentials() { 1.0 } else { 0.0 };
        f.sample(w, "").label("target", &row.target.name).value(clear);
    }
}
