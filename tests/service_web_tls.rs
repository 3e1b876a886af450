//! `--web.config.file` against real TLS clients — Debian's curl and
//! Python's ssl/urllib — on a running exporter: client certificates
//! accepted and refused, the TLS version floor, probes without credentials,
//! and a wrong password that takes as long as an unknown user.
//!
//! curl and python3 are test dependencies (ci/install-deps.sh): missing, the
//! tests fail, they do not skip.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ftp_exporter::app::{App, AppOptions};
use ftp_exporter::http::WebConfig;
use support::certs::TestCa;
use support::service::*;

const SCRAPE_PASSWORD: &str = "scrape-Pw-4kq";
/// bcrypt cost of the tests' users: high enough that skipping the work for
/// an unknown user would show (tens of milliseconds), low enough to be quick.
const COST: u32 = 10;

/// PKI: a CA trusted for clients, a server certificate, a client
/// certificate from that CA, and one from a CA nobody trusts.
struct Pki {
    ca: PathBuf,
    client: (PathBuf, PathBuf),
    stranger: (PathBuf, PathBuf),
}

fn pki(dir: &Path) -> Pki {
    let ca = TestCa::new(dir, "web");
    ca.server_cert(dir, "server", false);
    let client = ca.client_cert(dir, "prometheus");
    let other = TestCa::new(dir, "stranger");
    let stranger = other.client_cert(dir, "stranger");
    Pki {
        ca: ca.ca_file,
        client: (client.cert_file, client.key_file),
        stranger: (stranger.cert_file, stranger.key_file),
    }
}

async fn start(ftp: &Ftp, tls: &str) -> App {
    let tls = format!("tls_server_config:\n  cert_file: server-cert.pem\n  key_file: server-key.pem\n{tls}");
    let web = web_file(ftp.dir.path(), &tls, "prometheus", SCRAPE_PASSWORD, COST);
    let mut opts = AppOptions::new(ftp.write_config(ONE_GOOD_TARGET));
    opts.listen_address = "127.0.0.1:0".into();
    opts.web = WebConfig::load(&web).unwrap();
    App::start(opts).await.unwrap()
}

/// curl's answer: `Ok(status)`, or `Err(curl's message)` when no HTTP answer came.
fn curl(addr: SocketAddr, path: &str, args: &[&str]) -> Result<u16, String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(args)
        .arg(format!("https://127.0.0.1:{}{path}", addr.port()))
        .output()
        .expect("curl not found: install Debian's curl (ci/install-deps.sh does)");
    let code = String::from_utf8_lossy(&out.stdout).trim().parse::<u16>().unwrap_or(0);
    match (out.status.success(), code) {
        (true, c) if c != 0 => Ok(c),
        _ => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
    }
}

/// Python's answer: `Ok((status, body))`, or `Err(the TLS error)`.
fn python(addr: SocketAddr, path: &str, args: &[&str]) -> Result<(u16, String), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/https_client.py");
    let out = Command::new("python3")
        .arg(script)
        .arg("get")
        .arg(format!("https://127.0.0.1:{}{path}", addr.port()))
        .args(args)
        .output()
        .expect("python3 not found");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "https_client.py failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    match text.strip_prefix("STATUS ") {
        Some(rest) => {
            let (code, body) = rest.split_once('\n').unwrap_or((rest, ""));
            Ok((code.trim().parse().unwrap(), body.to_string()))
        }
        None => Err(text),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_required_and_verified() {
    let ftp = Ftp::start().await;
    let pki = pki(ftp.dir.path());
    let app =
        start(&ftp, "  client_ca_file: web-ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n").await;
    let addr = app.addr();
    let creds = format!("prometheus:{SCRAPE_PASSWORD}");
    let ca = s(&pki.ca);
    let (cert, key) = (s(&pki.client.0), s(&pki.client.1));
    let (scert, skey) = (s(&pki.stranger.0), s(&pki.stranger.1));

    // curl
    assert_eq!(
        curl(addr, "/metrics", &["--cacert", ca, "--cert", cert, "--key", key, "-u", &creds]),
        Ok(200)
    );
    assert_eq!(
        curl(addr, "/metrics", &["--cacert", ca, "--cert", cert, "--key", key, "-u", "prometheus:nope"]),
        Ok(401)
    );
    let none = curl(addr, "/metrics", &["--cacert", ca, "-u", &creds]);
    assert!(none.is_err(), "no client certificate: {none:?}");
    let stranger = curl(addr, "/metrics", &["--cacert", ca, "--cert", scert, "--key", skey, "-u", &creds]);
    assert!(stranger.is_err(), "untrusted client certificate: {stranger:?}");
    // Without a certificate not even the health endpoints answer: TLS comes first.
    assert!(curl(addr, "/-/healthy", &["--cacert", ca]).is_err());

    // Python
    let py = |extra: &[&str]| {
        let mut args = vec!["--cafile", ca, "--user", "prometheus", "--password", SCRAPE_PASSWORD];
        args.extend_from_slice(extra);
        python(addr, "/metrics", &args)
    };
    let (status, body) = py(&["--cert", cert, "--key", key]).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("ftp_exporter_build_info"), "{body}");
    assert!(py(&[]).is_err(), "no client certificate");
    let err = py(&["--cert", scert, "--key", skey]).unwrap_err();
    assert!(err.contains("TLSERROR"), "{err}");
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificates_tls13_floor_and_probes_without_credentials() {
    let ftp = Ftp::start().await;
    let pki = pki(ftp.dir.path());
    let app = start(
        &ftp,
        "  client_ca_file: web-ca.pem\n  client_auth_type: VerifyClientCertIfGiven\n  min_version: TLS13\n",
    )
    .await;
    let addr = app.addr();
    let creds = format!("prometheus:{SCRAPE_PASSWORD}");
    let ca = s(&pki.ca);
    // Kubernetes' HTTPS probes: no certificate check, no credentials, no client certificate.
    for path in ["/-/healthy", "/-/ready"] {
        assert_eq!(curl(addr, path, &["--insecure"]), Ok(200), "{path}");
        assert_eq!(python(addr, path, &["--insecure"]).map(|r| r.0), Ok(200), "{path}");
    }
    assert_eq!(curl(addr, "/metrics", &["--insecure"]), Ok(401));
    assert_eq!(curl(addr, "/metrics", &["--cacert", ca, "-u", &creds]), Ok(200), "no certificate is fine");
    assert_eq!(
        curl(
            addr,
            "/metrics",
            &["--cacert", ca, "--cert", s(&pki.client.0), "--key", s(&pki.client.1), "-u", &creds]
        ),
        Ok(200)
    );
    let stranger = curl(
        addr,
        "/metrics",
        &["--cacert", ca, "--cert", s(&pki.stranger.0), "--key", s(&pki.stranger.1), "-u", &creds],
    );
    assert!(stranger.is_err(), "a certificate given must verify: {stranger:?}");
    // min_version: TLS13
    let old = curl(addr, "/-/healthy", &["--cacert", ca, "--tls-max", "1.2"]);
    assert!(old.is_err(), "TLS 1.2 accepted: {old:?}");
    assert!(python(addr, "/-/healthy", &["--cafile", ca, "--max-tls12"]).is_err());
    app.shutdown(Duration::from_secs(5)).await;
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_costs_what_an_unknown_user_costs() {
    let ftp = Ftp::start().await;
    let pki = pki(ftp.dir.path());
    let app = start(&ftp, "").await;
    let addr = app.addr();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/https_client.py");
    let (wrong, unknown) = ("prometheus:wrong-password", "nobody:wrong-password");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .args(["time", &format!("https://127.0.0.1:{}/metrics", addr.port()), "--cafile"])
            .arg(&pki.ca)
            .args(["--rounds", "15", wrong, unknown, "-"])
            .output()
            .expect("python3 not found")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let times: std::collections::HashMap<String, Vec<f64>> = serde_json::from_slice(&out.stdout).unwrap();
    let [w, u, none] = [wrong, unknown, "-"].map(|c| median(times[c].clone()));
    println!(
        "basic auth timing (bcrypt cost {COST}, medians of 15 HTTPS requests each): wrong password for a known \
         user {:.1} ms, unknown user {:.1} ms, no credentials (no bcrypt) {:.1} ms",
        w * 1e3,
        u * 1e3,
        none * 1e3
    );
    // bcrypt's share of each answer. The known user's must be clearly there
    // (else this test could not see a difference) …
    let (bw, bu) = (w - none, u - none);
    assert!(bw > 0.010, "no bcrypt work visible: wrong {w} s, none {none} s");
    // … and the unknown user's the same, within a third (an unknown user
    // answered without bcrypt would be near 0).
    assert!(bu > bw * 2.0 / 3.0 && bu < bw * 1.5, "bcrypt time: wrong password {bw} s, unknown user {bu} s");
    app.shutdown(Duration::from_secs(5)).await;
}
