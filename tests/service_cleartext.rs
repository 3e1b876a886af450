//! Targets that send a password without TLS: flagged where operators look
//! (a warning at each load naming the target, `ftp_target_cleartext_credentials`,
//! a mark on the status page), and refused with `--config.require-tls` —
//! at start, on reload (the running configuration stays) and by
//! `check-config` — naming file, line, key and target. Never the password.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use ftp_exporter::app::{App, AppOptions};
use ftp_exporter::config::Policy;
use support::binary::*;
use support::service::*;

/// `plain` sends its password in clear; `anon` logs in anonymously.
const CLEARTEXT: &str = "defaults: { interval: 2s, timeout: 2s, modes: [passive] }
targets:
  - name: anon
    address: FTP_ADDR
  - name: plain
    address: FTP_ADDR
    username: monitor
    password_file: good.pw
";

async fn start(config: &std::path::Path, require_tls: bool) -> Result<App, String> {
    let mut opts = AppOptions::new(config);
    opts.listen_address = "127.0.0.1:0".into();
    opts.policy = Policy { require_tls };
    App::start(opts).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleartext_targets_are_flagged_in_metrics_and_on_the_status_page() {
    let ftp = Ftp::start().await;
    let app = start(&ftp.write_config(CLEARTEXT), false).await.unwrap();
    let s =
        scrape_until(app.addr(), Duration::from_secs(15), |s| checked_passive(s, &["anon", "plain"])).await;
    assert_eq!(value(&s, "ftp_target_cleartext_credentials", &[("target", "plain")]), 1.0);
    assert_eq!(value(&s, "ftp_target_cleartext_credentials", &[("target", "anon")]), 0.0);
    assert_eq!(value(&s, "ftp_up", &[("target", "plain"), ("mode", "passive")]), 1.0, "flagged, not refused");
    let (_, page) = get(app.addr(), "/").await;
    let marked: Vec<&str> = page
        .split("<tr class=\"target\"")
        .filter(|row| row.contains("⚠ cleartext password"))
        .filter_map(|row| row.split("data-name=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(marked, ["plain"], "{page}");
    assert!(!page.contains(PASSWORD));
    // The target's own page too.
    let (_, plain) = request_with(app.addr(), "/transcript?target=plain", "Accept: text/html\r\n").await;
    assert!(plain.contains("<div class=\"cleartext\""), "{plain}");
    let (_, anon) = request_with(app.addr(), "/transcript?target=anon", "Accept: text/html\r\n").await;
    assert!(anon.contains("<html") && !anon.contains("<div class=\"cleartext\""), "{anon}");
    app.shutdown(Duration::from_secs(5)).await;
}

fn checked_passive(s: &[Sample], targets: &[&str]) -> bool {
    targets.iter().all(|t| {
        find(s, "ftp_checks_total", &[("target", t), ("mode", "passive")]).iter().any(|x| x.value >= 1.0)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_tls_refuses_the_file_at_start_and_on_reload_keeping_the_running_one() {
    let ftp = Ftp::start().await;
    let config = ftp.write_config(CLEARTEXT);
    let e = start(&config, true).await.err().expect("refused at start");
    assert_eq!(
        e,
        format!(
            "{}:8: targets[1].password_file: target \"plain\" would send the password of user \"monitor\" in \
             clear (tls: none), which --config.require-tls refuses; set tls: explicit (or implicit)",
            config.display()
        )
    );
    // A file without the cleartext target starts; a reload that brings it back is refused.
    let anon_only = CLEARTEXT.split("  - name: plain").next().unwrap();
    ftp.write_config(anon_only);
    let app = start(&config, true).await.unwrap();
    ftp.write_config(CLEARTEXT);
    let e = app.reload().await.unwrap_err();
    assert!(e.contains(":8: targets[1].password_file: target \"plain\" would send"), "{e}");
    let (status, body) = request(app.addr(), "POST", "/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("--config.require-tls refuses"), "{body}");
    let s = parse(&scrape(app.addr()).await);
    assert_eq!(value(&s, "ftp_exporter_config_last_reload_successful", &[]), 0.0);
    assert_eq!(value(&s, "ftp_exporter_targets", &[]), 1.0, "the running configuration stays");
    assert!(find(&s, "ftp_target_info", &[("target", "plain")]).is_empty());
    app.shutdown(Duration::from_secs(5)).await;
}

/// The binary: one warning per cleartext target per load, naming it, never
/// the password; `check-config` says the same, or refuses with the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_warns_once_per_target_per_load_and_check_config_obeys_the_flag() {
    let ftp = Ftp::start().await;
    let two = format!("{CLEARTEXT}  - name: plain-2\n    address: FTP_ADDR\n    username: monitor\n    password_file: good.pw\n");
    let config = ftp.write_config(&two);
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = wait_listening(port, "exporter").await;
    let reloads = |n: f64| {
        move |s: &[Sample]| {
            find(s, "ftp_exporter_config_last_reload_success_timestamp_seconds", &[])
                .iter()
                .any(|x| x.value > n)
        }
    };
    let s = scrape_until(addr, Duration::from_secs(10), reloads(0.0)).await;
    let first = value(&s, "ftp_exporter_config_last_reload_success_timestamp_seconds", &[]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    signal(&child, "-HUP");
    scrape_until(addr, Duration::from_secs(10), reloads(first)).await;
    signal(&child, "-TERM");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), 0);
    let logs = stderr_of(&mut child);
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("the password is sent in clear")).collect();
    assert_eq!(warnings.len(), 4, "two targets × two loads:\n{logs}");
    for t in ["plain", "plain-2"] {
        let named = warnings.iter().filter(|l| l.contains(&format!("ftp_target={t} "))).count();
        assert_eq!(named, 2, "{t}:\n{logs}");
    }
    assert!(warnings.iter().all(|l| l.starts_with("level=warn") || l.contains("level=warn")), "{logs}");
    assert!(!logs.contains(PASSWORD), "{logs}");

    // Started with the flag, the binary refuses the file and exits 1.
    let out = Command::new(BIN)
        .args([&format!("--config.file={}", config.display()), "--config.require-tls"])
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    // logfmt quotes the error, escaping its quotes.
    assert!(stderr.contains(r#"targets[1].password_file: target \"plain\" would send"#), "{stderr}");

    let check = |flag: Option<&str>| {
        let mut c = Command::new(BIN);
        c.args(["check-config", &format!("--config.file={}", config.display())]);
        c.args(flag);
        c.output().unwrap()
    };
    let out = check(None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("warning: target \"plain\" sends its password in clear (tls: none)"), "{stderr}");
    let out = check(Some("--config.require-tls"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "{}:8: targets[1].password_file: target \"plain\" would send",
            config.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD));
}
