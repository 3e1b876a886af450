//! From one check's facts to a sequence diagram's geometry: two lifelines
//! (the exporter and the server), the control connection's commands and
//! replies as arrows, each data connection as a dashed arrow in the
//! direction it was opened (exporter → server in passive mode, server →
//! exporter in active mode, the seed note's two pictures), phases as bands,
//! and the failure where it happened.
//!
//! Pure: no I/O, no SVG. The facts come from the transcript (what was said
//! on the control connection, `PASS` already masked), the session record
//! (phase spans, data connections in fields) and the outcome; nothing
//! here parses prose except the few notes the runner writes itself. Rows
//! follow the order of events, not a linear clock, so a 10 s timeout does
//! not push a 2 ms login off the page; every row carries its time.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::check::{DataConnection, DataFailure, Mode, Outcome, Phase, Reason, SessionRecord, SetupCommand};
use crate::ftp::address::{parse_229, parse_eprt, parse_host_port};
use crate::ftp::data::canonical;
use crate::ftp::transcript::{Direction, Transcript};

/// Width of one diagram.
pub const WIDTH: f64 = 700.0;
pub const EXPORTER_X: f64 = 128.0;
pub const SERVER_X: f64 = 572.0;
/// Where the first row starts (below the title and the lifelines' heads).
const TOP: f64 = 96.0;
/// An arrow row: its label above the line, then the line.
const ARROW_ROW: f64 = 28.0;
/// Each further text line under an arrow.
const EXTRA_LINE: f64 = 13.0;
const NOTE_ROW: f64 = 15.0;
const BAND_PAD: f64 = 4.0;
/// A band holds its two-line label (phase, duration) even with no row in it.
const MIN_BAND: f64 = 26.0;
const FAILURE_LINE: f64 = 14.0;
/// Rows drawn at most; a longer session shows its start and its end.
const MAX_ROWS: usize = 140;
/// Characters per line of the failure box's text.
const WRAP: usize = 72;

/// One of the two lifelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Exporter,
    Server,
}

impl Side {
    pub fn x(self) -> f64 {
        match self {
            Side::Exporter => EXPORTER_X,
            Side::Server => SERVER_X,
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Exporter => Side::Server,
            Side::Server => Side::Exporter,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Exporter => "exporter",
            Side::Server => "server",
        }
    }
}

/// What an arrow stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrowKind {
    /// The control connection's TCP connect.
    Connect,
    /// A command on the control connection (exporter → server).
    Command,
    /// A reply on the control connection (server → exporter).
    Reply,
    /// A TLS handshake (both ways).
    Tls,
    /// A data connection, drawn dashed, in the direction it was opened.
    Data,
}

impl ArrowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArrowKind::Connect => "connect",
            ArrowKind::Command => "command",
            ArrowKind::Reply => "reply",
            ArrowKind::Tls => "tls",
            ArrowKind::Data => "data",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arrow {
    pub kind: ArrowKind,
    /// Where it starts; it points at the other side (a TLS arrow points both ways).
    pub from: Side,
    /// Time since the check started.
    pub at: Duration,
    /// The line's y.
    pub y: f64,
    /// The text above the line (as the transcript has it: cleaned, PASS masked).
    pub label: String,
    /// Further lines under it: decoded addresses, the mismatch, how it failed.
    pub details: Vec<String>,
    /// False: it never reached the other side (drawn broken, ending in ✕).
    pub arrived: bool,
    /// The reply or connection the check failed on.
    pub failed: bool,
    /// A passive data connection whose 227 named another address than the control peer.
    pub mismatch: bool,
}

impl Arrow {
    pub fn to(&self) -> Side {
        self.from.other()
    }

    fn height(&self) -> f64 {
        ARROW_ROW + EXTRA_LINE * self.details.len() as f64
    }
}

/// Something the exporter noted (an address tried, a listener, bytes moved).
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub at: Duration,
    pub y: f64,
    pub text: String,
}

/// One stay in a phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub phase: Phase,
    pub start: Duration,
    pub end: Duration,
    pub y0: f64,
    pub y1: f64,
    /// The stay the check failed in.
    pub failed: bool,
}

impl Band {
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// Where and why the check failed, with the diagnosis beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureMark {
    pub at: Duration,
    /// Top of the box.
    pub y: f64,
    pub phase: Phase,
    pub reason: Reason,
    pub code: String,
    /// The failure's message and the diagnosis, wrapped.
    pub lines: Vec<String>,
}

impl FailureMark {
    /// `data_connect / timeout` or `login / auth_failed / 530`.
    pub fn title(&self) -> String {
        let mut t = format!("{} / {}", self.phase, self.reason);
        if !self.code.is_empty() {
            t.push_str(&format!(" / {}", self.code));
        }
        t
    }

    pub fn height(&self) -> f64 {
        FAILURE_LINE * (self.lines.len() + 1) as f64 + 10.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lifeline {
    pub side: Side,
    pub title: String,
    /// The address this end of the control connection had, when it had one.
    pub address: Option<String>,
}

/// A whole diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub mode: Mode,
    pub target: String,
    /// `passive mode: up in 0.084 s` or `active mode: FAILED …`.
    pub heading: String,
    pub success: bool,
    /// The check's passive 227 advertised another address than the control peer.
    pub mismatch: bool,
    pub exporter: Lifeline,
    pub server: Lifeline,
    pub bands: Vec<Band>,
    pub arrows: Vec<Arrow>,
    pub notes: Vec<Note>,
    pub failure: Option<FailureMark>,
    /// Rows left out of a very long session.
    pub omitted: usize,
    pub width: f64,
    pub height: f64,
}

/// The facts one diagram is drawn from.
pub struct Check<'a> {
    /// The target's name and configured address (config-provided text).
    pub target: &'a str,
    pub address: &'a str,
    pub outcome: &'a Outcome,
    pub transcript: &'a Transcript,
    pub record: &'a SessionRecord,
    /// The target's diagnosis, drawn beside the failure.
    pub diagnosis: Option<&'a str>,
}

/// A row before it has a place: what it is and when it sorts.
enum Item {
    Arrow(Arrow),
    Note(Note),
    Failure(FailureMark),
}

struct Placed {
    /// When it sorts (a failure sorts at the end of the stay it failed in).
    key: Duration,
    /// Ties: band ends, then band starts, then rows in insertion order.
    rank: u8,
    item: Item,
}

pub fn layout(c: &Check) -> Layout {
    let o = c.outcome;
    let failure_at = failure_time(c);
    let mut items: Vec<Placed> = Vec::new();
    let mut push = |at: Duration, item: Item| items.push(Placed { key: at, rank: 2, item });
    control_rows(c, &mut push);
    for (i, d) in c.record.data.iter().enumerate() {
        let last = i + 1 == c.record.data.len();
        if let Some(a) = data_arrow(c, d, last, failure_at) {
            push(a.at, Item::Arrow(a));
        }
    }
    let failed_band = failed_span(c);
    if let (Some(f), Some(at)) = (&o.failure, failure_at) {
        mark_failing_reply(&mut items, &f.code, at);
        for a in broken_arrows(c, at) {
            items.push(Placed { key: at, rank: 2, item: Item::Arrow(a) });
        }
        let mut lines = wrap(&f.message, WRAP, 2);
        if let Some(d) = c.diagnosis {
            lines.extend(wrap(d, WRAP, 6));
        }
        let mark = FailureMark { at, y: 0.0, phase: f.phase, reason: f.reason, code: f.code.clone(), lines };
        items.push(Placed { key: at, rank: 2, item: Item::Failure(mark) });
        // What shows the failure is drawn inside the stay it failed in (the
        // runner notes the failure just after that stay ends).
        if let Some(span) = failed_band.map(|i| c.record.spans[i]) {
            for p in items.iter_mut() {
                let shows_failure = match &p.item {
                    Item::Failure(_) => true,
                    Item::Arrow(a) => a.failed && !a.arrived && a.at == at,
                    Item::Note(_) => false,
                };
                if shows_failure && p.key > span.end {
                    p.key = span.end;
                    p.rank = 0;
                }
            }
        }
    }
    items.sort_by_key(|p| (p.key, p.rank));
    let omitted = trim(&mut items);

    // Walk events in time order, giving each row its height.
    enum Ev {
        Start(usize),
        End(usize),
        Row(usize),
    }
    let mut events: Vec<(Duration, u8, usize, Ev)> = Vec::new();
    // At one instant: rows moved to the end of the failed stay, other rows
    // (a row at a boundary belongs to the stay that ends), band ends, band
    // starts (a zero-length stay starts before it ends).
    for (i, s) in c.record.spans.iter().enumerate() {
        events.push((s.start, 3, i, Ev::Start(i)));
        events.push((s.end, if s.end > s.start { 2 } else { 4 }, i, Ev::End(i)));
    }
    for (i, p) in items.iter().enumerate() {
        let rank = if p.rank == 0 { 0 } else { 1 };
        events.push((p.key, rank, i, Ev::Row(i)));
    }
    events.sort_by_key(|e| (e.0, e.1, e.2));
    let mut y = TOP;
    let mut band_y0 = vec![TOP; c.record.spans.len()];
    let mut band_y1 = vec![TOP; c.record.spans.len()];
    let mut row_y = vec![0.0; items.len()];
    for (_, _, _, ev) in &events {
        match ev {
            Ev::Start(i) => {
                band_y0[*i] = y;
                y += BAND_PAD;
            }
            Ev::End(i) => {
                y = y.max(band_y0[*i] + MIN_BAND);
                band_y1[*i] = y;
            }
            Ev::Row(i) => {
                let h = match &items[*i].item {
                    Item::Arrow(a) => a.height(),
                    Item::Note(_) => NOTE_ROW,
                    Item::Failure(f) => f.height() + 6.0,
                };
                // Arrows are placed by their line, which sits under the label.
                row_y[*i] = match &items[*i].item {
                    Item::Arrow(_) => y + 18.0,
                    Item::Note(_) => y + 11.0,
                    Item::Failure(_) => y + 3.0,
                };
                y += h;
            }
        }
    }
    let height = y + 16.0 + if omitted > 0 { NOTE_ROW } else { 0.0 };

    let bands = c
        .record
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| Band {
            phase: s.phase,
            start: s.start,
            end: s.end,
            y0: band_y0[i],
            y1: band_y1[i],
            failed: failed_band == Some(i),
        })
        .collect();
    let (mut arrows, mut notes, mut failure) = (Vec::new(), Vec::new(), None);
    for (p, y) in items.into_iter().zip(row_y) {
        match p.item {
            Item::Arrow(mut a) => {
                a.y = y;
                arrows.push(a);
            }
            Item::Note(mut n) => {
                n.y = y;
                notes.push(n);
            }
            Item::Failure(mut f) => {
                f.y = y;
                failure = Some(f);
            }
        }
    }
    let secs = o.duration.as_secs_f64();
    let heading = match &o.failure {
        None => format!("{} mode: up in {secs:.3} s", o.mode),
        Some(f) => {
            let code = if f.code.is_empty() { String::new() } else { format!(" {}", f.code) };
            format!("{} mode: FAILED {}/{}{code} after {secs:.3} s", o.mode, f.phase, f.reason)
        }
    };
    Layout {
        mode: o.mode,
        target: c.target.to_string(),
        heading,
        success: o.success(),
        mismatch: o.passive_address_mismatch == Some(true),
        exporter: Lifeline {
            side: Side::Exporter,
            title: "ftp_exporter".into(),
            address: o.control_local.map(|a| a.to_string()),
        },
        server: Lifeline {
            side: Side::Server,
            title: c.address.to_string(),
            address: o.control_peer.map(|a| a.to_string()),
        },
        bands,
        arrows,
        notes,
        failure,
        omitted,
        width: WIDTH,
        height,
    }
}

/// The arrows and notes of the control connection, from the transcript.
fn control_rows(c: &Check, push: &mut impl FnMut(Duration, Item)) {
    let lines = c.transcript.lines();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        match line.direction {
            Direction::Sent => {
                let details = decode_command(&line.text).into_iter().collect();
                push(
                    line.at,
                    Item::Arrow(arrow(ArrowKind::Command, Side::Exporter, line.at, &line.text, details)),
                );
            }
            Direction::Received => {
                // A multi-line reply (RFC 959 §4.2: `123-` … `123 `) is one arrow.
                let mut end = i;
                if let Some(code) = line.text.get(..3).filter(|_| line.text.as_bytes().get(3) == Some(&b'-'))
                {
                    let closing = format!("{code} ");
                    while end + 1 < lines.len()
                        && lines[end + 1].direction == Direction::Received
                        && !lines[end].text.starts_with(&closing)
                    {
                        end += 1;
                    }
                }
                let mut details: Vec<String> =
                    decode_reply(&line.text, c.outcome.control_peer).into_iter().collect();
                if end > i {
                    details.push(format!("(+{} more lines)", end - i));
                }
                push(
                    line.at,
                    Item::Arrow(arrow(ArrowKind::Reply, Side::Server, line.at, &line.text, details)),
                );
                i = end;
            }
            Direction::Note => {
                let t = line.text.as_str();
                if let Some(rest) = t.strip_prefix("connected to ") {
                    let to = rest.split(" from ").next().unwrap_or(rest);
                    let label = format!("TCP connect to {to}");
                    push(
                        line.at,
                        Item::Arrow(arrow(ArrowKind::Connect, Side::Exporter, line.at, &label, vec![])),
                    );
                } else if let Some(rest) = t.strip_prefix("TLS established: ") {
                    let label = format!("TLS handshake: {rest}");
                    push(
                        line.at,
                        Item::Arrow(arrow(ArrowKind::Tls, Side::Exporter, line.at, &label, vec![])),
                    );
                } else if !skipped_note(t) {
                    push(line.at, Item::Note(Note { at: line.at, y: 0.0, text: t.to_string() }));
                }
            }
        }
        i += 1;
    }
}

/// Notes the diagram draws otherwise (from the record, or as the failure mark).
fn skipped_note(t: &str) -> bool {
    t.starts_with("FAILED ")
        || t.starts_with("data connection to ")
        || t.starts_with("data connection from ")
        || t.starts_with("data TLS session ")
        || t.contains(" advertises ") && t.contains("connecting to the control peer")
}

fn arrow(kind: ArrowKind, from: Side, at: Duration, label: &str, details: Vec<String>) -> Arrow {
    Arrow {
        kind,
        from,
        at,
        y: 0.0,
        label: label.to_string(),
        details,
        arrived: true,
        failed: false,
        mismatch: false,
    }
}

/// `PORT 192,168,0,203,199,239` → `= 192.168.0.203:51183` (RFC 959 §4.1.2), `EPRT` likewise (RFC 2428 §2).
fn decode_command(text: &str) -> Option<String> {
    let (verb, arg) = text.split_once(' ')?;
    let addr: SocketAddr = match verb.to_ascii_uppercase().as_str() {
        "PORT" => SocketAddr::V4(parse_host_port(arg).ok()?),
        "EPRT" => parse_eprt(arg.trim()).ok()?,
        _ => return None,
    };
    Some(format!("= {addr}: the server is to connect there"))
}

/// `227 … (192,168,0,101,79,42)` → `= 192.168.0.101:20266`; `229 (|||6446|)` → port 6446 at the control peer.
fn decode_reply(text: &str, control_peer: Option<SocketAddr>) -> Option<String> {
    let rest = text.get(4..)?;
    match text.get(..4)? {
        "227 " => {
            let addr = parse_host_port(rest).ok()?;
            Some(format!("= {addr}: the exporter is to connect there"))
        }
        "229 " => {
            let port = parse_229(rest).ok()?;
            let at = control_peer.map(|p| SocketAddr::new(p.ip(), port).to_string());
            Some(format!(
                "= port {port} at the control peer{}",
                at.map(|a| format!(" ({a})")).unwrap_or_default()
            ))
        }
        _ => None,
    }
}

fn fmt_addr(ip: Option<IpAddr>, port: Option<u16>) -> Option<String> {
    Some(SocketAddr::new(ip?, port?).to_string())
}

/// The dashed arrow of one data connection: exporter → server in passive
/// mode (the exporter connects), server → exporter in active mode (the
/// server connects back), labelled with where it was told to go.
fn data_arrow(c: &Check, d: &DataConnection, last: bool, failure_at: Option<Duration>) -> Option<Arrow> {
    let mode = c.outcome.mode;
    let from = match mode {
        Mode::Passive => Side::Exporter,
        Mode::Active => Side::Server,
    };
    let at = match (d.opened, d.failure) {
        (Some(t), _) => t,
        (None, Some(_)) if last => failure_at?,
        // An earlier connection that never opened cannot be: the check stops at the first.
        _ => return None,
    };
    let announced = fmt_addr(d.announced_ip, d.announced_port);
    let setup = d.setup.map(SetupCommand::as_str).unwrap_or("");
    let what = if d.is_read_back() { "read-back" } else { d.command };
    let mut details = Vec::new();
    let label = match mode {
        Mode::Passive => {
            let to = d.peer.map(|p| p.to_string()).or_else(|| {
                // EPSV: the port at the control peer (RFC 2428 §3).
                Some(SocketAddr::new(d.control_peer?.ip(), d.announced_port?).to_string())
            });
            let reply = match d.setup {
                Some(SetupCommand::Epsv) => "229",
                _ => "227",
            };
            if let Some(a) = &announced {
                details.push(format!("{reply} announced {a}"));
            } else if let Some(port) = d.announced_port {
                details.push(format!("{reply} announced port {port}"));
            }
            format!("{what} data connection to {}", to.unwrap_or_else(|| "?".into()))
        }
        Mode::Active => {
            if let Some(peer) = d.peer {
                details.push(format!("from {peer}"));
            }
            format!("{what} data connection to {} ({setup})", announced.unwrap_or_else(|| "?".into()))
        }
    };
    let mismatch = d.announced_differs == Some(true);
    if mismatch {
        let peer = d.control_peer.map(|p| p.ip().to_string()).unwrap_or_else(|| "?".into());
        let announced = d.announced_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "?".into());
        details.push(format!("⚠ mismatch: 227 names {announced}, the control peer is {peer}"));
    }
    if let Some(resumed) = d.tls_resumed {
        details.push(if resumed { "TLS session resumed".into() } else { "TLS session NOT resumed".into() });
    }
    let (arrived, failed) = match d.failure {
        None => (true, false),
        Some(DataFailure::NotConnected) => {
            details.push("not opened".into());
            (false, false)
        }
        Some(DataFailure::UnexpectedPeer) => {
            let server = d.control_peer.map(|p| p.ip().to_string()).unwrap_or_else(|| "?".into());
            details.push(format!("came from another host than the server {server}: refused"));
            (false, true)
        }
        Some(f) => {
            details.push(format!("never arrived: {}", f.as_str()));
            (false, true)
        }
    };
    let unexpected_from = (d.failure == Some(DataFailure::UnexpectedPeer))
        .then_some(d.peer)
        .flatten()
        .filter(|p| Some(canonical(p.ip())) != d.control_peer.map(|c| canonical(c.ip())));
    if let Some(p) = unexpected_from {
        details.retain(|l| !l.starts_with("from "));
        details.insert(0, format!("from {p}"));
    }
    Some(Arrow { kind: ArrowKind::Data, from, at, y: 0.0, label, details, arrived, failed, mismatch })
}

/// The arrows a failure leaves without a transcript line: the connect
/// that never completed, the reply or handshake that never came.
fn broken_arrows(c: &Check, at: Duration) -> Vec<Arrow> {
    let Some(f) = &c.outcome.failure else { return vec![] };
    let mut out = Vec::new();
    let broken = |kind, from, label: String, detail: String| Arrow {
        kind,
        from,
        at,
        y: 0.0,
        label,
        details: vec![detail],
        arrived: false,
        failed: true,
        mismatch: false,
    };
    let data_drawn = f.phase == Phase::DataConnect
        && c.record.data.last().is_some_and(|d| d.failure.is_some_and(|x| x != DataFailure::NotConnected));
    match (f.phase, f.reason) {
        (Phase::Resolve, _) => {}
        (Phase::Connect, r) => out.push(broken(
            ArrowKind::Connect,
            Side::Exporter,
            format!("TCP connect to {}", c.address),
            format!("never connected: {r}"),
        )),
        (_, Reason::TlsHandshakeFailed | Reason::TlsCertificateInvalid) if f.code.is_empty() => out.push(
            broken(ArrowKind::Tls, Side::Exporter, "TLS handshake".into(), format!("failed: {}", f.reason)),
        ),
        (_, Reason::Timeout | Reason::ConnectionClosed) if f.code.is_empty() && !data_drawn => {
            let what = if f.reason == Reason::Timeout { "no reply in time" } else { "connection closed" };
            out.push(broken(ArrowKind::Reply, Side::Server, format!("({what})"), format!("{}", f.reason)))
        }
        _ => {}
    }
    out
}

/// Marks the reply that failed the check: the last one with the failure's code before it failed.
fn mark_failing_reply(items: &mut [Placed], code: &str, at: Duration) {
    if code.is_empty() {
        return;
    }
    let reply = items.iter_mut().rev().find_map(|p| match &mut p.item {
        Item::Arrow(a) if a.kind == ArrowKind::Reply && a.at <= at && a.label.starts_with(code) => Some(a),
        _ => None,
    });
    if let Some(a) = reply {
        a.failed = true;
    }
}

/// When the check failed: the runner's `FAILED` note, else the end of the last span.
fn failure_time(c: &Check) -> Option<Duration> {
    c.outcome.failure.as_ref()?;
    let noted = c
        .transcript
        .lines()
        .iter()
        .rev()
        .find(|l| l.direction == Direction::Note && l.text.starts_with("FAILED "))
        .map(|l| l.at);
    noted.or_else(|| c.record.spans.last().map(|s| s.end)).or(Some(c.outcome.duration))
}

/// The index of the span the check failed in: the last stay in the failing phase.
fn failed_span(c: &Check) -> Option<usize> {
    let phase = c.outcome.failure.as_ref()?.phase;
    c.record.spans.iter().rposition(|s| s.phase == phase)
}

/// Keeps a very long session drawable: notes go first, then the middle.
fn trim(items: &mut Vec<Placed>) -> usize {
    let before = items.len();
    if items.len() > MAX_ROWS {
        items.retain(|p| !matches!(p.item, Item::Note(_)));
    }
    if items.len() > MAX_ROWS {
        let tail = items.split_off(items.len() - MAX_ROWS / 4);
        items.truncate(MAX_ROWS - tail.len());
        items.extend(tail);
    }
    before - items.len()
}

/// Splits `text` into at most `max` lines of at most `width` characters, at spaces.
pub fn wrap(text: &str, width: usize, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > max {
        lines.truncate(max);
        if let Some(l) = lines.last_mut() {
            l.push_str(" …");
        }
    }
    lines
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
