//! Scheduling rules on tokio's paused clock: the check is a scripted future
//! that takes a known time, so offsets, overlap and concurrency are exact.

use std::sync::Mutex;
use std::time::SystemTime;

use super::*;
use crate::check::{Failure, Mode, Phase, Reason, Transcript};
use crate::config::{Config, Target};
use crate::store::StoreOptions;

/// A target whose host is its name (scripted checks fail for `bad*`);
/// `tag` stands in for any other setting (changing it is a config change).
fn t(name: &str, interval_secs: u64) -> Target {
    tagged(name, interval_secs, 0, "[passive, active]")
}

fn tagged(name: &str, interval_secs: u64, tag: u32, modes: &str) -> Target {
    let yaml = format!(
        "targets:\n  - {{ name: {name}, address: {name}, interval: {interval_secs}s, timeout: {interval_secs}s, \
         modes: {modes}, labels: {{ tag: \"{tag}\" }} }}\n"
    );
    Config::parse(&yaml, std::path::Path::new("t.yml")).unwrap().targets.remove(0)
}

#[derive(Debug, Clone)]
struct Run {
    target: String,
    mode: Mode,
    start: Instant,
    end: Instant,
    cancelled: bool,
    timeout: Duration,
}

type Log = Arc<Mutex<Vec<Run>>>;

/// A check that takes `took` of (paused) time (at most its timeout), or
/// ends 100 ms after it is cancelled (its QUIT), and fails for hosts named `bad*`.
fn scripted(took: Duration, log: Log) -> CheckFn {
    Arc::new(move |plan: CheckPlan, cancel: CancellationToken| {
        let log = log.clone();
        Box::pin(async move {
            let start = Instant::now();
            let cancelled = tokio::select! {
                _ = tokio::time::sleep(took.min(plan.timeout)) => false,
                _ = cancel.cancelled() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    true
                }
            };
            log.lock().unwrap().push(Run {
                target: plan.host.clone(),
                mode: plan.mode,
                start,
                end: Instant::now(),
                cancelled,
                timeout: plan.timeout,
            });
            let failure = plan
                .host
                .starts_with("bad")
                .then(|| Failure::new(Phase::Login, Reason::AuthFailed, "530", "refused"));
            Outcome {
                mode: plan.mode,
                finished_at: SystemTime::now(),
                duration: took,
                phases: vec![(Phase::Connect, took)],
                failure,
                bytes: vec![],
                passive_address_mismatch: None,
                passive_advertised: None,
                tls: None,
                control_peer: None,
                control_local: None,
                transcript: Transcript::new(),
                record: Default::default(),
            }
        })
    })
}

struct Setup {
    s: Scheduler,
    store: Arc<Store>,
    log: Log,
}

impl Setup {
    fn new(took: Duration, limit: usize, probes: usize) -> Setup {
        let store = Store::new(StoreOptions::default(), |_| None);
        let log = Log::default();
        let s = Scheduler::new(store.clone(), scripted(took, log.clone()), limit, probes);
        Setup { s, store, log }
    }

    /// A reload: the store takes the set, the scheduler starts what is new.
    fn apply(&self, targets: Vec<Target>) {
        self.s.start(self.store.apply(targets, &[]));
    }

    fn runs(&self) -> Vec<Run> {
        self.log.lock().unwrap().clone()
    }

    fn up(&self, name: &str, mode: Mode) -> Option<bool> {
        Some(self.store.get(name)?.results().mode(mode).last.as_ref()?.success())
    }
}

#[tokio::test(start_paused = true)]
async fn a_first_round_soon_after_start_then_the_stable_grid() {
    let x = Setup::new(Duration::from_secs(1), 64, 4);
    let t0 = Instant::now();
    x.apply(vec![t("a", 60), t("b", 60), t("hourly", 3600)]);
    tokio::time::sleep(Duration::from_secs(179)).await;
    let runs = x.runs();
    for name in ["a", "b"] {
        let first = first_run_offset(name, FIRST_ROUND_SPREAD);
        let grid = first_run_offset(name, Duration::from_secs(60));
        let starts: Vec<Duration> = runs
            .iter()
            .filter(|r| r.target == name && r.mode == Mode::Passive)
            .map(|r| r.start - t0)
            .collect();
        assert!(
            starts[0].abs_diff(first) < Duration::from_millis(5),
            "{name}: first round at {:?}",
            starts[0]
        );
        // Then on the grid: the first point after the first round (both
        // modes, 2 s), every 60 s.
        let mut want = grid;
        while want <= starts[0] + Duration::from_secs(2) {
            want += Duration::from_secs(60);
        }
        for (i, s) in starts.iter().enumerate().skip(1) {
            assert!(s.abs_diff(want) < Duration::from_millis(5), "{name} run {i} at {s:?}, want {want:?}");
            want += Duration::from_secs(60);
        }
        assert!(starts.len() >= 3, "{name}: {starts:?}");
    }
    // An hour-long interval is no reason to report nothing for an hour.
    let hourly: Vec<&Run> = runs.iter().filter(|r| r.target == "hourly").collect();
    assert_eq!(hourly.len(), 2, "{hourly:?}");
    assert!(hourly[0].start - t0 < FIRST_ROUND_SPREAD);
    assert_eq!(x.up("hourly", Mode::Active), Some(true));
    x.s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn modes_of_a_target_never_overlap_even_when_checks_overrun() {
    // Checks take 7 s, the interval is 10 s: passive + active = 14 s > 10 s.
    let x = Setup::new(Duration::from_secs(7), 64, 4);
    x.apply(vec![t("a", 10)]);
    tokio::time::sleep(Duration::from_secs(100)).await;
    let runs = x.runs();
    // A round every other slot (20 s), no burst of catch-up rounds.
    assert!(runs.len() >= 8, "{}", runs.len());
    let rounds: Vec<Instant> = runs.iter().step_by(2).map(|r| r.start).collect();
    for pair in rounds.windows(2).skip(1) {
        assert_eq!(pair[1] - pair[0], Duration::from_secs(20), "{rounds:?}");
    }
    for pair in runs.windows(2) {
        assert!(pair[1].start >= pair[0].end, "overlap: {pair:?}");
    }
    let modes: Vec<Mode> = runs.iter().map(|r| r.mode).collect();
    assert!(modes.chunks(2).all(|c| c[0] == Mode::Passive && c.get(1).is_none_or(|m| *m == Mode::Active)));
    x.s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn global_concurrency_limit_holds_and_delay_is_recorded() {
    let x = Setup::new(Duration::from_secs(5), 3, 4);
    x.apply((0..20).map(|i| t(&format!("t{i}"), 30)).collect());
    tokio::time::sleep(Duration::from_secs(200)).await;
    let runs = x.runs();
    // Sweep over start/end events: never more than 3 at once.
    let mut events: Vec<(Instant, i32)> = runs.iter().flat_map(|r| [(r.start, 1), (r.end, -1)]).collect();
    events.sort_by_key(|(at, d)| (*at, *d));
    let (mut now, mut max) = (0, 0);
    for (_, d) in events {
        now += d;
        max = max.max(now);
    }
    assert_eq!(max, 3, "limit not reached or exceeded");
    // 20 targets × 2 modes × 5 s = 200 s of work per 30 s interval with 3
    // slots: the scheduler falls behind and says so.
    let delays = x.store.exporter().schedule_delays();
    let within_5s = delays.cumulative().find(|(le, _)| *le == 5.0).unwrap().1;
    assert!(delays.count() > within_5s, "some checks should have waited more than 5 s: {delays:?}");
    x.s.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(start_paused = true)]
async fn reload_keeps_unchanged_restarts_changed_and_removes_gone() {
    let x = Setup::new(Duration::from_secs(1), 64, 4);
    x.apply(vec![t("keep", 20), t("change", 20), t("bad-gone", 20)]);
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert_eq!(x.up("bad-gone", Mode::Active), Some(false));
    let keep_runs_before = x.runs().iter().filter(|r| r.target == "keep").count();

    x.apply(vec![t("keep", 20), tagged("change", 20, 1, "[passive, active]")]);
    assert!(x.store.get("bad-gone").is_none());
    assert_eq!(x.up("keep", Mode::Passive), Some(true), "unchanged target lost its state");
    assert_eq!(x.up("change", Mode::Passive), None, "changed target kept stale results");
    let reloaded = Instant::now();

    tokio::time::sleep(Duration::from_secs(40)).await;
    let runs = x.runs();
    assert!(
        !runs.iter().any(|r| r.target == "bad-gone" && r.start > reloaded),
        "removed target still checked"
    );
    // The unchanged target kept its rhythm: exactly two more rounds in 40 s.
    assert_eq!(runs.iter().filter(|r| r.target == "keep").count(), keep_runs_before + 4);
    assert_eq!(x.up("change", Mode::Passive), Some(true));
    x.s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_retired_targets_running_check_is_cancelled_and_not_recorded() {
    let x = Setup::new(Duration::from_secs(30), 64, 4);
    x.apply(vec![t("slow", 60)]);
    tokio::time::sleep(FIRST_ROUND_SPREAD + Duration::from_secs(1)).await;
    assert_eq!(x.store.exporter().checks_in_flight(), 1);
    let old = x.store.get("slow").unwrap();
    x.apply(vec![tagged("slow", 60, 1, "[passive]")]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let runs = x.runs();
    assert!(runs[0].cancelled, "the old settings' check was cancelled: {runs:?}");
    assert!(old.results().mode(Mode::Passive).last.is_none(), "and its outcome dropped");
    tokio::time::sleep(FIRST_ROUND_SPREAD + Duration::from_secs(31)).await;
    let runs = x.runs();
    assert!(runs.len() >= 2 && !runs[1].cancelled, "the new settings are checked: {runs:?}");
    assert_eq!(x.up("slow", Mode::Passive), Some(true));
    x.s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_changed_target_is_checked_again_soon_not_an_interval_later() {
    let x = Setup::new(Duration::from_secs(1), 64, 4);
    x.apply(vec![t("hourly", 3600)]);
    tokio::time::sleep(Duration::from_secs(3599)).await;
    let before = x.runs().len();
    assert!(before >= 2, "the first round and maybe the first slot: {before}");
    let reloaded = Instant::now();
    x.apply(vec![tagged("hourly", 3600, 1, "[passive, active]")]);
    tokio::time::sleep(FIRST_ROUND_SPREAD + Duration::from_secs(3)).await;
    let runs = x.runs();
    let after: Vec<&Run> = runs.iter().filter(|r| r.start >= reloaded).collect();
    assert_eq!(after.len(), 2, "both modes checked within {FIRST_ROUND_SPREAD:?} of the reload: {after:?}");
    assert!(after[0].start - reloaded < FIRST_ROUND_SPREAD);
    assert_eq!(x.up("hourly", Mode::Passive), Some(true));
    x.s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn probes_do_not_queue_and_only_configured_modes_run() {
    let x = Setup::new(Duration::from_secs(5), 64, 4);
    x.apply(vec![tagged("one", 600, 0, "[passive]")]);
    assert_eq!(x.s.probe("nope", &[], None).err(), Some(ProbeRefused::UnknownTarget));
    assert_eq!(
        x.s.probe("one", &[Mode::Active], None).err(),
        Some(ProbeRefused::ModeNotConfigured(Mode::Active))
    );
    let first = x.s.probe("one", &[], None).unwrap();
    assert_eq!(x.s.probe("one", &[], None).err(), Some(ProbeRefused::Busy), "a second probe does not queue");
    let recorded = first.finish().await.unwrap();
    assert_eq!(recorded.iter().map(|r| r.outcome.mode).collect::<Vec<_>>(), vec![Mode::Passive]);
    assert_eq!(x.up("one", Mode::Passive), Some(true), "a probe records through the same path");

    let abandoned = x.s.probe("one", &[], None).expect("free again once the probe ended");
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(abandoned); // the HTTP client went away
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(x.runs().last().unwrap().cancelled, "an abandoned probe's check is cancelled (QUIT)");
    assert!(x.s.probe("one", &[], None).is_ok(), "an abandoned probe frees the target too");
    x.s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn probes_have_their_own_budget_and_end_inside_it() {
    // One slot for scheduled checks, taken by a 60 s check of `busy`; the
    // other targets' first rounds queue behind it.
    let x = Setup::new(Duration::from_secs(60), 1, 2);
    x.apply(vec![t("busy", 120)]);
    tokio::time::sleep(FIRST_ROUND_SPREAD).await;
    assert_eq!(x.store.exporter().checks_in_flight(), 1);
    x.apply(vec![t("busy", 120), t("b", 600), t("c", 600), t("d", 600)]);
    tokio::time::sleep(FIRST_ROUND_SPREAD).await;
    // Probes do not wait for the scheduled checks' slot.
    let started = Instant::now();
    let b = x.s.probe("b", &[Mode::Passive], Some(Duration::from_secs(2))).unwrap();
    let c = x.s.probe("c", &[Mode::Passive], Some(Duration::from_secs(2))).unwrap();
    assert_eq!(x.s.probe("d", &[], None).err(), Some(ProbeRefused::Overloaded), "a budget of 2 probes");
    for p in [b, c] {
        assert_eq!(p.finish().await.unwrap().len(), 1);
    }
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "probes ran beside the schedule: {:?}",
        started.elapsed()
    );
    let probe_runs: Vec<Run> = x.runs().into_iter().filter(|r| r.target == "b" || r.target == "c").collect();
    assert_eq!(probe_runs.len(), 2);
    assert!(probe_runs.iter().all(|r| r.timeout <= Duration::from_secs(2)), "capped: {probe_runs:?}");
    // A probe of a target whose scheduled check holds the session gives up
    // at the end of its budget instead of outliving the scrape.
    let t0 = Instant::now();
    let busy = x.s.probe("busy", &[], Some(Duration::from_secs(1))).unwrap();
    assert_eq!(busy.finish().await.err(), Some(ProbeRefused::SessionBusy));
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    x.s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_a_running_check_finish_within_grace_and_cancels_after() {
    let x = Setup::new(Duration::from_secs(3), 64, 4);
    x.apply(vec![t("a", 60)]);
    let offset = first_run_offset("a", FIRST_ROUND_SPREAD);
    tokio::time::sleep(offset + Duration::from_secs(1)).await;
    assert_eq!(x.store.exporter().checks_in_flight(), 1);
    let before = Instant::now();
    x.s.shutdown(Duration::from_secs(5)).await;
    assert_eq!(before.elapsed(), Duration::from_secs(2), "waited for the running check, not longer");
    assert_eq!(x.runs().len(), 1, "and started no other, not even the second mode");
    assert!(!x.runs()[0].cancelled);
    assert_eq!(x.up("a", Mode::Passive), Some(true), "recorded");
    assert_eq!(x.store.exporter().checks_in_flight(), 0);

    let x = Setup::new(Duration::from_secs(60), 64, 4);
    x.apply(vec![t("a", 60)]);
    tokio::time::sleep(offset + Duration::from_secs(1)).await;
    let before = Instant::now();
    x.s.shutdown(Duration::from_secs(2)).await;
    assert_eq!(before.elapsed(), Duration::from_millis(2100), "grace, then the check's QUIT");
    assert!(x.runs()[0].cancelled, "cancelled politely after the grace period");
    assert_eq!(x.store.exporter().checks_in_flight(), 0, "cancelled check still counted");
}
