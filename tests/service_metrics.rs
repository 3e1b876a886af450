//! The exporter against a real in-process FTP server: what `/metrics`
//! says about a healthy target, a wrong password and a refused connection,
//! how a failure series appears and goes away, and that a real scrape
//! passes `promtool check metrics`.

mod support;

use std::time::Duration;

use support::service::*;

const CONFIG: &str = r#"
defaults:
  interval: 2s
  timeout: 2s
targets:
  - name: good
    address: FTP_ADDR
    username: monitor
    password_file: good.pw
    check:
      list: /pub
      retrieve: { path: /pub/hello.txt, size: 29 }
      store: { path: /incoming/probe.tmp, bytes: 1000, verify: true, delete: true }
    labels: { env: test, team: storage }
  - name: bad-password
    address: FTP_ADDR
    username: monitor
    password_file: wrong.pw
  - name: refused
    address: 127.0.0.1:1
    modes: [passive]
metrics:
  duration_buckets: [0.01, 0.1, 1, 10]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_names_each_state_with_its_labels() {
    let ftp = Ftp::start().await;
    let app = start_app(&ftp.write_config(CONFIG)).await;
    let addr = app.addr();
    let s = scrape_until(addr, Duration::from_secs(15), |s| {
        checked(s, &["good", "bad-password"], 1.0) && !find(s, "ftp_up", &[("target", "refused")]).is_empty()
    })
    .await;

    for mode in ["passive", "active"] {
        let tm = [("target", "good"), ("mode", mode)];
        assert_eq!(value(&s, "ftp_up", &tm), 1.0, "good {mode}");
        for phase in ["connect", "banner", "login", "data_setup", "data_connect", "transfer", "quit"] {
            let d = value(&s, "ftp_phase_duration_seconds", &[tm[0], tm[1], ("phase", phase)]);
            assert!((0.0..5.0).contains(&d), "{mode} {phase} = {d}");
        }
        assert!(find(&s, "ftp_phase_duration_seconds", &[tm[0], tm[1], ("phase", "resolve")]).is_empty());
        assert!(find(&s, "ftp_phase_duration_seconds", &[tm[0], tm[1], ("phase", "tls")]).is_empty());
        assert_eq!(value(&s, "ftp_transfer_bytes", &[tm[0], tm[1], ("operation", "retrieve")]), 29.0);
        assert_eq!(value(&s, "ftp_transfer_bytes", &[tm[0], tm[1], ("operation", "store")]), 1000.0);
        assert!(value(&s, "ftp_transfer_bytes", &[tm[0], tm[1], ("operation", "list")]) > 0.0);
        assert!(find(&s, "ftp_check_failure", &tm).is_empty());
        let last = value(&s, "ftp_last_success_timestamp_seconds", &tm);
        assert_eq!(last, value(&s, "ftp_last_check_timestamp_seconds", &tm));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!((now - last).abs() < 30.0);
        assert!(value(&s, "ftp_check_duration_seconds", &tm) > 0.0);
        assert!(value(&s, "ftp_checks_total", &tm) >= 1.0);
        assert!(value(&s, "ftp_check_latency_seconds_count", &tm) >= 1.0);
        assert!(value(&s, "ftp_check_latency_seconds_bucket", &[tm[0], tm[1], ("le", "+Inf")]) >= 1.0);

        let tm = [("target", "bad-password"), ("mode", mode)];
        assert_eq!(value(&s, "ftp_up", &tm), 0.0);
        let f = [tm[0], tm[1], ("phase", "login"), ("reason", "auth_failed"), ("code", "530")];
        assert_eq!(value(&s, "ftp_check_failure", &f), 1.0);
        assert_eq!(find(&s, "ftp_check_failure", &tm).len(), 1);
        let total = [tm[0], tm[1], ("phase", "login"), ("reason", "auth_failed")];
        assert!(value(&s, "ftp_check_failures_total", &total) >= 1.0);
        assert!(find(&s, "ftp_last_success_timestamp_seconds", &tm).is_empty(), "never succeeded");
        assert!(find(&s, "ftp_phase_duration_seconds", &[tm[0], tm[1], ("phase", "transfer")]).is_empty());
    }
    let refused = [("target", "refused"), ("mode", "passive")];
    let f = [refused[0], refused[1], ("phase", "connect"), ("reason", "connection_refused"), ("code", "")];
    assert_eq!(value(&s, "ftp_check_failure", &f), 1.0);
    assert!(
        find(&s, "ftp_up", &[("target", "refused"), ("mode", "active")]).is_empty(),
        "mode not configured"
    );

    // Per target.
    assert_eq!(value(&s, "ftp_passive_address_mismatch", &[("target", "good")]), 0.0);
    let info = find(&s, "ftp_target_info", &[("target", "good")]);
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].label("address"), Some(ftp.addr().to_string().as_str()));
    assert_eq!(info[0].label("tls"), Some("none"));
    assert_eq!(info[0].label("env"), Some("test"));
    assert_eq!(info[0].label("team"), Some("storage"));
    assert_eq!(find(&s, "ftp_target_info", &[("target", "refused")])[0].labels.len(), 3);
    assert!(find(&s, "ftp_tls_certificate_expiry_timestamp_seconds", &[]).is_empty(), "no FTPS target");

    // The exporter itself.
    assert_eq!(value(&s, "ftp_exporter_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert_eq!(value(&s, "ftp_exporter_targets", &[]), 3.0);
    assert_eq!(value(&s, "ftp_exporter_config_last_reload_successful", &[]), 1.0);
    assert!(value(&s, "ftp_exporter_config_last_reload_success_timestamp_seconds", &[]) > 1.7e9);
    assert!(value(&s, "ftp_exporter_checks_in_flight", &[]) >= 0.0);
    assert!(value(&s, "ftp_exporter_schedule_delay_seconds_count", &[]) >= 5.0);
    assert!(value(&s, "process_start_time_seconds", &[]) > 1.7e9);

    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_series_appears_and_disappears_with_the_fault() {
    let ftp = Ftp::start().await;
    let app = start_app(&ftp.write_config(CONFIG)).await;
    let addr = app.addr();
    let good_failure = |s: &[Sample]| find(s, "ftp_check_failure", &[("target", "good")]).len();
    scrape_until(addr, Duration::from_secs(15), |s| checked(s, &["good"], 1.0) && good_failure(s) == 0).await;

    // The file the check retrieves goes away: RETR gets 550.
    std::fs::rename(ftp.root().join("pub/hello.txt"), ftp.root().join("hello.bak")).unwrap();
    let s = scrape_until(addr, Duration::from_secs(15), |s| good_failure(s) == 2).await;
    for mode in ["passive", "active"] {
        let f = find(&s, "ftp_check_failure", &[("target", "good"), ("mode", mode)]);
        assert_eq!(f.len(), 1, "one failure series per mode: {f:?}");
        assert_eq!(f[0].label("reason"), Some("file_unavailable"));
        assert_eq!(f[0].label("phase"), Some("transfer"));
        assert_eq!(f[0].label("code"), Some("550"));
        assert_eq!(value(&s, "ftp_up", &[("target", "good"), ("mode", mode)]), 0.0);
        // Store never ran: its bytes series is gone.
        assert!(find(
            &s,
            "ftp_transfer_bytes",
            &[("target", "good"), ("mode", mode), ("operation", "store")]
        )
        .is_empty());
    }

    // Back: the failure series disappears, the counter remembers.
    std::fs::rename(ftp.root().join("hello.bak"), ftp.root().join("pub/hello.txt")).unwrap();
    let s = scrape_until(addr, Duration::from_secs(15), |s| {
        good_failure(s) == 0 && find(s, "ftp_up", &[("target", "good")]).iter().all(|u| u.value == 1.0)
    })
    .await;
    for mode in ["passive", "active"] {
        let total =
            [("target", "good"), ("mode", mode), ("phase", "transfer"), ("reason", "file_unavailable")];
        assert!(value(&s, "ftp_check_failures_total", &total) >= 1.0);
    }
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_scrape_passes_promtool() {
    let ftp = Ftp::start().await;
    let app = start_app(&ftp.write_config(CONFIG)).await;
    scrape_until(app.addr(), Duration::from_secs(15), |s| checked(s, &["good", "bad-password"], 1.0)).await;
    let text = scrape(app.addr()).await;
    assert!(text.contains("ftp_check_failure{"), "scrape should hold every kind of series");
    promtool_check(&text);
    // /probe's one-off registry too.
    let (status, probe) = get(app.addr(), "/probe?target=bad-password").await;
    assert_eq!(status, 200);
    promtool_check(&probe);
    app.shutdown(Duration::from_secs(5)).await;
}
