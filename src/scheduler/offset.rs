//! Where in time a target's rounds fall.
//!
//! Derived from the target's name with FNV-1a ([`fnv1a`], not `std`'s
//! hasher, whose output may change between Rust releases): the same target
//! gets the same offset on every start, so restarting a fleet of exporters — or one
//! exporter with a thousand targets — never makes every check start at once.

use std::time::Duration;

use tokio::time::Instant;

use crate::shard::fnv1a;

/// A stable point in `[0, interval)` for the target called `name`.
pub fn first_run_offset(name: &str, interval: Duration) -> Duration {
    const STEPS: u64 = 1 << 20;
    let fraction = (fnv1a(name.as_bytes()) % STEPS) as f64 / STEPS as f64;
    interval.mul_f64(fraction)
}

/// When the next round is due, after a round that ended at `now`: the
/// first point of the target's stable grid (`epoch + offset + k × interval`)
/// after `now`. A round that overran its interval waits for the next slot
/// rather than running again at once; and the first round (placed within
/// seconds of start, not on the grid) is followed by the target's slot —
/// the slots that passed while a big first round was paced by the
/// concurrency limit are skipped, not caught up in one burst.
pub fn next_due(epoch: Instant, name: &str, interval: Duration, now: Instant) -> Instant {
    let interval = interval.max(Duration::from_millis(1));
    let origin = epoch + first_run_offset(name, interval);
    if now < origin {
        return origin;
    }
    let periods = (now - origin).as_nanos() / interval.as_nanos() + 1;
    origin + interval.saturating_mul(u32::try_from(periods).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_bounded_and_spread() {
        let i = Duration::from_secs(60);
        assert_eq!(first_run_offset("partner-drop", i), first_run_offset("partner-drop", i));
        let offsets: Vec<Duration> = (0..200).map(|n| first_run_offset(&format!("t{n}"), i)).collect();
        assert!(offsets.iter().all(|o| *o < i));
        // Spread: every sixth of the interval gets some of the 200 targets.
        for sixth in 0..6 {
            let lo = i / 6 * sixth;
            let hi = i / 6 * (sixth + 1);
            let n = offsets.iter().filter(|o| **o >= lo && **o < hi).count();
            assert!(n >= 15, "sixth {sixth} has only {n} of 200 first runs");
        }
    }

    #[test]
    fn rounds_settle_on_the_grid() {
        let epoch = Instant::now();
        let i = Duration::from_secs(3600);
        let origin = epoch + first_run_offset("t", i);
        // A first round early in the hour: the next is the target's slot.
        let first = epoch + Duration::from_secs(3);
        let next = next_due(epoch, "t", i, first);
        assert!(next == origin || next == origin + i, "{:?}", next - epoch);
        assert!(next > first);
        // On the grid, the next is one interval later.
        let end = origin + Duration::from_secs(2);
        assert_eq!(next_due(epoch, "t", i, end), origin + i);
        assert_eq!(next_due(epoch, "t", i, origin + i), origin + 2 * i);
        // Overran: the next free slot, not at once.
        let late = origin + 3 * i + Duration::from_secs(5);
        assert_eq!(next_due(epoch, "t", i, late), origin + 4 * i);
    }
}
