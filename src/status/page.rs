//! The status page: every target × mode from the store, escaped, links
//! percent-encoded. No scripts, no external assets.

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::store::Targets;

/// HTML-escapes text for element content and double- or single-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn time(t: Option<SystemTime>) -> String {
    t.map(|t| humantime::format_rfc3339_seconds(t).to_string()).unwrap_or_else(|| "never".into())
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
.up{background:#d8f5d8}.down{background:#f8d7d7}.pending{background:#eee}.diag{font-style:italic}";

pub fn render(targets: &Targets, telemetry_path: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"30\">\
         <title>ftp_exporter</title><style>{STYLE}</style></head><body>\n<h1>ftp_exporter {}</h1>\n\
         <p><a href=\"{}\">Metrics</a> · {} targets</p>\n<table>\n<tr><th>target</th><th>mode</th><th>state</th>\
         <th>phase</th><th>reason</th><th>code</th><th>message</th><th>duration</th><th>last check</th>\
         <th>last success</th><th>transcript</th></tr>\n",
        env!("CARGO_PKG_VERSION"),
        escape(telemetry_path),
        targets.len()
    );
    for (name, entry) in targets {
        let results = entry.results();
        for mode in &entry.target.modes {
            let last = results.mode(*mode);
            let outcome = last.last.as_deref();
            let (class, state) = match outcome.map(|o| o.success()) {
                Some(true) => ("up", "up"),
                Some(false) => ("down", "down"),
                None => ("pending", "pending"),
            };
            let failure = outcome.and_then(|o| o.failure.as_ref());
            let link_q = format!("target={}&amp;mode={}", query_value(name), mode.as_str());
            let _ = write!(
                h,
                "<tr class=\"{class}\"><td title=\"{}\">{}</td><td>{}</td><td>{state}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>",
                escape(&entry.target.address),
                escape(name),
                mode.as_str(),
                failure.map(|f| f.phase.as_str()).unwrap_or(""),
                failure.map(|f| f.reason.as_str()).unwrap_or(""),
                escape(failure.map(|f| f.code.as_str()).unwrap_or("")),
                escape(failure.map(|f| f.message.as_str()).unwrap_or("")),
                outcome.map(|o| format!("{:.3}s", o.duration.as_secs_f64())).unwrap_or_default(),
                time(outcome.map(|o| o.finished_at)),
                time(last.last_success),
            );
            if outcome.is_some() {
                let _ = write!(h, "<a href=\"/transcript?{link_q}\">last</a> · ");
            }
            let _ = writeln!(h, "<a href=\"/probe?{link_q}&amp;debug=true\">check now</a></td></tr>");
        }
        if let Some(d) = &results.diagnosis {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td colspan=\"10\" class=\"diag\">{}</td></tr>",
                escape(name),
                escape(d)
            );
        }
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::check::{Failure, Mode, Outcome, Phase, Reason, Transcript};
    use crate::store::{Store, StoreOptions};

    const EVIL: &str = "<script>alert('x')</script>\"&";

    #[test]
    fn hostile_strings_are_escaped() {
        let mut transcript = Transcript::new();
        transcript.received(Duration::ZERO, &format!("220 {EVIL}"));
        let outcome = Outcome {
            mode: Mode::Passive,
            finished_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_millis(3),
            phases: vec![],
            failure: Some(Failure::new(
                Phase::Banner,
                Reason::ProtocolError,
                EVIL,
                format!("bad banner {EVIL}"),
            )),
            bytes: vec![],
            passive_address_mismatch: None,
            passive_advertised: None,
            tls: None,
            control_peer: None,
            control_local: None,
            transcript,
            record: Default::default(),
        };
        // Names and addresses the config loader would refuse, to test the page alone.
        let mut t =
            crate::config::Config::parse("targets: [{ name: t, address: 127.0.0.1 }]", "t.yml".as_ref())
                .unwrap()
                .targets;
        t[0].name = format!("t{EVIL}");
        t[0].address = EVIL.into();
        let store = Store::new(StoreOptions::default(), |_| Some(EVIL.to_string()));
        store.apply(t, &[]);
        store.record(&store.get(&format!("t{EVIL}")).unwrap(), outcome, crate::store::Source::Schedule);
        let html = render(&store.targets(), "/metrics");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("alert('x')"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"));
        assert!(html.contains("target=t%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E%22%26&amp;mode=passive"));
        assert!(html.contains("<td>pending</td>"), "active mode has not run yet");
    }
}
