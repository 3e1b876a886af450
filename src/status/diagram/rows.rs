//! What each fact of a check becomes in its diagram, before it has a
//! place: transcript lines as arrows and notes (with `PORT`/`EPRT`/`227`/`229`
//! decoded, RFC 959 §4.1.2 and RFC 2428), the session record's data
//! connections as dashed arrows in the direction they were opened, and the
//! arrows a failure leaves without a transcript line.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::layout::{Arrow, ArrowKind, Check, Item, Note, Placed, Side};
use crate::check::{DataConnection, DataFailure, Mode, Phase, Reason, SetupCommand};
use crate::ftp::address::{parse_229, parse_eprt, parse_host_port};
use crate::ftp::data::canonical;
use crate::ftp::transcript::Direction;

/// The arrows and notes of the control connection, from the transcript.
pub(super) fn control_rows(c: &Check, push: &mut impl FnMut(Duration, Item)) {
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
pub(super) fn data_arrow(
    c: &Check,
    d: &DataConnection,
    last: bool,
    failure_at: Option<Duration>,
) -> Option<Arrow> {
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
pub(super) fn broken_arrows(c: &Check, at: Duration) -> Vec<Arrow> {
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
pub(super) fn mark_failing_reply(items: &mut [Placed], code: &str, at: Duration) {
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
pub(super) fn failure_time(c: &Check) -> Option<Duration> {
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
pub(super) fn failed_span(c: &Check) -> Option<usize> {
    let phase = c.outcome.failure.as_ref()?.phase;
    c.record.spans.iter().rposition(|s| s.phase == phase)
}
