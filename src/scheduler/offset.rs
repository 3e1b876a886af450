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

/// When the round after the one due at `due` is due: the first point
/// after `due` of the target's stable grid (`epoch + offset + k × interval`),
/// or `now` if that has passed already — a round that overran its interval
/// delays the next one rather than queueing a burst of catch-up checks.
pub fn next_due(epoch: Instant, name: &str, interval: Duration, due: Instant, now: Instant) -> Instant {
    let interval = interval.max(Duration::from_millis(1));
    let origin = epoch + first_run_offset(name, interval);
    let next = if due < origin {
        origin
    } else {
        let periods = (due - origin).as_nanos() / interval.as_nanos() + 1;
        let periods = u32::try_from(periods).unwrap_or(u32::MAX);
        origin + interval.saturating_mul(periods)
    };
    next.max(now)
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
        // A first round early in the hour: the next is the target's slot in the hour.
        let first = epoch + Duration::from_secs(3);
        let next = next_due(epoch, "t", i, first, first);
        assert!(next == origin || next == origin + i, "{:?}", next - epoch);
        assert!(next > first);
        // On the grid, the next is one interval later.
        assert_eq!(next_due(epoch, "t", i, origin, origin), origin + i);
        assert_eq!(next_due(epoch, "t", i, origin + i, origin + i), origin + 2 * i);
        // Overran: now.
        let late = origin + 3 * i + Duration::from_secs(5);
        assert_eq!(next_due(epoch, "t", i, origin + i, late), late);
    }
}
