//! The result store: the one list of targets and what is known of each.
//!
//! The scheduler publishes every finished check here (`record`); a reload
//! changes the set of targets here, as a whole (`apply`). Everything that
//! shows results reads it: the metrics collector at scrape time, the status
//! page, `/transcript`, `/probe`'s diagnosis, the state-change log. Nothing
//! else keeps a copy, so nothing has to be kept in step: a target removed
//! here is gone everywhere.
//!
//! Per target it keeps the last outcome of each mode (without its
//! transcript), the diagnosis over them, the counters and histogram that
//! must accumulate, the last few checks in a fixed-size ring ([`history`],
//! 644 bytes per target × mode), and — within a global bound, see
//! [`transcripts`] — the last transcript.

mod changes;
mod entry;
mod exporter;
mod histogram;
pub mod history;
pub mod transcripts;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

pub use changes::Change;
pub use entry::{mode_index, Entry, ModeResults, ProbeGuard, Results};
pub use exporter::{ExporterStats, InFlight, ShardInfo, SCHEDULE_DELAY_BUCKETS};
pub use histogram::Histogram;
pub use transcripts::{Kept, Transcripts};

use crate::check::{Mode, Outcome, Phase};
use crate::config::Target;
use exporter::lock;

/// Names the likely cause from one target's last outcomes (production:
/// [`crate::check::diagnose`]). Injected so that the store's bookkeeping
/// can be tested apart from the diagnosis rules.
pub type Diagnoser = fn(&[&Outcome]) -> Option<String>;

/// The production diagnoser.
pub fn diagnose(outcomes: &[&Outcome]) -> Option<String> {
    crate::check::diagnose(outcomes).map(|d| d.summary)
}

/// The targets, by name (the order of every listing and scrape).
pub type Targets = BTreeMap<String, Arc<Entry>>;

/// How much of the checks' transcripts to keep (see [`transcripts`]).
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    pub max_successful_transcripts: usize,
    pub max_transcript_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_successful_transcripts: transcripts::DEFAULT_MAX_SUCCESSES,
            max_transcript_bytes: transcripts::DEFAULT_MAX_BYTES,
        }
    }
}

pub struct Store {
    targets: RwLock<Arc<Targets>>,
    /// Bounds of `ftp_check_latency_seconds`; `None`: disabled.
    latency: RwLock<Option<Arc<[f64]>>>,
    /// One `apply` at a time.
    applying: Mutex<()>,
    transcripts: Transcripts,
    exporter: Arc<ExporterStats>,
    diagnose: Diagnoser,
}

/// Who ran a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// The scheduler, on the target's interval.
    #[default]
    Schedule,
    /// `/probe`, on request.
    Probe,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Schedule => "scheduled",
            Source::Probe => "probe",
        }
    }
}

/// One check as the store took it.
pub struct Recorded {
    /// The outcome without its transcript.
    pub outcome: Arc<Outcome>,
    pub transcript: Arc<Kept>,
    pub change: Option<Change>,
}

impl Store {
    pub fn new(options: StoreOptions, diagnose: Diagnoser) -> Arc<Store> {
        Arc::new(Store {
            targets: RwLock::default(),
            latency: RwLock::default(),
            applying: Mutex::new(()),
            transcripts: Transcripts::new(options.max_successful_transcripts, options.max_transcript_bytes),
            exporter: Arc::default(),
            diagnose,
        })
    }

    /// Makes the set of targets equal to `targets`: an unchanged target
    /// keeps its entry and results; a changed one gets a fresh entry (its
    /// results described the old settings; its session lock carries over);
    /// removed and replaced entries are retired, which stops their checks.
    /// `latency_buckets`: `ftp_check_latency_seconds` bounds (empty
    /// disables it); when they change, every histogram restarts.
    ///
    /// Returns the new entries, for the scheduler to start.
    pub fn apply(&self, targets: Vec<Target>, latency_buckets: &[f64]) -> Vec<Arc<Entry>> {
        let _one_at_a_time = lock(&self.applying);
        let bounds: Option<Arc<[f64]>> = (!latency_buckets.is_empty()).then(|| Arc::from(latency_buckets));
        let buckets_changed = *read(&self.latency) != bounds;
        let old = self.targets();
        let mut next = Targets::new();
        let mut started = Vec::new();
        for target in targets {
            let name = target.name.clone();
            match old.get(&name) {
                Some(e) if *e.target == target => {
                    if buckets_changed {
                        e.reset_latency(bounds.as_ref());
                    }
                    next.insert(name, e.clone());
                }
                previous => {
                    let session = previous.map(|p| p.session.clone());
                    let e = Arc::new(Entry::new(target, session, bounds.as_ref()));
                    started.push(e.clone());
                    next.insert(name, e);
                }
            }
        }
        *write(&self.latency) = bounds;
        *write(&self.targets) = Arc::new(next);
        let current = self.targets();
        for (name, e) in old.iter() {
            if !current.get(name).is_some_and(|n| Arc::ptr_eq(n, e)) {
                e.retire();
            }
        }
        started
    }

    /// The current targets: a snapshot, unaffected by later reloads.
    pub fn targets(&self) -> Arc<Targets> {
        read(&self.targets).clone()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Entry>> {
        read(&self.targets).get(name).cloned()
    }

    pub fn exporter(&self) -> &Arc<ExporterStats> {
        &self.exporter
    }

    /// Bytes of transcripts kept now.
    pub fn transcript_bytes(&self) -> usize {
        self.transcripts.bytes()
    }

    /// Takes one finished check of `entry` — scheduled or on demand, the
    /// same path — updates what is known, and logs a state change. A result
    /// for a retired entry (removed or changed while its check ran) changes
    /// nothing.
    pub fn record(&self, entry: &Arc<Entry>, mut outcome: Outcome, source: Source) -> Recorded {
        // The outcome is kept per target × mode; its details (transcript,
        // session record) only within the global bound.
        let details = (std::mem::take(&mut outcome.transcript), std::mem::take(&mut outcome.record));
        let mode = outcome.mode;
        let success = outcome.success();
        let outcome = Arc::new(outcome);
        if entry.is_retired() {
            let (transcript, _) = Transcripts::new(0, 0).keep(entry, mode, details, success);
            return Recorded { outcome, transcript, change: None };
        }
        let (kept, victims) = self.transcripts.keep(entry, mode, details, success);
        let diagnose = self.diagnose;
        let (change, diagnosis) = entry.update(|r| {
            let previous = r.mode(mode).last.clone();
            fold(r, &outcome);
            let m = &mut r.modes[mode_index(mode)];
            m.checks += 1;
            if let Some(f) = &outcome.failure {
                entry::count_failure(&mut m.failures, f.phase, f.reason);
            }
            if let Some(h) = &mut m.latency {
                h.observe(outcome.duration.as_secs_f64());
            }
            m.transcript = Some(kept.clone());
            m.source = source;
            m.history.push(history::Sample::from_outcome(&outcome));
            let outcomes: Vec<&Outcome> = r.outcomes().collect();
            let diagnosis: Option<Arc<str>> = diagnose(&outcomes).map(Arc::from);
            let any_down = outcomes.iter().any(|o| !o.success());
            let rediagnosed = any_down && diagnosis.is_some() && diagnosis != r.diagnosis;
            r.diagnosis = diagnosis;
            (changes::detect(previous.as_deref(), &outcome, rediagnosed), r.diagnosis.clone())
        });
        self.transcripts.evict(victims);
        if let Some(c) = change {
            changes::log(entry.name(), mode, c, outcome.failure.as_ref(), diagnosis.as_deref().unwrap_or(""));
        }
        Recorded { outcome, transcript: kept, change }
    }
}

/// What one outcome says about its target, apart from the counts: the
/// last result of its mode and the per-target facts. Also how `/probe`
/// builds the view of the checks it just ran.
pub fn fold(r: &mut Results, outcome: &Arc<Outcome>) {
    let m = &mut r.modes[mode_index(outcome.mode)];
    if outcome.success() {
        m.last_success = Some(outcome.finished_at);
    }
    m.last = Some(outcome.clone());
    // A passive check that got through data setup with EPSV (229 carries
    // no address, RFC 2428) cannot have a mismatch: that is a 0, not
    // "unknown". Checks that never reached data setup say nothing.
    let mismatch = outcome.passive_address_mismatch.or_else(|| {
        (outcome.mode == Mode::Passive && outcome.phase(Phase::DataSetup).is_some() && outcome.success())
            .then_some(false)
    });
    if mismatch.is_some() {
        r.passive_mismatch = mismatch;
    }
    if let Some(not_after) = outcome.tls.as_ref().and_then(|t| t.cert_not_after) {
        r.cert_not_after = Some(not_after);
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
