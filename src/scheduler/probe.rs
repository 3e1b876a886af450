//! Checks on demand (`/probe`), outside the schedule but through the same
//! path: the same session lock as the target's scheduled checks, the same
//! check, the same store. Probes have their own small concurrency budget
//! and never queue, so a flood of `/probe` requests cannot delay the
//! schedule; a probe's checks end inside the scraper's timeout; and when
//! the client goes away its check is cancelled politely (QUIT).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{round, Scheduler};
use crate::check::Mode;
use crate::store::{Entry, Recorded, Source};

/// Why `/probe` cannot check a target now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeRefused {
    UnknownTarget,
    /// The target is not configured for this mode.
    ModeNotConfigured(Mode),
    /// A probe of this target is already running (429).
    Busy,
    /// The exporter's probe budget is in use (503).
    Overloaded,
    /// The target's scheduled check still held its session when the
    /// probe's time ran out (503).
    SessionBusy,
}

/// A running probe; dropping it (the HTTP client went away) cancels its check.
pub struct Probe {
    pub entry: Arc<Entry>,
    task: JoinHandle<Result<Vec<Recorded>, ProbeRefused>>,
    _cancel_on_drop: DropGuard,
}

impl Probe {
    /// The probed modes' results, as recorded in the store.
    pub async fn finish(mut self) -> Result<Vec<Recorded>, ProbeRefused> {
        (&mut self.task).await.unwrap_or(Err(ProbeRefused::SessionBusy))
    }
}

impl Scheduler {
    /// Checks the target `name` now in `modes` (its configured modes when
    /// empty), each check's timeout capped so the whole probe ends within
    /// `budget`. Refused at once, without queueing, when the target is
    /// unknown, another probe of it runs, or the probe budget is used up.
    pub fn probe(&self, name: &str, modes: &[Mode], budget: Option<Duration>) -> Result<Probe, ProbeRefused> {
        let shared = &self.shared;
        let entry = shared.store.get(name).ok_or(ProbeRefused::UnknownTarget)?;
        let configured = &entry.target.modes;
        if let Some(m) = modes.iter().find(|m| !configured.contains(m)) {
            return Err(ProbeRefused::ModeNotConfigured(*m));
        }
        let probing = entry.start_probe().ok_or(ProbeRefused::Busy)?;
        let slot = shared.probes.clone().try_acquire_owned().map_err(|_| ProbeRefused::Overloaded)?;
        let modes = if modes.is_empty() { configured.clone() } else { modes.to_vec() };
        let cancel = CancellationToken::new();
        let (task_cancel, e, s) = (cancel.clone(), entry.clone(), shared.clone());
        let deadline = budget.map(|b| Instant::now() + b);
        let task = shared.tasks.spawn(async move {
            let _probing = probing;
            let _slot = slot;
            let mut recorded = Vec::new();
            for mode in modes {
                let far = Instant::now() + Duration::from_secs(86_400);
                let deadline = deadline.unwrap_or(far);
                let session = tokio::select! {
                    biased;
                    _ = task_cancel.cancelled() => break,
                    s = timeout_at(deadline, e.session.lock()) => s,
                };
                let Ok(_session) = session else {
                    return if recorded.is_empty() { Err(ProbeRefused::SessionBusy) } else { Ok(recorded) };
                };
                let mut plan = e.target.plan(mode);
                plan.timeout = plan.timeout.min(deadline.saturating_duration_since(Instant::now()));
                let Some(outcome) = round::check(&s, &e, plan, Some(&task_cancel)).await else { break };
                recorded.push(s.store.record(&e, outcome, Source::Probe));
            }
            Ok(recorded)
        });
        Ok(Probe { entry, task, _cancel_on_drop: cancel.drop_guard() })
    }
}
