//! What people read: the status page, the per-target diagram page and the
//! transcript views, rendered from the store. Banners and reply texts are
//! chosen by the FTP server, target names and labels by whoever writes the
//! config: every one of them is escaped before it reaches HTML or SVG
//! (docs/security.md, [`escape`]), and every page is served with a
//! Content-Security-Policy that runs no script but the page's own
//! ([`script`]).

pub mod diagram;
pub mod escape;
mod html;
mod page;
pub mod script;
pub mod session;
mod sparkline;

use std::fmt::Write as _;

pub use escape::escape;
pub use page::{grid, render, DEFAULT_REFRESH, DEFAULT_ROWS};
pub use script::content_security_policy;

use crate::check::{Outcome, Transcript};

/// The transcript (PASS already masked by [`Transcript`]), per-phase
/// timings and the summary line. `transcript`: `None` when the store no
/// longer keeps it (a success older than the last N).
pub fn transcript_text(o: &Outcome, transcript: Option<&Transcript>) -> String {
    let mut out = match transcript {
        Some(t) => t.to_string(),
        None => "(transcript not kept: the exporter keeps the transcripts of failing checks and of the \
                 most recent successful ones; /probe?debug=true runs a check and shows its own)\n"
            .to_string(),
    };
    out.push('\n');
    for (phase, d) in &o.phases {
        let _ = writeln!(out, "{:>13} {:.3}s", phase.as_str(), d.as_secs_f64());
    }
    out.push_str(&o.summary());
    out.push('\n');
    out
}
