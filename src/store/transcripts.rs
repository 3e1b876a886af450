//! The store's one global bound on transcripts.
//!
//! A transcript is what an operator reads when something is wrong, and the
//! biggest thing a check leaves behind (up to 400 lines of server-chosen
//! text). Keeping one per target × mode forever would make memory grow with
//! the fleet and with what hostile servers send, so the store keeps:
//! - the transcript of every target × mode whose last check failed;
//! - the transcripts of the last `max_successes` successful checks overall;
//! - and all of them together within `max_bytes`: past that, the oldest
//!   successes go first, then the oldest failures.
//!
//! Transcripts live in their target's results (one place, dropped with the
//! target); this module only holds weak references in recording order, so
//! it is not a second list of targets.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::entry::Entry;
use super::exporter::lock;
use crate::check::{Mode, SessionRecord, Transcript};

/// Successful checks whose transcripts are kept, by default.
pub const DEFAULT_MAX_SUCCESSES: usize = 1000;
/// Bytes all kept transcripts may take together, by default.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

/// A check's details the store keeps — its transcript and its session
/// record (phase spans, data connections: what diagrams are drawn from);
/// their bytes count against the budget for as long as they live.
#[derive(Debug)]
pub struct Kept {
    transcript: Transcript,
    record: SessionRecord,
    bytes: usize,
    budget: Arc<AtomicUsize>,
}

impl Kept {
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    pub fn record(&self) -> &SessionRecord {
        &self.record
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.budget.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// What an evicted transcript was: whose, and which.
pub(super) struct Slot {
    kept: Weak<Kept>,
    entry: Weak<Entry>,
    mode: Mode,
}

struct Queues {
    successes: VecDeque<Slot>,
    failures: VecDeque<Slot>,
}

pub struct Transcripts {
    max_successes: usize,
    max_bytes: usize,
    bytes: Arc<AtomicUsize>,
    queues: Mutex<Queues>,
}

/// Approximate heap bytes of a check's details: the transcript's text and
/// per-line overhead, and the record's entries.
fn size_of(t: &Transcript, r: &SessionRecord) -> usize {
    let lines: usize = t.lines().iter().map(|l| l.text.len() + std::mem::size_of_val(l)).sum();
    let record = r.spans.len() * std::mem::size_of::<crate::check::PhaseSpan>()
        + r.data.len() * std::mem::size_of::<crate::check::DataConnection>();
    lines + record + 64
}

impl Transcripts {
    pub fn new(max_successes: usize, max_bytes: usize) -> Self {
        Transcripts {
            max_successes,
            max_bytes,
            bytes: Arc::default(),
            queues: Mutex::new(Queues { successes: VecDeque::new(), failures: VecDeque::new() }),
        }
    }

    /// Bytes held by kept transcripts now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Takes a check's details into the budget. Returns them, and the slots to
    /// evict once the caller has installed it and released its own lock
    /// (eviction locks other entries; never with one held).
    pub(super) fn keep(
        &self,
        entry: &Arc<Entry>,
        mode: Mode,
        (transcript, record): (Transcript, SessionRecord),
        success: bool,
    ) -> (Arc<Kept>, Vec<Slot>) {
        let bytes = size_of(&transcript, &record);
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
        let kept = Arc::new(Kept { transcript, record, bytes, budget: self.bytes.clone() });
        let slot = Slot { kept: Arc::downgrade(&kept), entry: Arc::downgrade(entry), mode };
        let mut q = lock(&self.queues);
        let mut victims = Vec::new();
        if success {
            q.successes.push_back(slot);
            while q.successes.len() > self.max_successes {
                victims.extend(q.successes.pop_front());
            }
        } else {
            q.failures.push_back(slot);
        }
        // Over the byte budget: the victims chosen so far free their bytes
        // only once evicted, so count what they will free. The transcript
        // just taken is the newest news: it goes only when nothing else is left.
        let mut freeing: usize = victims.iter().filter_map(|s| s.kept.upgrade()).map(|k| k.bytes).sum();
        let newest = Arc::downgrade(&kept);
        while self.bytes().saturating_sub(freeing) > self.max_bytes {
            let older = |q: &VecDeque<Slot>| q.front().is_some_and(|s| !s.kept.ptr_eq(&newest));
            let v = if older(&q.successes) {
                q.successes.pop_front()
            } else if older(&q.failures) {
                q.failures.pop_front()
            } else {
                q.successes.pop_front().or_else(|| q.failures.pop_front())
            };
            let Some(v) = v else { break };
            freeing += v.kept.upgrade().map(|k| k.bytes).unwrap_or(0);
            victims.push(v);
        }
        // Slots whose transcript was replaced by a newer check are dead
        // weight: drop them when they outnumber the live ones.
        let live = |s: &Slot| s.kept.strong_count() > 0;
        if q.failures.len() > 64 && q.failures.len() > 2 * q.failures.iter().filter(|s| live(s)).count() {
            q.failures.retain(live);
        }
        (kept, victims)
    }

    /// Drops the victims' transcripts from their entries' results, unless
    /// a newer check replaced them already.
    pub(super) fn evict(&self, victims: Vec<Slot>) {
        for v in victims {
            if let (Some(kept), Some(entry)) = (v.kept.upgrade(), v.entry.upgrade()) {
                entry.forget_transcript(v.mode, &kept);
            }
        }
    }
}
