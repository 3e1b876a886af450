//! Open HTTP connections, which of them are serving a request, and the rule
//! that keeps idle ones from locking everyone else out.
//!
//! A slot is taken at accept, because a connection costs a file descriptor
//! and memory from then on; but a connection that has not sent a complete
//! request head (or sits idle between keep-alive requests) is not doing
//! anything for anyone. So when every slot is taken, a new connection
//! evicts the oldest connection that is not serving a request, and waits
//! only when all of them are. Hundreds of idle or dripping clients (a
//! slowloris) then cost a scrape nothing: its connection is the newest and
//! sends its head at once. Each of them is still cut at the header-read
//! timeout, evicted or not.
//!
//! No per-address cap: scrapes often all come through one proxy or NAT
//! address, and eviction already makes the newest arrivals win.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;

/// The registry of open connections.
pub(super) struct Conns {
    max: usize,
    open: Mutex<Open>,
    /// Signalled whenever a connection closes.
    closed: Notify,
}

#[derive(Default)]
struct Open {
    next: u64,
    /// By accept order: the first idle one is the oldest.
    conns: BTreeMap<u64, Entry>,
}

struct Entry {
    busy: Arc<AtomicUsize>,
    evict: Arc<Notify>,
}

/// One connection's place in the registry; dropping it frees the slot.
pub(super) struct Slot {
    conns: Arc<Conns>,
    id: u64,
    pub busy: Arc<AtomicUsize>,
    /// Notified when a newer connection needs this slot.
    pub evict: Arc<Notify>,
}

impl Conns {
    pub fn new(max: usize) -> Arc<Conns> {
        Arc::new(Conns { max: max.max(1), open: Mutex::default(), closed: Notify::new() })
    }

    /// A slot for a connection just accepted: a free one, or the oldest idle
    /// connection's, or (when every connection is serving a request) the
    /// next one to close.
    pub async fn admit(self: &Arc<Self>) -> Slot {
        loop {
            let closed = self.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            {
                let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
                if open.conns.len() >= self.max {
                    let idle = open.conns.iter().find(|(_, e)| e.busy.load(Ordering::Acquire) == 0);
                    if let Some((&id, entry)) = idle {
                        entry.evict.notify_one();
                        // Its slot is taken over now; the evicted task's Slot removes nothing.
                        open.conns.remove(&id);
                    }
                }
                if open.conns.len() < self.max {
                    let id = open.next;
                    open.next += 1;
                    let busy = Arc::new(AtomicUsize::new(0));
                    let evict = Arc::new(Notify::new());
                    open.conns.insert(id, Entry { busy: busy.clone(), evict: evict.clone() });
                    return Slot { conns: self.clone(), id, busy, evict };
                }
            }
            closed.await;
        }
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).conns.len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.conns.open.lock().unwrap_or_else(|e| e.into_inner()).conns.remove(&self.id);
        self.conns.closed.notify_waiters();
    }
}

/// Marks a connection busy from the request head until its response body
/// has been written (or dropped), so it is not evicted mid-response.
pub(super) struct Busy(Arc<AtomicUsize>);

impl Busy {
    pub fn new(busy: &Arc<AtomicUsize>) -> Busy {
        busy.fetch_add(1, Ordering::AcqRel);
        Busy(busy.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that holds the connection's [`Busy`] mark.
pub(super) struct Tracked {
    body: Full<Bytes>,
    _busy: Busy,
}

impl Tracked {
    pub fn new(body: Full<Bytes>, busy: Busy) -> Tracked {
        Tracked { body, _busy: busy }
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_full_house_evicts_the_oldest_idle_connection() {
        let conns = Conns::new(2);
        let first = conns.admit().await;
        let second = conns.admit().await;
        let _serving = Busy::new(&first.busy);
        // Full: the third takes the slot of the oldest idle one, the second.
        let third = conns.admit().await;
        tokio::time::timeout(Duration::from_secs(1), second.evict.notified()).await.expect("evicted");
        assert_eq!(conns.len(), 2);
        drop(second);
        assert_eq!(conns.len(), 2, "an evicted connection's slot is not freed twice");
        // Everything busy: the next waits until one closes.
        let _also_serving = Busy::new(&third.busy);
        let waiting = tokio::spawn({
            let conns = conns.clone();
            async move { conns.admit().await.id }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(third);
        assert!(tokio::time::timeout(Duration::from_secs(1), waiting).await.is_ok());
    }
}
