//! 200 targets against one in-process FTP server on the real clock: every
//! target × mode is checked within one interval (first runs spread over
//! it), with the concurrency limit holding.

mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use support::service::*;

const TARGETS: usize = 200;
const INTERVAL_SECS: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_targets_are_all_checked_within_one_interval() {
    let ftp = Ftp::start().await;
    let mut config = format!("defaults: {{ interval: {INTERVAL_SECS}s, timeout: 5s }}\ntargets:\n");
    for i in 0..TARGETS {
        let _ = writeln!(
            config,
            "  - {{ name: t{i:03}, address: FTP_ADDR, username: monitor, password_file: good.pw }}"
        );
    }
    let started = Instant::now();
    let app = start_app(&ftp.write_config(&config)).await;
    let names: Vec<String> = (0..TARGETS).map(|i| format!("t{i:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut max_in_flight = 0.0_f64;
    let s = scrape_until(app.addr(), Duration::from_secs(INTERVAL_SECS + 5), |s| {
        max_in_flight = max_in_flight.max(value(s, "ftp_exporter_checks_in_flight", &[]));
        checked(s, &names, 1.0)
    })
    .await;
    let took = started.elapsed();
    eprintln!("{TARGETS} targets x 2 modes checked in {took:?}");
    assert!(took < Duration::from_secs(INTERVAL_SECS + 3), "took {took:?}");
    // Spread, not stampeded: the first runs were not all at once.
    assert!(took > Duration::from_secs(INTERVAL_SECS / 2), "first runs not spread: {took:?}");
    let up = find(&s, "ftp_up", &[]).iter().filter(|u| u.value == 1.0).count();
    assert_eq!(up, TARGETS * 2, "every check succeeds");
    assert!(max_in_flight <= 64.0);
    assert_eq!(value(&s, "ftp_exporter_targets", &[]), TARGETS as f64);
    app.shutdown(Duration::from_secs(5)).await;
}
