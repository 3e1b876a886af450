//! The `ftp_exporter` binary as operators run it: flags, logs on stderr
//! (logfmt and JSON), SIGHUP reload, SIGTERM exit 0, `check-config` exit
//! codes, `demo` — and no password in any log line.

mod support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::service::*;

const BIN: &str = env!("CARGO_BIN_EXE_ftp_exporter");

const CONFIG: &str = r#"
defaults: { interval: 2s, timeout: 2s }
targets:
  - name: good
    address: FTP_ADDR
    username: monitor
    password_file: good.pw
  - name: bad-password
    address: FTP_ADDR
    username: monitor
    password_file: wrong.pw
"#;

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap().success();
    assert!(ok, "kill {sig} failed");
}

/// Waits for the child to exit, at most `within`; kills it otherwise and fails.
fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_reloads_on_sighup_stops_on_sigterm_and_never_logs_a_password() {
    let ftp = Ftp::start().await;
    let config = ftp.write_config(CONFIG);
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(["--log.level=debug", "--checks.max-concurrency=4"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = wait_listening(port, "exporter").await;
    scrape_until(addr, Duration::from_secs(10), |s| checked(s, &["good", "bad-password"], 1.0)).await;

    // SIGHUP with a broken file: logged with file:line, running config kept.
    std::fs::write(
        &config,
        CONFIG.replace("FTP_ADDR", &ftp.addr().to_string()).replace("2s, timeout", "2s, timout"),
    )
    .unwrap();
    signal(&child, "-HUP");
    let s = scrape_until(addr, Duration::from_secs(5), |s| {
        find(s, "ftp_exporter_config_last_reload_successful", &[]).iter().any(|x| x.value == 0.0)
    })
    .await;
    assert_eq!(value(&s, "ftp_exporter_targets", &[]), 2.0);
    // SIGHUP with one target removed.
    let only_good =
        CONFIG.split("  - name: bad-password").next().unwrap().replace("FTP_ADDR", &ftp.addr().to_string());
    std::fs::write(&config, only_good).unwrap();
    signal(&child, "-HUP");
    scrape_until(addr, Duration::from_secs(5), |s| {
        find(s, "ftp_exporter_config_last_reload_successful", &[]).iter().any(|x| x.value == 1.0)
            && find(s, "ftp_target_info", &[("target", "bad-password")]).is_empty()
    })
    .await;

    signal(&child, "-TERM");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), 0, "SIGTERM must exit 0");
    let logs = stderr_of(&mut child);
    assert!(logs.contains("level=warn msg=\"check failing\" target=bad-password"), "{logs}");
    assert!(logs.contains("phase=login reason=auth_failed code=530"), "{logs}");
    assert!(logs.contains("diagnosis="), "{logs}");
    assert_eq!(
        logs.matches("msg=\"check failing\" target=bad-password mode=passive").count(),
        1,
        "one line per change, not per check:\n{logs}"
    );
    assert!(logs.contains(&format!("{}:2: defaults.timout", config.display())), "{logs}");
    assert!(logs.contains("msg=\"shutting down\""), "{logs}");
    for secret in [PASSWORD, WRONG_PASSWORD] {
        assert!(!logs.contains(secret), "password in the logs:\n{logs}");
    }
}

#[test]
fn json_logs_and_bad_startup_config_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    std::fs::write(&path, "targets:\n  - name: x\n    address: 127.0.0.1:21\n    modes: [pasive]\n").unwrap();
    let out = Command::new(BIN)
        .arg(format!("--config.file={}", path.display()))
        .args(["--web.listen-address=127.0.0.1:0", "--log.format=json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert!(line.get("target").is_none(), "the module path would clash with the FTP target field: {line}");
    assert!(line["error"].as_str().unwrap().contains(":4: targets[0].modes"), "{stderr}");
}

#[test]
fn check_config_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, "targets:\n  - name: x\n    address: 127.0.0.1:21\n").unwrap();
    let out = Command::new(BIN)
        .args(["check-config", &format!("--config.file={}", good.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "targets:\n  - name: x\n    address: 127.0.0.1:21\n    modes: [pasive]\n").unwrap();
    let out =
        Command::new(BIN).args(["check-config", "--config.file", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("{}:4: targets[0].modes", bad.display())), "{stderr}");
    assert!(stderr.contains("pasive"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_shows_both_modes_up_within_seconds() {
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["demo", &format!("--web.listen-address=127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = wait_listening(port, "demo").await;
    // The demo's interval is 10 s, so every first run falls within 10 s.
    let s = scrape_until(addr, Duration::from_secs(15), |s| {
        checked(s, &["demo-healthy", "demo-wrong-password"], 1.0)
    })
    .await;
    for mode in ["passive", "active"] {
        assert_eq!(value(&s, "ftp_up", &[("target", "demo-healthy"), ("mode", mode)]), 1.0);
        let f = [
            ("target", "demo-wrong-password"),
            ("mode", mode),
            ("phase", "login"),
            ("reason", "auth_failed"),
            ("code", "530"),
        ];
        assert_eq!(value(&s, "ftp_check_failure", &f), 1.0);
        for op in ["list", "retrieve", "store"] {
            assert!(
                value(
                    &s,
                    "ftp_transfer_bytes",
                    &[("target", "demo-healthy"), ("mode", mode), ("operation", op)]
                ) > 0.0
            );
        }
    }
    let (_, page) = get(addr, "/").await;
    assert_eq!(page.matches("<td class=\"cell up\" data-mode=").count(), 2, "{page}");
    assert!(page.contains("data-name=\"demo-healthy\" data-state=\"up\""), "{page}");
    signal(&child, "-INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), 0);
    let logs = stderr_of(&mut child);
    for secret in [ftp_exporter::demo::PASSWORD, ftp_exporter::demo::WRONG_PASSWORD] {
        assert!(!logs.contains(secret), "{logs}");
    }
    assert!(logs.contains("demo running"), "{logs}");
}
