//! One round of one target: each of its modes in turn, then back to the
//! driver with the next due time.

use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::{next_due, Due, Shared};
use crate::check::{CheckPlan, Outcome};
use crate::store::{Entry, Source};

pub(super) async fn run(shared: Arc<Shared>, entry: Arc<Entry>, due: Instant) {
    // Each mode is due when the previous one ended (or at the tick, for the first).
    let mut mode_due = due;
    for mode in entry.target.modes.clone() {
        // Stop and retirement are checked first: after shutdown no new
        // check starts, not even the second mode of a round.
        // The slot first, then the target's session: a check queued behind
        // the concurrency limit must not hold its target's session, or a
        // `/probe` of it would wait for the whole queue.
        let _permit = tokio::select! {
            biased;
            _ = shared.stopping.cancelled() => return,
            _ = entry.retired() => return,
            // The semaphore is never closed.
            p = shared.limit.acquire() => match p { Ok(p) => p, Err(_) => return },
        };
        let _session = tokio::select! {
            biased;
            _ = shared.stopping.cancelled() => return,
            _ = entry.retired() => return,
            s = entry.session.lock() => s,
        };
        shared.store.exporter().schedule_delay(Instant::now().saturating_duration_since(mode_due));
        let Some(outcome) = check(&shared, &entry, entry.target.plan(mode), None).await else { return };
        shared.store.record(&entry, outcome, Source::Schedule);
        mode_due = Instant::now();
    }
    let at = next_due(shared.epoch, &entry.target.name, entry.target.interval, Instant::now());
    let _ = shared.again.send(Due { at, entry });
}

/// Runs one check of `entry` in a span naming target and mode (every line
/// the engine logs is attributable). `None` when it was cancelled — the
/// target retired, the exporter stopping, or `extra` (a `/probe` client
/// gone) — after the check ended politely; its outcome describes nothing
/// anyone asked for, so it is not returned.
pub(super) async fn check(
    shared: &Shared,
    entry: &Entry,
    plan: CheckPlan,
    extra: Option<&CancellationToken>,
) -> Option<Outcome> {
    let _running = shared.store.exporter().check_started();
    let token = CancellationToken::new();
    let span = tracing::info_span!("check", target = %entry.target.name, mode = %plan.mode);
    let run = (shared.check)(plan, token.clone());
    let fut = async move {
        let outcome = run.await;
        tracing::debug!(result = %outcome.summary(), "check finished");
        outcome
    }
    .instrument(span);
    tokio::pin!(fut);
    let never = CancellationToken::new();
    let extra = extra.unwrap_or(&never);
    tokio::select! {
        biased;
        outcome = &mut fut => return Some(outcome),
        _ = entry.retired() => {}
        _ = shared.cancel.cancelled() => {}
        _ = extra.cancelled() => {}
    }
    token.cancel();
    let _ = fut.await;
    None
}
