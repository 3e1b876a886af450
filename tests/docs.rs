//! docs/ is the contract: the metrics reference, a real scrape and the
//! dashboards name the same metrics (tests/dashboards.rs holds the
//! dashboards to the reference; this holds the reference to the scrape),
//! and the scrape passes promtool and a real OpenMetrics parser.
//!
//! The scrape comes from the exporter checking real servers (the embedded
//! libunftp) with every kind of series present: successes with every data
//! operation, a failure, FTPS, and a server advertising another address.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use ftp_exporter::embedded::{EmbeddedOptions, EmbeddedServer};
use support::certs::TestCa;
use support::reference::documented_metrics;
use support::service::*;

/// The family a sample belongs to.
fn family(sample: &str, histograms: &BTreeSet<String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            if histograms.contains(base) {
                return base.to_string();
            }
        }
    }
    sample.to_string()
}

async fn get_with(addr: std::net::SocketAddr, path: &str, headers: &str) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let at = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (String::from_utf8_lossy(&buf[..at]).to_lowercase(), buf[at + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_reference_is_what_the_exporter_exports() {
    let ftp = Ftp::start().await;
    let dir = ftp.dir.path();
    // FTPS, and a server behind "NAT" that advertises another address in 227.
    let ca = TestCa::new(dir, "docs");
    let cert = ca.server_cert(dir, "server", false);
    let mut opts = EmbeddedOptions::new(&ftp.root(), USER, PASSWORD);
    opts.ftps = Some((cert.cert_file.clone(), cert.key_file.clone()));
    let ftps = EmbeddedServer::start(opts).await.unwrap();
    let mut opts = EmbeddedOptions::new(&ftp.root(), USER, PASSWORD);
    opts.passive_host = Some(std::net::Ipv4Addr::new(127, 0, 0, 2));
    let nat = EmbeddedServer::start(opts).await.unwrap();
    let config = ftp.write_config(&format!(
        "defaults: {{ interval: 3s, timeout: 3s, username: monitor, password_file: good.pw }}
targets:
  - name: all-operations
    address: FTP_ADDR
    labels: {{ team: storage }}
    check:
      list: /pub
      retrieve: {{ path: /pub/hello.txt }}
      store: {{ path: /incoming/docs.tmp }}
  - name: wrong-password
    address: FTP_ADDR
    password_file: wrong.pw
  - name: ftps
    address: {}
    tls: explicit
    tls_ca_file: docs-ca.pem
  - name: nat
    address: {}
    modes: [passive]
",
        ftps.addr(),
        nat.addr()
    ));
    // One shard of one: every target is still checked, and
    // ftp_exporter_shard_info (exported only when sharded) is there too.
    let mut opts = ftp_exporter::app::AppOptions::new(&config);
    opts.listen_address = "127.0.0.1:0".into();
    opts.shard = Some(ftp_exporter::shard::Shard::new(0, 1).unwrap());
    let app = ftp_exporter::app::App::start(opts).await.unwrap();
    let addr = app.addr();
    scrape_until(addr, Duration::from_secs(20), |s| {
        checked(s, &["all-operations", "wrong-password", "ftps"], 1.0)
            && find(s, "ftp_passive_address_mismatch", &[("target", "nat")]).iter().any(|m| m.value == 1.0)
            && find(s, "ftp_exporter_schedule_delay_seconds_count", &[]).iter().any(|m| m.value > 0.0)
    })
    .await;
    let text = scrape(addr).await;

    let documented = documented_metrics();
    let histograms: BTreeSet<String> =
        documented.iter().filter(|(_, k)| *k == "histogram").map(|(n, _)| n.clone()).collect();
    let exported: BTreeSet<String> = parse(&text).iter().map(|s| family(&s.name, &histograms)).collect();
    let documented: BTreeSet<String> = documented.into_keys().collect();
    let undocumented: Vec<&String> = exported.difference(&documented).collect();
    let missing: Vec<&String> = documented.difference(&exported).collect();
    assert!(undocumented.is_empty(), "exported but not in docs/metrics.md: {undocumented:?}");
    assert!(missing.is_empty(), "in docs/metrics.md but not exported: {missing:?}\n{text}");
    for op in ["list", "retrieve", "store"] {
        assert!(text.contains(&format!("operation=\"{op}\"")), "{op} bytes missing");
    }
    promtool_check(&text);

    // gzip when asked; the same exposition inside.
    let (head, body) = get_with(addr, "/metrics", "Accept-Encoding: gzip\r\n").await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped).unwrap();
    assert!(unzipped.contains("ftp_up{mode=\"passive\",target=\"all-operations\"} 1"), "{unzipped}");

    // OpenMetrics when asked, read by a real parser (prometheus_client's).
    let (head, body) =
        get_with(addr, "/metrics", "Accept: application/openmetrics-text; version=1.0.0\r\n").await;
    assert!(head.contains("content-type: application/openmetrics-text; version=1.0.0"), "{head}");
    let parsed = openmetrics_parse(&body);
    for family in ["ftp_up", "ftp_checks", "ftp_target", "ftp_check_latency_seconds", "process_cpu_seconds"] {
        assert!(
            parsed.lines().any(|l| l.starts_with(&format!("{family} "))),
            "{family} not parsed: {parsed}"
        );
    }
    app.shutdown(Duration::from_secs(5)).await;
}

/// Parses an OpenMetrics exposition with prometheus_client (a pinned venv
/// from ci/install-deps.sh); prints `family type samples` per family.
fn openmetrics_parse(body: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/prometheus-client-venv/bin/python");
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
                  for f in text_string_to_metric_families(sys.stdin.read()):\n    print(f.name, f.type, len(f.samples))\n";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (run ci/install-deps.sh as root)", python.display()));
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the exposition:\n{}\n--- exposition ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(body)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Flags of a `--help` text: the `--name` at the start of option lines.
fn help_flags(args: &[&str]) -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ftp_exporter")).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .map(|l| format!("--{}", l.split([' ', '<', '=']).next().unwrap_or("")))
        .filter(|f| f != "--help" && f != "--version")
        .collect()
}

#[test]
fn the_flags_reference_is_the_command_line() {
    let mut flags = BTreeSet::new();
    for args in [&["--help"][..], &["probe", "--help"], &["demo", "--help"], &["check-config", "--help"]] {
        flags.extend(help_flags(args));
    }
    assert!(flags.contains("--config.file") && flags.contains("--active-port-range"), "{flags:?}");
    let text =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/flags.md"))
            .unwrap();
    let documented: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| `--"))
        .map(|l| format!("--{}", l.split('`').next().unwrap_or("")))
        .collect();
    let undocumented: Vec<&String> = flags.difference(&documented).collect();
    let stale: Vec<&String> = documented.difference(&flags).collect();
    assert!(undocumented.is_empty(), "flags missing from docs/flags.md: {undocumented:?}");
    assert!(stale.is_empty(), "docs/flags.md documents flags that do not exist: {stale:?}");
}
