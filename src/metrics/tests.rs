use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::check::{Failure, Mode, Operation, Outcome, Phase, Reason, Transcript};
use crate::config::{Config, DEFAULT_DURATION_BUCKETS};
use crate::store::{Store, StoreOptions};

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
        control_peer: None,
        control_local: None,
        transcript: Transcript::new(),
        record: Default::default(),
    }
}

/// Targets `names` (both modes, label env=prod) loaded through the real config loader.
fn targets(names: &[&str]) -> Vec<crate::config::Target> {
    let mut yaml = String::from("targets:\n");
    for n in names {
        yaml.push_str(&format!("  - {{ name: {n}, address: 127.0.0.1, labels: {{ env: prod }} }}\n"));
    }
    Config::parse(&yaml, std::path::Path::new("t.yml")).unwrap().targets
}

fn store(names: &[&str], buckets: &[f64]) -> Arc<Store> {
    let s = Store::new(StoreOptions::default(), |_| None);
    s.apply(targets(names), buckets);
    s
}

fn record(s: &Store, name: &str, o: Outcome) {
    s.record(&s.get(name).unwrap(), o, crate::store::Source::Schedule);
}

fn encode(s: &Store) -> String {
    String::from_utf8(Collector::default().render(s, Format::Text)).unwrap()
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
    let m = store(&["a"], &DEFAULT_DURATION_BUCKETS);
    let text = encode(&m);
    assert!(text.contains(r#"ftp_checks_total{mode="active",target="a"} 0"#), "{text}");
    assert!(text.contains(r#"ftp_target_info{address="127.0.0.1",env="prod",target="a",tls="none"} 1"#));

    record(&m, "a", outcome(Mode::Passive, None, ALL));
    let text = encode(&m);
    assert!(text.contains(r#"ftp_up{mode="passive",target="a"} 1"#), "{text}");
    assert!(text.contains(r#"ftp_phase_duration_seconds{mode="passive",phase="transfer",target="a"} 0.01"#));
    assert!(text.contains(r#"ftp_transfer_bytes{mode="passive",operation="list",target="a"} 42"#));
    assert!(text.contains(r#"ftp_last_success_timestamp_seconds{mode="passive",target="a"} 1700000000"#));
    assert!(text.contains(r#"ftp_check_latency_seconds_bucket{mode="passive",target="a",le="0.25"} 1"#));
    assert!(text.contains(r#"ftp_passive_address_mismatch{target="a"} 0"#));
    assert!(!text.contains("ftp_check_failure{"));

    let login = &[Phase::Resolve, Phase::Connect, Phase::Banner, Phase::Login];
    record(&m, "a", outcome(Mode::Passive, auth_failed(), login));
    let text = encode(&m);
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
    record(&m, "a", outcome(Mode::Passive, refused, &[Phase::Resolve, Phase::Connect]));
    let text = encode(&m);
    assert_eq!(text.matches("ftp_check_failure{").count(), 1, "{text}");
    assert!(text
        .contains(r#"ftp_check_failure{code="",mode="passive",phase="connect",reason="connection_refused""#));

    record(&m, "a", outcome(Mode::Passive, None, ALL));
    let text = encode(&m);
    assert!(!text.contains("ftp_check_failure{"), "{text}");
    assert!(text.contains(
        r#"ftp_check_failures_total{mode="passive",phase="login",reason="auth_failed",target="a"} 1"#
    ));
    assert!(text.contains(r#"ftp_last_success_timestamp_seconds{mode="passive",target="a"} 1700000000"#));
}

#[test]
fn removed_target_leaves_nothing_behind() {
    let m = store(&["gone", "kept"], &DEFAULT_DURATION_BUCKETS);
    record(&m, "gone", outcome(Mode::Passive, None, ALL));
    record(&m, "gone", outcome(Mode::Active, auth_failed(), &[Phase::Login]));
    record(&m, "kept", outcome(Mode::Passive, None, ALL));
    m.apply(targets(&["kept"]), &DEFAULT_DURATION_BUCKETS);
    let text = encode(&m);
    assert!(!text.contains(r#""gone""#), "{text}");
    assert!(text.contains(r#"ftp_up{mode="passive",target="kept"} 1"#));
    assert!(text.contains("ftp_exporter_targets 1\n"));
}

#[test]
fn empty_buckets_disable_the_histogram_and_reload_can_change_them() {
    let m = store(&["a"], &[]);
    record(&m, "a", outcome(Mode::Passive, None, ALL));
    assert!(!encode(&m).contains("ftp_check_latency_seconds"));
    m.apply(targets(&["a"]), &[1.0, 2.0]);
    record(&m, "a", outcome(Mode::Passive, None, ALL));
    let text = encode(&m);
    assert!(
        text.contains(r#"ftp_check_latency_seconds_bucket{mode="passive",target="a",le="2"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"ftp_check_latency_seconds_count{mode="passive",target="a"} 1"#));
    assert!(
        text.contains(r#"ftp_checks_total{mode="passive",target="a"} 2"#),
        "the target itself is unchanged"
    );
    m.apply(targets(&["a"]), &[]);
    assert!(!encode(&m).contains("ftp_check_latency_seconds"));
}

#[test]
fn exporter_metrics() {
    let m = store(&["a", "b", "c"], &[]);
    m.exporter().config_loaded(true);
    {
        let _running = m.exporter().check_started();
        assert!(encode(&m).contains("ftp_exporter_checks_in_flight 1\n"));
    }
    m.exporter().schedule_delay(Duration::from_millis(3));
    let text = encode(&m);
    assert!(text.contains("ftp_exporter_checks_in_flight 0\n"));
    assert!(text.contains("ftp_exporter_targets 3\n"));
    assert!(text.contains("ftp_exporter_config_last_reload_successful 1\n"));
    assert!(text.contains(r#"ftp_exporter_schedule_delay_seconds_bucket{le="0.005"} 1"#), "{text}");
    assert!(text.contains("ftp_exporter_schedule_delay_seconds_count 1\n"));
    assert!(
        text.contains(&format!(r#"ftp_exporter_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION")))
    );
    assert!(text.contains("process_start_time_seconds"));
    assert!(!text.contains("ftp_exporter_shard_info"));
    m.exporter().config_loaded(false);
    m.exporter().set_shard(Some(crate::store::ShardInfo { index: 1, count: 3 }));
    let text = encode(&m);
    assert!(text.contains("ftp_exporter_config_last_reload_successful 0\n"));
    assert!(text.contains(r#"ftp_exporter_shard_info{count="3",index="1"} 1"#));
}

#[test]
fn probe_answer_has_no_history() {
    let t = &targets(&["a"])[0];
    let o = Arc::new(outcome(Mode::Active, auth_failed(), &[Phase::Login]));
    let text = String::from_utf8(render_probe(t, &[o], Format::Text)).unwrap();
    assert!(text.contains(r#"ftp_up{mode="active",target="a"} 0"#), "{text}");
    assert!(text.contains(r#"ftp_check_failure{code="530",mode="active",phase="login""#));
    assert!(text.contains(r#"ftp_target_info{"#));
    assert!(!text.contains("_total"));
    assert!(!text.contains("ftp_exporter_"));
    assert!(!text.contains(r#"mode="passive""#), "only the mode probed");
}

#[test]
fn tls_expiry_and_passive_mismatch_are_per_target() {
    let m = store(&["nat"], &[]);
    let mut o = outcome(Mode::Passive, None, ALL);
    o.passive_address_mismatch = Some(true);
    o.tls = Some(crate::check::TlsInfo { cert_not_after: Some(1_800_000_000), ..Default::default() });
    record(&m, "nat", o);
    let text = encode(&m);
    assert!(text.contains(r#"ftp_passive_address_mismatch{target="nat"} 1"#), "{text}");
    assert!(text.contains(r#"ftp_tls_certificate_expiry_timestamp_seconds{target="nat"} 1800000000"#));
    // An active check says nothing about 227 replies: the passive result stays.
    let mut a = outcome(Mode::Active, None, ALL);
    a.passive_address_mismatch = None;
    record(&m, "nat", a);
    assert!(encode(&m).contains(r#"ftp_passive_address_mismatch{target="nat"} 1"#));
    // A passive check that used EPSV (no 227 to compare) and succeeded: 0.
    let mut p = outcome(Mode::Passive, None, ALL);
    p.passive_address_mismatch = None;
    record(&m, "nat", p);
    assert!(encode(&m).contains(r#"ftp_passive_address_mismatch{target="nat"} 0"#));
    m.apply(Vec::new(), &[]);
    assert!(!encode(&m).contains("nat"));
}

#[test]
fn stable_order_and_one_header_per_family() {
    let m = store(&["b", "a", "c"], &DEFAULT_DURATION_BUCKETS);
    for n in ["c", "a", "b"] {
        record(&m, n, outcome(Mode::Active, None, ALL));
        record(&m, n, outcome(Mode::Passive, auth_failed(), &[Phase::Login]));
    }
    let text = encode(&m);
    assert_eq!(text, encode(&m), "the same store renders the same bytes");
    let ups: Vec<&str> = text.lines().filter(|l| l.starts_with("ftp_up{")).collect();
    assert_eq!(
        ups,
        [
            r#"ftp_up{mode="passive",target="a"} 0"#,
            r#"ftp_up{mode="active",target="a"} 1"#,
            r#"ftp_up{mode="passive",target="b"} 0"#,
            r#"ftp_up{mode="active",target="b"} 1"#,
            r#"ftp_up{mode="passive",target="c"} 0"#,
            r#"ftp_up{mode="active",target="c"} 1"#,
        ]
    );
    let mut seen = std::collections::HashSet::new();
    for l in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        assert!(seen.insert(l.to_string()), "family declared twice: {l}");
    }
}

#[test]
fn openmetrics_names_and_eof() {
    let m = store(&["a"], &DEFAULT_DURATION_BUCKETS);
    record(&m, "a", outcome(Mode::Passive, None, ALL));
    let text = String::from_utf8(Collector::default().render(&m, Format::OpenMetrics)).unwrap();
    assert!(text.contains("# TYPE ftp_checks counter\n"), "{text}");
    assert!(text.contains(r#"ftp_checks_total{mode="passive",target="a"} 1"#));
    assert!(text.contains("# TYPE ftp_target info\n"));
    assert!(text.contains("# TYPE ftp_exporter_build info\n"));
    assert!(text.contains("# TYPE process_cpu_seconds counter\n"));
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn negotiation() {
    assert_eq!(negotiate(None), Format::Text);
    assert_eq!(negotiate(Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1")), Format::Text);
    let prometheus = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
                      application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;q=0.4";
    assert_eq!(negotiate(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(negotiate(Some("application/openmetrics-text;q=0")), Format::Text);
    assert!(accepts_gzip(Some("gzip")));
    assert!(accepts_gzip(Some("deflate, gzip;q=1.0, *;q=0.5")));
    assert!(!accepts_gzip(Some("gzip;q=0")));
    assert!(!accepts_gzip(Some("identity")));
    assert!(!accepts_gzip(None));
    let body = b"ftp_up 1\n".repeat(1000);
    let gz = gzip(&body).unwrap();
    assert!(gz.len() < body.len() / 10);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
    assert_eq!(out, body);
}

#[test]
fn ip_protocol_follows_the_control_connection() {
    let m = store(&["a"], &DEFAULT_DURATION_BUCKETS);
    let mut six = outcome(Mode::Passive, None, ALL);
    six.control_peer = Some("[2001:db8::21]:21".parse().unwrap());
    record(&m, "a", six);
    let mut four = outcome(Mode::Active, None, ALL);
    four.control_peer = Some("[::ffff:192.0.2.21]:21".parse().unwrap());
    record(&m, "a", four);
    let text = encode(&m);
    assert!(text.contains(r#"ftp_ip_protocol{mode="passive",target="a"} 6"#), "{text}");
    assert!(text.contains(r#"ftp_ip_protocol{mode="active",target="a"} 4"#), "mapped is IPv4: {text}");
    // A check that never connected says nothing about the family.
    record(&m, "a", outcome(Mode::Passive, auth_failed(), &[Phase::Resolve]));
    assert!(!encode(&m).contains(r#"ftp_ip_protocol{mode="passive""#));
}
