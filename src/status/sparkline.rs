//! A target × mode's recent checks as a tiny inline SVG: one bar per
//! check, its height the check's duration, stacked by phase in the
//! diagrams' colours, a red cap on failed checks.
//!
//! One `<path>` per phase for all bars (not one element per bar segment),
//! so a sparkline costs about 2 KB of page however busy the history is.

use std::fmt::Write as _;

use super::diagram::phase_color;
use super::escape::escape;
use crate::check::Phase;
use crate::store::history::{History, CAPACITY};

const BAR: f64 = 3.0;
const STEP: f64 = 4.0;
const HEIGHT: f64 = 24.0;

pub fn render(h: &History) -> String {
    let width = STEP * CAPACITY as f64;
    let mut out = format!(
        "<svg class=\"spark\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {HEIGHT}\" \
         width=\"{width}\" height=\"{HEIGHT}\" data-checks=\"{}\" role=\"img\"",
        h.len()
    );
    if h.is_empty() {
        out.push_str(" aria-label=\"no checks yet\"><title>no checks yet</title></svg>");
        return out;
    }
    let max = h.iter().map(|s| s.duration().as_secs_f64()).fold(0.0, f64::max).max(1e-6);
    let failed = h.iter().filter(|s| !s.success()).count();
    let mut secs: Vec<f64> = h.iter().map(|s| s.duration().as_secs_f64()).collect();
    secs.sort_by(f64::total_cmp);
    let summary = format!(
        "last {} checks: {} ok, {failed} failed; median {:.3} s, slowest {:.3} s{}",
        h.len(),
        h.len() - failed,
        secs[secs.len() / 2],
        max,
        h.iter()
            .rev()
            .find_map(|s| s.failure())
            .map(|(p, r)| format!("; last failure {p}/{r}"))
            .unwrap_or_default()
    );
    let _ = write!(out, " aria-label=\"{0}\" data-failed=\"{failed}\"><title>{0}</title>", escape(&summary));
    // Bars right-aligned: the newest check is always at the right edge.
    let offset = (CAPACITY - h.len()) as f64 * STEP;
    let mut paths: Vec<(Phase, String)> = Vec::new();
    let mut caps = String::new();
    for (i, s) in h.iter().enumerate() {
        let x = offset + i as f64 * STEP;
        let total = (s.duration().as_secs_f64() / max * (HEIGHT - 2.0)).max(2.0);
        let mut y = HEIGHT;
        for (phase, share) in s.shares() {
            let seg = total * share;
            if seg < 0.05 {
                continue;
            }
            y -= seg;
            let d = match paths.iter_mut().find(|(p, _)| *p == phase) {
                Some((_, d)) => d,
                None => {
                    paths.push((phase, String::new()));
                    &mut paths.last_mut().expect("just pushed").1
                }
            };
            let _ = write!(d, "M{x} {y:.1}h{BAR}v{seg:.1}h-{BAR}z");
        }
        if !s.success() {
            let _ = write!(caps, "M{x} {:.1}h{BAR}v2h-{BAR}z", (HEIGHT - total - 2.0).max(0.0));
        }
    }
    paths.sort_by_key(|(p, _)| *p);
    for (phase, d) in paths {
        let _ = write!(out, "<path data-phase=\"{phase}\" fill=\"{}\" d=\"{d}\"/>", phase_color(phase));
    }
    if !caps.is_empty() {
        let _ = write!(out, "<path class=\"failed\" fill=\"#d00\" d=\"{caps}\"/>");
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Failure, Mode, Outcome, Reason};
    use crate::store::history::Sample;
    use std::time::Duration;

    fn sample(ms: u64, failed: bool) -> Sample {
        let failure = failed.then(|| Failure::new(Phase::Transfer, Reason::Timeout, "", "x"));
        let half = Duration::from_millis(ms / 2);
        Sample::from_outcome(&Outcome {
            phases: vec![(Phase::Login, half), (Phase::Transfer, half)],
            ..Outcome::for_test(Mode::Passive, Duration::from_millis(ms), failure)
        })
    }

    #[test]
    fn bars_are_stacked_by_phase_and_failures_capped() {
        let mut h = History::default();
        assert!(render(&h).contains("no checks yet"));
        for i in 0..40 {
            h.push(sample(10 + i, i == 39));
        }
        let svg = render(&h);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("data-checks"), Some("32"));
        assert_eq!(root.attribute("data-failed"), Some("1"));
        let phases: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("data-phase")).collect();
        assert_eq!(phases, ["login", "transfer"]);
        let login = doc.descendants().find(|n| n.attribute("data-phase") == Some("login")).unwrap();
        assert_eq!(login.attribute("d").unwrap().matches('M').count(), 32, "one segment per check");
        assert_eq!(doc.descendants().filter(|n| n.attribute("class") == Some("failed")).count(), 1);
        assert!(root.attribute("aria-label").unwrap().contains("31 ok, 1 failed; median"));
        assert!(svg.len() < 4096, "{}", svg.len());
    }
}
