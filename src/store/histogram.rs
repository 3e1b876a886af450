//! A Prometheus histogram as plain data: fixed upper bounds, a count per
//! bucket, the sum. The store keeps one per target × mode (latency) and one
//! for the scheduler (schedule delay); the metrics collector renders them.

use std::sync::Arc;

/// Observations counted into buckets with upper bounds `bounds` (ascending),
/// plus the implicit `+Inf` bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    /// Per bucket, not cumulative; one more than `bounds` (`+Inf`).
    counts: Box<[u64]>,
    sum: f64,
}

impl Histogram {
    /// `bounds` are shared by every histogram of one family: one allocation
    /// per family, not per series.
    pub fn new(bounds: Arc<[f64]>) -> Self {
        let counts = vec![0; bounds.len() + 1].into_boxed_slice();
        Histogram { bounds, counts, sum: 0.0 }
    }

    pub fn observe(&mut self, v: f64) {
        // Prometheus' `le` is inclusive: a value equal to a bound belongs to it.
        let i = self.bounds.partition_point(|b| *b < v);
        self.counts[i] += 1;
        self.sum += v;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// `(upper bound, cumulative count)` for each bucket, `+Inf` last.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let bounds = self.bounds.iter().copied().chain(std::iter::once(f64::INFINITY));
        bounds.zip(self.counts.iter().scan(0u64, |acc, c| {
            *acc += c;
            Some(*acc)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_and_cumulative() {
        let mut h = Histogram::new(Arc::from([0.1, 1.0]));
        for v in [0.05, 0.1, 0.5, 1.0, 7.0] {
            h.observe(v);
        }
        let c: Vec<(f64, u64)> = h.cumulative().collect();
        assert_eq!(c, vec![(0.1, 2), (1.0, 4), (f64::INFINITY, 5)]);
        assert_eq!(h.count(), 5);
        assert!((h.sum() - 8.65).abs() < 1e-9);
    }
}
