//! Where in its first interval a target's first check falls.
//!
//! Derived from the target's name with FNV-1a ([`fnv1a`], not `std`'s
//! hasher, whose output may change between Rust releases): the same target
//! gets the same offset on every start, so restarting a fleet of exporters — or one
//! exporter with a thousand targets — never makes every check start at once.

use std::time::Duration;

use crate::shard::fnv1a;

/// A stable point in `[0, interval)` for the target called `name`.
pub fn first_run_offset(name: &str, interval: Duration) -> Duration {
    const STEPS: u64 = 1 << 20;
    let fraction = (fnv1a(name.as_bytes()) % STEPS) as f64 / STEPS as f64;
    interval.mul_f64(fraction)
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
}
