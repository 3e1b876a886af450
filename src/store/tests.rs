use std::time::{Duration, SystemTime};

use super::*;
use crate::check::{Failure, Phase, Reason, Transcript};
use crate::config::Config;

fn outcome(mode: Mode, ok: bool, at: u64) -> Outcome {
    let mut transcript = Transcript::new();
    transcript.received(Duration::ZERO, &format!("220 check at {at}"));
    Outcome {
        mode,
        finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(at),
        duration: Duration::from_millis(5),
        phases: vec![],
        failure: (!ok).then(|| Failure::new(Phase::Login, Reason::AuthFailed, "530", "no")),
        bytes: vec![],
        passive_address_mismatch: None,
        passive_advertised: None,
        tls: None,
        control_peer: None,
        control_local: None,
        transcript,
        record: Default::default(),
    }
}

fn count_failures(outcomes: &[&Outcome]) -> Option<String> {
    let n = outcomes.iter().filter(|o| !o.success()).count();
    (n > 0).then(|| format!("{n} of {} failing", outcomes.len()))
}

fn targets(yaml_targets: &str) -> Vec<Target> {
    Config::parse(&format!("targets:\n{yaml_targets}"), std::path::Path::new("t.yml")).unwrap().targets
}

fn one(name: &str) -> Vec<Target> {
    targets(&format!("  - {{ name: {name}, address: 127.0.0.1 }}\n"))
}

fn new_store(options: StoreOptions) -> Arc<Store> {
    Store::new(options, count_failures)
}

fn diagnosis(s: &Store, name: &str) -> Option<String> {
    s.get(name)?.results().diagnosis.as_deref().map(str::to_string)
}

#[test]
fn the_two_mode_diagnosis_is_reported_when_the_second_mode_completes_it() {
    let s = new_store(StoreOptions::default());
    s.apply(one("a"), &[]);
    let a = s.get("a").unwrap();
    assert_eq!(s.record(&a, outcome(Mode::Passive, false, 10), Source::Schedule).change, Some(Change::Down));
    assert_eq!(diagnosis(&s, "a").as_deref(), Some("1 of 1 failing"));
    // Active's first result is a success (no state change), but the
    // diagnosis now compares both modes: that is news for the log.
    assert_eq!(
        s.record(&a, outcome(Mode::Active, true, 11), Source::Schedule).change,
        Some(Change::Rediagnosed)
    );
    assert_eq!(diagnosis(&s, "a").as_deref(), Some("1 of 2 failing"));
    assert_eq!(
        s.record(&a, outcome(Mode::Active, true, 12), Source::Schedule).change,
        None,
        "same diagnosis: said already"
    );
}

#[test]
fn changes_are_reported_once_and_last_success_is_kept() {
    let s = new_store(StoreOptions::default());
    s.apply(one("a"), &[]);
    let a = s.get("a").unwrap();
    let change = |o| s.record(&a, o, Source::Schedule).change;
    assert_eq!(change(outcome(Mode::Passive, true, 10)), None, "first success is not news");
    assert_eq!(change(outcome(Mode::Active, false, 11)), Some(Change::Down), "first failure is");
    assert_eq!(change(outcome(Mode::Passive, false, 20)), Some(Change::Down));
    assert_eq!(change(outcome(Mode::Passive, false, 30)), None);
    let mut other = outcome(Mode::Passive, false, 31);
    other.failure = Some(Failure::new(Phase::Connect, Reason::Timeout, "", "slow"));
    assert_eq!(change(other), Some(Change::Down), "failing differently is news");
    assert_eq!(change(outcome(Mode::Passive, false, 32)), Some(Change::Down));
    assert_eq!(diagnosis(&s, "a").as_deref(), Some("2 of 2 failing"));
    let passive = a.results().mode(Mode::Passive).clone();
    assert_eq!(passive.last_success, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(10)));
    assert_eq!(passive.checks, 5);
    assert_eq!(
        passive.failures,
        vec![(Phase::Connect, Reason::Timeout, 1), (Phase::Login, Reason::AuthFailed, 3)]
    );
    assert_eq!(change(outcome(Mode::Passive, true, 40)), Some(Change::Up));
    assert_eq!(diagnosis(&s, "a").as_deref(), Some("1 of 2 failing"));
}

#[test]
fn a_reload_keeps_unchanged_targets_and_retires_the_others() {
    let s = new_store(StoreOptions::default());
    let started =
        s.apply(targets("  - { name: a, address: 127.0.0.1 }\n  - { name: b, address: 127.0.0.1 }\n"), &[]);
    assert_eq!(started.len(), 2);
    let (a, b) = (s.get("a").unwrap(), s.get("b").unwrap());
    s.record(&a, outcome(Mode::Passive, true, 10), Source::Schedule);
    s.record(&b, outcome(Mode::Passive, true, 10), Source::Schedule);

    // a unchanged, b changed, c new.
    let started = s.apply(
        targets(
            "  - { name: a, address: 127.0.0.1 }\n  - { name: b, address: 127.0.0.2 }\n  - { name: c, address: 127.0.0.1 }\n",
        ),
        &[],
    );
    let names: Vec<&str> = started.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["b", "c"]);
    assert!(Arc::ptr_eq(&s.get("a").unwrap(), &a), "unchanged: the same entry");
    assert!(a.results().mode(Mode::Passive).last.is_some(), "and its results");
    let b2 = s.get("b").unwrap();
    assert!(b.is_retired() && !b2.is_retired());
    assert!(b2.results().mode(Mode::Passive).last.is_none(), "changed: results describe the old settings");
    assert!(Arc::ptr_eq(&b.session, &b2.session), "the session lock carries over");
    // A result of the old entry, arriving late, changes nothing.
    assert!(s.record(&b, outcome(Mode::Passive, false, 20), Source::Schedule).change.is_none());
    assert!(b2.results().mode(Mode::Passive).last.is_none());

    s.apply(one("c"), &[]);
    assert!(a.is_retired());
    assert_eq!(s.targets().keys().collect::<Vec<_>>(), ["c"]);
}

#[test]
fn one_probe_per_target_at_a_time() {
    let s = new_store(StoreOptions::default());
    s.apply(one("a"), &[]);
    let a = s.get("a").unwrap();
    let guard = a.start_probe().expect("first probe");
    assert!(a.start_probe().is_none(), "second probe refused while the first runs");
    drop(guard);
    assert!(a.start_probe().is_some());
}

#[test]
fn failing_transcripts_are_kept_and_successes_are_bounded() {
    let s = new_store(StoreOptions { max_successful_transcripts: 2, max_transcript_bytes: 1 << 20 });
    let yaml: String = (0..4).map(|i| format!("  - {{ name: t{i}, address: 127.0.0.1 }}\n")).collect();
    s.apply(targets(&yaml), &[]);
    let e: Vec<Arc<Entry>> = (0..4).map(|i| s.get(&format!("t{i}")).unwrap()).collect();
    s.record(&e[0], outcome(Mode::Passive, false, 1), Source::Schedule);
    for (i, e) in e.iter().enumerate().skip(1) {
        s.record(e, outcome(Mode::Passive, true, i as u64), Source::Schedule);
    }
    let kept = |e: &Entry| e.results().mode(Mode::Passive).transcript.is_some();
    assert!(kept(&e[0]), "a failing check's transcript is kept");
    assert!(!kept(&e[1]), "the oldest success beyond the last 2 is dropped");
    assert!(kept(&e[2]) && kept(&e[3]));
    let t = e[3].results().mode(Mode::Passive).transcript.clone().unwrap();
    assert!(t.transcript().to_string().contains("220 check at 3"));
    assert!(
        e[3].results().mode(Mode::Passive).last.as_ref().unwrap().transcript.lines().is_empty(),
        "stored once"
    );
    let before = s.transcript_bytes();
    assert!(before > 0);
    // A newer check replaces a transcript; removing targets frees theirs.
    s.record(&e[3], outcome(Mode::Passive, true, 9), Source::Schedule);
    s.apply(Vec::new(), &[]);
    drop(e);
    drop(t);
    assert_eq!(s.transcript_bytes(), 0, "nothing kept for targets that are gone");
}

#[test]
fn transcripts_fit_the_byte_budget() {
    // Room for two of these transcripts (about 460 bytes each).
    let s = new_store(StoreOptions { max_successful_transcripts: 100, max_transcript_bytes: 1000 });
    let yaml: String = (0..5).map(|i| format!("  - {{ name: t{i}, address: 127.0.0.1 }}\n")).collect();
    s.apply(targets(&yaml), &[]);
    for i in 0..5 {
        let e = s.get(&format!("t{i}")).unwrap();
        let mut o = outcome(Mode::Passive, i % 2 == 0, i);
        for n in 0..3 {
            o.transcript.received(Duration::ZERO, &format!("{n} {}", "x".repeat(60)));
        }
        s.record(&e, o, Source::Schedule);
        assert!(s.transcript_bytes() <= 1000, "{} bytes after {i}", s.transcript_bytes());
    }
    let kept: Vec<bool> = (0..5)
        .map(|i| s.get(&format!("t{i}")).unwrap().results().mode(Mode::Passive).transcript.is_some())
        .collect();
    // Successes went first, then the oldest failure; the newest stays.
    assert_eq!(kept, [false, false, false, true, true]);
}

#[test]
fn every_check_lands_in_its_modes_history_probes_too() {
    let s = new_store(StoreOptions::default());
    s.apply(one("a"), &[]);
    let a = s.get("a").unwrap();
    s.record(&a, outcome(Mode::Passive, true, 10), Source::Schedule);
    s.record(&a, outcome(Mode::Passive, false, 11), Source::Probe);
    s.record(&a, outcome(Mode::Active, true, 12), Source::Schedule);
    let r = a.results();
    let passive: Vec<_> = r.mode(Mode::Passive).history.iter().map(|h| (h.success(), h.failure())).collect();
    assert_eq!(passive, [(true, None), (false, Some((Phase::Login, Reason::AuthFailed)))]);
    assert_eq!(r.mode(Mode::Active).history.len(), 1);
    assert_eq!(
        r.mode(Mode::Passive).history.iter().last().unwrap().finished_at(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(11)
    );
}
