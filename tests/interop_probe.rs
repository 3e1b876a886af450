//! `ftp_exporter probe` (docs/flags.md), the binary an operator runs at 3 a.m.,
//! against real servers: exit codes, the JSON lines, the diagnosis, and no
//! password anywhere in what it prints.

#[path = "support/real_servers/mod.rs"]
mod real_servers;

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Output};

use real_servers::{RealServer, ServerKind, ServerOptions, TlsMode, HELLO_PATH};
use serde_json::Value;

fn probe(srv: &RealServer, password: &str, path: &str, extra: &[&str]) -> (Output, Vec<Value>) {
    let url = format!("ftp://{}@{}/{path}", srv.user, srv.addr());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ftp_exporter"));
    cmd.args(["probe", &url, "--output", "json", "--timeout", "10s"]).env("FTP_PASSWORD", password);
    if srv.tls == TlsMode::Explicit {
        cmd.args(["--tls", "explicit", "--tls-ca-file"]).arg(&srv.ca_pem);
    }
    let out = cmd.args(extra).output().unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let lines = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(password), "password printed by probe");
    }
    (out, lines)
}

fn show(out: &Output, srv: &RealServer) -> String {
    format!(
        "status {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server log ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        srv.log()
    )
}

#[test]
fn probe_retrieves_over_explicit_tls_in_both_modes_from_vsftpd() {
    let srv = RealServer::start(ServerKind::Vsftpd, ServerOptions::tls(TlsMode::Explicit));
    let password = srv.password.clone();
    let (out, lines) = probe(&srv, &password, HELLO_PATH, &["--mode", "both"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out, &srv));
    let modes: Vec<&str> = lines.iter().map(|l| l["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["passive", "active"], "{}", show(&out, &srv));
    for l in &lines {
        assert_eq!(l["success"], true, "{l}");
        assert_eq!(l["failure"], Value::Null, "{l}");
        assert!(l["tls"]["version"].as_str().unwrap().starts_with("TLS"), "{l}");
        // vsftpd require_ssl_reuse=YES: the data connection resumed the session.
        assert_eq!(l["tls"]["data_resumed"], serde_json::json!([true]), "{l}");
        for phase in ["connect", "banner", "tls", "login", "data_setup", "data_connect", "transfer", "quit"] {
            assert!(l["phases"][phase].as_f64().is_some(), "phase {phase} missing: {l}");
        }
    }
}

#[test]
fn probe_with_a_wrong_password_exits_1_with_login_auth_failed() {
    let srv = RealServer::start(ServerKind::Proftpd, ServerOptions::default());
    let (out, lines) = probe(&srv, "not-the-password", "pub/", &["--mode", "both"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out, &srv));
    assert_eq!(lines.len(), 2, "{}", show(&out, &srv));
    for l in &lines {
        assert_eq!(l["failure"]["phase"], "login", "{l}");
        assert_eq!(l["failure"]["reason"], "auth_failed", "{l}");
        assert_eq!(l["failure"]["code"], "530", "{l}");
        assert!(l["diagnosis"].as_str().unwrap().contains("login"), "{l}");
    }
}

#[test]
fn probe_names_the_pasv_address_misconfiguration() {
    let srv = RealServer::start(
        ServerKind::PureFtpd,
        ServerOptions { pasv_address: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))), ..Default::default() },
    );
    let password = srv.password.clone();
    let (out, lines) = probe(&srv, &password, "pub/", &["--mode", "passive", "--epsv", "never"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out, &srv));
    let l = &lines[0];
    assert_eq!(l["passive_address_mismatch"], true, "{l}");
    assert!(l["passive_advertised_address"].as_str().unwrap().starts_with("127.0.0.2:"), "{l}");
    assert!(l["diagnosis"].as_str().unwrap().contains("-P in Pure-FTPd"), "{l}");
}
