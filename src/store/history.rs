//! The last few checks of one target × mode, compactly, for the status
//! page's sparklines: when each ended, how long it took, how that time
//! split over the phases, and where it failed.
//!
//! Fixed size (no heap, [`CAPACITY`] entries of [`std::mem::size_of::<Sample>()`]
//! = 20 bytes), because the store keeps one per target × mode and a fleet
//! of ten thousand targets must stay cheap: 2 × 644 bytes per target.
//! Phase shares are kept in 1/255ths of the check's duration, enough to
//! stack a bar a few dozen pixels high.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::check::{Outcome, Phase, Reason};

/// Checks remembered per target × mode.
pub const CAPACITY: usize = 32;

/// One check, compactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// End of the check, Unix seconds (saturating; good until 2106).
    finished: u32,
    /// Duration in microseconds, saturating at ~71 minutes.
    micros: u32,
    /// Each phase's share of the duration, in 1/255ths, by `Phase::ALL` index.
    shares: [u8; PHASES],
    /// `Phase::ALL` index + 1 of the failing phase; 0: the check succeeded.
    failed_phase: u8,
    /// `Reason::ALL` index of the failure (meaningless on success).
    reason: u8,
}

const PHASES: usize = 9;
const _: () = assert!(Phase::ALL.len() == PHASES);

impl Sample {
    pub fn from_outcome(o: &Outcome) -> Sample {
        let total = o.duration.as_secs_f64();
        let mut shares = [0u8; PHASES];
        if total > 0.0 {
            for (phase, d) in &o.phases {
                let share = (d.as_secs_f64() / total * 255.0).round().clamp(0.0, 255.0) as u8;
                shares[index(Phase::ALL, *phase)] = share;
            }
        }
        let finished = o.finished_at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let (failed_phase, reason) = match &o.failure {
            Some(f) => (index(Phase::ALL, f.phase) as u8 + 1, index(Reason::ALL, f.reason) as u8),
            None => (0, 0),
        };
        Sample {
            finished: u32::try_from(finished).unwrap_or(u32::MAX),
            micros: u32::try_from(o.duration.as_micros()).unwrap_or(u32::MAX),
            shares,
            failed_phase,
            reason,
        }
    }

    pub fn finished_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::from(self.finished))
    }

    pub fn duration(&self) -> Duration {
        Duration::from_micros(u64::from(self.micros))
    }

    pub fn success(&self) -> bool {
        self.failed_phase == 0
    }

    /// Where and why it failed; `None` for a success.
    pub fn failure(&self) -> Option<(Phase, Reason)> {
        let phase = Phase::ALL.get(usize::from(self.failed_phase).checked_sub(1)?)?;
        Some((*phase, *Reason::ALL.get(usize::from(self.reason))?))
    }

    /// Each phase that took a visible share of the check, with that share (0..=1), in session order.
    pub fn shares(&self) -> impl Iterator<Item = (Phase, f64)> + '_ {
        Phase::ALL.iter().zip(self.shares).filter(|(_, s)| *s > 0).map(|(p, s)| (*p, f64::from(s) / 255.0))
    }
}

fn index<T: PartialEq>(all: &[T], v: T) -> usize {
    all.iter().position(|x| *x == v).unwrap_or(0)
}

/// A ring of the last [`CAPACITY`] samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    ring: [Sample; CAPACITY],
    /// Samples held (≤ CAPACITY).
    len: u8,
    /// Where the next sample goes.
    next: u8,
}

impl Default for History {
    fn default() -> Self {
        History { ring: [Sample::default(); CAPACITY], len: 0, next: 0 }
    }
}

impl History {
    pub fn push(&mut self, s: Sample) {
        self.ring[usize::from(self.next)] = s;
        self.next = ((usize::from(self.next) + 1) % CAPACITY) as u8;
        self.len = (usize::from(self.len) + 1).min(CAPACITY) as u8;
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Sample> + '_ {
        let start = (usize::from(self.next) + CAPACITY - self.len()) % CAPACITY;
        (0..self.len()).map(move |i| &self.ring[(start + i) % CAPACITY])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Failure, Mode};

    fn outcome(ms: u64, failure: Option<(Phase, Reason)>) -> Outcome {
        let failure = failure.map(|(p, r)| Failure::new(p, r, "", "x"));
        Outcome {
            finished_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000 + ms),
            phases: vec![
                (Phase::Connect, Duration::from_millis(ms / 4)),
                (Phase::Login, Duration::from_millis(ms / 2)),
                (Phase::DataConnect, Duration::from_millis(ms / 4)),
            ],
            ..Outcome::for_test(Mode::Active, Duration::from_millis(ms), failure)
        }
    }

    #[test]
    fn a_sample_keeps_duration_shares_and_failure() {
        let s = Sample::from_outcome(&outcome(400, Some((Phase::DataConnect, Reason::Timeout))));
        assert_eq!(s.duration(), Duration::from_millis(400));
        assert_eq!(s.failure(), Some((Phase::DataConnect, Reason::Timeout)));
        assert!(!s.success());
        let shares: Vec<(Phase, f64)> = s.shares().collect();
        assert_eq!(
            shares.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [Phase::Connect, Phase::Login, Phase::DataConnect]
        );
        assert!((shares[1].1 - 0.5).abs() < 0.01, "{shares:?}");
        assert_eq!(s.finished_at(), UNIX_EPOCH + Duration::from_secs(1_700_000_400));
        let ok = Sample::from_outcome(&outcome(8, None));
        assert!(ok.success() && ok.failure().is_none());
    }

    #[test]
    fn the_ring_keeps_the_last_capacity_samples_oldest_first() {
        let mut h = History::default();
        assert!(h.is_empty());
        for ms in 1..=(CAPACITY as u64 + 5) {
            h.push(Sample::from_outcome(&outcome(ms, None)));
        }
        assert_eq!(h.len(), CAPACITY);
        let ms: Vec<u128> = h.iter().map(|s| s.duration().as_millis()).collect();
        assert_eq!(ms.first(), Some(&6));
        assert_eq!(ms.last(), Some(&(CAPACITY as u128 + 5)));
        assert!(ms.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn its_cost_is_what_the_docs_say() {
        assert_eq!(std::mem::size_of::<Sample>(), 20);
        assert_eq!(std::mem::size_of::<History>(), 644);
    }
}
