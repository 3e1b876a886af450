//! The interoperability matrix: `ftp_exporter::check::run`
//! against real vsftpd, ProFTPD, Pure-FTPd and pyftpdlib on loopback, in
//! both modes, plain FTP and FTPS, and the real failures real servers produce mapped to
//! their `(phase, reason, code)`.
//!
//! tests/real_servers.rs proves each server with curl first, so a failure
//! here is the exporter's, not the harness's.

#[path = "support/real_servers/mod.rs"]
mod real_servers;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ftp_exporter::check::{
    diagnose, run, CheckEnv, CheckPlan, Mode, Operation, Outcome, Phase, Reason, RetrieveSpec, StoreSpec,
};
use ftp_exporter::secret::Secret;
use real_servers::{
    CertChoice, RealServer, ServerKind, ServerOptions, TlsMode, HELLO_CONTENT, HELLO_PATH, INCOMING_DIR,
};
use sha2::{Digest, Sha256};

/// What a monitoring config for this server would say: its user, its CA.
fn plan(srv: &RealServer, mode: Mode) -> CheckPlan {
    let mut p = CheckPlan::new(srv.ip.to_string(), srv.port, mode);
    p.username = srv.user.clone();
    p.password = Secret::new(srv.password.clone());
    p.timeout = Duration::from_secs(10);
    p.tls.mode = srv.tls;
    if srv.tls != TlsMode::None {
        p.tls.ca_file = Some(srv.ca_pem.clone());
    }
    p
}

/// list + retrieve (size and SHA-256) + store (verify, delete).
fn full_plan(srv: &RealServer, mode: Mode) -> CheckPlan {
    let mut p = plan(srv, mode);
    p.list = Some("/pub".into());
    p.retrieve = Some(RetrieveSpec {
        path: format!("/{HELLO_PATH}"),
        sha256: Some(hex::encode(Sha256::digest(HELLO_CONTENT))),
        size: Some(HELLO_CONTENT.len() as u64),
        max_bytes: 1 << 20,
    });
    p.store = Some(StoreSpec {
        path: format!("/{INCOMING_DIR}/ftp_exporter-{mode}.tmp"),
        bytes: 200_000,
        verify: true,
        delete: true,
    });
    p
}

fn describe(srv: &RealServer, o: &Outcome) -> String {
    format!(
        "{} tls={} mode={}: failure {:?}\n--- transcript ---\n{}\n--- server log ---\n{}",
        srv.kind.name(),
        srv.tls,
        o.mode,
        o.failure,
        o.transcript,
        srv.log()
    )
}

async fn full_check_in_both_modes(kind: ServerKind, tls: TlsMode) {
    full_check_in_both_modes_with(kind, ServerOptions::tls(tls)).await
}

async fn full_check_in_both_modes_with(kind: ServerKind, opts: ServerOptions) {
    let tls = opts.tls;
    let srv = start(kind, opts).await;
    for mode in [Mode::Passive, Mode::Active] {
        let p = full_plan(&srv, mode);
        let o = run(&p, &CheckEnv::default()).await;
        assert_eq!(o.failure, None, "{}", describe(&srv, &o));
        let mut phases = vec![Phase::Connect, Phase::Banner];
        if tls != TlsMode::None {
            phases.push(Phase::Tls);
        }
        phases.extend([Phase::Login, Phase::DataSetup, Phase::DataConnect, Phase::Transfer, Phase::Quit]);
        for phase in phases {
            assert!(
                o.phase(phase).is_some(),
                "phase {phase} missing: {:?}\n{}",
                o.phases,
                describe(&srv, &o)
            );
        }
        assert_eq!(o.phase(Phase::Resolve), None, "an IP literal needs no resolve");
        assert_eq!(o.bytes(Operation::Retrieve), Some(HELLO_CONTENT.len() as u64));
        assert!(o.bytes(Operation::List).is_some_and(|b| b > 0), "empty listing: {:?}", o.bytes);
        assert!(o.bytes(Operation::Store).is_some_and(|b| b >= 200_000), "store bytes: {:?}", o.bytes);
        let stored = srv.root.join(format!("{INCOMING_DIR}/ftp_exporter-{mode}.tmp"));
        assert!(!stored.exists(), "probe file not deleted: {}", stored.display());
        if tls != TlsMode::None {
            let info = o.tls.as_ref().expect("TLS facts of a TLS check");
            assert!(info.version.starts_with("TLS"), "{info:?}");
            // The leaf is issued for 825 days when the test PKI is made (certs.rs).
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
            let not_after = info.cert_not_after.expect("leaf notAfter");
            assert!(not_after > now && not_after <= now + 826 * 86400, "notAfter {not_after}, now {now}");
            // list, retrieve, store, verify read-back: every data connection
            // resumed the control session (vsftpd and ProFTPD insist).
            assert!(!info.data_resumed.is_empty(), "{info:?}");
            if matches!(kind, ServerKind::Vsftpd | ServerKind::Proftpd) {
                assert!(info.data_resumed.iter().all(|r| *r), "{info:?}");
            }
        } else {
            assert!(o.tls.is_none());
        }
    }
}

macro_rules! matrix {
    ($($name:ident: $kind:ident, $tls:ident;)+) => {
        $(#[tokio::test] async fn $name() { full_check_in_both_modes(ServerKind::$kind, TlsMode::$tls).await })+
    };
}

matrix! {
    vsftpd_plain: Vsftpd, None;
    proftpd_plain: Proftpd, None;
    pureftpd_plain: PureFtpd, None;
    pyftpdlib_plain: Pyftpdlib, None;
    vsftpd_explicit_tls: Vsftpd, Explicit;
    proftpd_explicit_tls: Proftpd, Explicit;
    pureftpd_explicit_tls: PureFtpd, Explicit;
    pyftpdlib_explicit_tls: Pyftpdlib, Explicit;
    vsftpd_implicit_tls: Vsftpd, Implicit;
    proftpd_implicit_tls: Proftpd, Implicit;
}

/// Over ::1 the data connection needs EPSV/EPRT (RFC 2428): PASV and PORT
/// cannot carry an IPv6 address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_over_ipv6_plain_and_explicit_tls() {
    on_every_server(|kind| async move {
        for tls in [TlsMode::None, TlsMode::Explicit] {
            full_check_in_both_modes_with(kind, ServerOptions { tls, ipv6: true, ..Default::default() })
                .await;
        }
    })
    .await;
}

/// Runs `check` against every server concurrently (their failed-login
/// delays would add up one after another).
async fn on_every_server<F, Fut>(check: F)
where
    F: Fn(ServerKind) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = ServerKind::ALL.iter().map(|&k| tokio::spawn(check(k))).collect();
    for t in tasks {
        if let Err(e) = t.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Starting a server blocks (it polls the port); keep it off the runtime threads.
async fn start(kind: ServerKind, opts: ServerOptions) -> RealServer {
    tokio::task::spawn_blocking(move || RealServer::start(kind, opts)).await.unwrap_or_else(|e| {
        std::panic::resume_unwind(e.into_panic());
    })
}

fn assert_failure(srv: &RealServer, o: &Outcome, phase: Phase, reason: Reason, code: &str) {
    let f = o.failure.as_ref().unwrap_or_else(|| panic!("expected a failure\n{}", describe(srv, o)));
    assert_eq!((f.phase, f.reason, f.code.as_str()), (phase, reason, code), "{}", describe(srv, o));
    assert!(!f.message.contains(&srv.password), "password in the failure message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_login_auth_failed_530() {
    on_every_server(|kind| async move {
        let srv = start(kind, ServerOptions::default()).await;
        let mut p = plan(&srv, Mode::Passive);
        p.password = Secret::new("not-the-password");
        let o = run(&p, &CheckEnv::default()).await;
        assert_failure(&srv, &o, Phase::Login, Reason::AuthFailed, "530");
        assert!(!o.transcript.to_string().contains("not-the-password"), "password in transcript");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_file_is_transfer_file_unavailable_550() {
    on_every_server(|kind| async move {
        let srv = start(kind, ServerOptions::default()).await;
        for mode in [Mode::Passive, Mode::Active] {
            let mut p = plan(&srv, mode);
            p.retrieve = Some(RetrieveSpec {
                path: "/pub/no-such-file".into(),
                sha256: None,
                size: None,
                max_bytes: 1 << 20,
            });
            let o = run(&p, &CheckEnv::default()).await;
            assert_failure(&srv, &o, Phase::Transfer, Reason::FileUnavailable, "550");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_refused_is_a_transfer_failure() {
    on_every_server(|kind| async move {
        let srv = start(kind, ServerOptions::default()).await;
        let mut p = plan(&srv, Mode::Passive);
        p.store = Some(StoreSpec {
            path: format!("/{}/probe.tmp", real_servers::READONLY_DIR),
            bytes: 1000,
            verify: false,
            delete: false,
        });
        let o = run(&p, &CheckEnv::default()).await;
        let f = o.failure.as_ref().unwrap_or_else(|| panic!("store accepted\n{}", describe(&srv, &o)));
        assert_eq!(f.phase, Phase::Transfer, "{}", describe(&srv, &o));
        // 550 (vsftpd, ProFTPD, pyftpdlib) is file_unavailable; Pure-FTPd says 553,
        // which docs/failures.md files under `rejected` with its code.
        match f.code.as_str() {
            "550" => assert_eq!(f.reason, Reason::FileUnavailable, "{}", describe(&srv, &o)),
            "553" => assert_eq!(f.reason, Reason::Rejected, "{}", describe(&srv, &o)),
            other => panic!("unexpected code {other}\n{}", describe(&srv, &o)),
        }
    })
    .await;
}

/// One session held (logged in), `max_clients: 1`. vsftpd, Pure-FTPd and
/// pyftpdlib turn the next session away with 421 instead of the banner.
/// ProFTPD's MaxClients counts logged-in users and answers PASS with 530
/// ("maximum number of allowed clients"), which docs/failures.md reads as a login
/// failure: asserted as the server really behaves, phase and code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_clients_is_service_unavailable_421() {
    on_every_server(|kind| async move {
        let srv = start(kind, ServerOptions { max_clients: Some(1), ..Default::default() }).await;
        let _held = srv.hold_session();
        let o = run(&plan(&srv, Mode::Passive), &CheckEnv::default()).await;
        if kind == ServerKind::Proftpd {
            // ProFTPD refuses PASS with "530 Sorry, the maximum number of
            // allowed clients (1) are already connected": a full server.
            assert_failure(&srv, &o, Phase::Login, Reason::ServiceUnavailable, "530");
        } else {
            assert_failure(&srv, &o, Phase::Banner, Reason::ServiceUnavailable, "421");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasv_address_mismatch_is_flagged_diagnosed_and_the_check_still_succeeds() {
    on_every_server(|kind| async move {
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let srv = start(kind, ServerOptions { pasv_address: Some(other), ..Default::default() }).await;
        // The default epsv: auto uses PASV on IPv4: only 227 carries the
        // advertised address (RFC 2428 §3).
        let p = full_plan(&srv, Mode::Passive);
        let o = run(&p, &CheckEnv::default()).await;
        assert_eq!(o.failure, None, "{}", describe(&srv, &o));
        assert_eq!(o.passive_address_mismatch, Some(true), "{}", describe(&srv, &o));
        assert_eq!(o.passive_advertised.map(|a| a.ip()), Some(other));
        let d = diagnose(&[&o]).unwrap_or_else(|| panic!("no diagnosis\n{}", describe(&srv, &o)));
        assert!(d.summary.contains("127.0.0.2") && d.summary.contains("pasv_address"), "{}", d.summary);

        // The same server without the fault: no mismatch, nothing to say.
        let good = start(kind, ServerOptions::default()).await;
        let p = full_plan(&good, Mode::Passive);
        let o = run(&p, &CheckEnv::default()).await;
        assert_eq!(o.failure, None, "{}", describe(&good, &o));
        assert_eq!(o.passive_address_mismatch, Some(false), "{}", describe(&good, &o));
        assert_eq!(diagnose(&[&o]), None);
    })
    .await;
}

/// vsftpd `port_enable=NO`, ProFTPD `<Limit PORT EPRT> DenyAll`: the server
/// refuses PORT/EPRT, so active fails at data_setup while passive works,
/// and the diagnosis says which side to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_mode_refused_by_the_server_is_data_setup_rejected() {
    let tasks: Vec<_> = [ServerKind::Vsftpd, ServerKind::Proftpd, ServerKind::Pyftpdlib]
        .into_iter()
        .map(|kind| {
            tokio::spawn(async move {
                let srv = start(kind, ServerOptions { allow_active: false, ..Default::default() }).await;
                let active = run(&plan(&srv, Mode::Active), &CheckEnv::default()).await;
                let passive = run(&plan(&srv, Mode::Passive), &CheckEnv::default()).await;
                assert_eq!(passive.failure, None, "{}", describe(&srv, &passive));
                let f = active.failure.as_ref().unwrap_or_else(|| panic!("{}", describe(&srv, &active)));
                assert_eq!(
                    (f.phase, f.reason),
                    (Phase::DataSetup, Reason::Rejected),
                    "{}",
                    describe(&srv, &active)
                );
                assert!(f.code.starts_with('5'), "{}", describe(&srv, &active));
                let d = diagnose(&[&passive, &active]).expect("a diagnosis");
                assert!(d.summary.contains("PORT/EPRT"), "{}", d.summary);
            })
        })
        .collect();
    for t in tasks {
        if let Err(e) = t.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Certificates a client must refuse, on every server that speaks FTPS:
/// another CA, expired, a name that is neither `127.0.0.1` nor `localhost`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_certificates_are_tls_certificate_invalid() {
    on_every_server(|kind| async move {
        for cert in [CertChoice::OtherCa, CertChoice::Expired, CertChoice::WrongName] {
            let srv = start(kind, ServerOptions { tls: TlsMode::Explicit, cert, ..Default::default() }).await;
            let o = run(&plan(&srv, Mode::Passive), &CheckEnv::default()).await;
            assert_failure(&srv, &o, Phase::Tls, Reason::TlsCertificateInvalid, "");
            assert!(o.phase(Phase::Login).is_none(), "{cert:?}: no login after a refused certificate");
        }
    })
    .await;
}

#[tokio::test]
async fn implicit_tls_wrong_ca_fails_before_the_banner() {
    let srv = RealServer::start(
        ServerKind::Vsftpd,
        ServerOptions { tls: TlsMode::Implicit, cert: CertChoice::OtherCa, ..Default::default() },
    );
    let started = Instant::now();
    let o = run(&plan(&srv, Mode::Passive), &CheckEnv::default()).await;
    assert_failure(&srv, &o, Phase::Tls, Reason::TlsCertificateInvalid, "");
    assert!(o.phase(Phase::Banner).is_none(), "banner cannot be read before the handshake");
    assert!(started.elapsed() < Duration::from_secs(5));
}
