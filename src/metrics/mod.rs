//! The one collector: `/metrics` (and `/probe`'s answer) rendered from the
//! store at request time, in the Prometheus text format or OpenMetrics,
//! gzip-compressed when the scraper accepts it.
//!
//! Per-target gauges are computed from last outcomes at each scrape, not
//! kept as series, so there is nothing to take back when a phase, a
//! failure or a target goes away. This module only reads the store; it
//! knows nothing of HTTP or of the configuration file.

mod exporter;
mod exposition;
mod targets;

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub use exposition::{write_f64, Format, Kind, Writer};
pub use targets::Row;

use crate::check::Outcome;
use crate::config::Target;
use crate::store::{Results, Store};

pub struct Collector {
    process: exporter::Process,
    /// Size of the last scrape, so the next one allocates its buffer once.
    last_size: AtomicUsize,
}

impl Default for Collector {
    fn default() -> Self {
        Collector { process: exporter::Process::new(), last_size: AtomicUsize::new(16 << 10) }
    }
}

impl Collector {
    /// Everything `/metrics` shows: every target's families from a
    /// consistent snapshot of the store, then the exporter's own.
    pub fn render(&self, store: &Store, format: Format) -> Vec<u8> {
        let targets = store.targets();
        let results: Vec<Arc<Results>> = targets.values().map(|e| e.results()).collect();
        let rows: Vec<Row> =
            targets.values().zip(&results).map(|(e, r)| Row { target: &e.target, results: r }).collect();
        let mut w = Writer::new(format, self.last_size.load(Ordering::Relaxed));
        targets::write(&mut w, &rows, true);
        exporter::write(&mut w, store, rows.len(), &self.process);
        let out = w.finish();
        self.last_size.store(out.len() + out.len() / 8, Ordering::Relaxed);
        out
    }
}

/// `/probe`'s answer: the per-target families of the checks it just ran
/// (`outcomes`, one per mode), without counters or histograms — one check
/// has no history.
pub fn render_probe(target: &Target, outcomes: &[Arc<Outcome>], format: Format) -> Vec<u8> {
    let mut results = Results::default();
    for o in outcomes {
        crate::store::fold(&mut results, o);
    }
    let mut w = Writer::new(format, 4096);
    targets::write(&mut w, &[Row { target, results: &results }], false);
    w.finish()
}

/// The format a scraper asks for in its `Accept` header: OpenMetrics when
/// it lists `application/openmetrics-text` (Prometheus does, ahead of the
/// text format, when it supports it), else the text format.
pub fn negotiate(accept: Option<&str>) -> Format {
    let wants_om = accept.is_some_and(|a| {
        a.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            media.eq_ignore_ascii_case("application/openmetrics-text")
                && !params.any(|p| p == "q=0" || p == "q=0.0")
        })
    });
    if wants_om {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Whether `Accept-Encoding` allows gzip (and does not refuse it with `q=0`).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|a| {
        a.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let coding = params.next().unwrap_or("");
            (coding.eq_ignore_ascii_case("gzip") || coding == "*")
                && !params.any(|p| p == "q=0" || p == "q=0.0")
        })
    })
}

/// gzip at the fastest level: a scrape is compressed once and read once,
/// and at ten thousand targets compression time is scrape time.
pub fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc =
        flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 8), flate2::Compression::fast());
    enc.write_all(body)?;
    enc.finish()
}

#[cfg(test)]
mod tests;
