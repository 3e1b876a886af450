//! A configuration file drives real checks: the plans built from it log in,
//! list, retrieve (with size and SHA-256) and store against a real FTP server
//! (libunftp, in-process, on 127.0.0.1) in both modes.

use ftp_exporter::check::{self, CheckEnv, Mode, Operation, Phase, Reason};
use ftp_exporter::config::Config;
use ftp_exporter::embedded::{EmbeddedOptions, EmbeddedServer};
use sha2::{Digest, Sha256};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_from_a_config_file_check_a_real_server_in_both_modes() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("incoming")).unwrap();
    let content = b"ok\n".repeat(100);
    std::fs::write(root.path().join("ok.txt"), &content).unwrap();
    let server =
        EmbeddedServer::start(EmbeddedOptions::new(root.path(), "monitor", "right-pw")).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "right-pw\n").unwrap();
    std::fs::write(dir.path().join("bad-pw"), "wrong-pw\n").unwrap();
    let cfg = dir.path().join("ftp.yml");
    std::fs::write(
        &cfg,
        format!(
            "defaults:
  username: monitor
  password_file: pw
  timeout: 10s
targets:
  - name: full
    address: {addr}
    check:
      list: /incoming
      retrieve: {{ path: /ok.txt, size: {size}, sha256: {sha} }}
      store: {{ path: /incoming/probe.tmp, bytes: 1KiB }}
  - name: wrong-password
    address: {addr}
    password_file: bad-pw
    check: {{ login_only: true }}
",
            addr = server.addr(),
            size = content.len(),
            sha = hex::encode(Sha256::digest(&content)),
        ),
    )
    .unwrap();
    let config = Config::load(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let env = CheckEnv::default();

    let full = &config.targets[0];
    for mode in full.modes.clone() {
        let out = check::run(&full.plan(mode), &env).await;
        assert!(out.success(), "{mode}: {:?}", out.failure);
        assert_eq!(out.bytes.iter().find(|(op, _)| *op == Operation::Retrieve).map(|b| b.1), Some(300));
        assert_eq!(out.bytes.iter().find(|(op, _)| *op == Operation::Store).map(|b| b.1), Some(1024));
    }
    assert!(!root.path().join("incoming/probe.tmp").exists(), "the probe file is deleted by default");

    let wrong = &config.targets[1];
    let out = check::run(&wrong.plan(Mode::Passive), &env).await;
    let f = out.failure.expect("a wrong password must fail");
    assert_eq!((f.phase, f.reason, f.code.as_str()), (Phase::Login, Reason::AuthFailed, "530"));
}
