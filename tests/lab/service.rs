//! The exporter as a service (`ftp_exporter --config.file …`) run inside
//! the client namespace, and its `/metrics` scraped from there: the path
//! Prometheus takes.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::netns::Netns;

/// Where the service listens, on the client namespace's own loopback.
pub const LISTEN: &str = "127.0.0.1:9612";

/// A running exporter; stopped on drop.
pub struct Service {
    child: Child,
    client: Netns,
    _dir: tempfile::TempDir,
}

impl Service {
    /// Starts the exporter with `yaml` as its configuration and waits until
    /// it answers `/-/ready`.
    pub fn start(client: &Netns, yaml: &str) -> Service {
        let dir = tempfile::Builder::new().prefix("fxlab-service-").tempdir().unwrap();
        let config = dir.path().join("ftp_exporter.yml");
        std::fs::write(&config, yaml).unwrap();
        let child = client
            .command(env!("CARGO_BIN_EXE_ftp_exporter"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address={LISTEN}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(dir.path().join("stderr")).unwrap()))
            .spawn()
            .unwrap();
        let mut svc = Service { child, client: client.clone(), _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = svc.child.try_wait() {
                panic!("ftp_exporter exited at start ({status}): {}", svc.stderr());
            }
            if svc.get("/-/ready").is_some_and(|(code, _)| code == 200) {
                return svc;
            }
            assert!(Instant::now() < deadline, "ftp_exporter not ready within 10s: {}", svc.stderr());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr")).unwrap_or_default()
    }

    /// One HTTP GET from inside the client namespace; `None` if it cannot connect.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let path = path.to_string();
        self.client.run_inside(move || {
            let addr: SocketAddr = LISTEN.parse().unwrap();
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
            write!(s, "GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n").ok()?;
            let mut buf = String::new();
            s.read_to_string(&mut buf).ok()?;
            let (head, body) = buf.split_once("\r\n\r\n")?;
            let code = head.split(' ').nth(1)?.parse().ok()?;
            Some((code, body.to_string()))
        })
    }

    /// Scrapes until every `(target, mode)` has completed a check (at most
    /// `within`), then returns that scrape.
    pub fn scrape_when_checked(&self, pairs: &[(&str, &str)], within: Duration) -> Scrape {
        let deadline = Instant::now() + within;
        loop {
            let scrape = self.get("/metrics").map(|(_, body)| Scrape::parse(&body)).unwrap_or_default();
            let done = pairs.iter().all(|(t, m)| {
                scrape.value("ftp_checks_total", &[("target", t), ("mode", m)]).is_some_and(|v| v >= 1.0)
            });
            if done {
                return scrape;
            }
            assert!(
                Instant::now() < deadline,
                "not every target×mode was checked within {within:?}:\n{}\n{}",
                scrape.text,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SAFETY: kill(2) of the exporter process this Service started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed Prometheus text exposition (samples only).
#[derive(Debug, Default)]
pub struct Scrape {
    pub text: String,
    pub samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line:?}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            samples.push((name.to_string(), labels, value));
        }
        Scrape { text: text.to_string(), samples }
    }

    /// Samples of `name` whose labels include every `(key, value)` of `want`.
    pub fn find(&self, name: &str, want: &[(&str, &str)]) -> Vec<&(String, BTreeMap<String, String>, f64)> {
        self.samples
            .iter()
            .filter(|(n, labels, _)| {
                n == name && want.iter().all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample of `name` matching `want`.
    pub fn value(&self, name: &str, want: &[(&str, &str)]) -> Option<f64> {
        match self.find(name, want).as_slice() {
            [] => None,
            [one] => Some(one.2),
            many => panic!("{name} {want:?} matches {} series", many.len()),
        }
    }

    /// The `(phase, reason, code)` of the failure series of a target and
    /// mode (`ftp_check_failure … 1`), `None` when there is none.
    pub fn failure(&self, target: &str, mode: &str) -> Option<(String, String, String)> {
        let found = self.find("ftp_check_failure", &[("target", target), ("mode", mode)]);
        let live: Vec<_> = found.into_iter().filter(|s| s.2 == 1.0).collect();
        assert!(live.len() <= 1, "one failure series at most: {live:?}");
        live.first().map(|(_, l, _)| {
            let g = |k: &str| l.get(k).cloned().unwrap_or_default();
            (g("phase"), g("reason"), g("code"))
        })
    }
}

/// `a="x",b="y"`, with the exposition format's escapes (\\, \", \n).
fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label {key} without a quoted value in {s:?}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(key.trim_start_matches(',').trim().to_string(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    out
}
