//! When each target × mode is checked.
//!
//! One driver task keeps the schedule: a queue of targets ordered by when
//! their next round is due. A due target gets a short-lived task for its
//! round, which checks its modes one after the other — so a target's checks
//! never overlap and its two modes never run at once (docs/failures.md: servers cap
//! connections per client address) — publishes each outcome to the store,
//! and hands the target back with its next due time. A global semaphore
//! bounds the checks running at once. Ten thousand targets cost ten
//! thousand queue entries and one timer, not ten thousand sleeping tasks.
//!
//! When: soon after start, and after a reload for new and changed
//! targets, every target is checked once, spread over [`FIRST_ROUND_SPREAD`]
//! by a stable per-target offset (an exporter restarted by a rollout must
//! not report nothing for an hour-long interval); afterwards each target
//! settles on a stable offset inside its own interval, so that neither a
//! start nor a restart makes every check start in the same second.
//!
//! The scheduler knows checks and targets, nothing of metrics or status:
//! it publishes `(target, Outcome)` to the [`Store`] and nothing else.
//! The check itself is injected ([`CheckFn`]): production passes
//! `check::run_cancellable`, tests pass scripted futures on tokio's paused clock.

mod module_probe;
mod offset;
mod probe;
mod round;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::check::{CheckPlan, Outcome};
use crate::store::{Entry, Store};

pub use module_probe::ModuleProbe;
pub use offset::{first_run_offset, next_due};
pub use probe::{Probe, ProbeRefused};

/// The first check of a target (at start, or after a reload changed or
/// added it) comes within this much, spread by its stable offset.
pub const FIRST_ROUND_SPREAD: Duration = Duration::from_secs(10);

/// Runs one check. Never fails: every problem is an [`Outcome`] with a
/// failure. When the token is cancelled (a reload retired the target, the
/// exporter stops, a `/probe` client went away) the check ends soon,
/// politely (QUIT), and its outcome is discarded.
pub type CheckFn =
    Arc<dyn Fn(CheckPlan, CancellationToken) -> Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync>;

/// What the round tasks share.
struct Shared {
    store: Arc<Store>,
    check: CheckFn,
    /// Scheduled checks running at once.
    limit: Semaphore,
    /// `/probe` checks running at once (of configured targets and through
    /// modules): their own budget, so a burst of probes never delays the schedule.
    probes: Arc<Semaphore>,
    /// The (module, target) pairs being probed: one probe of each at a time.
    module_probes: Arc<module_probe::Running>,
    /// The start of the stable grid every target's rounds fall on.
    epoch: Instant,
    /// No new checks start once cancelled.
    stopping: CancellationToken,
    /// Running checks end now (politely) once cancelled.
    cancel: CancellationToken,
    /// Rounds and probes, to wait for at shutdown.
    tasks: TaskTracker,
    again: mpsc::UnboundedSender<Due>,
}

/// A target and when its next round is due.
struct Due {
    at: Instant,
    entry: Arc<Entry>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

pub struct Scheduler {
    shared: Arc<Shared>,
    driver: JoinHandle<()>,
}

impl Scheduler {
    /// `max_concurrency`: scheduled checks at once over all targets;
    /// `max_probes`: `/probe` checks at once (each at least 1).
    pub fn new(store: Arc<Store>, check: CheckFn, max_concurrency: usize, max_probes: usize) -> Self {
        let (again, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            store,
            check,
            limit: Semaphore::new(max_concurrency.max(1)),
            probes: Arc::new(Semaphore::new(max_probes.max(1))),
            module_probes: Arc::default(),
            epoch: Instant::now(),
            stopping: CancellationToken::new(),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            again,
        });
        let driver = tokio::spawn(drive(shared.clone(), queue));
        Scheduler { shared, driver }
    }

    /// Starts checking `entries` (new or changed by a reload): first round
    /// within [`FIRST_ROUND_SPREAD`]. Retired entries need nothing: their
    /// running check is cancelled and they are never due again.
    pub fn start(&self, entries: Vec<Arc<Entry>>) {
        let now = Instant::now();
        for entry in entries {
            let spread = entry.target.interval.min(FIRST_ROUND_SPREAD);
            let at = now + first_run_offset(&entry.target.name, spread);
            let _ = self.shared.again.send(Due { at, entry });
        }
    }

    /// Stops scheduling: no check starts any more; running ones get
    /// `grace` to finish (and are recorded), then are cancelled — each
    /// sends QUIT and ends within about a second.
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.stopping.cancel();
        self.shared.tasks.close();
        if tokio::time::timeout(grace, self.shared.tasks.wait()).await.is_err() {
            tracing::warn!(grace = ?grace, "checks still running at shutdown are cancelled");
            self.shared.cancel.cancel();
            if tokio::time::timeout(Duration::from_secs(3), self.shared.tasks.wait()).await.is_err() {
                tracing::warn!("checks did not end after cancellation; leaving them");
            }
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shared.stopping.cancel();
        self.shared.cancel.cancel();
        self.driver.abort();
    }
}

/// The driver: pops due targets and starts their rounds; takes targets
/// back (and new ones) from the channel.
async fn drive(shared: Arc<Shared>, mut incoming: mpsc::UnboundedReceiver<Due>) {
    let mut queue: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    loop {
        let next = queue.peek().map(|d| d.0.at);
        tokio::select! {
            biased;
            _ = shared.stopping.cancelled() => return,
            due = incoming.recv() => match due {
                Some(due) => queue.push(Reverse(due)),
                None => return,
            },
            _ = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                let now = Instant::now();
                while queue.peek().is_some_and(|d| d.0.at <= now) {
                    let Some(Reverse(due)) = queue.pop() else { break };
                    // Retired by a reload: dropped here, never due again.
                    if due.entry.is_retired() {
                        continue;
                    }
                    shared.tasks.spawn(round::run(shared.clone(), due.entry, due.at));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
