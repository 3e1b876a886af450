//! Layouts of recorded sessions: the seed note's two pictures (passive and
//! active, with its PORT and 227 examples as test vectors), the seed's
//! "login works but ls hangs" (active data_connect timeout), a server
//! behind NAT advertising its private address, FTPS, and failures at
//! login and connect. The SVG is read back as XML and asserted by structure.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::check::{DataConnection, DataFailure, Failure, Operation, PhaseSpan, SetupCommand, TlsInfo};
use crate::status::diagram::svg;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A session as the runner records it: transcript lines, spans, data connections.
struct Session {
    mode: Mode,
    transcript: Transcript,
    record: SessionRecord,
    failure: Option<Failure>,
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
    mismatch: Option<bool>,
    tls: Option<TlsInfo>,
    end: Duration,
}

impl Session {
    fn new(mode: Mode, peer: &str, local: &str) -> Session {
        Session {
            mode,
            transcript: Transcript::new(),
            record: SessionRecord::default(),
            failure: None,
            peer: Some(addr(peer)),
            local: Some(addr(local)),
            mismatch: None,
            tls: None,
            end: Duration::ZERO,
        }
    }
    fn sent(mut self, at: u64, text: &str) -> Self {
        self.transcript.sent(ms(at), text);
        self
    }
    fn recv(mut self, at: u64, text: &str) -> Self {
        self.transcript.received(ms(at), text);
        self
    }
    fn note(mut self, at: u64, text: &str) -> Self {
        self.transcript.note(ms(at), text);
        self
    }
    fn span(mut self, phase: Phase, start: u64, end: u64) -> Self {
        self.record.spans.push(PhaseSpan { phase, start: ms(start), end: ms(end) });
        self.end = self.end.max(ms(end));
        self
    }
    fn data(mut self, d: DataConnection) -> Self {
        self.record.data.push(d);
        self
    }
    fn failed(mut self, at: u64, phase: Phase, reason: Reason, code: &str, message: &str) -> Self {
        self.transcript.note(ms(at), &format!("FAILED phase={phase} reason={reason} code={code} {message}"));
        self.failure = Some(Failure::new(phase, reason, code, message));
        self
    }
    fn outcome(&self) -> Outcome {
        let mut phases: Vec<(Phase, Duration)> = Vec::new();
        for s in &self.record.spans {
            match phases.iter_mut().find(|(p, _)| *p == s.phase) {
                Some((_, d)) => *d += s.end - s.start,
                None => phases.push((s.phase, s.end - s.start)),
            }
        }
        Outcome {
            phases,
            passive_address_mismatch: self.mismatch,
            tls: self.tls.clone(),
            control_peer: self.peer,
            control_local: self.local,
            ..Outcome::for_test(self.mode, self.end, self.failure.clone())
        }
    }
    fn layout(&self, diagnosis: Option<&str>) -> Layout {
        let o = self.outcome();
        layout(&Check {
            target: "seed",
            address: "ftp.example.com:21",
            outcome: &o,
            transcript: &self.transcript,
            record: &self.record,
            diagnosis,
        })
    }
    fn svg(&self, diagnosis: Option<&str>) -> String {
        svg::render(&self.layout(diagnosis))
    }
}

fn data(
    op: Operation,
    command: &'static str,
    setup: SetupCommand,
    announced: &str,
    peer: &str,
) -> DataConnection {
    let announced = addr(announced);
    DataConnection {
        operation: op,
        command,
        setup: Some(setup),
        announced_ip: Some(announced.ip()),
        announced_port: Some(announced.port()),
        announced_differs: None,
        peer: Some(addr(peer)),
        control_peer: None,
        opened: None,
        closed: None,
        tls_resumed: None,
        failure: None,
    }
}

/// The login both pictures of the seed note begin with.
fn login(s: Session) -> Session {
    let connected = format!("connected to {} from {}", s.peer.unwrap(), s.local.unwrap());
    s.span(Phase::Connect, 0, 1)
        .note(1, &connected)
        .span(Phase::Banner, 1, 3)
        .recv(2, "220 (vsFTPd 3.0.3)")
        .span(Phase::Login, 3, 10)
        .sent(4, "USER monitor")
        .recv(5, "331 Please specify the password.")
        .sent(6, "PASS hunter2")
        .recv(9, "230 Login successful.")
}

/// The seed's passive picture: PASV, `227 (192,168,0,101,79,42)`, the exporter connects to port 20266.
fn passive_ok() -> Session {
    let mut d =
        data(Operation::Retrieve, "RETR", SetupCommand::Pasv, "192.168.0.101:20266", "192.168.0.101:20266");
    d.control_peer = Some(addr("192.168.0.101:21"));
    d.announced_differs = Some(false);
    (d.opened, d.closed) = (Some(ms(16)), Some(ms(20)));
    login(Session::new(Mode::Passive, "192.168.0.101:21", "192.168.0.203:50000"))
        .span(Phase::DataSetup, 10, 15)
        .sent(11, "TYPE I")
        .recv(12, "200 Switching to Binary mode.")
        .sent(13, "PASV")
        .recv(14, "227 Entering Passive Mode (192,168,0,101,79,42).")
        .span(Phase::DataConnect, 15, 16)
        .note(16, "data connection to 192.168.0.101:20266")
        .span(Phase::Transfer, 16, 21)
        .data(d)
        .sent(17, "RETR mytext.txt")
        .recv(18, "150 Opening BINARY mode data connection for mytext.txt (12 bytes).")
        .note(20, "12 bytes received")
        .recv(21, "226 Transfer complete.")
        .span(Phase::Quit, 21, 23)
        .sent(22, "QUIT")
        .recv(23, "221 Goodbye.")
}

/// The seed's active picture: `PORT 192,168,0,203,199,239`, the server connects back to 51183.
fn active(connects: bool) -> Session {
    let mut d =
        data(Operation::Retrieve, "RETR", SetupCommand::Port, "192.168.0.203:51183", "192.168.0.101:20");
    d.control_peer = Some(addr("192.168.0.101:21"));
    let s = login(Session::new(Mode::Active, "192.168.0.101:21", "192.168.0.203:50000"))
        .span(Phase::DataSetup, 10, 14)
        .sent(11, "TYPE I")
        .recv(12, "200 Switching to Binary mode.")
        .note(12, "listening on 192.168.0.203:51183 for the server's data connection")
        .sent(13, "PORT 192,168,0,203,199,239")
        .recv(14, "200 PORT command successful. Consider using PASV.");
    if connects {
        (d.opened, d.closed) = (Some(ms(17)), Some(ms(20)));
        s.span(Phase::DataConnect, 14, 17)
            .sent(15, "RETR mytext.txt")
            .recv(16, "150 Opening BINARY mode data connection for mytext.txt (12 bytes).")
            .note(17, "data connection from 192.168.0.101:20")
            .span(Phase::Transfer, 17, 21)
            .data(d)
            .recv(21, "226 Transfer complete.")
            .span(Phase::Quit, 21, 23)
            .sent(22, "QUIT")
            .recv(23, "221 Goodbye.")
    } else {
        // "login works but ls hangs": the server's connection back never arrives.
        d.peer = None;
        d.failure = Some(DataFailure::Timeout);
        s.span(Phase::DataConnect, 14, 10_002)
            .sent(15, "RETR mytext.txt")
            .data(d)
            .failed(10_003, Phase::DataConnect, Reason::Timeout, "", "timed out")
            .sent(10_004, "QUIT")
            .recv(10_005, "221 Goodbye.")
    }
}

const DIAGNOSIS: &str =
    "Active mode fails at data_connect/timeout while passive mode works: the server cannot \
                         open connections back to the exporter";

/// The phases of a plain session with one data operation, in order: all but resolve and tls.
fn session() -> Vec<Phase> {
    Phase::ALL.iter().copied().filter(|p| !matches!(p, Phase::Resolve | Phase::Tls)).collect()
}

fn data_arrows(l: &Layout) -> Vec<&Arrow> {
    l.arrows.iter().filter(|a| a.kind == ArrowKind::Data).collect()
}

fn arrow<'a>(l: &'a Layout, label: &str) -> &'a Arrow {
    l.arrows.iter().find(|a| a.label.starts_with(label)).unwrap_or_else(|| panic!("no arrow {label}: {l:#?}"))
}

/// Bands follow each other down the page, in session order, each tall enough for its label.
fn assert_bands(l: &Layout, phases: &[Phase]) {
    assert_eq!(l.bands.iter().map(|b| b.phase).collect::<Vec<_>>(), phases);
    for w in l.bands.windows(2) {
        assert!(w[0].y1 <= w[1].y0 + 0.01, "bands overlap: {w:?}");
    }
    for b in &l.bands {
        assert!(b.y1 - b.y0 >= 26.0 - 0.01, "{b:?}");
    }
    // Every arrow sits inside the band of its time (clean-up after a failure is below them all).
    let last = l.bands.last().unwrap();
    for a in &l.arrows {
        if a.at <= last.end {
            // (At a boundary instant, either band will do.)
            let inside = |b: &&Band| a.at >= b.start && a.at <= b.end && a.y >= b.y0 && a.y <= b.y1 + 0.01;
            assert!(
                l.bands.iter().any(|b| inside(&b)),
                "{} at {:?} outside its band: {:?}",
                a.label,
                a.at,
                l.bands
            );
        }
    }
}

#[test]
fn passive_ok_the_exporter_connects_to_the_address_227_carried() {
    let l = passive_ok().layout(None);
    assert!(l.success && l.failure.is_none() && !l.mismatch);
    assert_eq!(l.heading, "passive mode: up in 0.023 s");
    let d = data_arrows(&l);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].from, d[0].to()), (Side::Exporter, Side::Server), "passive: the exporter opens it");
    assert!(d[0].label.contains("192.168.0.101:20266"), "{:?}", d[0]);
    assert!(d[0].details.iter().any(|x| x == "227 announced 192.168.0.101:20266"), "{:?}", d[0]);
    assert!(d[0].arrived && !d[0].failed);
    // The 227 reply itself, decoded: 79*256+42 = 20266.
    let r = arrow(&l, "227 Entering Passive Mode");
    assert_eq!((r.kind, r.from), (ArrowKind::Reply, Side::Server));
    assert_eq!(r.details, ["= 192.168.0.101:20266: the exporter is to connect there"]);
    assert_eq!(arrow(&l, "PASS").label, "PASS ****", "masked as in transcripts");
    assert_eq!(arrow(&l, "USER").from, Side::Exporter);
    assert_eq!(arrow(&l, "TCP connect to 192.168.0.101:21").kind, ArrowKind::Connect);
    assert!(l.notes.iter().any(|n| n.text == "12 bytes received"));
    assert!(!l.notes.iter().any(|n| n.text.starts_with("data connection")), "drawn as the arrow");
    assert_eq!(
        (l.exporter.address.as_deref(), l.server.address.as_deref()),
        (Some("192.168.0.203:50000"), Some("192.168.0.101:21"))
    );
    assert_bands(&l, &session());
    // Rows in time order, down the page.
    let ys: Vec<f64> = l.arrows.iter().map(|a| a.y).collect();
    let mut sorted = ys.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(ys, sorted);
}

#[test]
fn active_ok_the_server_connects_back_to_the_address_port_carried() {
    let l = active(true).layout(None);
    assert!(l.success);
    let d = data_arrows(&l);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].from, d[0].to()), (Side::Server, Side::Exporter), "active: the server opens it");
    // PORT 192,168,0,203,199,239 → 192.168.0.203, 199*256+239 = 51183.
    assert_eq!(d[0].label, "RETR data connection to 192.168.0.203:51183 (PORT)");
    assert_eq!(d[0].details, ["from 192.168.0.101:20"]);
    let port = arrow(&l, "PORT 192,168,0,203,199,239");
    assert_eq!(port.details, ["= 192.168.0.203:51183: the server is to connect there"]);
    assert!(l.notes.iter().any(|n| n.text.starts_with("listening on 192.168.0.203:51183")));
    assert_bands(&l, &session());
}

#[test]
fn active_timeout_is_the_dashed_arrow_that_never_arrived_with_the_diagnosis_beside_it() {
    let l = active(false).layout(Some(DIAGNOSIS));
    assert!(!l.success);
    assert_eq!(l.heading, "active mode: FAILED data_connect/timeout after 10.002 s");
    let d = data_arrows(&l);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].from, Side::Server);
    assert!(!d[0].arrived && d[0].failed, "{:?}", d[0]);
    assert!(d[0].label.contains("192.168.0.203:51183"));
    assert!(d[0].details.iter().any(|x| x == "never arrived: timeout"), "{:?}", d[0]);
    let f = l.failure.as_ref().expect("a failure mark");
    assert_eq!(f.title(), "data_connect / timeout");
    assert!(f.lines.join(" ").contains("cannot open connections back"), "{:?}", f.lines);
    // Drawn inside the failed data_connect band, beside the broken arrow.
    let band = l.bands.iter().find(|b| b.failed).expect("a failed band");
    assert_eq!(band.phase, Phase::DataConnect);
    assert!(band.y0 <= d[0].y && d[0].y <= f.y && f.y + f.height() <= band.y1 + 0.01, "{band:?} {f:?}");
    assert_eq!(l.bands.iter().filter(|b| b.failed).count(), 1);
    // The polite QUIT after the failure is drawn too, below every band.
    assert!(arrow(&l, "QUIT").y > band.y1);
    // No reply arrow is invented: the data arrow is the one that never came.
    assert!(l.arrows.iter().all(|a| a.kind != ArrowKind::Reply || a.arrived));
}

#[test]
fn passive_mismatch_shows_both_addresses_and_marks_it() {
    // The server is reached at 198.51.100.7 but its 227 names its private 192.168.0.101.
    let mut d =
        data(Operation::List, "LIST", SetupCommand::Pasv, "192.168.0.101:20266", "198.51.100.7:20266");
    d.control_peer = Some(addr("198.51.100.7:21"));
    d.announced_differs = Some(true);
    (d.opened, d.closed) = (Some(ms(16)), Some(ms(19)));
    let mut s = login(Session::new(Mode::Passive, "198.51.100.7:21", "192.0.2.5:50000"))
        .span(Phase::DataSetup, 10, 15)
        .sent(13, "PASV")
        .recv(14, "227 Entering Passive Mode (192,168,0,101,79,42).")
        .note(
            14,
            "227 advertises 192.168.0.101, not the control peer 198.51.100.7; connecting to the control peer",
        )
        .span(Phase::DataConnect, 15, 16)
        .span(Phase::Transfer, 16, 20)
        .data(d)
        .sent(17, "LIST")
        .recv(18, "150 Here comes the directory listing.")
        .recv(20, "226 Directory send OK.");
    s.mismatch = Some(true);
    let l = s.layout(None);
    assert!(l.mismatch && l.success);
    let d = data_arrows(&l);
    assert!(d[0].mismatch);
    assert_eq!(d[0].label, "LIST data connection to 198.51.100.7:20266");
    assert!(
        d[0].details
            .iter()
            .any(|x| x == "⚠ mismatch: 227 names 192.168.0.101, the control peer is 198.51.100.7"),
        "{:?}",
        d[0].details
    );
    let svg = s.svg(None);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let data = doc.descendants().find(|n| has_class(n, "data")).unwrap();
    assert!(has_class(&data, "mismatch"));
    assert!(texts(&data).iter().any(|t| t.starts_with("⚠ mismatch") && t.contains("192.168.0.101")));
    let heading = doc.descendants().find(|n| has_class(n, "heading")).unwrap();
    assert!(heading.text().unwrap().contains("⚠ 227 address mismatch"));
}

#[test]
fn ftps_draws_the_handshake_and_the_resumed_data_session() {
    let mut d = data(Operation::List, "LIST", SetupCommand::Epsv, "[::1]:6446", "[::1]:6446");
    d.announced_ip = None; // 229 carries a port only (RFC 2428 §3).
    d.control_peer = Some(addr("[::1]:21"));
    d.tls_resumed = Some(true);
    (d.opened, d.closed) = (Some(ms(30)), Some(ms(38)));
    let mut s = Session::new(Mode::Passive, "[::1]:21", "[::1]:50000")
        .span(Phase::Connect, 0, 1)
        .note(1, "connected to [::1]:21 from [::1]:50000")
        .span(Phase::Banner, 1, 3)
        .recv(2, "220 ready")
        .span(Phase::Tls, 3, 20)
        .sent(4, "AUTH TLS")
        .recv(5, "234 Proceed with negotiation.")
        .note(12, "TLS established: TLSv1.3, TLS13_AES_256_GCM_SHA384")
        .sent(13, "PBSZ 0")
        .recv(14, "200 PBSZ set to 0.")
        .sent(15, "PROT P")
        .recv(16, "200 PROT now Private.")
        .span(Phase::Login, 20, 25)
        .sent(21, "USER monitor")
        .recv(22, "230 Login successful.")
        .span(Phase::DataSetup, 25, 28)
        .sent(26, "EPSV")
        .recv(27, "229 Entering Extended Passive Mode (|||6446|)")
        .span(Phase::DataConnect, 28, 32)
        .data(d)
        .sent(29, "LIST")
        .note(31, "data TLS session resumed")
        .span(Phase::Transfer, 32, 40)
        .recv(39, "226 Directory send OK.");
    s.tls = Some(TlsInfo::default());
    let l = s.layout(None);
    let tls = arrow(&l, "TLS handshake: TLSv1.3");
    assert_eq!(tls.kind, ArrowKind::Tls);
    assert_eq!(arrow(&l, "229").details, ["= port 6446 at the control peer ([::1]:6446)"]);
    let d = data_arrows(&l);
    assert_eq!(d[0].label, "LIST data connection to [::1]:6446");
    assert_eq!(d[0].details, ["229 announced port 6446", "TLS session resumed"]);
    assert!(!l.notes.iter().any(|n| n.text.starts_with("data TLS")));
    assert_bands(
        &l,
        &[
            Phase::Connect,
            Phase::Banner,
            Phase::Tls,
            Phase::Login,
            Phase::DataSetup,
            Phase::DataConnect,
            Phase::Transfer,
        ],
    );
    let svg = s.svg(None);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let tls = doc.descendants().find(|n| has_class(n, "tls")).unwrap();
    assert_eq!(tls.descendants().filter(|n| has_class(n, "head")).count(), 2, "a handshake goes both ways");
}

#[test]
fn a_refused_login_marks_the_530_and_a_refused_connect_is_a_broken_arrow() {
    let s = login(Session::new(Mode::Passive, "192.168.0.101:21", "192.168.0.203:50000"))
        .recv(9, "530 Login incorrect.")
        .failed(9, Phase::Login, Reason::AuthFailed, "530", "530 Login incorrect.");
    let l = s.layout(Some("Both modes fail at login/auth_failed: check username and password."));
    let r = arrow(&l, "530");
    assert!(r.failed && r.arrived);
    assert!(!arrow(&l, "331").failed);
    assert_eq!(l.failure.as_ref().unwrap().title(), "login / auth_failed / 530");

    let mut s = Session::new(Mode::Active, "192.168.0.101:21", "192.168.0.203:50000")
        .span(Phase::Connect, 0, 3)
        .failed(3, Phase::Connect, Reason::ConnectionRefused, "", "connection refused");
    (s.peer, s.local) = (None, None);
    let l = s.layout(None);
    let c = arrow(&l, "TCP connect to ftp.example.com:21");
    assert!(!c.arrived && c.failed);
    assert_eq!(c.details, ["never connected: connection_refused"]);
    assert_eq!(l.server.address, None);
}

#[test]
fn a_silent_banner_is_a_reply_that_never_came() {
    let s = Session::new(Mode::Passive, "192.168.0.101:21", "192.168.0.203:50000")
        .span(Phase::Connect, 0, 1)
        .note(1, "connected to 192.168.0.101:21 from 192.168.0.203:50000")
        .span(Phase::Banner, 1, 5000)
        .failed(5001, Phase::Banner, Reason::Timeout, "", "timed out");
    let l = s.layout(None);
    let r = l.arrows.iter().find(|a| a.kind == ArrowKind::Reply).unwrap();
    assert!(!r.arrived && r.failed && r.from == Side::Server, "{r:?}");
    assert_eq!(r.label, "(no reply in time)");
}

// ---- the SVG, read back as XML ----

fn has_class(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class").is_some_and(|c| c.split(' ').any(|x| x == class))
}

fn texts(n: &roxmltree::Node) -> Vec<String> {
    n.descendants().filter(|d| d.has_tag_name("text")).filter_map(|d| d.text().map(str::to_string)).collect()
}

#[test]
fn the_svg_has_arrows_with_directions_dashed_data_labels_bands_and_the_failure() {
    for (s, success) in [(passive_ok(), true), (active(true), true), (active(false), false)] {
        let l = s.layout(Some(DIAGNOSIS));
        let svg = svg::render(&l);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        let root = doc.root_element();
        assert!(root.has_tag_name(("http://www.w3.org/2000/svg", "svg")));
        assert_eq!(root.attribute("data-mode"), Some(l.mode.as_str()));
        assert_eq!(root.attribute("data-success"), Some(if success { "true" } else { "false" }));
        assert!(doc.descendants().all(|n| !n.has_tag_name("script") && !n.has_tag_name("foreignObject")));
        assert!(doc.descendants().all(|n| n.attribute("href").is_none()), "no external references");

        let arrows: Vec<_> = doc.descendants().filter(|n| has_class(n, "arrow")).collect();
        assert_eq!(arrows.len(), l.arrows.len());
        for (n, a) in arrows.iter().zip(&l.arrows) {
            assert_eq!(n.attribute("data-from"), Some(a.from.as_str()));
            assert_eq!(n.attribute("data-to"), Some(a.to().as_str()));
            let line = n.descendants().find(|c| c.has_tag_name("line")).unwrap();
            let (x1, x2): (f64, f64) = (
                line.attribute("x1").unwrap().parse().unwrap(),
                line.attribute("x2").unwrap().parse().unwrap(),
            );
            // The line runs from its lifeline towards the other one.
            assert_eq!(x1, a.from.x());
            assert_eq!(x2 > x1, a.to() == Side::Server, "{}", a.label);
            assert_eq!(
                line.attribute("stroke-dasharray").is_some(),
                a.kind == ArrowKind::Data,
                "{}",
                a.label
            );
            let title = n.children().find(|c| c.has_tag_name("title")).unwrap().text().unwrap();
            assert!(title.starts_with(a.label.as_str()));
        }
        let data = arrows.iter().find(|n| n.attribute("data-kind") == Some("data")).unwrap();
        assert!(texts(data).iter().any(|t| t.contains("192.168.0.")), "{:?}", texts(data));
        let phases: Vec<&str> = doc
            .descendants()
            .filter(|n| has_class(n, "phase"))
            .map(|n| n.attribute("data-phase").unwrap())
            .collect();
        assert_eq!(phases.len(), l.bands.len());
        assert_eq!(phases[2], "login");
        let failure = doc.descendants().find(|n| has_class(n, "failure"));
        assert_eq!(failure.is_some(), !success);
        if let Some(f) = failure {
            assert_eq!(
                (f.attribute("data-phase"), f.attribute("data-reason")),
                (Some("data_connect"), Some("timeout"))
            );
            assert!(texts(&f).iter().any(|t| t.contains("cannot open connections back")));
            assert!(has_class(data, "broken") && has_class(data, "failed"));
            assert_eq!(data.attribute("data-arrived"), Some("false"));
            assert_eq!(data.descendants().filter(|n| has_class(n, "cross")).count(), 1);
            assert!(doc.descendants().any(|n| has_class(&n, "band") && has_class(&n, "failed")));
        }
        assert!(!svg.contains("hunter2"));
    }
}

#[test]
fn server_text_is_escaped_in_the_svg_and_it_still_parses() {
    let evil = "<script>alert(\"x\")</script> ' & \u{1b}[31m";
    let s = Session::new(Mode::Passive, "192.168.0.101:21", "192.168.0.203:50000")
        .span(Phase::Connect, 0, 1)
        .span(Phase::Banner, 1, 3)
        .recv(2, &format!("220 {evil}"))
        .span(Phase::Login, 3, 10)
        .sent(4, "USER monitor")
        .recv(9, &format!("530 {evil}"))
        .failed(9, Phase::Login, Reason::AuthFailed, "530", &format!("530 {evil}"));
    let o = s.outcome();
    let l = layout(&Check {
        target: "t<b>\"",
        address: "<i>host</i>:21",
        outcome: &o,
        transcript: &s.transcript,
        record: &s.record,
        diagnosis: Some(evil),
    });
    for svg in [svg::render(&l), svg::document("<title>", &[l.clone(), l.clone()], Some(evil))] {
        assert!(!svg.contains("<script") && !svg.contains("<b>") && !svg.contains("<i>"), "{svg}");
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert!(doc.descendants().all(|n| !n.has_tag_name("script")));
        let all: Vec<String> = texts(&doc.root());
        assert!(all.iter().any(|t| t.contains("220 <script>alert(\"x\")</script> ' &")), "{all:?}");
        assert!(all.iter().any(|t| t.contains("<i>host</i>:21")));
    }
}

#[test]
fn two_modes_side_by_side_in_one_document() {
    let (p, a) = (passive_ok().layout(None), active(false).layout(Some(DIAGNOSIS)));
    let svg = svg::document("seed: passive and active", &[p, a], Some(DIAGNOSIS));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let diagrams: Vec<_> = doc.descendants().filter(|n| has_class(n, "sd-diagram")).collect();
    assert_eq!(
        diagrams.iter().map(|n| n.attribute("data-mode").unwrap()).collect::<Vec<_>>(),
        ["passive", "active"]
    );
    let xs: Vec<&str> =
        diagrams.iter().map(|n| n.parent().unwrap().attribute("transform").unwrap()).collect();
    assert_eq!(xs, ["translate(0,30)", "translate(724,30)"]);
    assert!(texts(&doc.root()).iter().any(|t| t.starts_with("diagnosis: Active mode fails")));
}

#[test]
fn a_huge_session_stays_bounded() {
    let mut s = login(Session::new(Mode::Passive, "192.168.0.101:21", "192.168.0.203:50000"));
    for i in 0..400 {
        s = s.recv(9, &format!("230-line {i}"));
    }
    for i in 0..400 {
        s = s.note(9, "noise").sent(9, &format!("NOOP {i}"));
    }
    let l = s.layout(None);
    assert!(l.arrows.len() + l.notes.len() <= 140, "{}", l.arrows.len());
    assert!(svg::render(&l).len() < 200_000);
    assert!(arrow(&l, "230-line 0").details.iter().any(|d| d.starts_with("(+")), "one multi-line reply");
}
