use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::*;
use crate::check::{Failure, Operation, Phase, Reason, TlsMode, Transcript};

fn outcome(mode: Mode, failure: Option<Failure>, phases: &[Phase]) -> Outcome {
    Outcome {
        mode,
        finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        duration: Duration::from_millis(120),
        phases: phases.iter().map(|p| (*p, Duration::from_millis(10))).collect(),
        failure,
        bytes: if phases.contains(&Phase::Transfer) { vec![(Operation::List, 42)] } else { vec![] },
        passive_address_mismatch: (mode == Mode::Passive).then_some(false),
        passive_advertised: None,
        tls: None,
        transcript: Transcript::new(),
    }
}

fn info(name: &str) -> TargetInfo {
    TargetInfo {
        name: name.into(),
        address: "127.0.0.1:21".into(),
        tls: TlsMode::None,
        labels: BTreeMap::from([("env".to_string(), "prod".to_string())]),
    }
}

/// The phases of a plain (no TLS) check that ran to the end.
const ALL: &[Phase] = &[
    Phase::Resolve,
    Phase::Connect,
    Phase::Banner,
    Phase::Login,
    Phase::DataSetup,
    Phase::DataConnect,
    Phase::Transfer,
    Phase::Quit,
];

fn auth_failed() -> Option<Failure> {
    Some(Failure::new(Phase::Login, Reason::AuthFailed, "530", "login refused"))
}

#[test]
fn success_then_failure_then_success() {
    let m = Metrics::new(&crate::config::DEFAULT_DURATION_BUCKETS).unwrap();
    m.add_target(info("a"), &[Mode::Passive, Mode::Active]);
    let text = m.encode();
    assert!(text.contains(r#"ftp_checks_total{mode="active",target="a"} 0"#), "{text}");
    assert!(text.contains(r#"ftp_target_info{address="127.0.0.1:21",env="prod",target="a",tls="none"} 1"#));

    m.record("a", &outcome(Mode::Passive, None, ALL));
    let text = m.encode();
    assert!(text.contains(r#"ftp_up{mode="passive",target="a"} 1"#), "{text}");
    assert!(text.contains(r#"ftp_phase_duration_seconds{mode="passive",phase="transfer",target="a"} 0.01"#));
    assert!(text.contains(r#"ftp_transfer_bytes{mode="passive",operation="list",target="a"} 42"#));
    assert!(text.contains(r#"ftp_last_success_timestamp_seconds{mode="passive",target="a"} 1700000000"#));
    assert!(text.contains(r#"ftp_check_latency_seconds_bucket{mode="passive",target="a",le="0.25"} 1"#));
    assert!(text.contains(r#"ftp_passive_address_mismatch{target="a"} 0"#));
    assert!(!text.contains("ftp_check_failure{"));

    let login = &[Phase::Resolve, Phase::Connect, Phase::Banner, Phase::Login];
    m.record("a", &outcome(Mode::Passive, auth_failed(), login));
    let text = m.encode();
    assert!(text.contains(r#"ftp_up{mode="passive",target="a"} 0"#));
    assert!(
        text.contains(
            r#"ftp_check_failure{code="530",mode="passive",phase="login",reason="auth_failed",target="a"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"ftp_check_failures_total{mode="passive",phase="login",reason="auth_failed",target="a"} 1"#
    ));
    assert!(!text.contains(r#"phase="transfer",target="a"} 0.01"#), "phase that did not run lingers");
    assert!(!text.contains("ftp_transfer_bytes{"), "operation that did not run lingers");
    assert!(text.contains(r#"ftp_checks_total{mode="passive",target="a"} 2"#));

    // A different failure replaces the series, it does not add one.
    let refused = Some(Failure::new(Phase::Connect, Reason::ConnectionRefused, "", "refused"));
    m.record("a", &outcome(Mode::Passive, refused, &[Phase::Resolve, Phase::Connect]));
    let text = m.encode();
    assert_eq!(text.matches("ftp_check_failure{").count(), 1, "{text}");
    assert!(text
        .contains(r#"ftp_check_failure{code="",mode="passive",phase="connect",reason="connection_refused""#));

    m.record("a", &outcome(Mode::Passive, None, ALL));
    let text = m.encode();
    assert!(!text.contains("ftp_check_failure{"), "{text}");
    assert!(text.contains(
        r#"ftp_check_failures_total{mode="passive",phase="login",reason="auth_failed",target="a"} 1"#
    ));
}

#[test]
fn removed_target_leaves_nothing_behind() {
    let m = Metrics::new(&crate::config::DEFAULT_DURATION_BUCKETS).unwrap();
    m.add_target(info("gone"), &[Mode::Passive, Mode::Active]);
    m.add_target(info("kept"), &[Mode::Passive]);
    m.record("gone", &outcome(Mode::Passive, None, ALL));
    m.record("gone", &outcome(Mode::Active, auth_failed(), &[Phase::Login]));
    m.record("kept", &outcome(Mode::Passive, None, ALL));
    m.remove_target("gone");
    let text = m.encode();
    assert!(!text.contains(r#""gone""#), "{text}");
    assert!(text.contains(r#"ftp_up{mode="passive",target="kept"} 1"#));
}

#[test]
fn empty_buckets_disable_the_histogram_and_reload_can_change_them() {
    let m = Metrics::new(&[]).unwrap();
    m.add_target(info("a"), &[Mode::Passive]);
    m.record("a", &outcome(Mode::Passive, None, ALL));
    assert!(!m.encode().contains("ftp_check_latency_seconds"));
    m.set_duration_buckets(&[1.0, 2.0]).unwrap();
    m.record("a", &outcome(Mode::Passive, None, ALL));
    let text = m.encode();
    assert!(
        text.contains(r#"ftp_check_latency_seconds_bucket{mode="passive",target="a",le="2"} 1"#),
        "{text}"
    );
    m.set_duration_buckets(&[]).unwrap();
    assert!(!m.encode().contains("ftp_check_latency_seconds"));
}

#[test]
fn exporter_metrics() {
    let m = Metrics::new(&[]).unwrap();
    m.exporter.config_loaded(true, 3);
    {
        let _running = m.exporter.check_started();
        assert!(m.encode().contains("ftp_exporter_checks_in_flight 1"));
    }
    let text = m.encode();
    assert!(text.contains("ftp_exporter_checks_in_flight 0"));
    assert!(text.contains("ftp_exporter_targets 3"));
    assert!(text.contains("ftp_exporter_config_last_reload_successful 1"));
    assert!(
        text.contains(&format!(r#"ftp_exporter_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION")))
    );
    assert!(text.contains("process_start_time_seconds"));
    m.exporter.config_loaded(false, 0);
    assert!(m.encode().contains("ftp_exporter_config_last_reload_successful 0"));
}

#[test]
fn shard_info_only_when_sharded() {
    let m = Metrics::new(&[]).unwrap();
    assert!(!m.encode().contains("ftp_exporter_shard_info"), "{}", m.encode());
    m.exporter.shard_info(2, 3);
    assert!(m.encode().contains(r#"ftp_exporter_shard_info{count="3",index="2"} 1"#), "{}", m.encode());
}

#[test]
fn probe_registry_has_no_history() {
    let p = ProbeMetrics::new().unwrap();
    p.record(&info("a"), &outcome(Mode::Active, auth_failed(), &[Phase::Login]));
    let text = p.encode();
    assert!(text.contains(r#"ftp_up{mode="active",target="a"} 0"#));
    assert!(text.contains(r#"ftp_check_failure{code="530",mode="active",phase="login""#));
    assert!(!text.contains("_total"));
    assert!(!text.contains("ftp_exporter_"));
}

#[test]
fn tls_expiry_and_passive_mismatch_are_per_target() {
    let m = Metrics::new(&[]).unwrap();
    m.add_target(info("nat"), &[Mode::Passive, Mode::Active]);
    let mut o = outcome(Mode::Passive, None, ALL);
    o.passive_address_mismatch = Some(true);
    o.tls = Some(crate::check::TlsInfo { cert_not_after: Some(1_800_000_000), ..Default::default() });
    m.record("nat", &o);
    let text = m.encode();
    assert!(text.contains(r#"ftp_passive_address_mismatch{target="nat"} 1"#), "{text}");
    assert!(text.contains(r#"ftp_tls_certificate_expiry_timestamp_seconds{target="nat"} 1800000000"#));
    // An active check says nothing about 227 replies: the passive result stays.
    let mut a = outcome(Mode::Active, None, ALL);
    a.passive_address_mismatch = None;
    m.record("nat", &a);
    assert!(m.encode().contains(r#"ftp_passive_address_mismatch{target="nat"} 1"#));
    // A passive check that used EPSV (no 227 to compare) and succeeded: 0.
    let mut p = outcome(Mode::Passive, None, ALL);
    p.passive_address_mismatch = None;
    m.record("nat", &p);
    assert!(m.encode().contains(r#"ftp_passive_address_mismatch{target="nat"} 0"#));
    m.remove_target("nat");
    assert!(!m.encode().contains("nat"));
}
