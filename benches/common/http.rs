//! Talking to an exporter process over HTTP: where it listens (from its
//! log), `/metrics` scrapes and their samples, and plain GETs (`/probe`).

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Reads the exporter's log until it says where it listens; the rest of
/// its log is drained in the background (and shown when it is a warning
/// about the exporter itself, not a target).
pub fn listening_address(stderr: std::process::ChildStderr) -> SocketAddr {
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("exporter log");
        seen.push(line.clone());
        if let Some(rest) = line.split("address=").nth(1).filter(|_| line.contains("listening")) {
            let addr =
                rest.split_whitespace().next().unwrap_or("").trim_matches('"').parse().expect("address");
            std::thread::spawn(move || {
                let mut down = 0usize;
                for line in lines.map_while(|l| l.ok()) {
                    if line.contains("check failing") {
                        down += 1;
                        if down <= 3 {
                            eprintln!("exporter: {line}");
                        }
                    }
                }
            });
            return addr;
        }
    }
    panic!("the exporter exited before listening:\n{}", seen.join("\n"));
}

/// One `/metrics` response: its timing, size and samples.
pub struct Scrape {
    pub took: Duration,
    pub bytes: usize,
    pub text: String,
}

impl Scrape {
    pub fn get(addr: SocketAddr, gzip: bool) -> Scrape {
        let t0 = Instant::now();
        let mut s = TcpStream::connect(addr).expect("connect to the exporter");
        let enc = if gzip { "Accept-Encoding: gzip\r\n" } else { "" };
        write!(s, "GET /metrics HTTP/1.1\r\nHost: bench\r\n{enc}Connection: close\r\n\r\n").expect("request");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("response");
        let took = t0.elapsed();
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("headers") + 4;
        let head = String::from_utf8_lossy(&raw[..head_end]).to_lowercase();
        assert!(head.starts_with("http/1.1 200"), "scrape failed: {head}");
        let body = &raw[head_end..];
        let text = if head.contains("content-encoding: gzip") {
            String::new() // only its size and time matter
        } else {
            String::from_utf8_lossy(body).into_owned()
        };
        Scrape { took, bytes: body.len(), text }
    }

    pub fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        self.text.lines().filter_map(move |l| {
            let rest = l.strip_prefix(name)?;
            if !(rest.starts_with('{') || rest.starts_with(' ')) {
                return None;
            }
            let (series, value) = l.rsplit_once(' ')?;
            Some((series, value.parse().ok()?))
        })
    }

    pub fn sum(&self, name: &str) -> f64 {
        self.samples(name).map(|(_, v)| v).sum()
    }

    /// Cumulative bucket counts by `le`, minus those of `before`.
    pub fn buckets(&self, name: &str, before: &Scrape) -> Vec<(f64, f64)> {
        let read = |s: &Scrape| -> BTreeMap<String, f64> {
            s.samples(name)
                .filter_map(|(series, v)| {
                    let le = series.split("le=\"").nth(1)?.split('"').next()?;
                    Some((le.to_string(), v))
                })
                .collect()
        };
        let (a, b) = (read(self), read(before));
        let mut out: Vec<(f64, f64)> = a
            .iter()
            .map(|(le, v)| (le.parse().unwrap_or(f64::INFINITY), v - b.get(le).copied().unwrap_or(0.0)))
            .collect();
        out.sort_by(|x, y| x.0.total_cmp(&y.0));
        out
    }
}

/// `GET path` on `addr`: the status code and the body, and how long it took.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String, Duration) {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").expect("request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("response");
    let took = t0.elapsed();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body, took)
}
