//! One target in the store: its configuration, what is known of it, and
//! the few things every check of it shares (the session lock, whether a
//! probe runs, whether a reload retired it).
//!
//! Results are copy-on-write: a check's result replaces an `Arc<Results>`
//! under a short lock, so a scrape takes a consistent snapshot of every
//! target by cloning pointers, without blocking checks or allocating.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use super::exporter::lock;
use super::histogram::Histogram;
use super::transcripts::Kept;
use crate::check::{Mode, Outcome, Phase, Reason};
use crate::config::Target;

/// Index of a mode in per-mode arrays.
pub fn mode_index(mode: Mode) -> usize {
    match mode {
        Mode::Passive => 0,
        Mode::Active => 1,
    }
}

/// What is known of one target × mode.
#[derive(Debug, Clone, Default)]
pub struct ModeResults {
    /// The last check, without its transcript (see `transcript`).
    pub last: Option<Arc<Outcome>>,
    pub last_success: Option<SystemTime>,
    /// Checks completed (`ftp_checks_total`).
    pub checks: u64,
    /// Failed checks by phase and reason (`ftp_check_failures_total`), in label order.
    pub failures: Vec<(Phase, Reason, u64)>,
    /// Durations of all checks (`ftp_check_latency_seconds`); `None` when disabled.
    pub latency: Option<Histogram>,
    /// The last check's transcript, while the store keeps it.
    pub transcript: Option<Arc<Kept>>,
    /// Who ran the last check.
    pub source: super::Source,
    /// The last few checks, compactly (the status page's sparklines).
    pub history: super::history::History,
}

/// What is known of one target.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Indexed by [`mode_index`].
    pub modes: [ModeResults; 2],
    /// From the last passive check that got as far as data setup.
    pub passive_mismatch: Option<bool>,
    /// notAfter of the server's leaf certificate, Unix seconds.
    pub cert_not_after: Option<i64>,
    /// The diagnosis over the last outcomes of all modes.
    pub diagnosis: Option<Arc<str>>,
}

impl Results {
    pub fn mode(&self, mode: Mode) -> &ModeResults {
        &self.modes[mode_index(mode)]
    }

    /// The last outcomes of the modes that ran, passive first.
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.modes.iter().filter_map(|m| m.last.as_deref())
    }
}

pub struct Entry {
    pub target: Arc<Target>,
    /// Held for the duration of every check of this target, scheduled or
    /// on demand, so that two sessions to one server never overlap (servers
    /// cap connections per client address). A target changed by a reload
    /// keeps its lock: a probe holding the old one still keeps the new
    /// schedule off the server.
    pub session: Arc<tokio::sync::Mutex<()>>,
    probing: AtomicBool,
    retired: CancellationToken,
    results: Mutex<Arc<Results>>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").field("target", &self.target.name).finish_non_exhaustive()
    }
}

impl Entry {
    pub(super) fn new(
        target: Target,
        session: Option<Arc<tokio::sync::Mutex<()>>>,
        latency: Option<&Arc<[f64]>>,
    ) -> Entry {
        let mut results = Results::default();
        for mode in &target.modes {
            results.modes[mode_index(*mode)].latency = latency.map(|b| Histogram::new(b.clone()));
        }
        Entry {
            target: Arc::new(target),
            session: session.unwrap_or_default(),
            probing: AtomicBool::new(false),
            retired: CancellationToken::new(),
            results: Mutex::new(Arc::new(results)),
        }
    }

    pub fn name(&self) -> &str {
        &self.target.name
    }

    /// A consistent snapshot of what is known.
    pub fn results(&self) -> Arc<Results> {
        lock(&self.results).clone()
    }

    /// True once a reload removed or replaced this target; its checks stop
    /// and their results are dropped.
    pub fn is_retired(&self) -> bool {
        self.retired.is_cancelled()
    }

    /// Resolves when the target is retired.
    pub fn retired(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.retired.cancelled()
    }

    pub(super) fn retire(&self) {
        self.retired.cancel();
    }

    /// Marks a probe of this target as running; `None` if one already is.
    /// The flag clears when the guard drops, however the probe ends.
    pub fn start_probe(self: &Arc<Self>) -> Option<ProbeGuard> {
        (!self.probing.swap(true, Ordering::AcqRel)).then(|| ProbeGuard(self.clone()))
    }

    /// Replaces the results with `update(current)`.
    pub(super) fn update<R>(&self, update: impl FnOnce(&mut Results) -> R) -> R {
        let mut guard = lock(&self.results);
        let mut next = Results::clone(&guard);
        let r = update(&mut next);
        *guard = Arc::new(next);
        r
    }

    /// Drops `kept` from the results if it is still the transcript of `mode`'s last check.
    pub(super) fn forget_transcript(&self, mode: Mode, kept: &Arc<Kept>) {
        let current =
            lock(&self.results).mode(mode).transcript.as_ref().is_some_and(|t| Arc::ptr_eq(t, kept));
        if current {
            self.update(|r| {
                let m = &mut r.modes[mode_index(mode)];
                if m.transcript.as_ref().is_some_and(|t| Arc::ptr_eq(t, kept)) {
                    m.transcript = None;
                }
            });
        }
    }

    /// Resets the latency histograms to new bucket bounds (a reload changed them).
    pub(super) fn reset_latency(&self, bounds: Option<&Arc<[f64]>>) {
        let modes = self.target.modes.clone();
        self.update(|r| {
            for mode in &modes {
                r.modes[mode_index(*mode)].latency = bounds.map(|b| Histogram::new(b.clone()));
            }
        });
    }
}

/// See [`Entry::start_probe`].
pub struct ProbeGuard(Arc<Entry>);

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        self.0.probing.store(false, Ordering::Release);
    }
}

/// Adds one to the `(phase, reason)` counter, keeping label order.
pub(super) fn count_failure(failures: &mut Vec<(Phase, Reason, u64)>, phase: Phase, reason: Reason) {
    match failures
        .binary_search_by(|(p, r, _)| (p.as_str(), r.as_str()).cmp(&(phase.as_str(), reason.as_str())))
    {
        Ok(i) => failures[i].2 += 1,
        Err(i) => failures.insert(i, (phase, reason, 1)),
    }
}
