//! The last result of every target × mode, kept whole (transcript included)
//! for the status page and `/transcript`, and the target's current
//! diagnosis (SPEC §8).
//!
//! It also writes the one log line per state change: an operator reading
//! logs wants "partner-drop active went down at login: auth_failed 530,
//! credentials", once — not one line per check every 30 s.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::check::{Mode, Outcome};

/// What the status page knows about one target.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    pub address: String,
    pub modes: Vec<Mode>,
    pub last: BTreeMap<Mode, ModeStatus>,
    /// The diagnosis over the last outcomes of all its modes.
    pub diagnosis: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ModeStatus {
    pub outcome: Arc<Outcome>,
    pub last_success: Option<SystemTime>,
}

/// Names the likely cause from one target's last outcomes (production:
/// `check::diagnose`). Injected so that this module's bookkeeping can be
/// tested apart from the diagnosis rules.
pub type Diagnoser = fn(&[&Outcome]) -> Option<String>;

pub struct Status {
    targets: RwLock<BTreeMap<String, TargetStatus>>,
    diagnose: Diagnoser,
}

/// A change of a target × mode between up and down, as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Up,
    Down,
    /// No mode changed state, but the diagnosis of a target that is down did.
    Rediagnosed,
}

impl Status {
    pub fn new(diagnose: Diagnoser) -> Arc<Self> {
        Arc::new(Status { targets: RwLock::new(BTreeMap::new()), diagnose })
    }

    /// Declares a target, keeping its results when it already exists with
    /// the same modes (a reload that did not touch it).
    pub fn add_target(&self, name: &str, address: &str, modes: &[Mode]) {
        let mut targets = self.write();
        let entry = targets.entry(name.to_string()).or_insert_with(|| TargetStatus {
            address: String::new(),
            modes: Vec::new(),
            last: BTreeMap::new(),
            diagnosis: None,
        });
        if entry.address != address || entry.modes != modes {
            entry.last.clear();
            entry.diagnosis = None;
        }
        entry.address = address.to_string();
        entry.modes = modes.to_vec();
    }

    pub fn remove_target(&self, name: &str) {
        self.write().remove(name);
    }

    /// Stores the outcome, recomputes the diagnosis and logs a state change.
    /// Returns the change, if any. The first result of a target × mode counts
    /// as a change only when it is a failure ("started and is down" is news,
    /// "started and is up" is not); a failure whose (phase, reason, code)
    /// differs from the previous one is logged again.
    pub fn record(&self, target: &str, outcome: Outcome) -> Option<Change> {
        let mut targets = self.write();
        // A result for a target removed while its check ran is dropped.
        let status = targets.get_mut(target)?;
        let mode = outcome.mode;
        let was_up = status.last.get(&mode).map(|m| m.outcome.success());
        let failure_key = |o: &Outcome| o.failure.as_ref().map(|f| (f.phase, f.reason, f.code.clone()));
        let failing_differently = status.last.get(&mode).is_some_and(|m| {
            !m.outcome.success() && !outcome.success() && failure_key(&m.outcome) != failure_key(&outcome)
        });
        let last_success = if outcome.success() {
            Some(outcome.finished_at)
        } else {
            status.last.get(&mode).and_then(|m| m.last_success)
        };
        let up = outcome.success();
        status.last.insert(mode, ModeStatus { outcome: Arc::new(outcome), last_success });
        let outcomes: Vec<&Outcome> = status.last.values().map(|m| m.outcome.as_ref()).collect();
        let diagnosis = (self.diagnose)(&outcomes);
        // Modes run one after the other, so the diagnosis that compares them
        // is often complete only after the next mode's result: say it again
        // when it changes while something is down (SPEC §8: the log line).
        let any_down = outcomes.iter().any(|o| !o.success());
        let rediagnosed = any_down && diagnosis.is_some() && diagnosis != status.diagnosis;
        status.diagnosis = diagnosis;

        let change = match (was_up, up) {
            (Some(false), true) => Some(Change::Up),
            (Some(true) | None, false) => Some(Change::Down),
            // Still down, but somewhere else or for another reason: news too.
            (Some(false), false) if failing_differently => Some(Change::Down),
            _ => None,
        };
        let diagnosis = status.diagnosis.clone().unwrap_or_default();
        let failure = status.last.get(&mode).and_then(|m| m.outcome.failure.clone());
        // Log after releasing the lock: a stalled log sink must not block the status page.
        drop(targets);
        match (change, failure) {
            (Some(Change::Down), Some(f)) => tracing::warn!(
                target = target,
                mode = mode.as_str(),
                phase = f.phase.as_str(),
                reason = f.reason.as_str(),
                code = f.code.as_str(),
                error = f.message.as_str(),
                diagnosis,
                "check failing"
            ),
            (Some(Change::Up), _) => {
                tracing::info!(target = target, mode = mode.as_str(), "check succeeding again")
            }
            _ if rediagnosed => {
                tracing::warn!(target = target, diagnosis, "diagnosis changed");
                return Some(Change::Rediagnosed);
            }
            _ => {}
        }
        change
    }

    /// A copy of everything, for rendering without holding the lock.
    pub fn snapshot(&self) -> Vec<(String, TargetStatus)> {
        self.read().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    pub fn last(&self, target: &str, mode: Mode) -> Option<Arc<Outcome>> {
        self.read().get(target)?.last.get(&mode).map(|m| m.outcome.clone())
    }

    pub fn diagnosis(&self, target: &str) -> Option<String> {
        self.read().get(target)?.diagnosis.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, TargetStatus>> {
        // Every write leaves the map consistent, so a poisoned lock still holds good data.
        self.targets.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, TargetStatus>> {
        self.targets.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::check::{Failure, Phase, Reason, Transcript};

    fn outcome(mode: Mode, ok: bool, at: u64) -> Outcome {
        Outcome {
            mode,
            finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(at),
            duration: Duration::from_millis(5),
            phases: vec![],
            failure: (!ok).then(|| Failure::new(Phase::Login, Reason::AuthFailed, "530", "no")),
            bytes: vec![],
            passive_address_mismatch: None,
            passive_advertised: None,
            tls: None,
            control_peer: None,
            control_local: None,
            transcript: Transcript::new(),
            record: Default::default(),
        }
    }

    fn count_failures(outcomes: &[&Outcome]) -> Option<String> {
        let n = outcomes.iter().filter(|o| !o.success()).count();
        (n > 0).then(|| format!("{n} of {} failing", outcomes.len()))
    }

    #[test]
    fn the_two_mode_diagnosis_is_reported_when_the_second_mode_completes_it() {
        let s = Status::new(count_failures);
        s.add_target("a", "h:21", &[Mode::Passive, Mode::Active]);
        assert_eq!(s.record("a", outcome(Mode::Passive, false, 10)), Some(Change::Down));
        assert_eq!(s.diagnosis("a").as_deref(), Some("1 of 1 failing"));
        // Active's first result is a success (no state change), but the
        // diagnosis now compares both modes: that is news for the log.
        assert_eq!(s.record("a", outcome(Mode::Active, true, 11)), Some(Change::Rediagnosed));
        assert_eq!(s.diagnosis("a").as_deref(), Some("1 of 2 failing"));
        assert_eq!(s.record("a", outcome(Mode::Active, true, 12)), None, "same diagnosis: said already");
    }

    #[test]
    fn changes_are_reported_once_and_last_success_is_kept() {
        let s = Status::new(count_failures);
        s.add_target("a", "h:21", &[Mode::Passive, Mode::Active]);
        assert_eq!(s.record("a", outcome(Mode::Passive, true, 10)), None, "first success is not news");
        assert_eq!(s.record("a", outcome(Mode::Active, false, 11)), Some(Change::Down), "first failure is");
        assert_eq!(s.record("a", outcome(Mode::Passive, false, 20)), Some(Change::Down));
        assert_eq!(s.record("a", outcome(Mode::Passive, false, 30)), None);
        let mut other = outcome(Mode::Passive, false, 31);
        other.failure = Some(Failure::new(Phase::Connect, Reason::Timeout, "", "slow"));
        assert_eq!(s.record("a", other), Some(Change::Down), "failing differently is news");
        assert_eq!(s.record("a", outcome(Mode::Passive, false, 32)), Some(Change::Down));
        assert_eq!(s.diagnosis("a").as_deref(), Some("2 of 2 failing"));
        let snap = s.snapshot();
        let passive = &snap[0].1.last[&Mode::Passive];
        assert_eq!(passive.last_success, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(10)));
        assert_eq!(s.record("a", outcome(Mode::Passive, true, 40)), Some(Change::Up));
        assert_eq!(s.diagnosis("a").as_deref(), Some("1 of 2 failing"));
        assert_eq!(s.record("nope", outcome(Mode::Passive, true, 40)), None);
    }

    #[test]
    fn redeclaring_keeps_results_unless_the_target_changed() {
        let s = Status::new(count_failures);
        s.add_target("a", "h:21", &[Mode::Passive]);
        s.record("a", outcome(Mode::Passive, true, 10));
        s.add_target("a", "h:21", &[Mode::Passive]);
        assert!(s.last("a", Mode::Passive).is_some());
        s.add_target("a", "other:21", &[Mode::Passive]);
        assert!(s.last("a", Mode::Passive).is_none());
        s.remove_target("a");
        assert!(s.snapshot().is_empty());
    }
}
