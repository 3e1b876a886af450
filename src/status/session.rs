//! The page of one target: each mode's last check as a sequence diagram,
//! side by side, so "passive works, active does not" is one glance; under
//! each diagram its transcript. Served by `/transcript` to browsers and by
//! `/probe?debug=true` when the client asks for HTML.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::diagram::{self, Check};
use super::escape::{escape, query_value};
use super::html::{self, ago};
use crate::check::{Mode, Outcome};
use crate::config::Target;
use crate::store::{Kept, Source};

/// One mode's column.
pub struct ModeView<'a> {
    pub mode: Mode,
    /// The last check; `None`: none yet.
    pub outcome: Option<&'a Outcome>,
    /// Its transcript and session record, while the store keeps them.
    pub kept: Option<&'a Kept>,
    pub source: Source,
}

/// `title`: what the page shows (`last checks`, `probe`).
pub fn render(
    target: &Target,
    views: &[ModeView],
    diagnosis: Option<&str>,
    selected: Option<Mode>,
    title: &str,
) -> String {
    let now = SystemTime::now();
    let q = query_value(&target.name);
    let mut b = String::new();
    let _ = write!(
        b,
        "<header><div><a href=\"./\">← status</a></div><h1>{name} <small>{title}</small></h1>\
         <div class=\"addr\">{addr} · tls {tls}{labels}</div>",
        name = escape(&target.name),
        title = escape(title),
        addr = escape(&target.address),
        tls = target.tls,
        labels = if target.labels.is_empty() {
            String::new()
        } else {
            let l: Vec<String> = target.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(" · {}", escape(&l.join(", ")))
        },
    );
    match diagnosis {
        Some(d) => {
            let _ = write!(b, "<p class=\"diag\" id=\"diagnosis\">{}</p>", escape(d));
        }
        None => b.push_str("<p class=\"meta\" id=\"diagnosis\">No diagnosis: nothing looks wrong.</p>"),
    }
    b.push_str("</header>\n<main class=\"modes\">");
    for v in views {
        column(&mut b, target, v, diagnosis, selected == Some(v.mode), &q, now);
    }
    b.push_str("</main>\n");
    html::page(&format!("{} — ftp_exporter", target.name), "", &b, false)
}

fn column(
    b: &mut String,
    target: &Target,
    v: &ModeView,
    diagnosis: Option<&str>,
    selected: bool,
    q: &str,
    now: SystemTime,
) {
    let mode = v.mode;
    let _ = write!(
        b,
        "<section class=\"mode{}\" id=\"{mode}\" data-mode=\"{mode}\">",
        if selected { " selected" } else { "" }
    );
    let probe = format!("<a href=\"probe?target={q}&amp;mode={mode}&amp;debug=true\">check now</a>");
    let Some(o) = v.outcome else {
        let _ = write!(b, "<h2>{mode} mode: no check yet</h2><p class=\"meta\">{probe}</p></section>");
        return;
    };
    let _ = write!(
        b,
        "<h2>{}</h2><p class=\"meta\">{} check, ended {} ({}) · <a href=\"transcript?target={q}&amp;mode={mode}&amp;format=text\">text</a> · {probe}</p>",
        escape(&o.summary()),
        if v.source == Source::Probe { "on-demand" } else { "scheduled" },
        ago(o.finished_at, now),
        humantime::format_rfc3339_seconds(o.finished_at),
    );
    match v.kept {
        Some(k) => {
            let check = Check {
                target: &target.name,
                address: &target.address,
                outcome: o,
                transcript: k.transcript(),
                record: k.record(),
                diagnosis,
            };
            b.push_str(&diagram::render(&check));
            let _ = write!(
                b,
                "<details><summary>transcript</summary><pre>{}</pre></details>",
                escape(&super::transcript_text(o, Some(k.transcript())))
            );
        }
        None => {
            let _ = write!(
                b,
                "<p class=\"meta\">The diagram of this check is not kept: the exporter keeps the details of \
                 failing checks and of the most recent successful ones. {probe} to draw a new one.</p><pre>{}</pre>",
                escape(&super::transcript_text(o, None))
            );
        }
    }
    b.push_str("</section>");
}
