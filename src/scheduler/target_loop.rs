//! The life of one target: wait for its slot, check each of its modes in
//! turn, record, repeat every interval.

use std::sync::Arc;

use tokio::time::{sleep_until, Instant};

use super::{Schedulable, Shared};

/// `first`: how long after the start the first round is due.
pub(super) async fn run<T: Schedulable>(
    target: Arc<T>,
    session: Arc<tokio::sync::Mutex<()>>,
    first: std::time::Duration,
    shared: Arc<Shared>,
) {
    let name = target.name().to_string();
    let interval = target.interval().max(std::time::Duration::from_millis(1));
    let modes = target.modes();
    let mut stop = shared.stop.clone();
    let mut due = Instant::now() + first;
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            _ = sleep_until(due) => {}
        }
        // Each mode is due when the previous one ended (or at the tick, for the first).
        let mut mode_due = due;
        for mode in &modes {
            // Stop is checked first: after shutdown no new check starts,
            // not even the second mode of a round.
            let session = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => return,
                s = session.lock() => s,
            };
            let permit = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => return,
                p = shared.limit.acquire() => p,
            };
            // The semaphore is never closed, so this is always Ok.
            let Ok(_permit) = permit else { return };
            shared.metrics.exporter.schedule_delay(Instant::now().saturating_duration_since(mode_due));
            let outcome = {
                let _running = shared.metrics.exporter.check_started();
                (shared.check)(target.plan(*mode)).await
            };
            shared.metrics.record(&name, &outcome);
            shared.status.record(&name, outcome);
            drop(session);
            mode_due = Instant::now();
        }
        // A check that overran its interval delays the next one rather than
        // queueing a burst of catch-up checks.
        due += interval;
        let now = Instant::now();
        if due < now {
            due = now;
        }
    }
}
