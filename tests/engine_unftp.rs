//! The check runner against a real FTP server in-process (libunftp over a
//! temp dir), in both modes, for list, retrieve and store.

use std::time::Duration;

use ftp_exporter::check::{
    run, CheckEnv, CheckPlan, Mode, Operation, Phase, Reason, RetrieveSpec, StoreSpec,
};
use ftp_exporter::embedded::{EmbeddedOptions, EmbeddedServer};
use ftp_exporter::secret::Secret;
use sha2::{Digest, Sha256};

const CONTENT: &[u8] = b"hello from ftp_exporter's test server\n";

async fn server() -> (EmbeddedServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pub")).unwrap();
    std::fs::create_dir(dir.path().join("incoming")).unwrap();
    std::fs::write(dir.path().join("pub/hello.txt"), CONTENT).unwrap();
    let srv = EmbeddedServer::start(EmbeddedOptions::new(dir.path(), "monitor", "s3cret-pw")).await.unwrap();
    (srv, dir)
}

fn plan(srv: &EmbeddedServer, mode: Mode) -> CheckPlan {
    let mut p = CheckPlan::new("127.0.0.1", srv.addr().port(), mode);
    p.username = "monitor".into();
    p.password = Secret::new("s3cret-pw");
    p.timeout = Duration::from_secs(10);
    p
}

#[tokio::test]
async fn list_retrieve_store_in_both_modes() {
    let (srv, dir) = server().await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut p = plan(&srv, mode);
        p.list = Some("/pub".into());
        p.retrieve = Some(RetrieveSpec {
            path: "/pub/hello.txt".into(),
            sha256: Some(hex::encode(Sha256::digest(CONTENT))),
            size: Some(CONTENT.len() as u64),
            max_bytes: 1 << 20,
        });
        p.store = Some(StoreSpec {
            path: "/incoming/probe.tmp".into(),
            bytes: 100_000,
            verify: true,
            delete: true,
        });
        let o = run(&p, &CheckEnv::default()).await;
        assert_eq!(o.failure, None, "{mode}: transcript:\n{}", o.transcript);
        for phase in [
            Phase::Connect,
            Phase::Banner,
            Phase::Login,
            Phase::DataSetup,
            Phase::DataConnect,
            Phase::Transfer,
            Phase::Quit,
        ] {
            assert!(o.phase(phase).is_some(), "{mode}: phase {phase} missing: {:?}", o.phases);
        }
        assert_eq!(o.phase(Phase::Resolve), None, "an IP literal needs no resolve phase");
        assert_eq!(o.phase(Phase::Tls), None);
        assert!(o.bytes(Operation::List).unwrap() > 0, "{mode}: listing of /pub is not empty");
        assert_eq!(o.bytes(Operation::Retrieve), Some(CONTENT.len() as u64));
        assert_eq!(o.bytes(Operation::Store), Some(100_000));
        assert!(!dir.path().join("incoming/probe.tmp").exists(), "{mode}: probe file deleted");
        let sum: Duration = o.phases.iter().map(|(_, d)| *d).sum();
        assert!(sum <= o.duration, "phases add up to no more than the whole");
        let t = o.transcript.to_string();
        assert!(t.contains("PASS ****") && !t.contains("s3cret-pw"), "{t}");
        match mode {
            Mode::Passive => {
                assert!(t.contains("> EPSV") || t.contains("> PASV"), "{t}");
                assert_ne!(o.passive_address_mismatch, Some(true));
            }
            Mode::Active => assert!(t.contains("> PORT 127,0,0,1,"), "{t}"),
        }
    }
}

#[tokio::test]
async fn default_check_lists_the_login_directory() {
    let (srv, _dir) = server().await;
    let o = run(&plan(&srv, Mode::Passive), &CheckEnv::default()).await;
    assert_eq!(o.failure, None, "{}", o.transcript);
    assert!(o.transcript.to_string().lines().any(|l| l.ends_with("> LIST")), "{}", o.transcript);
    assert!(o.bytes(Operation::List).is_some());
}

#[tokio::test]
async fn wrong_password_is_auth_failed_530() {
    let (srv, _dir) = server().await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut p = plan(&srv, mode);
        p.password = Secret::new("wrong");
        let f = run(&p, &CheckEnv::default()).await.failure.expect("must fail");
        assert_eq!((f.phase, f.reason, f.code.as_str()), (Phase::Login, Reason::AuthFailed, "530"));
    }
}

#[tokio::test]
async fn missing_file_is_file_unavailable_550_in_both_modes() {
    let (srv, _dir) = server().await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut p = plan(&srv, mode);
        p.retrieve =
            Some(RetrieveSpec { path: "/pub/missing.txt".into(), sha256: None, size: None, max_bytes: 1024 });
        let o = run(&p, &CheckEnv::default()).await;
        let f = o.failure.expect("must fail");
        assert_eq!(
            (f.phase, f.reason, f.code.as_str()),
            (Phase::Transfer, Reason::FileUnavailable, "550"),
            "{mode}\n{}",
            o.transcript
        );
    }
}

#[tokio::test]
async fn wrong_checksum_is_content_mismatch() {
    let (srv, _dir) = server().await;
    let mut p = plan(&srv, Mode::Passive);
    p.retrieve = Some(RetrieveSpec {
        path: "/pub/hello.txt".into(),
        sha256: Some("00".repeat(32)),
        size: None,
        max_bytes: 1024,
    });
    let f = run(&p, &CheckEnv::default()).await.failure.expect("must fail");
    assert_eq!((f.phase, f.reason, f.code.as_str()), (Phase::Transfer, Reason::ContentMismatch, ""));
    let mut p = plan(&srv, Mode::Active);
    p.retrieve =
        Some(RetrieveSpec { path: "/pub/hello.txt".into(), sha256: None, size: None, max_bytes: 10 });
    let f = run(&p, &CheckEnv::default()).await.failure.expect("max_bytes exceeded");
    assert_eq!((f.phase, f.reason), (Phase::Transfer, Reason::ContentMismatch));
}

#[tokio::test]
async fn login_only_has_no_data_phases() {
    let (srv, _dir) = server().await;
    let mut p = plan(&srv, Mode::Passive);
    p.login_only = true;
    let o = run(&p, &CheckEnv::default()).await;
    assert_eq!(o.failure, None);
    assert_eq!(
        o.phases.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        vec![Phase::Connect, Phase::Banner, Phase::Login, Phase::Quit]
    );
}

#[tokio::test]
async fn nat_advertising_server_is_up_with_mismatch_and_trusting_it_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EmbeddedOptions::new(dir.path(), "monitor", "s3cret-pw");
    opts.passive_host = Some("127.0.0.2".parse().unwrap());
    let srv = EmbeddedServer::start(opts).await.unwrap();
    let mut p = plan(&srv, Mode::Passive);
    p.passive.epsv = ftp_exporter::check::Toggle::Never;
    let o = run(&p, &CheckEnv::default()).await;
    assert_eq!(o.failure, None, "{}", o.transcript);
    assert_eq!(o.passive_address_mismatch, Some(true));
    assert_eq!(o.passive_advertised.unwrap().ip().to_string(), "127.0.0.2");
}

#[tokio::test]
async fn active_port_range_exhausted_is_io_error_at_data_setup() {
    let (srv, _dir) = server().await;
    // Occupy the only port of the range.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let mut p = plan(&srv, Mode::Active);
    p.active.port_range = Some(port..=port);
    let o = run(&p, &CheckEnv::default()).await;
    let f = o.failure.expect("must fail");
    assert_eq!(
        (f.phase, f.reason, f.code.as_str()),
        (Phase::DataSetup, Reason::IoError, ""),
        "{}",
        o.transcript
    );
    assert!(f.message.contains(&format!("{port}-{port}")), "{}", f.message);
    // The session was still ended politely.
    assert!(o.transcript.to_string().contains("> QUIT"), "{}", o.transcript);
}

/// Two exporters (an HA pair: one config, two host names) storing at the
/// same time against one server: the default `store.path` holds
/// `{hostname}`, so their probe files differ and neither reads back the
/// other's bytes (a false `content_mismatch` when they shared one name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_exporters_storing_concurrently_both_stay_up() {
    let (srv, dir) = server().await;
    let text = format!(
        "targets:\n  - name: shared\n    address: 127.0.0.1:{}\n    username: monitor\n    \
         password: s3cret-pw\n    modes: [passive]\n    check:\n      store: {{ bytes: 1MiB }}\n",
        srv.addr().port()
    );
    let source = std::path::Path::new("ha.yml");
    let plans: Vec<CheckPlan> = ["replica-a", "replica-b"]
        .iter()
        .map(|host| {
            let config = ftp_exporter::config::Config::parse_as(&text, source, host).unwrap();
            config.targets[0].plan(Mode::Passive)
        })
        .collect();
    let paths: Vec<&str> = plans.iter().map(|p| p.store.as_ref().unwrap().path.as_str()).collect();
    assert_eq!(paths, ["ftp_exporter_replica-a.tmp", "ftp_exporter_replica-b.tmp"]);
    for round in 0..5 {
        let env = CheckEnv::default();
        let (a, b) = tokio::join!(run(&plans[0], &env), run(&plans[1], &env));
        for o in [a, b] {
            assert_eq!(o.failure, None, "round {round}:\n{}", o.transcript);
            assert_eq!(o.bytes(Operation::Store), Some(1 << 20));
        }
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().starts_with("ftp_exporter_")), "left behind: {left:?}");
}
