//! The bytes `store` uploads, generated from a per-check seed instead of
//! held in memory: the upload streams them, and the read-back is compared
//! chunk by chunk against the same sequence regenerated, so a 64 MiB probe
//! costs one chunk of memory, not two copies of the file (× every
//! concurrent check).
//!
//! The sequence differs per check (so a stale file from an earlier check,
//! or another exporter's, cannot pass verification) and is not all zeros
//! (so a server that truncates or zero-fills is caught).

use std::sync::atomic::{AtomicU64, Ordering};

/// An endless deterministic byte sequence (xorshift64, little-endian words).
#[derive(Debug, Clone)]
pub(super) struct ProbeBytes {
    state: u64,
    /// The current word and how many of its bytes were already given out.
    word: [u8; 8],
    used: usize,
}

impl ProbeBytes {
    /// A sequence no other check of this process (and, with the clock in
    /// the seed, no earlier run) produces.
    pub(super) fn fresh() -> ProbeBytes {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        ProbeBytes::from_seed(now ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub(super) fn from_seed(seed: u64) -> ProbeBytes {
        // xorshift never leaves 0; any other seed is a full-period start.
        ProbeBytes { state: seed | 1, word: [0; 8], used: 8 }
    }

    /// Fills `out` with the next bytes of the sequence.
    pub(super) fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            if self.used == 8 {
                let mut x = self.state;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.state = x;
                self.word = x.to_le_bytes();
                self.used = 0;
            }
            *b = self.word[self.used];
            self.used += 1;
        }
    }
}

/// Compares a stream of bytes, as it arrives, with the sequence that was
/// uploaded; remembers where the first difference was.
#[derive(Debug)]
pub(super) struct Verifier {
    expected: ProbeBytes,
    scratch: Vec<u8>,
    seen: u64,
    first_difference: Option<u64>,
}

impl Verifier {
    /// `expected` must be a clone of the generator taken before the upload.
    pub(super) fn new(expected: ProbeBytes) -> Verifier {
        Verifier { expected, scratch: Vec::new(), seen: 0, first_difference: None }
    }

    pub(super) fn feed(&mut self, chunk: &[u8]) {
        self.scratch.resize(chunk.len(), 0);
        self.expected.fill(&mut self.scratch);
        if self.first_difference.is_none() {
            if let Some(i) = chunk.iter().zip(&self.scratch).position(|(a, b)| a != b) {
                self.first_difference = Some(self.seen + i as u64);
            }
        }
        self.seen += chunk.len() as u64;
    }

    /// Bytes fed so far.
    pub(super) fn seen(&self) -> u64 {
        self.seen
    }

    pub(super) fn first_difference(&self) -> Option<u64> {
        self.first_difference
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(g: &mut ProbeBytes, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        g.fill(&mut v);
        v
    }

    #[test]
    fn chunking_does_not_change_the_sequence() {
        let whole = take(&mut ProbeBytes::from_seed(42), 4097);
        let mut g = ProbeBytes::from_seed(42);
        let mut pieces = Vec::new();
        for n in [1, 7, 8, 9, 1000, 3072] {
            pieces.extend(take(&mut g, n));
        }
        assert_eq!(pieces, whole);
        assert!(whole.iter().any(|&b| b != 0));
    }

    #[test]
    fn fresh_sequences_differ() {
        let a = take(&mut ProbeBytes::fresh(), 64);
        let b = take(&mut ProbeBytes::fresh(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn verifier_finds_the_first_difference() {
        let g = ProbeBytes::from_seed(7);
        let mut data = take(&mut g.clone(), 10_000);
        let mut same = Verifier::new(g.clone());
        for chunk in data.chunks(333) {
            same.feed(chunk);
        }
        assert_eq!((same.seen(), same.first_difference()), (10_000, None));
        data[5000] ^= 1;
        data[9000] ^= 1;
        let mut differs = Verifier::new(g);
        for chunk in data.chunks(4096) {
            differs.feed(chunk);
        }
        assert_eq!(differs.first_difference(), Some(5000));
    }
}
