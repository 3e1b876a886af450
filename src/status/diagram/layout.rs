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

use std::time::Duration;

use super::rows::{broken_arrows, control_rows, data_arrow, failed_span, failure_time, mark_failing_reply};
use crate::check::{Mode, Outcome, Phase, Reason, SessionRecord};
use crate::ftp::transcript::Transcript;

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

    pub(super) fn height(&self) -> f64 {
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
pub(super) enum Item {
    Arrow(Arrow),
    Note(Note),
    Failure(FailureMark),
}

pub(super) struct Placed {
    /// When it sorts (a failure sorts at the end of the stay it failed in).
    pub(super) key: Duration,
    /// 0: moved to the end of the failed stay; 2: in time order.
    pub(super) rank: u8,
    pub(super) item: Item,
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
