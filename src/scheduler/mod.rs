//! When each target × mode is checked.
//!
//! One task per target runs its modes one after the other, so a target's
//! checks never overlap and its two modes never run at once (SPEC §2:
//! servers cap connections per client address). A global semaphore bounds
//! how many checks run at once across targets. First runs are spread over
//! the first interval by a stable per-target offset, so neither a start nor
//! a restart of the exporter hits every server in the same second.
//!
//! The check itself is injected ([`CheckFn`]): production passes
//! `check::run`, tests pass scripted futures on tokio's paused clock.

mod offset;
mod target_loop;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::check::{CheckPlan, Mode, Outcome};
use crate::metrics::{Metrics, TargetInfo};
use crate::status::Status;

pub use offset::first_run_offset;

/// A target changed by a reload lost its results (they described the old
/// settings); its next check comes within this much, spread by the same
/// stable offset, rather than up to a whole interval later.
pub const RESTART_SPREAD: Duration = Duration::from_secs(10);

/// Runs one check. Never fails: every problem is an [`Outcome`] with a failure.
pub type CheckFn = Arc<dyn Fn(CheckPlan) -> Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync>;

/// What the scheduler needs from a configured target. Equality decides
/// what a reload restarts: an unchanged target keeps its schedule and state.
pub trait Schedulable: PartialEq + Send + Sync + 'static {
    fn name(&self) -> &str;
    fn interval(&self) -> Duration;
    fn modes(&self) -> Vec<Mode>;
    fn plan(&self, mode: Mode) -> CheckPlan;
    fn info(&self) -> TargetInfo;
}

/// What the running target tasks share.
struct Shared {
    metrics: Arc<Metrics>,
    status: Arc<Status>,
    check: CheckFn,
    limit: Semaphore,
    stop: watch::Receiver<bool>,
}

/// Why `/probe` cannot check a target now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeRefused {
    UnknownTarget,
    /// The target is not configured for this mode.
    ModeNotConfigured(Mode),
    /// A probe of this target is already running: probes do not queue, so
    /// a flood of `/probe` cannot starve the target's scheduled checks.
    Busy,
}

struct Running<T> {
    target: Arc<T>,
    /// Set while a `/probe` of this target runs.
    probing: Arc<std::sync::atomic::AtomicBool>,
    /// Held for the duration of every check of this target, scheduled or
    /// on demand (`/probe`), so that two sessions to one server never overlap.
    session: Arc<tokio::sync::Mutex<()>>,
    handle: JoinHandle<()>,
}

pub struct Scheduler<T: Schedulable> {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    running: HashMap<String, Running<T>>,
}

impl<T: Schedulable> Scheduler<T> {
    /// `max_concurrency`: checks allowed to run at once over all targets (at least 1).
    pub fn new(metrics: Arc<Metrics>, status: Arc<Status>, check: CheckFn, max_concurrency: usize) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let limit = Semaphore::new(max_concurrency.max(1));
        let shared = Arc::new(Shared { metrics, status, check, limit, stop: stop_rx });
        Scheduler { shared, stop, running: HashMap::new() }
    }

    /// Makes the running set of targets equal to `targets`: unchanged ones
    /// keep their task and results, changed ones restart (results cleared,
    /// next check within [`RESTART_SPREAD`]), removed ones stop and their
    /// series disappear.
    pub async fn apply(&mut self, targets: Vec<T>) {
        let mut wanted: HashMap<String, T> = targets.into_iter().map(|t| (t.name().to_string(), t)).collect();
        // Sessions of changed targets carry over: a `/probe` holding the old
        // lock must still keep the restarted loop off the server.
        let mut sessions: HashMap<String, Arc<tokio::sync::Mutex<()>>> = HashMap::new();
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let unchanged =
                wanted.get(&name).is_some_and(|t| self.running.get(&name).is_some_and(|r| *r.target == *t));
            if unchanged {
                wanted.remove(&name);
                continue;
            }
            if let Some(old) = self.running.remove(&name) {
                old.handle.abort();
                // Wait until it has really stopped, so it cannot record a
                // result after its series were removed.
                let _ = old.handle.await;
                if wanted.contains_key(&name) {
                    sessions.insert(name.clone(), old.session);
                }
            }
            self.shared.metrics.remove_target(&name);
            self.shared.status.remove_target(&name);
        }
        for (name, target) in wanted {
            let target = Arc::new(target);
            let info = target.info();
            let modes = target.modes();
            self.shared.status.add_target(&name, &info.address, &modes);
            self.shared.metrics.add_target(info, &modes);
            let (session, first) = match sessions.remove(&name) {
                Some(session) => (session, first_run_offset(&name, target.interval().min(RESTART_SPREAD))),
                None => (Arc::default(), first_run_offset(&name, target.interval())),
            };
            let handle =
                tokio::spawn(target_loop::run(target.clone(), session.clone(), first, self.shared.clone()));
            let probing = Arc::default();
            self.running.insert(name, Running { target, probing, session, handle });
        }
    }

    /// The targets currently scheduled.
    pub fn targets(&self) -> Vec<Arc<T>> {
        self.running.values().map(|r| r.target.clone()).collect()
    }

    pub fn target(&self, name: &str) -> Option<Arc<T>> {
        self.running.get(name).map(|r| r.target.clone())
    }

    /// A check of `name` right now, in `modes` (its configured modes when
    /// empty), outside the schedule: for `/probe`. It waits for the target's
    /// scheduled check, if one is running, and for a global slot; its result
    /// is returned, not recorded. One probe per target at a time.
    pub fn check_now(
        &self,
        name: &str,
        modes: &[Mode],
    ) -> Result<(Arc<T>, impl Future<Output = Vec<Outcome>>), ProbeRefused> {
        use std::sync::atomic::Ordering;
        let running = self.running.get(name).ok_or(ProbeRefused::UnknownTarget)?;
        let target = running.target.clone();
        let configured = target.modes();
        if let Some(m) = modes.iter().find(|m| !configured.contains(m)) {
            return Err(ProbeRefused::ModeNotConfigured(*m));
        }
        if running.probing.swap(true, Ordering::AcqRel) {
            return Err(ProbeRefused::Busy);
        }
        // Clears the flag however the probe ends, also when the HTTP client goes away.
        struct Probing(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Probing {
            fn drop(&mut self) {
                self.0.store(false, std::sync::atomic::Ordering::Release);
            }
        }
        let probing = Probing(running.probing.clone());
        let session = running.session.clone();
        let shared = self.shared.clone();
        let modes = if modes.is_empty() { configured } else { modes.to_vec() };
        let t = target.clone();
        Ok((target, async move {
            let _probing = probing;
            let mut outcomes = Vec::new();
            for mode in modes {
                let _session = session.lock().await;
                let Ok(_slot) = shared.limit.acquire().await else { break };
                let _running = shared.metrics.exporter.check_started();
                outcomes.push((shared.check)(t.plan(mode)).await);
            }
            outcomes
        }))
    }

    /// Stops scheduling; checks already running get `grace` to finish and
    /// are aborted after that.
    /// The scheduler stays usable only for dropping afterwards.
    pub async fn shutdown(&mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let handles: Vec<JoinHandle<()>> = self.running.drain().map(|(_, r)| r.handle).collect();
        let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
        if tokio::time::timeout(grace, async {
            for h in handles {
                let _ = h.await;
            }
        })
        .await
        .is_err()
        {
            tracing::warn!(grace = ?grace, "checks still running at shutdown were aborted");
            for a in aborts {
                a.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests;
