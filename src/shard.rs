//! Scale-out: several exporters share one target list, each checking the
//! targets whose name hashes to its shard (`fnv1a(name) % count == index`).
//!
//! One exporter stops being enough at some thousands of targets, or when
//! each site wants its own. Every replica loads the same configuration (one
//! ConfigMap, one StatefulSet in the Helm chart) and keeps only its share,
//! so adding a target never needs a decision about where it goes, and a
//! target moves only when the shard count changes. The index may come from
//! the host name's trailing ordinal, which is how a StatefulSet names its
//! pods (`ftp-exporter-2` → 2).

use thiserror::Error;

/// FNV-1a, 64 bit: the one stable hash of target names. `std`'s hasher may
/// change between Rust releases; this one cannot, so a target belongs to
/// the same shard, and starts at the same offset in its interval
/// ([`crate::scheduler::first_run_offset`]), on every build and every start.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// This exporter's share of the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("--shard.count must be at least 1")]
    ZeroCount,
    #[error("--shard.index {index} is out of range: with --shard.count {count} it must be 0 to {}", count - 1)]
    IndexOutOfRange { index: u32, count: u32 },
    #[error(
        "host name {0:?} does not end in -<ordinal> (a StatefulSet pod's name does, e.g. ftp-exporter-2); \
         pass --shard.index instead"
    )]
    NoOrdinal(String),
    #[error("--shard.index-from-hostname: cannot read this host's name (/proc/sys/kernel/hostname, /etc/hostname, $HOSTNAME)")]
    NoHostname,
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::ZeroCount);
        }
        if index >= count {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// The shard of a StatefulSet pod: the index is its name's ordinal
    /// (`host`: [`crate::config::hostname::read`]).
    pub fn from_hostname(host: Option<&str>, count: u32) -> Result<Shard, ShardError> {
        Shard::new(ordinal(host.ok_or(ShardError::NoHostname)?)?, count)
    }

    /// Whether the target called `name` is this shard's to check.
    pub fn owns(&self, name: &str) -> bool {
        fnv1a(name.as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }
}

/// The trailing ordinal of a host name: `ftp-exporter-2` → 2. Only the
/// first label of a dotted name counts (`web-1.example.net` → 1), and the
/// digits must follow a `-`, so `ftp2` or a bare `3` are refused rather
/// than guessed at.
pub fn ordinal(host: &str) -> Result<u32, ShardError> {
    let first = host.trim().split('.').next().unwrap_or("");
    let refused = || ShardError::NoOrdinal(host.to_string());
    let (prefix, digits) = first.rsplit_once('-').ok_or_else(refused)?;
    if prefix.is_empty() || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused());
    }
    digits.parse().map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference (draft-eastlake-fnv, test vectors for FNV-1a 64).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn every_name_has_exactly_one_owner_and_shares_are_even() {
        let count = 3;
        let shards: Vec<Shard> = (0..count).map(|i| Shard::new(i, count).unwrap()).collect();
        let mut per_shard = [0usize; 3];
        for n in 0..3000 {
            let name = format!("target-{n}");
            let owners: Vec<u32> = shards.iter().filter(|s| s.owns(&name)).map(|s| s.index).collect();
            assert_eq!(owners.len(), 1, "{name}: owners {owners:?}");
            per_shard[owners[0] as usize] += 1;
        }
        for (i, n) in per_shard.iter().enumerate() {
            assert!((850..=1150).contains(n), "shard {i} owns {n} of 3000");
        }
        // One shard owns everything.
        assert!((0..100).all(|n| Shard::new(0, 1).unwrap().owns(&format!("t{n}"))));
    }

    #[test]
    fn invalid_shards_are_refused_with_the_flag_named() {
        assert_eq!(Shard::new(0, 0), Err(ShardError::ZeroCount));
        let e = Shard::new(3, 3).unwrap_err();
        assert_eq!(e, ShardError::IndexOutOfRange { index: 3, count: 3 });
        assert_eq!(e.to_string(), "--shard.index 3 is out of range: with --shard.count 3 it must be 0 to 2");
        assert_eq!(Shard::new(2, 3), Ok(Shard { index: 2, count: 3 }));
    }

    #[test]
    fn ordinal_is_the_statefulset_suffix() {
        assert_eq!(ordinal("ftp-exporter-2"), Ok(2));
        assert_eq!(ordinal("rel-ftp-exporter-10"), Ok(10));
        assert_eq!(ordinal("web-0.web.monitoring.svc.cluster.local"), Ok(0));
        assert_eq!(ordinal("ftp-exporter-7\n"), Ok(7));
        for bad in ["ftp2", "3", "-3", "ftp-exporter-", "ftp-exporter-x1", "ftp-exporter-99999999999", ""] {
            let e = ordinal(bad).unwrap_err();
            assert!(matches!(e, ShardError::NoOrdinal(_)), "{bad:?}: {e:?}");
        }
        assert_eq!(
            Shard::from_hostname(Some("ftp-exporter-3"), 3),
            Err(ShardError::IndexOutOfRange { index: 3, count: 3 })
        );
        assert_eq!(Shard::from_hostname(Some("ftp-exporter-1"), 3), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(Shard::from_hostname(None, 3), Err(ShardError::NoHostname));
    }
}
