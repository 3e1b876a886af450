//! The properties the fuzz targets check (`fuzz/`, nightly, cargo-fuzz), in
//! the library so that the stable test suite replays the checked-in corpus
//! and every crash the fuzzer found through exactly the same code
//! (`tests/fuzz_corpus.rs`). Each function panics when a property breaks;
//! anything else an input does (an error, a refusal) is fine.
//!
//! Not an API: hidden from the docs, used only by `fuzz/` and the tests.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::Config;
use crate::ftp::address::{format_eprt, format_port, parse_229, parse_eprt, parse_host_port};
use crate::ftp::reply::{MAX_LINE, MAX_LINES, MAX_REPLY_BYTES};
use crate::ftp::{Control, Transcript};
use crate::http::WebConfig;

/// Reply reader input: byte 0 is `n`, bytes 1..=n are chunk sizes (each
/// value + 1 bytes, used in turn), the rest is what the server sends. So the
/// fuzzer picks the read boundaries, and a seed is readable: `\0` then the text.
pub fn split_input(input: &[u8]) -> (Vec<usize>, &[u8]) {
    let n = input.first().map_or(0, |&n| n as usize);
    let sizes_end = (1 + n).min(input.len());
    let sizes = input.get(1..sizes_end).unwrap_or(&[]).iter().map(|&b| b as usize + 1).collect();
    (sizes, &input[sizes_end..])
}

/// A server that sends `data` in reads of the given sizes, then closes.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let size = match self.sizes.len() {
            0 => usize::MAX,
            n => self.sizes[self.next % n],
        };
        self.next += 1;
        let take = size.min(buf.remaining()).min(self.data.len());
        let (now, rest) = self.data.split_at(take);
        buf.put_slice(now);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Chunked<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Every reply read from `data` in reads of `sizes`, then the error that
/// ended the session, as text.
pub fn read_replies(data: &[u8], sizes: Vec<usize>) -> (Vec<crate::ftp::Reply>, String) {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
    }
    RT.with(|rt| {
        rt.block_on(async {
            let now = tokio::time::Instant::now();
            let stream = Chunked { data, sizes, next: 0 };
            let mut control = Control::new(stream, now + Duration::from_secs(3600), now, Transcript::new());
            let mut replies = Vec::new();
            loop {
                match control.read_reply().await {
                    Ok(r) => replies.push(r),
                    Err(e) => return (replies, e.to_string()),
                }
            }
        })
    })
}

/// The reply reader keeps its bounds (bytes per line, lines and bytes per
/// reply) and reads the same replies however the bytes are split.
pub fn reply_reader(input: &[u8]) {
    let (sizes, data) = split_input(input);
    let (replies, end) = read_replies(data, sizes);
    for r in &replies {
        assert!((100..600).contains(&r.code), "code {}", r.code);
        assert!(!r.lines.is_empty() && r.lines.len() <= MAX_LINES, "{} lines", r.lines.len());
        for line in &r.lines {
            assert!(line.len() <= MAX_LINE, "a line of {} bytes", line.len());
        }
        let bytes: usize = r.lines.iter().map(String::len).sum();
        assert!(bytes <= MAX_REPLY_BYTES, "a reply of {bytes} bytes");
    }
    assert_eq!((replies, end), read_replies(data, Vec::new()), "the split changed what was read");
}

/// What decodes re-encodes to something that decodes to the same value,
/// for `PORT`/`227`, `EPRT` and `229`. Decoders never panic.
pub fn address_codecs(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let mut candidates = vec![text.as_ref()];
    // Whole lines as the seed note writes them: `PORT …`, `227 …`.
    for prefix in ["PORT ", "EPRT ", "227 ", "229 "] {
        if let Some(rest) = text.strip_prefix(prefix) {
            candidates.push(rest);
        }
    }
    for c in candidates {
        if let Ok(a) = parse_host_port(c) {
            assert_eq!(parse_host_port(&format_port(a)), Ok(a), "PORT/227 {c:?}");
        }
        if let Ok(a) = parse_eprt(c) {
            assert_eq!(parse_eprt(&format_eprt(a)), Ok(a), "EPRT {c:?}");
        }
        if let Ok(p) = parse_229(c) {
            assert_eq!(parse_229(&format!("Entering Extended Passive Mode (|||{p}|)")), Ok(p), "229 {c:?}");
        }
    }
}

/// Whether a config text could name a file that blocks when read although
/// `stat` calls it a regular file: `/proc/kmsg`, tracefs' `trace_pipe` under
/// `/sys`. FIFOs, devices and `/dev/stdin` are refused before opening
/// (`small_file`), so the fuzzer may name those; YAML escapes and tags could
/// spell the others too. The fuzz targets skip such inputs rather than hang
/// on this known problem (see the README's Fuzzing section).
pub fn may_name_a_special_file(text: &str) -> bool {
    ["/proc", "/sys", "\\", "!!"].iter().any(|s| text.contains(s))
}

/// A directory with the files a fuzzed config may refer to by relative
/// name: password files, a CA, a server certificate and key.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

const CERT: &str = include_str!("../fuzz/sandbox/cert.pem");
const KEY: &str = include_str!("../fuzz/sandbox/key.pem");

impl Sandbox {
    pub fn new() -> std::io::Result<Sandbox> {
        let dir = tempfile::tempdir()?;
        for (name, text) in [
            ("good.pw", "Pw-9f3Kx-fuzz"),
            ("wrong.pw", "Pw-7Qz1-fuzz"),
            ("ca.pem", CERT),
            ("cert.pem", CERT),
            ("key.pem", KEY),
        ] {
            std::fs::write(dir.path().join(name), text)?;
        }
        Ok(Sandbox { dir })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `Config::parse` never panics, and a refusal names the file and a
    /// line of it.
    pub fn config_parse(&self, input: &[u8]) {
        let Ok(text) = std::str::from_utf8(input) else { return };
        if may_name_a_special_file(text) {
            return;
        }
        let source = self.path("ftp_exporter.yml");
        if let Err(e) = Config::parse(text, &source) {
            assert_eq!(e.file, source);
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {line} of {text:?}");
            }
        }
    }

    /// `WebConfig::parse` never panics, and a refusal names a file.
    pub fn web_config_parse(&self, input: &[u8]) {
        let Ok(text) = std::str::from_utf8(input) else { return };
        if may_name_a_special_file(text) {
            return;
        }
        if let Err(e) = WebConfig::parse(text, &self.path("web.yml")) {
            assert!(e.starts_with(&self.dir.path().display().to_string()), "{e}");
        }
    }
}

/// The checked-in inputs of one fuzz target: its seed corpus and the
/// crashes it found (`fuzz/corpus/<target>`, `fuzz/regressions/<target>`).
pub fn checked_in_inputs(repo: &Path, target: &str) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let dir = repo.join("fuzz").join(dir).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry?.path();
            if path.is_file() {
                out.push((path.clone(), std::fs::read(&path)?));
            }
        }
    }
    out.sort();
    Ok(out)
}
