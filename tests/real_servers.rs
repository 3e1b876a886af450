//! Self-test of the real-server harness with independent clients (curl, and
//! Python's ftplib where curl is broken): every server × {plain, explicit
//! TLS, implicit TLS where the server has it} × {passive, active} lists,
//! retrieves `pub/hello.txt` and uploads into `incoming/`, and each fault a
//! real server can produce on demand gives its reply code
//! (docs/failures.md). If these pass, an exporter failure
//! against the same server is the exporter's.

#[path = "support/real_servers/mod.rs"]
mod real_servers;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Output};

use real_servers::{
    CertChoice, RealServer, ServerKind, ServerOptions, TlsMode, HELLO_CONTENT, HELLO_PATH, INCOMING_DIR,
    READONLY_DIR,
};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Passive,
    Active,
}

/// curl with the flags of one cell. `-v` puts the control dialogue on
/// stderr, where the fault tests read reply codes.
fn curl(srv: &RealServer, mode: Mode, path: &str, extra: &[&str]) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-v", "--max-time", "20"]);
    match mode {
        Mode::Passive => cmd.arg("--ftp-pasv"),
        // "-": the control connection's local address, 127.0.0.1 or ::1.
        Mode::Active => cmd.args(["-P", "-"]),
    };
    if srv.tls != TlsMode::None {
        cmd.arg("--ssl-reqd").arg("--cacert").arg(&srv.ca_pem);
    }
    cmd.args(extra).arg(srv.url(path));
    cmd.output().expect("curl (ci/install-deps.sh installs it)")
}

/// Python ftplib for the cells curl 7.88.1 cannot do (active + TLS, see
/// tests/support/ftplib_client.py).
fn ftplib(srv: &RealServer, mode: Mode, args: &[&str]) -> Output {
    let venv_python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/pyftpdlib-venv/bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/ftplib_client.py");
    let mode = if mode == Mode::Passive { "passive" } else { "active" };
    Command::new(venv_python)
        .arg(script)
        .arg(srv.port.to_string())
        .arg(&srv.user)
        .arg(mode)
        .arg(srv.tls.as_str())
        .arg(&srv.ca_pem)
        .args(args)
        .env("FTP_TEST_PASSWORD", &srv.password)
        .output()
        .expect("venv python (ci/install-deps.sh)")
}

fn explain(what: &str, srv: &RealServer, out: &Output) -> String {
    format!(
        "{what} against {} ({}) failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server log ---\n{}",
        srv.kind.name(),
        srv.tls,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        srv.log()
    )
}

/// List, retrieve, store in one mode; asserts on content, not just exit codes.
fn exercise(srv: &RealServer, mode: Mode) {
    let use_ftplib = srv.tls != TlsMode::None && mode == Mode::Active;
    let scratch = tempfile::tempdir().unwrap();
    let label = format!("{mode:?}").to_lowercase();

    let out = if use_ftplib { ftplib(srv, mode, &["list", "pub"]) } else { curl(srv, mode, "pub/", &[]) };
    assert!(out.status.success(), "{}", explain(&format!("{label} LIST"), srv, &out));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("hello.txt"), "{label} LIST lacks hello.txt: {listing}");

    let local = scratch.path().join("hello.txt");
    let out = if use_ftplib {
        ftplib(srv, mode, &["get", HELLO_PATH, local.to_str().unwrap()])
    } else {
        curl(srv, mode, HELLO_PATH, &["-o", local.to_str().unwrap()])
    };
    assert!(out.status.success(), "{}", explain(&format!("{label} RETR"), srv, &out));
    assert_eq!(std::fs::read(&local).unwrap(), HELLO_CONTENT, "{label} RETR content");

    let upload = scratch.path().join("up.bin");
    let payload: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&upload, &payload).unwrap();
    let remote = format!("{INCOMING_DIR}/{label}.bin");
    let out = if use_ftplib {
        ftplib(srv, mode, &["put", upload.to_str().unwrap(), &remote])
    } else {
        curl(srv, mode, &remote, &["-T", upload.to_str().unwrap()])
    };
    assert!(out.status.success(), "{}", explain(&format!("{label} STOR"), srv, &out));
    assert_eq!(std::fs::read(srv.root.join(&remote)).unwrap(), payload, "{label} STOR content on disk");
}

fn cell(kind: ServerKind, tls: TlsMode) {
    let srv = RealServer::start(kind, ServerOptions::tls(tls));
    exercise(&srv, Mode::Passive);
    exercise(&srv, Mode::Active);
}

macro_rules! cells {
    ($($name:ident: $kind:ident, $tls:ident;)+) => {
        $(#[test] fn $name() { cell(ServerKind::$kind, TlsMode::$tls) })+
    };
}

cells! {
    vsftpd_plain: Vsftpd, None;
    vsftpd_explicit_tls: Vsftpd, Explicit;
    vsftpd_implicit_tls: Vsftpd, Implicit;
    proftpd_plain: Proftpd, None;
    proftpd_explicit_tls: Proftpd, Explicit;
    proftpd_implicit_tls: Proftpd, Implicit;
    pureftpd_plain: PureFtpd, None;
    pureftpd_explicit_tls: PureFtpd, Explicit;
    pyftpdlib_plain: Pyftpdlib, None;
    pyftpdlib_explicit_tls: Pyftpdlib, Explicit;
}

#[test]
fn every_server_over_ipv6_plain() {
    on_every_server(|kind| {
        let srv = RealServer::start(kind, ServerOptions { ipv6: true, ..Default::default() });
        exercise(&srv, Mode::Passive);
        exercise(&srv, Mode::Active);
    });
}

/// Runs `f` for every server at once: failed-login delays (pyftpdlib 3 s,
/// vsftpd 1 s, Pure-FTPd) would otherwise add up.
fn on_every_server(f: impl Fn(ServerKind) + Sync) {
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = ServerKind::ALL.iter().map(|&k| s.spawn(move || f(k))).collect();
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn wrong_password_is_530_on_every_server() {
    on_every_server(|kind| {
        let mut srv = RealServer::start(kind, ServerOptions::default());
        srv.password = "not-the-password".into();
        let out = curl(&srv, Mode::Passive, "pub/", &[]);
        assert!(!out.status.success(), "{} accepted a wrong password", kind.name());
        assert!(stderr(&out).contains("< 530"), "{}", explain("wrong password", &srv, &out));
    });
}

#[test]
fn missing_file_is_550_on_every_server() {
    on_every_server(|kind| {
        let srv = RealServer::start(kind, ServerOptions::default());
        let out = curl(&srv, Mode::Passive, "pub/no-such-file.txt", &["-o", "/dev/null"]);
        assert!(!out.status.success(), "{} served a missing file", kind.name());
        assert!(stderr(&out).contains("< 550"), "{}", explain("missing file", &srv, &out));
    });
}

#[test]
fn store_into_readonly_dir_is_refused_on_every_server() {
    let scratch = tempfile::tempdir().unwrap();
    let upload = scratch.path().join("x");
    std::fs::write(&upload, b"refused").unwrap();
    on_every_server(|kind| {
        let srv = RealServer::start(kind, ServerOptions::default());
        let remote = format!("{READONLY_DIR}/x.txt");
        let out = curl(&srv, Mode::Passive, &remote, &["-T", upload.to_str().unwrap()]);
        assert!(!out.status.success(), "{} accepted a store into {READONLY_DIR}", kind.name());
        let err = stderr(&out);
        assert!(err.contains("< 550") || err.contains("< 553"), "{}", explain("store refused", &srv, &out));
        assert!(!srv.root.join(&remote).exists(), "{}: file written despite refusal", kind.name());
    });
}

#[test]
fn vsftpd_max_clients_turns_the_next_session_away_with_421() {
    let srv =
        RealServer::start(ServerKind::Vsftpd, ServerOptions { max_clients: Some(1), ..Default::default() });
    let _held = srv.hold_session();
    let out = curl(&srv, Mode::Passive, "pub/", &[]);
    assert!(!out.status.success(), "second session accepted");
    assert!(stderr(&out).contains("< 421"), "{}", explain("max_clients", &srv, &out));
}

#[test]
fn vsftpd_pasv_address_mismatch_is_advertised_and_curl_still_works() {
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let srv = RealServer::start(
        ServerKind::Vsftpd,
        ServerOptions { pasv_address: Some(other), ..Default::default() },
    );
    // Plain PASV (not EPSV, which carries no address) so the 227 is visible.
    let out = curl(&srv, Mode::Passive, HELLO_PATH, &["--disable-epsv"]);
    let err = stderr(&out);
    assert!(err.contains("< 227") && err.contains("(127,0,0,2,"), "{}", explain("pasv_address", &srv, &out));
    // curl ignores the 227 address by default (--ftp-skip-pasv-ip is on since 7.74)
    // and connects to the control peer, so the transfer works: the mismatch
    // is the only symptom, as with a NATed server seen from inside.
    assert!(out.status.success(), "{}", explain("pasv_address transfer", &srv, &out));
    assert_eq!(out.stdout, HELLO_CONTENT);
}

#[test]
fn certificate_from_another_ca_is_rejected() {
    for kind in [ServerKind::Vsftpd, ServerKind::Proftpd] {
        let srv = RealServer::start(
            kind,
            ServerOptions { tls: TlsMode::Explicit, cert: CertChoice::OtherCa, ..Default::default() },
        );
        let out = curl(&srv, Mode::Passive, "pub/", &[]);
        assert_eq!(out.status.code(), Some(60), "{}", explain("wrong CA (curl 60 expected)", &srv, &out));
    }
}
