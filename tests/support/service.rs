//! Shared helpers of the service tests: an in-process libunftp server with
//! known files, the exporter under test (in-process through `App`, the same
//! entry point `main` uses), a minimal HTTP client and a scrape parser.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ftp_exporter::app::{App, AppOptions};
use ftp_exporter::embedded::{EmbeddedOptions, EmbeddedServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const USER: &str = "monitor";
/// Distinctive, so a leak anywhere is found by a plain substring search.
pub const PASSWORD: &str = "Pw-9f3Kx-good-SECRET";
pub const WRONG_PASSWORD: &str = "Pw-7Qz1-wrong-SECRET";
pub const HELLO: &[u8] = b"hello from the service tests\n";
/// A config with one healthy target (for [`Ftp::write_config`]).
pub const ONE_GOOD_TARGET: &str =
    "defaults: { interval: 2s, timeout: 2s }\ntargets:\n  - name: good\n    address: FTP_ADDR\n    \
     username: monitor\n    password_file: good.pw\n";

/// An FTP server with `/pub/hello.txt` and a writable `/incoming`, and a
/// directory for config files whose password files hold the two passwords.
pub struct Ftp {
    pub server: EmbeddedServer,
    pub dir: tempfile::TempDir,
}

impl Ftp {
    pub async fn start() -> Ftp {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("pub")).unwrap();
        std::fs::create_dir_all(root.join("incoming")).unwrap();
        std::fs::write(root.join("pub/hello.txt"), HELLO).unwrap();
        std::fs::write(dir.path().join("good.pw"), PASSWORD).unwrap();
        std::fs::write(dir.path().join("wrong.pw"), WRONG_PASSWORD).unwrap();
        let server = EmbeddedServer::start(EmbeddedOptions::new(&root, USER, PASSWORD)).await.unwrap();
        Ftp { server, dir }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Writes `yaml` (with `FTP_ADDR` replaced by the server's address) as the config file.
    pub fn write_config(&self, yaml: &str) -> PathBuf {
        let path = self.dir.path().join("ftp_exporter.yml");
        std::fs::write(&path, yaml.replace("FTP_ADDR", &self.addr().to_string())).unwrap();
        path
    }
}

/// A TCP port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (at most 10 s) until something listens on 127.0.0.1:`port`.
pub async fn wait_listening(port: u16, what: &str) -> SocketAddr {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // A connect to a free port in the ephemeral range can "succeed" by
        // connecting to itself (TCP simultaneous open) before the process
        // binds it: that is not a listener.
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) if s.local_addr().ok() != Some(addr) => return addr,
            _ => {}
        }
        assert!(std::time::Instant::now() < deadline, "{what} did not start listening");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes `dir/web.yml`, a `--web.config.file` with `extra` (e.g. a
/// `tls_server_config:`) and one Basic auth user hashed at bcrypt `cost`.
pub fn web_file(dir: &Path, extra: &str, user: &str, password: &str, cost: u32) -> PathBuf {
    let hash = bcrypt::hash(password, cost).unwrap();
    let path = dir.join("web.yml");
    std::fs::write(&path, format!("{extra}basic_auth_users:\n  {user}: '{hash}'\n")).unwrap();
    path
}

pub async fn start_app(config: &Path) -> App {
    let mut opts = AppOptions::new(config);
    opts.listen_address = "127.0.0.1:0".into();
    App::start(opts).await.unwrap()
}

/// One HTTP/1.1 request on a fresh connection; returns status and body.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    send(addr, method, path, "").await
}

/// A GET with extra header lines (each ending in `\r\n`).
pub async fn request_with(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    send(addr, "GET", path, headers).await
}

async fn send(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String) {
    let mut s = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut buf))
        .await
        .expect("response timed out")
        .unwrap();
    // Lossy: a gzip body is not text, and its status is still worth reading.
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    request(addr, "GET", path).await
}

pub async fn scrape(addr: SocketAddr) -> String {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    body
}

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses the text exposition format (enough of it for these tests: no timestamps).
pub fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((name, rest)) => (name.to_string(), parse_labels(rest.strip_suffix('}').unwrap())),
        };
        out.push(Sample { name, labels, value });
    }
    out
}

fn parse_labels(mut s: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    while !s.is_empty() {
        let (k, rest) = s.split_once("=\"").unwrap();
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next().unwrap();
            match c {
                '\\' => {
                    let (_, e) = chars.next().unwrap();
                    value.push(match e {
                        'n' => '\n',
                        e => e,
                    });
                }
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.push((k.to_string(), value));
        s = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

/// Samples of `name` whose labels include all of `labels`.
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples.iter().filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v))).collect()
}

/// The single sample of `name` with exactly these labels; panics with the scrape otherwise.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<_> =
        find(samples, name, labels).into_iter().filter(|s| s.labels.len() == labels.len()).collect();
    assert_eq!(found.len(), 1, "{name}{labels:?}: found {found:?}");
    found[0].value
}

/// Polls `/metrics` until `done` holds, for at most `within`.
pub async fn scrape_until(
    addr: SocketAddr,
    within: Duration,
    mut done: impl FnMut(&[Sample]) -> bool,
) -> Vec<Sample> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let samples = parse(&scrape(addr).await);
        if done(&samples) {
            return samples;
        }
        assert!(tokio::time::Instant::now() < deadline, "condition not reached within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether every target × mode listed has completed at least `n` checks.
pub fn checked(samples: &[Sample], targets: &[&str], n: f64) -> bool {
    targets.iter().all(|t| {
        ["passive", "active"].iter().all(|m| {
            find(samples, "ftp_checks_total", &[("target", t), ("mode", m)]).iter().any(|s| s.value >= n)
        })
    })
}

/// Runs `promtool check metrics` on a scrape. promtool is a test
/// dependency (Debian's `prometheus` package, ci/install-deps.sh): when it
/// is missing this fails, it does not skip.
pub fn promtool_check(scrape: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install Debian's `prometheus` package (ci/install-deps.sh does)");
    child.stdin.take().unwrap().write_all(scrape.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- scrape ---\n{scrape}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
