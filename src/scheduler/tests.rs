//! Scheduling rules on tokio's paused clock: the check is a scripted future
//! that takes a known time, so offsets, overlap and concurrency are exact.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use tokio::time::Instant;

use super::*;
use crate::check::{Failure, Phase, Reason, TlsMode, Transcript};

#[derive(Debug, Clone, PartialEq)]
struct T {
    name: String,
    interval: Duration,
    modes: Vec<Mode>,
    /// Stands in for any other setting; changing it is a config change.
    tag: u32,
}

fn t(name: &str, secs: u64) -> T {
    T {
        name: name.into(),
        interval: Duration::from_secs(secs),
        modes: vec![Mode::Passive, Mode::Active],
        tag: 0,
    }
}

impl Schedulable for T {
    fn name(&self) -> &str {
        &self.name
    }
    fn interval(&self) -> Duration {
        self.interval
    }
    fn modes(&self) -> Vec<Mode> {
        self.modes.clone()
    }
    fn plan(&self, mode: Mode) -> CheckPlan {
        CheckPlan::new(self.name.clone(), 21, mode)
    }
    fn info(&self) -> TargetInfo {
        TargetInfo {
            name: self.name.clone(),
            address: format!("{}:21", self.name),
            tls: TlsMode::None,
            labels: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Run {
    target: String,
    mode: Mode,
    start: Instant,
    end: Instant,
}

/// A check that takes `took` of (paused) time and fails for hosts named `bad*`.
fn scripted(took: Duration, log: Arc<Mutex<Vec<Run>>>) -> CheckFn {
    Arc::new(move |plan: CheckPlan| {
        let log = log.clone();
        Box::pin(async move {
            let start = Instant::now();
            tokio::time::sleep(took).await;
            log.lock().unwrap().push(Run {
                target: plan.host.clone(),
                mode: plan.mode,
                start,
                end: Instant::now(),
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

fn setup(took: Duration, limit: usize) -> (Scheduler<T>, Arc<Metrics>, Arc<Mutex<Vec<Run>>>) {
    let metrics = Metrics::new(&[]).unwrap();
    let status = Status::new(|_| None);
    let log = Arc::new(Mutex::new(Vec::new()));
    let s = Scheduler::new(metrics.clone(), status, scripted(took, log.clone()), limit);
    (s, metrics, log)
}

#[tokio::test(start_paused = true)]
async fn first_runs_follow_the_stable_offset_then_the_interval() {
    let (mut s, _m, log) = setup(Duration::from_secs(1), 64);
    let t0 = Instant::now();
    s.apply(vec![t("a", 60), t("b", 60)]).await;
    tokio::time::sleep(Duration::from_secs(179)).await;
    let runs = log.lock().unwrap().clone();
    for name in ["a", "b"] {
        let offset = first_run_offset(name, Duration::from_secs(60));
        let starts: Vec<Duration> = runs
            .iter()
            .filter(|r| r.target == name && r.mode == Mode::Passive)
            .map(|r| r.start - t0)
            .collect();
        assert_eq!(starts.len(), 3, "{name}: {starts:?}");
        for (i, s) in starts.iter().enumerate() {
            let want = offset + Duration::from_secs(60 * i as u64);
            assert!(s.abs_diff(want) < Duration::from_millis(5), "{name} run {i} at {s:?}, want {want:?}");
        }
    }
    s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn modes_of_a_target_never_overlap_even_when_checks_overrun() {
    // Checks take 7 s, the interval is 10 s: passive + active = 14 s > 10 s.
    let (mut s, _m, log) = setup(Duration::from_secs(7), 64);
    s.apply(vec![t("a", 10)]).await;
    tokio::time::sleep(Duration::from_secs(100)).await;
    let runs = log.lock().unwrap().clone();
    assert!(runs.len() >= 12, "{}", runs.len());
    for pair in runs.windows(2) {
        assert!(pair[1].start >= pair[0].end, "overlap: {pair:?}");
    }
    let modes: Vec<Mode> = runs.iter().map(|r| r.mode).collect();
    assert!(modes.chunks(2).all(|c| c[0] == Mode::Passive && c.get(1).is_none_or(|m| *m == Mode::Active)));
    s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn global_concurrency_limit_holds_and_delay_is_recorded() {
    let (mut s, m, log) = setup(Duration::from_secs(5), 3);
    s.apply((0..20).map(|i| t(&format!("t{i}"), 30)).collect()).await;
    tokio::time::sleep(Duration::from_secs(200)).await;
    let runs = log.lock().unwrap().clone();
    // Sweep over start/end events: never more than 3 at once.
    let mut events: Vec<(Instant, i32)> = runs.iter().flat_map(|r| [(r.start, 1), (r.end, -1)]).collect();
    events.sort_by_key(|(at, d)| (*at, *d));
    let mut now = 0;
    let mut max = 0;
    for (_, d) in events {
        now += d;
        max = max.max(now);
    }
    assert_eq!(max, 3, "limit not reached or exceeded");
    // 20 targets × 2 modes × 5 s = 200 s of work per 30 s interval with 3
    // slots: the scheduler falls behind and says so.
    let text = m.encode();
    assert!(text.contains("ftp_exporter_schedule_delay_seconds_bucket{le=\"60\"}"), "{text}");
    let over_5s = text
        .lines()
        .find(|l| l.starts_with("ftp_exporter_schedule_delay_seconds_bucket{le=\"5\"}"))
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let count = text
        .lines()
        .find(|l| l.starts_with("ftp_exporter_schedule_delay_seconds_count"))
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!(count > over_5s, "some checks should have waited more than 5 s: {count} vs {over_5s}");
    s.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(start_paused = true)]
async fn reload_keeps_unchanged_restarts_changed_and_removes_gone() {
    let (mut s, m, log) = setup(Duration::from_secs(1), 64);
    s.apply(vec![t("keep", 20), t("change", 20), t("bad-gone", 20)]).await;
    tokio::time::sleep(Duration::from_secs(25)).await;
    let text = m.encode();
    assert!(text.contains(r#"ftp_up{mode="active",target="bad-gone"} 0"#), "{text}");
    assert!(text.contains(r#"ftp_check_failure{code="530",mode="active",phase="login",reason="auth_failed",target="bad-gone"} 1"#));
    let keep_runs_before = log.lock().unwrap().iter().filter(|r| r.target == "keep").count();

    let mut changed = t("change", 20);
    changed.tag = 1;
    s.apply(vec![t("keep", 20), changed]).await;
    let text = m.encode();
    assert!(!text.contains("bad-gone"), "removed target's series linger: {text}");
    assert!(text.contains(r#"ftp_up{mode="passive",target="keep"} 1"#), "unchanged target lost its state");
    assert!(!text.contains(r#"ftp_up{mode="passive",target="change"}"#), "changed target kept stale results");
    assert_eq!(s.targets().len(), 2);

    tokio::time::sleep(Duration::from_secs(40)).await;
    let runs = log.lock().unwrap().clone();
    assert!(!runs
        .iter()
        .any(|r| r.target == "bad-gone" && r.start > Instant::now() - Duration::from_secs(39)));
    // The unchanged target kept its rhythm: exactly two more rounds in 40 s.
    assert_eq!(runs.iter().filter(|r| r.target == "keep").count(), keep_runs_before + 4);
    assert!(m.encode().contains(r#"ftp_up{mode="passive",target="change"} 1"#));
    s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_changed_target_is_checked_again_soon_not_an_interval_later() {
    let (mut s, m, log) = setup(Duration::from_secs(1), 64);
    s.apply(vec![t("hourly", 3600)]).await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let before = log.lock().unwrap().len();
    assert_eq!(before, 2, "one round of two modes in the first hour");
    let mut changed = t("hourly", 3600);
    changed.tag = 1;
    let reloaded = Instant::now();
    s.apply(vec![changed]).await;
    tokio::time::sleep(RESTART_SPREAD + Duration::from_secs(3)).await;
    let runs = log.lock().unwrap().clone();
    let after: Vec<&Run> = runs.iter().filter(|r| r.start >= reloaded).collect();
    assert_eq!(after.len(), 2, "both modes checked within {RESTART_SPREAD:?} of the reload: {after:?}");
    assert!(after[0].start - reloaded < RESTART_SPREAD);
    assert!(m.encode().contains(r#"ftp_up{mode="passive",target="hourly"} 1"#));
    s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn probes_do_not_queue_and_only_configured_modes_run() {
    let (mut s, _m, _log) = setup(Duration::from_secs(5), 64);
    let mut one = t("one", 600);
    one.modes = vec![Mode::Passive];
    s.apply(vec![one]).await;
    assert_eq!(s.check_now("nope", &[]).err(), Some(ProbeRefused::UnknownTarget));
    assert_eq!(
        s.check_now("one", &[Mode::Active]).err(),
        Some(ProbeRefused::ModeNotConfigured(Mode::Active))
    );
    let (_, first) = s.check_now("one", &[]).unwrap();
    assert_eq!(s.check_now("one", &[]).err(), Some(ProbeRefused::Busy), "a second probe does not queue");
    let outcomes = first.await;
    assert_eq!(outcomes.iter().map(|o| o.mode).collect::<Vec<_>>(), vec![Mode::Passive]);
    let (_, abandoned) = s.check_now("one", &[]).expect("free again once the probe ended");
    drop(abandoned); // the HTTP client went away
    assert!(s.check_now("one", &[]).is_ok(), "an abandoned probe frees the target too");
    s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_a_running_check_finish_within_grace_and_aborts_after() {
    let (mut s, m, log) = setup(Duration::from_secs(3), 64);
    let target = t("a", 10);
    let offset = first_run_offset("a", target.interval);
    s.apply(vec![target]).await;
    tokio::time::sleep(offset + Duration::from_secs(1)).await;
    assert_eq!(m.exporter.checks_in_flight(), 1);
    let before = Instant::now();
    s.shutdown(Duration::from_secs(5)).await;
    assert_eq!(before.elapsed(), Duration::from_secs(2), "waited for the running check, not longer");
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(m.exporter.checks_in_flight(), 0);

    let (mut s, m, _log) = setup(Duration::from_secs(60), 64);
    s.apply(vec![t("a", 10)]).await;
    tokio::time::sleep(offset + Duration::from_secs(1)).await;
    let before = Instant::now();
    s.shutdown(Duration::from_secs(2)).await;
    assert_eq!(before.elapsed(), Duration::from_secs(2));
    tokio::task::yield_now().await;
    assert_eq!(m.exporter.checks_in_flight(), 0, "aborted check still counted");
}
