//! The one log line per state change (docs/diagnosis.md): an operator reading logs
//! wants "partner-drop active went down at login: auth_failed 530,
//! credentials", once — not one line per check every 30 s.

use crate::check::{Failure, Mode, Outcome};

/// A change of a target × mode between up and down, as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Up,
    Down,
    /// No mode changed state, but the diagnosis of a target that is down did.
    Rediagnosed,
}

fn failure_key(o: &Outcome) -> Option<(crate::check::Phase, crate::check::Reason, &str)> {
    o.failure.as_ref().map(|f| (f.phase, f.reason, f.code.as_str()))
}

/// What changed when `new` follows `previous` (the same mode's last
/// outcome). The first result counts as a change only when it is a failure
/// ("started and is down" is news, "started and is up" is not); a failure
/// whose (phase, reason, code) differs from the previous one is news too.
/// `rediagnosed`: the diagnosis changed while something is down — modes
/// run one after the other, so the diagnosis that compares them is often
/// complete only after the next mode's result.
pub(super) fn detect(previous: Option<&Outcome>, new: &Outcome, rediagnosed: bool) -> Option<Change> {
    let was_up = previous.map(Outcome::success);
    match (was_up, new.success()) {
        (Some(false), true) => Some(Change::Up),
        (Some(true) | None, false) => Some(Change::Down),
        (Some(false), false) if previous.map(failure_key) != Some(failure_key(new)) => Some(Change::Down),
        _ if rediagnosed => Some(Change::Rediagnosed),
        _ => None,
    }
}

/// Writes the line for `change`. Called with no lock held: a stalled log
/// sink must not block checks or scrapes.
pub(super) fn log(target: &str, mode: Mode, change: Change, failure: Option<&Failure>, diagnosis: &str) {
    match (change, failure) {
        (Change::Down, Some(f)) => tracing::warn!(
            target = target,
            mode = mode.as_str(),
            phase = f.phase.as_str(),
            reason = f.reason.as_str(),
            code = f.code.as_str(),
            error = f.message.as_str(),
            diagnosis,
            "check failing"
        ),
        (Change::Up, _) => tracing::info!(target = target, mode = mode.as_str(), "check succeeding again"),
        (Change::Rediagnosed, _) => tracing::warn!(target = target, diagnosis, "diagnosis changed"),
        (Change::Down, None) => {}
    }
}
