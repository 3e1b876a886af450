//! `ftp_exporter probe … --output svg FILE` against a real vsftpd and a
//! server that never connects back: the diagrams (both modes side by side)
//! in the file, the usual summary lines on stdout, the usual exit codes.

use std::process::Command;

use crate::real_servers::{RealServer, ServerKind, ServerOptions};
use crate::support::fault_server::{ActiveFault, FaultServer, Script};

fn has_class(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class").is_some_and(|c| c.split(' ').any(|x| x == class))
}

fn probe(url: &str, password: &str, extra: &[&str], file: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ftp_exporter"))
        .args(["probe", url, "--timeout", "2s", "--output", "svg"])
        .arg(file)
        .args(extra)
        .env("FTP_PASSWORD", password)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stdout.contains(password) && !stderr.contains(password));
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_writes_both_diagrams_to_an_svg_file() {
    let dir = tempfile::tempdir().unwrap();
    let srv = tokio::task::spawn_blocking(|| RealServer::start(ServerKind::Vsftpd, ServerOptions::default()))
        .await
        .unwrap();
    let file = dir.path().join("vsftpd.svg");
    let url = format!("ftp://{}@{}/pub/", srv.user, srv.addr());
    let password = srv.password.clone();
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let (url, file) = (url.clone(), file.clone());
        move || probe(&url, &password, &["--mode", "both"], &file)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", srv.log());
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[lines.len() - 2].starts_with("passive: ok ")
            && lines[lines.len() - 1].starts_with("active: ok "),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("diagram: {}", file.display())), "{stdout}");
    let svg = std::fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let diagrams: Vec<_> = doc.descendants().filter(|n| has_class(n, "sd-diagram")).collect();
    assert_eq!(
        diagrams.iter().map(|d| d.attribute("data-mode").unwrap()).collect::<Vec<_>>(),
        ["passive", "active"]
    );
    for (d, from) in diagrams.iter().zip(["exporter", "server"]) {
        let data: Vec<_> = d.descendants().filter(|n| has_class(n, "data")).collect();
        assert_eq!(data.len(), 1, "one LIST");
        assert_eq!(data[0].attribute("data-from"), Some(from));
        assert_eq!(data[0].attribute("data-arrived"), Some("true"));
    }
    assert!(!svg.contains(&srv.password));
    assert!(svg.contains("PASS ****"));

    // The seed's "login works but ls hangs", in the file and in the exit code.
    let firewalled = FaultServer::start(Script::new().active(ActiveFault::NeverConnect)).await;
    let file = dir.path().join("firewalled.svg");
    let url = format!("ftp://monitor@{}/", firewalled.addr());
    let (code, stdout, _) = tokio::task::spawn_blocking({
        let file = file.clone();
        move || probe(&url, "whatever-pw", &["--mode", "active"], &file)
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.trim_end().ends_with("code= after 2.0")
            || stdout.contains("active: FAILED phase=data_connect reason=timeout code= after"),
        "{stdout}"
    );
    let svg = std::fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let data = doc.descendants().find(|n| has_class(n, "data")).unwrap();
    assert!(has_class(&data, "broken") && data.attribute("data-from") == Some("server"));
    let failure = doc.descendants().find(|n| has_class(n, "failure")).unwrap();
    assert_eq!(
        (failure.attribute("data-phase"), failure.attribute("data-reason")),
        (Some("data_connect"), Some("timeout"))
    );

    // Bad usage: exit 2, nothing written.
    let out = Command::new(env!("CARGO_BIN_EXE_ftp_exporter"))
        .args(["probe", "ftp://127.0.0.1/", "--output", "svg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output svg needs a file"));
}
