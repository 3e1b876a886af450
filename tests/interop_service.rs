//! The interoperability matrix through the exporter service: one
//! running exporter checks every real server × TLS mode on its schedule, in
//! both modes, with list + retrieve (SHA-256) + store (verify, delete); every
//! cell must be up on `/metrics` for several consecutive checks. The test
//! writes the matrix (result and median check time per cell) to
//! `target/tmp/interop-matrix.md`; the README shows it.

mod support;

#[path = "support/real_servers/mod.rs"]
mod real_servers;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use real_servers::{RealServer, ServerKind, ServerOptions, TlsMode, HELLO_CONTENT, HELLO_PATH, INCOMING_DIR};
use sha2::{Digest, Sha256};
use support::service::*;

/// Checks per cell before the matrix is written.
const ROUNDS: usize = 5;

struct Cell {
    name: String,
    kind: ServerKind,
    tls: TlsMode,
    server: RealServer,
}

fn cells() -> Vec<(ServerKind, TlsMode)> {
    let mut out = Vec::new();
    for tls in [TlsMode::None, TlsMode::Explicit, TlsMode::Implicit] {
        for kind in ServerKind::ALL {
            if tls != TlsMode::Implicit || kind.supports_implicit() {
                out.push((kind, tls));
            }
        }
    }
    out
}

fn target_yaml(cell: &Cell, dir: &std::path::Path) -> String {
    let pw = dir.join(format!("{}.pw", cell.name));
    std::fs::write(&pw, &cell.server.password).unwrap();
    let sha = hex::encode(Sha256::digest(HELLO_CONTENT));
    let mut y = format!(
        "  - name: {name}\n    address: {addr}\n    username: {user}\n    password_file: {pw}\n    \
         tls: {tls}\n",
        name = cell.name,
        addr = cell.server.addr(),
        user = cell.server.user,
        pw = pw.display(),
        tls = cell.tls,
    );
    if cell.tls != TlsMode::None {
        let _ = writeln!(y, "    tls_ca_file: {}", cell.server.ca_pem.display());
    }
    let _ = write!(
        y,
        "    check:\n      list: /pub\n      retrieve: {{ path: /{HELLO_PATH}, sha256: \"{sha}\", size: {size} }}\n      \
         store: {{ path: /{INCOMING_DIR}/probe-{name}.tmp, bytes: 65536, verify: true, delete: true }}\n",
        size = HELLO_CONTENT.len(),
        name = cell.name,
    );
    y
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_is_up_through_the_exporter_service() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for (kind, tls) in cells() {
        let server = tokio::task::spawn_blocking(move || RealServer::start(kind, ServerOptions::tls(tls)))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        all.push(Cell { name: format!("{}-{}", kind.name().to_lowercase(), tls), kind, tls, server });
    }
    let mut yaml =
        String::from("defaults:\n  interval: 2s\n  timeout: 2s\n  modes: [passive, active]\ntargets:\n");
    for cell in &all {
        yaml.push_str(&target_yaml(cell, dir.path()));
    }
    let config = dir.path().join("ftp_exporter.yml");
    std::fs::write(&config, &yaml).unwrap();
    let app = start_app(&config).await;

    // Every completed check, per cell: (end timestamp → duration, up).
    let mut seen: BTreeMap<(String, String), BTreeMap<u64, (f64, f64)>> = BTreeMap::new();
    let names: Vec<String> = all.iter().map(|c| c.name.clone()).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let samples = parse(&scrape(app.addr()).await);
        for name in &names {
            for mode in ["passive", "active"] {
                let labels = [("target", name.as_str()), ("mode", mode)];
                let at = find(&samples, "ftp_last_check_timestamp_seconds", &labels);
                let Some(at) = at.first() else { continue };
                let up = value(&samples, "ftp_up", &labels);
                let took = value(&samples, "ftp_check_duration_seconds", &labels);
                if up != 1.0 {
                    let failure: Vec<_> = find(&samples, "ftp_check_failure", &labels);
                    let (_, transcript) =
                        get(app.addr(), &format!("/transcript?target={name}&mode={mode}")).await;
                    panic!("{name} {mode} is down: {failure:?}\n{transcript}");
                }
                seen.entry((name.clone(), mode.to_string()))
                    .or_default()
                    .insert((at.value * 1000.0) as u64, (took, up));
            }
        }
        let done = names.iter().all(|n| {
            ["passive", "active"]
                .iter()
                .all(|m| seen.get(&(n.clone(), m.to_string())).is_some_and(|s| s.len() >= ROUNDS))
        });
        if done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not every cell completed {ROUNDS} checks: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Counters agree: no failure was ever recorded.
    let samples = parse(&scrape(app.addr()).await);
    let failures: BTreeSet<String> = find(&samples, "ftp_check_failures_total", &[])
        .iter()
        .filter(|s| s.value > 0.0)
        .map(|s| format!("{:?}", s.labels))
        .collect();
    assert!(failures.is_empty(), "failures were counted: {failures:?}");

    let mut md = String::from("| server | TLS | passive | active |\n|---|---|---|---|\n");
    for cell in &all {
        let mut row = format!("| {} | {} |", cell.kind.name(), cell.tls);
        for mode in ["passive", "active"] {
            let mut d: Vec<f64> =
                seen[&(cell.name.clone(), mode.to_string())].values().map(|(took, _)| *took).collect();
            d.sort_by(|a, b| a.total_cmp(b));
            let _ = write!(row, " up, median {:.0} ms ({} checks) |", d[d.len() / 2] * 1000.0, d.len());
        }
        md.push_str(&row);
        md.push('\n');
    }
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-matrix.md");
    std::fs::write(&out, &md).unwrap();
    println!("interop matrix ({}):\n{md}", out.display());
    app.shutdown(Duration::from_secs(2)).await;
}
