//! A real browser for the page tests: Debian's `chromium --headless`,
//! driven over the Chrome DevTools Protocol (a WebSocket per tab).
//!
//! Everything a page does that a person would see as broken is collected
//! as an error: console errors, uncaught exceptions, log entries of level
//! error (failed loads, blocked resources) and Content-Security-Policy
//! violations (counted by a listener installed before any page script).
//!
//! Chromium is a test dependency (`ci/install-deps.sh` installs it); when
//! it is missing the tests fail with that instruction, they never skip.
//! It talks to loopback only: the flags below switch off every background
//! connection it would otherwise try (updates, sync, field trials).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";

/// A running headless Chromium; killed on drop.
pub struct Browser {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: run `sudo bash ci/install-deps.sh` (installs Debian's chromium for the page tests)"
        );
        let profile = tempfile::Builder::new().prefix("ftp-exporter-chromium-").tempdir().unwrap();
        let child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
        // With port 0, Chromium writes the port it chose into the profile.
        let file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u16>().ok()))
            {
                break port;
            }
            assert!(Instant::now() < deadline, "Chromium wrote no DevToolsActivePort within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        };
        Browser { child, port, _profile: profile }
    }

    /// A new tab.
    pub fn page(&self) -> Page {
        let target = http(self.port, "PUT", "/json/new?about:blank");
        let target: Value = serde_json::from_str(&target).unwrap_or_else(|e| panic!("{e}: {target}"));
        let ws_url = target["webSocketDebuggerUrl"].as_str().expect("webSocketDebuggerUrl").to_string();
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let (ws, _) = tungstenite::client(ws_url.as_str(), stream).unwrap();
        let mut page = Page { ws, next: 0, events: Vec::new() };
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            page.call(domain, json!({}));
        }
        // Counts CSP violations from before the first script of every document.
        page.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": "window.__csp = []; document.addEventListener('securitypolicyviolation', \
                               e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));" }),
        );
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to the DevTools endpoint (which keeps the
/// connection open: read by Content-Length, not to the end).
fn http(port: u16, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if n == 0 || len.is_some_and(|len| body.len() >= len) {
                return body.to_string();
            }
        }
        assert!(n > 0, "DevTools closed the connection: {text}");
    }
}

/// One tab, driven synchronously (run it on a blocking thread).
pub struct Page {
    ws: tungstenite::WebSocket<TcpStream>,
    next: u64,
    /// Every event received so far.
    pub events: Vec<Value>,
}

impl Page {
    /// Sends a command and returns its result; events that arrive meanwhile are kept.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({ "id": id, "method": method, "params": params }).to_string();
        self.ws.send(tungstenite::Message::text(msg)).unwrap();
        loop {
            let v = self.read();
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read().unwrap() {
                tungstenite::Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                tungstenite::Message::Close(_) => panic!("DevTools closed the connection"),
                _ => continue,
            }
        }
    }

    /// Sets the viewport (CSS pixels); `mobile` emulates a phone.
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        );
    }

    /// Navigates and waits for the load event (the browser sends its usual
    /// `Accept: text/html,…`, as a person's would).
    pub fn goto(&mut self, url: &str) {
        let seen = self.events.len();
        let r = self.call("Page.navigate", json!({ "url": url }));
        assert!(r.get("errorText").is_none(), "navigating to {url}: {r}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.events[seen..].iter().any(|e| e["method"] == "Page.loadEventFired") {
            assert!(Instant::now() < deadline, "{url} did not load within 60 s");
            let v = self.read();
            self.events.push(v);
        }
    }

    /// Evaluates `expression` in the page; its value (JSON-serialisable).
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Polls `expression` until it is true.
    pub fn wait_for(&mut self, expression: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.eval(expression) != Value::Bool(true) {
            assert!(Instant::now() < deadline, "not true within {within:?}: {expression}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What went wrong so far: console errors, exceptions, error log entries, CSP violations.
    pub fn errors(&mut self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.events {
            let p = &e["params"];
            match e["method"].as_str().unwrap_or("") {
                "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
                    out.push(format!("console.{}: {}", p["type"], p["args"]))
                }
                "Runtime.exceptionThrown" => out.push(format!("exception: {}", p["exceptionDetails"])),
                "Log.entryAdded" if p["entry"]["level"] == "error" => {
                    out.push(format!("log: {} {}", p["entry"]["text"], p["entry"]["url"]))
                }
                _ => {}
            }
        }
        let csp = self.eval("JSON.stringify(window.__csp || [])");
        let csp: Vec<String> = serde_json::from_str(csp.as_str().unwrap_or("[]")).unwrap_or_default();
        out.extend(csp.into_iter().map(|v| format!("CSP violation: {v}")));
        out
    }

    /// A PNG of the whole page (up to `max_height` CSS pixels), written to `path`.
    pub fn screenshot(&mut self, path: &Path, max_height: f64) -> Vec<u8> {
        let m = self.call("Page.getLayoutMetrics", json!({}));
        let width = m["cssContentSize"]["width"].as_f64().unwrap_or(1280.0);
        let height = m["cssContentSize"]["height"].as_f64().unwrap_or(800.0).min(max_height);
        let r = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 } }),
        );
        let png = base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &png).unwrap();
        png
    }
}

/// Distinct colours and the share of pixels that are not the background
/// (the most common colour): a blank or nearly blank screenshot has few of both.
pub fn png_content(png: &[u8]) -> (usize, f64) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    // Palette images (the README's, quantised) as RGB.
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let mut counts = std::collections::HashMap::<[u8; 3], usize>::new();
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        let rgb = if channels >= 3 { [px[0], px[1], px[2]] } else { [px[0]; 3] };
        *counts.entry(rgb).or_default() += 1;
    }
    let total: usize = counts.values().sum();
    let background = counts.values().copied().max().unwrap_or(0);
    (counts.len(), 1.0 - background as f64 / total.max(1) as f64)
}

/// `target/ui-screenshots/NAME`, where reviewers find the pictures.
pub fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots").join(name)
}
