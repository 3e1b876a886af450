//! Scale-out (`--shard.count N --shard.index I`): three exporter processes
//! over one configuration of 30 targets check every target exactly once
//! between them, each the targets with `fnv1a(name) % 3 == I`, also after
//! a reload; one takes its index from its host name as a StatefulSet pod
//! would (`ftp-exporter-2`), in a UTS namespace of its own.

mod support;

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ftp_exporter::shard::fnv1a;
use support::service::*;

const BIN: &str = env!("CARGO_BIN_EXE_ftp_exporter");
const SHARDS: u32 = 3;

fn config(targets: usize) -> String {
    let mut c = String::from(
        "defaults: { interval: 1s, timeout: 1s, modes: [passive], check: { login_only: true } }\ntargets:\n",
    );
    for n in 0..targets {
        writeln!(
            c,
            "  - {{ name: site-{n:02}, address: FTP_ADDR, username: monitor, password_file: good.pw }}"
        )
        .unwrap();
    }
    c
}

/// Kills the exporters when the test ends, passed or failed.
struct Exporters(Vec<Child>);

impl Drop for Exporters {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn owner(name: &str) -> u32 {
    (fnv1a(name.as_bytes()) % u64::from(SHARDS)) as u32
}

/// The targets one exporter reports (`ftp_up`), once each has been checked.
async fn checked_targets(addr: std::net::SocketAddr, expected: usize) -> Vec<Sample> {
    scrape_until(addr, Duration::from_secs(20), |s| {
        find(s, "ftp_up", &[]).len() == expected && find(s, "ftp_up", &[]).iter().all(|u| u.value == 1.0)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_check_every_target_exactly_once() {
    let ftp = Ftp::start().await;
    let file = ftp.write_config(&config(30));
    let ports: Vec<u16> = (0..SHARDS).map(|_| free_port()).collect();
    let mut children = Exporters(Vec::new());
    for (i, port) in ports.iter().enumerate() {
        let common = [
            format!("--config.file={}", file.display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            format!("--shard.count={SHARDS}"),
        ];
        let child = if i == 2 {
            // A StatefulSet's third pod: its host name is its index.
            Command::new("unshare")
                .args(["--uts", "sh", "-c", r#"hostname ftp-exporter-2 && exec "$0" "$@""#, BIN])
                .args(&common)
                .arg("--shard.index-from-hostname")
                .stdout(Stdio::null())
                .spawn()
                .expect("unshare (util-linux; the tests run as root)")
        } else {
            Command::new(BIN)
                .args(&common)
                .arg(format!("--shard.index={i}"))
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        };
        children.0.push(child);
    }

    for total in [30, 36] {
        if total == 36 {
            // A reload filters too: six more targets, each going to its shard only.
            std::fs::write(&file, config(36).replace("FTP_ADDR", &ftp.addr().to_string())).unwrap();
            for port in &ports {
                let (status, body) =
                    request(format!("127.0.0.1:{port}").parse().unwrap(), "POST", "/-/reload").await;
                assert_eq!(status, 200, "{body}");
            }
        }
        let names: Vec<String> = (0..total).map(|n| format!("site-{n:02}")).collect();
        let mut seen: Vec<(String, u32)> = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let i = i as u32;
            let addr = wait_listening(*port, "exporter").await;
            let mine = names.iter().filter(|n| owner(n) == i).count();
            assert!(mine > 0, "shard {i} owns none of {total} targets: pick other names");
            let samples = checked_targets(addr, mine).await;
            assert_eq!(value(&samples, "ftp_exporter_targets", &[]), mine as f64, "shard {i}");
            let index = i.to_string();
            let count = SHARDS.to_string();
            assert_eq!(
                value(&samples, "ftp_exporter_shard_info", &[("index", &index), ("count", &count)]),
                1.0
            );
            for up in find(&samples, "ftp_up", &[]) {
                let target = up.label("target").unwrap().to_string();
                assert_eq!(
                    owner(&target),
                    i,
                    "shard {i} checks {target}, which is shard {}'s",
                    owner(&target)
                );
                seen.push((target, i));
            }
        }
        seen.sort();
        let mut checked: Vec<String> = seen.iter().map(|(t, _)| t.clone()).collect();
        checked.dedup();
        assert_eq!(seen.len(), total, "some target checked by two shards: {seen:?}");
        assert_eq!(checked, names, "every target checked exactly once");
    }
}

#[test]
fn bad_shard_flags_are_usage_errors() {
    for (args, message) in [
        (&["--shard.count=3"][..], "--shard.count needs --shard.index or --shard.index-from-hostname"),
        (&["--shard.count=3", "--shard.index=3"][..], "--shard.index 3 is out of range"),
        (&["--shard.count=0", "--shard.index=0"][..], "--shard.count must be at least 1"),
        (&["--shard.index=1"][..], "--shard.count"),
    ] {
        let out = Command::new(BIN).args(["--config.file=/nonexistent.yml"]).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // check-config needs none of them.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yml");
    std::fs::write(&file, "targets: [{ name: a, address: 127.0.0.1 }]\n").unwrap();
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(format!("--config.file={}", file.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
