//! What the store knows about the exporter itself: whether its
//! configuration is current, how busy and how late the scheduler is.
//!
//! Written by the reload path and the scheduler, read by the metrics
//! collector; plain atomics and one small lock, never held across an await.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::histogram::Histogram;

/// Upper bounds of `ftp_exporter_schedule_delay_seconds`. Delays are
/// normally milliseconds; seconds-long ones mean the concurrency limit is
/// too low for the number of targets.
pub const SCHEDULE_DELAY_BUCKETS: [f64; 11] =
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0, 60.0];

/// A shard of a target list split over several exporters (the one type,
/// from [`crate::shard`]).
pub use crate::shard::Shard as ShardInfo;

pub struct ExporterStats {
    reload_ok: AtomicBool,
    /// Unix time in milliseconds of the last successful load; 0: never.
    reload_ok_at_ms: AtomicU64,
    in_flight: AtomicI64,
    schedule_delay: Mutex<Histogram>,
    shard: Mutex<Option<ShardInfo>>,
}

impl Default for ExporterStats {
    fn default() -> Self {
        ExporterStats {
            reload_ok: AtomicBool::new(false),
            reload_ok_at_ms: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            schedule_delay: Mutex::new(Histogram::new(Arc::from(SCHEDULE_DELAY_BUCKETS))),
            shard: Mutex::new(None),
        }
    }
}

impl ExporterStats {
    /// A configuration was loaded (`ok`) or refused.
    pub fn config_loaded(&self, ok: bool) {
        self.reload_ok.store(ok, Ordering::Release);
        if ok {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
            self.reload_ok_at_ms.store(now, Ordering::Release);
        }
    }

    pub fn reload_successful(&self) -> bool {
        self.reload_ok.load(Ordering::Acquire)
    }

    /// Unix seconds of the last successful load (0 before the first).
    pub fn reload_success_timestamp(&self) -> f64 {
        self.reload_ok_at_ms.load(Ordering::Acquire) as f64 / 1000.0
    }

    /// How late a check started relative to when it was due.
    pub fn schedule_delay(&self, late: Duration) {
        lock(&self.schedule_delay).observe(late.as_secs_f64());
    }

    pub fn schedule_delays(&self) -> Histogram {
        lock(&self.schedule_delay).clone()
    }

    /// Counts a check as running until the guard is dropped — also when the
    /// check is cancelled by a reload or shutdown.
    pub fn check_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    pub fn checks_in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn set_shard(&self, shard: Option<ShardInfo>) {
        *lock(&self.shard) = shard;
    }

    pub fn shard(&self) -> Option<ShardInfo> {
        *lock(&self.shard)
    }
}

/// A running check; see [`ExporterStats::check_started`].
pub struct InFlight(Arc<ExporterStats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Every critical section here leaves its data consistent, so a poisoned
/// lock (a panic elsewhere while holding it) still holds good data.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
