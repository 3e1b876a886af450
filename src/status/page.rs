//! The status page: a grid of targets × modes from the store — state,
//! failing phase and reason, age of the last check, a sparkline of recent
//! checks, the diagnosis in words, links to the diagrams. Every string from
//! a server or the config is escaped; links are percent-encoded and
//! relative (the page works behind a path-prefixing proxy).
//!
//! The rows alone are also served as `/grid`, which the page's script
//! fetches to refresh in place, keeping scroll position and filter.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::escape::{escape, query_value};
use super::html::{self, ago, unix};
use super::sparkline;
use crate::check::Mode;
use crate::store::{Entry, Targets};

/// Seconds between refreshes of the grid, unless `?refresh=N` says otherwise.
pub const DEFAULT_REFRESH: u64 = 10;

/// Target rows on the page, unless `?limit=N` says otherwise: a row with
/// its sparklines is about 5 KB, and a page refreshed every 10 s must stay
/// cheap with ten thousand targets. The rows shown are the ones that need
/// looking at first: down, then pending, then up, each by name.
pub const DEFAULT_ROWS: usize = 500;

/// The whole page; `refresh`: seconds between in-place refreshes; `limit`: target rows at most.
pub fn render(targets: &Targets, telemetry_path: &str, refresh: u64, limit: usize) -> String {
    let now = SystemTime::now();
    let mut b = String::new();
    let _ = write!(
        b,
        "<header><h1>ftp_exporter <small>{version}</small></h1>\
         <div><a href=\"{metrics}\">Metrics</a> · <span id=\"summary\">{summary}</span></div>\
         <div class=\"controls\" role=\"group\" aria-label=\"filter and sort\">Show \
         <button type=\"button\" data-filter=\"all\" aria-pressed=\"true\">all</button>\
         <button type=\"button\" data-filter=\"down\" aria-pressed=\"false\">down</button>\
         <button type=\"button\" data-filter=\"pending\" aria-pressed=\"false\">pending</button>\
         <button type=\"button\" data-filter=\"up\" aria-pressed=\"false\">up</button>\
         <label>sort <select id=\"sort\"><option value=\"name\">by name</option>\
         <option value=\"state\">down first</option><option value=\"age\">oldest check first</option>\
         <option value=\"duration\">slowest first</option></select></label>\
         <span id=\"updated\"></span></div></header>\n<main>\
         <table class=\"grid\"><thead><tr><th>target</th><th>passive</th><th>active</th></tr></thead>\
         <tbody id=\"rows\">",
        version = env!("CARGO_PKG_VERSION"),
        metrics = escape(telemetry_path),
        summary = summary(targets),
    );
    b.push_str(&grid(targets, now, limit));
    b.push_str(
        "</tbody></table><noscript><p>Without JavaScript this page neither filters, sorts nor \
         refreshes itself: reload it.</p></noscript></main>\n",
    );
    html::page("ftp_exporter", &format!(" data-refresh=\"{}\"", refresh.clamp(1, 3600)), &b, true)
}

fn summary(targets: &Targets) -> String {
    let (mut up, mut down, mut pending) = (0, 0, 0);
    for e in targets.values() {
        match row_state(e) {
            State::Up => up += 1,
            State::Down => down += 1,
            State::Pending => pending += 1,
        }
    }
    format!("{} targets: {down} down, {pending} pending, {up} up", targets.len())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Down,
    Pending,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Down => "down",
            State::Pending => "pending",
        }
    }

    /// Sort weight: down first.
    fn severity(self) -> u8 {
        match self {
            State::Down => 2,
            State::Pending => 1,
            State::Up => 0,
        }
    }
}

/// A target is down when any mode is, up when every mode is.
fn row_state(e: &Entry) -> State {
    let r = e.results();
    let states: Vec<Option<bool>> =
        e.target.modes.iter().map(|m| r.mode(*m).last.as_ref().map(|o| o.success())).collect();
    if states.contains(&Some(false)) {
        State::Down
    } else if states.contains(&None) {
        State::Pending
    } else {
        State::Up
    }
}

/// The rows (`/grid`): at most `limit` targets, those that need looking at
/// first (down, pending, up; by name within each), in name order; and a
/// hidden row with the server's clock (for the script's ages) and the
/// counts over all targets (for its summary when rows are left out).
pub fn grid(targets: &Targets, now: SystemTime, limit: usize) -> String {
    let mut chosen: Vec<(u8, &String, &std::sync::Arc<Entry>)> =
        targets.iter().map(|(n, e)| (row_state(e).severity(), n, e)).collect();
    let (mut down, mut pending) = (0, 0);
    for (sev, _, _) in &chosen {
        match sev {
            2 => down += 1,
            1 => pending += 1,
            _ => {}
        }
    }
    let total = chosen.len();
    if total > limit {
        chosen.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        chosen.truncate(limit);
        chosen.sort_by(|a, b| a.1.cmp(b.1));
    }
    let mut h = format!(
        "<tr id=\"grid-now\" hidden data-now=\"{}\" data-total=\"{total}\" data-down=\"{down}\" \
         data-pending=\"{pending}\" data-up=\"{}\" data-rows=\"{}\"><td></td></tr>",
        unix(now),
        total - down - pending,
        chosen.len()
    );
    for (_, name, entry) in chosen {
        row(&mut h, name, entry, now);
    }
    h
}

fn row(h: &mut String, name: &str, entry: &Entry, now: SystemTime) {
    let results = entry.results();
    let state = row_state(entry);
    let lasts: Vec<_> = entry.target.modes.iter().filter_map(|m| results.mode(*m).last.clone()).collect();
    let oldest = lasts.iter().map(|o| unix(o.finished_at)).min().unwrap_or(0);
    let slowest = lasts.iter().map(|o| o.duration.as_secs_f64()).fold(0.0, f64::max);
    let q = query_value(name);
    let _ = write!(
        h,
        "\n<tr class=\"target\" data-name=\"{n}\" data-state=\"{s}\" data-severity=\"{sev}\" data-oldest=\"{oldest}\" \
         data-slowest=\"{slowest:.6}\"><td><div class=\"name\">{n}</div><div class=\"addr\">{addr} · tls {tls}</div>{clear}",
        n = escape(name),
        s = state.as_str(),
        sev = state.severity(),
        addr = escape(&entry.target.address),
        tls = entry.target.tls,
        clear = html::cleartext_mark(&entry.target),
    );
    if !entry.target.labels.is_empty() {
        let labels: Vec<String> = entry.target.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(h, "<div class=\"labels\">{}</div>", escape(&labels.join(", ")));
    }
    if let Some(d) = &results.diagnosis {
        let _ = write!(h, "<p class=\"diag\">{}</p>", escape(d));
    }
    let _ = write!(h, "<div class=\"links\"><a href=\"transcript?target={q}\">both diagrams</a></div></td>");
    for mode in Mode::ALL {
        cell(h, entry, &results, *mode, &q, now);
    }
    h.push_str("</tr>");
}

fn cell(
    h: &mut String,
    entry: &Entry,
    results: &crate::store::Results,
    mode: Mode,
    q: &str,
    now: SystemTime,
) {
    if !entry.target.modes.contains(&mode) {
        let _ = write!(h, "<td class=\"cell none\" data-mode=\"{mode}\">not checked</td>");
        return;
    }
    let m = results.mode(mode);
    let outcome = m.last.as_deref();
    let (class, badge) = match outcome.map(|o| o.success()) {
        Some(true) => ("up", "UP"),
        Some(false) => ("down", "DOWN"),
        None => ("pending", "PENDING"),
    };
    let _ = write!(h, "<td class=\"cell {class}\" data-mode=\"{mode}\"><span class=\"badge\">{badge}</span>");
    if let Some(f) = outcome.and_then(|o| o.failure.as_ref()) {
        let code = if f.code.is_empty() { String::new() } else { format!(" / {}", escape(&f.code)) };
        let _ = write!(
            h,
            "<span class=\"why\" title=\"{msg}\"><span class=\"phase\">{}</span> / <span class=\"reason\">{}</span>{code}</span>",
            f.phase,
            f.reason,
            msg = escape(&f.message),
        );
    }
    if let Some(o) = outcome {
        let _ = write!(
            h,
            "<div class=\"meta\">{secs:.3} s · <span data-at=\"{at}\" title=\"{rfc}\">{ago}</span>{probe}</div>",
            secs = o.duration.as_secs_f64(),
            at = unix(o.finished_at),
            rfc = humantime::format_rfc3339_seconds(o.finished_at),
            ago = ago(o.finished_at, now),
            probe = if m.source == crate::store::Source::Probe { " · by /probe" } else { "" },
        );
        if o.passive_address_mismatch == Some(true) {
            h.push_str("<div class=\"meta mismatch\">⚠ 227 advertises another address</div>");
        }
    } else {
        h.push_str("<div class=\"meta\">no check yet</div>");
    }
    h.push_str(&sparkline::render(&m.history));
    let link_q = format!("target={q}&amp;mode={mode}");
    h.push_str("<div class=\"links\">");
    if outcome.is_some() {
        let _ = write!(
            h,
            "<a href=\"transcript?{link_q}#{mode}\">diagram</a> · <a href=\"transcript?{link_q}&amp;format=text\">text</a> · "
        );
    }
    let _ = write!(h, "<a href=\"probe?{link_q}&amp;debug=true\">check now</a></div></td>");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::check::{Failure, Mode, Outcome, Phase, Reason, Transcript};
    use crate::store::{Store, StoreOptions};

    const EVIL: &str = "<script>alert('x')</script>\"&";

    fn outcome(failure: Option<Failure>) -> Outcome {
        let mut transcript = Transcript::new();
        transcript.received(Duration::ZERO, &format!("220 {EVIL}"));
        Outcome {
            finished_at: SystemTime::now() - Duration::from_secs(42),
            phases: vec![(Phase::Banner, Duration::from_millis(3))],
            transcript,
            ..Outcome::for_test(Mode::Passive, Duration::from_millis(3), failure)
        }
    }

    #[test]
    fn hostile_strings_are_escaped() {
        let failure = Failure::new(Phase::Banner, Reason::ProtocolError, EVIL, format!("bad banner {EVIL}"));
        // Names and addresses the config loader would refuse, to test the page alone.
        let mut t =
            crate::config::Config::parse("targets: [{ name: t, address: 127.0.0.1 }]", "t.yml".as_ref())
                .unwrap()
                .targets;
        t[0].name = format!("t{EVIL}");
        t[0].address = EVIL.into();
        t[0].labels.insert("team".into(), EVIL.into());
        let store = Store::new(StoreOptions::default(), |_| Some(EVIL.to_string()));
        store.apply(t, &[]);
        store.record(
            &store.get(&format!("t{EVIL}")).unwrap(),
            outcome(Some(failure)),
            crate::store::Source::Schedule,
        );
        let html = render(&store.targets(), "/metrics", DEFAULT_REFRESH, DEFAULT_ROWS);
        let without_script = html.replace(super::super::script::SCRIPT, "");
        assert_eq!(without_script.matches("<script").count(), 1, "only the page's own script element");
        assert!(!without_script.contains("alert('x')"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"));
        assert!(html.contains("target=t%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E%22%26&amp;mode=passive"));
        assert!(
            html.contains("<td class=\"cell pending\" data-mode=\"active\"><span class=\"badge\">PENDING")
        );
        assert!(html.contains("data-state=\"down\""), "passive is down, so the target is");
        assert!(html.contains("42 s ago"), "{html}");
    }

    #[test]
    fn a_target_is_down_when_one_mode_is_and_counts_add_up() {
        let t = crate::config::Config::parse(
            "targets: [{ name: a, address: 127.0.0.1 }, { name: b, address: 127.0.0.1, modes: [active] }]",
            "t.yml".as_ref(),
        )
        .unwrap()
        .targets;
        let store = Store::new(StoreOptions::default(), |_| None);
        store.apply(t, &[]);
        let a = store.get("a").unwrap();
        store.record(&a, outcome(None), crate::store::Source::Schedule);
        let html = render(&store.targets(), "/metrics", 3, DEFAULT_ROWS);
        assert!(html.contains("2 targets: 0 down, 2 pending, 0 up"), "{html}");
        assert!(html.contains("data-refresh=\"3\""));
        assert!(
            html.contains("<td class=\"cell none\" data-mode=\"passive\">not checked</td>"),
            "b is active only"
        );
        let mut failed = outcome(Some(Failure::new(Phase::Banner, Reason::Timeout, "", "timed out")));
        failed.mode = Mode::Active;
        store.record(&a, failed, crate::store::Source::Probe);
        let rows = grid(&store.targets(), SystemTime::now(), DEFAULT_ROWS);
        assert!(rows.starts_with("<tr id=\"grid-now\" hidden data-now=\""));
        assert!(rows.contains("data-name=\"a\" data-state=\"down\" data-severity=\"2\""), "{rows}");
        assert!(rows
            .contains("<span class=\"phase\">banner</span> / <span class=\"reason\">timeout</span></span>"));
        assert!(rows.contains("· by /probe"));
        assert_eq!(rows.matches("<svg class=\"spark\"").count(), 3, "a: two modes, b: one");
    }

    #[test]
    fn a_big_fleet_shows_what_needs_looking_at_first() {
        let yaml: String = (0..6).map(|i| format!("  - {{ name: t{i}, address: 127.0.0.1 }}\n")).collect();
        let t = crate::config::Config::parse(&format!("targets:\n{yaml}"), "t.yml".as_ref()).unwrap().targets;
        let store = Store::new(StoreOptions::default(), |_| None);
        store.apply(t, &[]);
        // t4 down, t1 up, the others pending.
        let failed = || outcome(Some(Failure::new(Phase::Login, Reason::AuthFailed, "530", "no")));
        store.record(&store.get("t4").unwrap(), failed(), crate::store::Source::Schedule);
        for mode in [Mode::Passive, Mode::Active] {
            let mut ok = outcome(None);
            ok.mode = mode;
            store.record(&store.get("t1").unwrap(), ok, crate::store::Source::Schedule);
        }
        let rows = grid(&store.targets(), SystemTime::now(), 3);
        let names: Vec<&str> =
            rows.split("data-name=\"").skip(1).map(|r| r.split('"').next().unwrap()).collect();
        assert_eq!(names, ["t0", "t2", "t4"], "down first, then pending, shown by name; up left out");
        assert!(
            rows.contains(
                "data-total=\"6\" data-down=\"1\" data-pending=\"4\" data-up=\"1\" data-rows=\"3\""
            ),
            "{rows}"
        );
    }

    #[test]
    fn targets_sending_a_password_in_clear_are_marked() {
        let text = "targets:
  - { name: plain, address: h, username: u, password: p }
  - { name: ftps, address: h, username: u, password: p, tls: explicit }
  - { name: anon, address: h }
";
        let targets = crate::config::Config::parse(text, "t.yml".as_ref()).unwrap().targets;
        let store = Store::new(StoreOptions::default(), |_| None);
        store.apply(targets, &[]);
        let rows = grid(&store.targets(), SystemTime::now(), 100);
        let marked: Vec<&str> = rows
            .split("<tr class=\"target\"")
            .filter(|r| r.contains("class=\"cleartext\""))
            .filter_map(|r| r.split("data-name=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(marked, ["plain"], "{rows}");
    }
}
