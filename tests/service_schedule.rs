//! When checks run, on the real clock against real servers: a first round
//! soon after start whatever the interval, probes that cannot delay the
//! schedule, and a probe that ends inside its scrape.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ftp_exporter::app::{App, AppOptions};
use ftp_exporter::scheduler::{first_run_offset, FIRST_ROUND_SPREAD};
use support::service::*;

/// A TCP server that accepts connections and never says anything (a hung
/// FTP server: the check waits in `banner` until its deadline).
async fn silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

async fn start(config: &std::path::Path, max_concurrency: usize, max_probes: usize) -> App {
    let mut opts = AppOptions::new(config);
    opts.listen_address = "127.0.0.1:0".into();
    opts.max_concurrency = max_concurrency;
    opts.max_probes = max_probes;
    App::start(opts).await.unwrap()
}

/// `(count, count of observations above `le`)` of the schedule-delay histogram.
fn delays(samples: &[Sample], le: &str) -> (f64, f64) {
    let count = value(samples, "ftp_exporter_schedule_delay_seconds_count", &[]);
    let within = value(samples, "ftp_exporter_schedule_delay_seconds_bucket", &[("le", le)]);
    (count, count - within)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hourly_target_is_checked_within_seconds_of_start() {
    let ftp = Ftp::start().await;
    let config = ftp.write_config(
        "targets:\n  - { name: hourly, address: FTP_ADDR, interval: 1h, username: monitor, password_file: good.pw }\n",
    );
    let started = Instant::now();
    let app = start(&config, 64, 8).await;
    let s = scrape_until(app.addr(), FIRST_ROUND_SPREAD + Duration::from_secs(5), |s| {
        checked(s, &["hourly"], 1.0)
    })
    .await;
    eprintln!("an hourly target is up in both modes {:?} after start", started.elapsed());
    assert_eq!(value(&s, "ftp_up", &[("target", "hourly"), ("mode", "passive")]), 1.0);
    assert_eq!(value(&s, "ftp_up", &[("target", "hourly"), ("mode", "active")]), 1.0);
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_probes_does_not_delay_scheduled_checks() {
    let ftp = Ftp::start().await;
    let silent = silent_server().await;
    // Four fast targets every 2 s share 4 slots with 8 hung ones checked
    // once an hour; probes of the hung ones hold a probe slot for 3 s each.
    let mut config = String::from("defaults: { username: monitor, password_file: good.pw }\ntargets:\n");
    for i in 0..4 {
        config.push_str(&format!("  - {{ name: fast{i}, address: FTP_ADDR, interval: 2s, timeout: 2s }}\n"));
    }
    for i in 0..8 {
        config.push_str(&format!(
            "  - {{ name: hung{i}, address: {silent}, interval: 1h, timeout: 3s, modes: [passive] }}\n"
        ));
    }
    let app = start(&ftp.write_config(&config), 4, 2).await;
    let addr = app.addr();
    // After the first round (the hung targets' first checks take 3 s each).
    let hung: Vec<String> = (0..8).map(|i| format!("hung{i}")).collect();
    scrape_until(addr, Duration::from_secs(30), |s| {
        hung.iter().all(|h| find(s, "ftp_checks_total", &[("target", h)]).iter().any(|c| c.value >= 1.0))
    })
    .await;
    let before = delays(&parse(&scrape(addr).await), "1");

    // 10 s of probes: 20 clients at a time over the 8 hung targets.
    let flood_until = Instant::now() + Duration::from_secs(10);
    let mut clients = Vec::new();
    for c in 0..20 {
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut n = c;
            while Instant::now() < flood_until {
                let (status, _) = get(addr, &format!("/probe?target=hung{}", n % 8)).await;
                answers.push(status);
                n += 1;
                if status != 200 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for c in clients {
        answers.extend(c.await.unwrap());
    }
    let after = delays(&parse(&scrape(addr).await), "1");
    let (checks, late) = (after.0 - before.0, after.1 - before.1);
    let ran = answers.iter().filter(|s| **s == 200).count();
    let refused = answers.iter().filter(|s| **s == 503 || **s == 429).count();
    eprintln!(
        "{ran} probes ran, {refused} refused; {checks} scheduled checks, {late} started more than 1 s late"
    );
    assert!(ran >= 4, "probes ran: {answers:?}");
    assert!(refused > 0, "beyond --probe.max-concurrency probes are refused, not queued");
    assert!(checks >= 20.0, "the fast targets kept being checked: {checks}");
    assert_eq!(late, 0.0, "probes delayed scheduled checks");
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_ends_inside_the_scrape_timeout() {
    let silent = silent_server().await;
    // A name whose first scheduled check comes late in the first round, so
    // the probe below does not wait for it.
    let name = (0..)
        .map(|i| format!("hung{i}"))
        .find(|n| first_run_offset(n, FIRST_ROUND_SPREAD) > Duration::from_secs(8))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ftp_exporter.yml");
    std::fs::write(
        &config,
        format!("targets:\n  - {{ name: {name}, address: {silent}, interval: 1h, timeout: 30s }}\n"),
    )
    .unwrap();
    let app = start(&config, 64, 8).await;
    let t0 = Instant::now();
    let (status, body) = request_with(
        app.addr(),
        &format!("/probe?target={name}&mode=passive"),
        "X-Prometheus-Scrape-Timeout-Seconds: 2\r\n",
    )
    .await;
    let took = t0.elapsed();
    eprintln!("a probe with a 2 s scrape timeout against a hung server answered in {took:?}");
    assert_eq!(status, 200, "{body}");
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    let s = parse(&body);
    assert_eq!(value(&s, "ftp_up", &[("target", &name), ("mode", "passive")]), 0.0);
    let failure = &find(&s, "ftp_check_failure", &[("target", &name)])[0];
    assert_eq!((failure.label("phase"), failure.label("reason")), (Some("banner"), Some("timeout")));
    let duration = value(&s, "ftp_check_duration_seconds", &[("target", &name), ("mode", "passive")]);
    assert!((1.4..1.9).contains(&duration), "the check's own deadline was the budget (1.5 s): {duration}");
    // A bad header is the client's error, not a check.
    let (status, _) = request_with(
        app.addr(),
        &format!("/probe?target={name}"),
        "X-Prometheus-Scrape-Timeout-Seconds: soon\r\n",
    )
    .await;
    assert_eq!(status, 400);
    app.shutdown(Duration::from_secs(5)).await;
}
