//! Connecting to a name with several addresses as RFC 8305 ("Happy
//! Eyeballs v2") says: families interleaved, preferred first; the next
//! attempt starts 250 ms after the previous one started, or as soon as it
//! failed; the first connection wins and the others are dropped.
//!
//! Without it the first address gets the whole deadline: a name whose AAAA
//! is blackholed fails `connect/timeout` although its IPv4 address works.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use super::labels::IpProtocol;
use crate::ftp::data::canonical;

/// RFC 8305 §5: "Connection Attempt Delay", recommended default 250 ms.
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

fn is_v4(a: &SocketAddr) -> bool {
    canonical(a.ip()).is_ipv4()
}

/// The addresses `protocol` allows, in attempt order: IPv6 first (RFC 8305
/// §4, RFC 6724's default preference), then alternating families, each
/// family in the resolver's order. Repeats are dropped.
pub fn order(addrs: &[SocketAddr], protocol: IpProtocol) -> Vec<SocketAddr> {
    let mut unique: Vec<SocketAddr> = Vec::with_capacity(addrs.len());
    for a in addrs {
        if !unique.contains(a) {
            unique.push(*a);
        }
    }
    let (v4, v6): (Vec<SocketAddr>, Vec<SocketAddr>) = unique.into_iter().partition(is_v4);
    match protocol {
        IpProtocol::Ipv4 => v4,
        IpProtocol::Ipv6 => v6,
        IpProtocol::Auto => {
            let mut out = Vec::with_capacity(v4.len() + v6.len());
            let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
            loop {
                match (a.next(), b.next()) {
                    (None, None) => return out,
                    (x, y) => out.extend(x.into_iter().chain(y)),
                }
            }
        }
    }
}

/// What happened during a race, for the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Started(SocketAddr),
    Failed(SocketAddr, String),
}

/// Why no connection was made.
#[derive(Debug)]
pub enum RaceError {
    /// The deadline passed with attempts still pending.
    Timeout,
    /// Every attempt failed; the last failure.
    Failed(io::Error),
}

/// Races connection attempts to `addrs` (already in [`order`]) until one
/// succeeds or `deadline`; `connect` opens one connection, `on_event`
/// hears of every attempt started and failed. The winner's address and
/// connection are returned; attempts still running are dropped.
pub async fn race<T, F, Fut>(
    addrs: &[SocketAddr],
    delay: Duration,
    deadline: Instant,
    connect: F,
    mut on_event: impl FnMut(Event),
) -> Result<(SocketAddr, T), RaceError>
where
    T: Send + 'static,
    F: Fn(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>> + Send + 'static,
{
    let mut pending: JoinSet<(SocketAddr, io::Result<T>)> = JoinSet::new();
    let mut next = 0;
    let mut next_at = Instant::now();
    let mut last = None;
    loop {
        if next < addrs.len() && (pending.is_empty() || Instant::now() >= next_at) {
            let addr = addrs[next];
            next += 1;
            on_event(Event::Started(addr));
            let attempt = connect(addr);
            pending.spawn(async move { (addr, attempt.await) });
            next_at = Instant::now() + delay;
            continue;
        }
        if pending.is_empty() {
            return Err(RaceError::Failed(
                last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to connect to")),
            ));
        }
        let more = next < addrs.len();
        tokio::select! {
            done = pending.join_next() => match done {
                Some(Ok((addr, Ok(conn)))) => return Ok((addr, conn)),
                Some(Ok((addr, Err(e)))) => {
                    on_event(Event::Failed(addr, e.to_string()));
                    last = Some(e);
                    // RFC 8305 §5: a failure starts the next attempt at once.
                    next_at = Instant::now();
                }
                Some(Err(join)) => last = Some(io::Error::other(join.to_string())),
                None => {}
            },
            () = sleep_until(next_at), if more => {}
            () = sleep_until(deadline) => return Err(RaceError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_interleave_ipv6_first() {
        let resolved = [a("192.0.2.1:21"), a("192.0.2.2:21"), a("[2001:db8::1]:21"), a("[2001:db8::2]:21")];
        assert_eq!(
            order(&resolved, IpProtocol::Auto),
            [a("[2001:db8::1]:21"), a("192.0.2.1:21"), a("[2001:db8::2]:21"), a("192.0.2.2:21")]
        );
        assert_eq!(order(&resolved, IpProtocol::Ipv4), [a("192.0.2.1:21"), a("192.0.2.2:21")]);
        assert_eq!(order(&resolved, IpProtocol::Ipv6), [a("[2001:db8::1]:21"), a("[2001:db8::2]:21")]);
        let mapped = [a("[::ffff:192.0.2.1]:21"), a("192.0.2.1:21"), a("192.0.2.1:21")];
        assert_eq!(order(&mapped, IpProtocol::Ipv4).len(), 2, "mapped is IPv4; repeats dropped");
        assert_eq!(order(&[a("192.0.2.1:21")], IpProtocol::Ipv6), []);
    }

    /// A scripted connect: after `after`, succeed or fail with `kind`.
    type Script = Vec<(SocketAddr, Duration, Option<io::ErrorKind>)>;

    async fn run(script: Script, deadline: Duration) -> (Result<SocketAddr, String>, Vec<(Duration, Event)>) {
        let start = Instant::now();
        let addrs: Vec<SocketAddr> = script.iter().map(|(a, _, _)| *a).collect();
        let script = Arc::new(script);
        let events = Arc::new(Mutex::new(Vec::new()));
        let log = events.clone();
        let result = race(
            &addrs,
            ATTEMPT_DELAY,
            start + deadline,
            |addr| {
                let script = script.clone();
                async move {
                    let (_, after, fail) = *script.iter().find(|(a, _, _)| *a == addr).unwrap();
                    tokio::time::sleep(after).await;
                    match fail {
                        None => Ok(addr),
                        Some(kind) => Err(io::Error::from(kind)),
                    }
                }
            },
            |e| log.lock().unwrap().push((start.elapsed(), e)),
        )
        .await;
        let result = result.map(|(addr, conn)| {
            assert_eq!(addr, conn);
            addr
        });
        let events = events.lock().unwrap().clone();
        (result.map_err(|e| format!("{e:?}")), events)
    }

    const HOUR: Duration = Duration::from_secs(3600);
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[tokio::test(start_paused = true)]
    async fn a_blackholed_first_address_costs_one_attempt_delay() {
        let (v6, v4) = (a("[2001:db8::1]:21"), a("192.0.2.1:21"));
        let (won, events) = run(vec![(v6, HOUR, None), (v4, MS(10), None)], MS(5000)).await;
        assert_eq!(won, Ok(v4));
        assert_eq!(events, [(MS(0), Event::Started(v6)), (MS(250), Event::Started(v4))]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_starts_the_next_attempt_at_once() {
        let (x, y, z) = (a("[2001:db8::1]:21"), a("192.0.2.1:21"), a("[2001:db8::2]:21"));
        let refused = Some(io::ErrorKind::ConnectionRefused);
        let (won, events) =
            run(vec![(x, MS(30), refused), (y, MS(40), refused), (z, MS(5), None)], MS(5000)).await;
        assert_eq!(won, Ok(z));
        let times: Vec<Duration> = events.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [MS(0), MS(30), MS(30), MS(70), MS(70)], "{events:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_success_wins_even_if_started_later() {
        let (slow, fast) = (a("[2001:db8::1]:21"), a("192.0.2.1:21"));
        let (won, _) = run(vec![(slow, MS(400), None), (fast, MS(20), None)], MS(5000)).await;
        assert_eq!(won, Ok(fast), "started at 250 ms, done at 270 ms, before the first at 400 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn all_failing_reports_the_last_failure_and_a_deadline_times_out() {
        let (x, y) = (a("[2001:db8::1]:21"), a("192.0.2.1:21"));
        let (r, _) = run(
            vec![
                (x, MS(1), Some(io::ErrorKind::NetworkUnreachable)),
                (y, MS(1), Some(io::ErrorKind::ConnectionRefused)),
            ],
            MS(5000),
        )
        .await;
        assert!(r.unwrap_err().contains("ConnectionRefused"));
        let start = Instant::now();
        let (r, events) = run(vec![(x, HOUR, None), (y, HOUR, None)], MS(1000)).await;
        assert_eq!(r, Err("Timeout".into()));
        assert_eq!(events.len(), 2, "both tried: {events:?}");
        assert_eq!(start.elapsed(), MS(1000));
    }
}
