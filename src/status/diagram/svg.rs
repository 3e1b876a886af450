//! A [`Layout`] as SVG text: self-contained (its own `<style>`, no
//! scripts, no external references), every string escaped, every element
//! carrying classes and `data-` attributes that say what it stands for, so
//! tests (and people with devtools) read the structure, not the pixels.
//!
//! Long texts are cut to fit; the full text is in a `<title>` (a tooltip).

use std::fmt::Write as _;

use super::layout::{Arrow, ArrowKind, Band, FailureMark, Layout, EXPORTER_X, SERVER_X, WIDTH};
use super::phase_color;
use crate::status::escape::{escape, fit};

/// Characters of an arrow's label or detail line (monospace, between the lifelines).
const LABEL_CHARS: usize = 66;
const FAILURE_CHARS: usize = 96;
const HEAD: f64 = 8.0;

/// The diagrams' stylesheet, scoped to `svg.sd`; the status pages use it too.
pub const STYLE: &str = "svg.sd{font-family:ui-sans-serif,system-ui,sans-serif;font-size:11px;background:#fff}\
svg.sd .heading{font-size:14px;font-weight:bold}svg.sd .heading.ok{fill:#14632a}svg.sd .heading.bad{fill:#a11}\
svg.sd .band{fill-opacity:.13}svg.sd .band.failed{fill:#d22;fill-opacity:.18}\
svg.sd .band-label{font-size:10px;fill:#444}svg.sd .band-duration{font-size:10px;fill:#777}\
svg.sd .lifeline-line{stroke:#888;stroke-width:1.5}svg.sd .lifeline-head{fill:#eef2f7;stroke:#557}\
svg.sd .lifeline-title{font-weight:bold}svg.sd .lifeline-address{font-size:10px;fill:#555}\
svg.sd .arrow-line{stroke:#234;stroke-width:1.3;fill:none}svg.sd .head{fill:#234}\
svg.sd .reply .arrow-line{stroke:#356}svg.sd .connect .arrow-line{stroke:#555}\
svg.sd .tls .arrow-line{stroke:#6a3d9a;stroke-width:2}svg.sd .tls .head{fill:#6a3d9a}\
svg.sd .data .arrow-line{stroke:#0a6ebd;stroke-width:2;stroke-dasharray:7 4}svg.sd .data .head{fill:#0a6ebd}\
svg.sd .failed .arrow-line{stroke:#c00}svg.sd .failed .head{fill:#c00}svg.sd .failed .arrow-label{fill:#c00}\
svg.sd .not-opened .arrow-line{stroke:#999}svg.sd .cross{stroke:#c00;stroke-width:2.5}\
svg.sd .arrow-label{font-family:ui-monospace,monospace;font-size:11px;fill:#111}\
svg.sd .arrow-detail{font-family:ui-monospace,monospace;font-size:10px;fill:#0a5a9a}\
svg.sd .mismatch .arrow-detail.mark{fill:#b35c00;font-weight:bold}\
svg.sd .time{font-size:10px;fill:#777;font-family:ui-monospace,monospace}\
svg.sd .note{font-size:10px;fill:#666;font-style:italic}\
svg.sd .failure-box{fill:#fff1f1;stroke:#c00}svg.sd .failure-title{fill:#c00;font-weight:bold;font-size:12px}\
svg.sd .failure-line{fill:#511;font-size:11px}svg.sd .omitted{fill:#777;font-style:italic}";

/// One diagram as a standalone SVG document.
pub fn render(l: &Layout) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sd\" data-mode=\"{mode}\" data-success=\"{ok}\" \
         viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{label}\">\
         <title>{label}</title><style>{STYLE}</style>",
        mode = l.mode,
        ok = l.success,
        w = WIDTH,
        h = l.height.ceil(),
        label = escape(&format!("{}: {}", l.target, l.heading)),
    );
    group(l, &mut out);
    out.push_str("</svg>\n");
    out
}

/// Several diagrams side by side (passive and active of one target) in one
/// SVG document, with a title line and the diagnosis under them.
pub fn document(title: &str, layouts: &[Layout], diagnosis: Option<&str>) -> String {
    const GAP: f64 = 24.0;
    const TITLE: f64 = 30.0;
    let diag = diagnosis.map(|d| super::layout::wrap(d, 140, 8)).unwrap_or_default();
    let n = layouts.len().max(1) as f64;
    let width = n * WIDTH + (n - 1.0) * GAP;
    let tallest = layouts.iter().map(|l| l.height).fold(0.0, f64::max);
    let height = TITLE + tallest + if diag.is_empty() { 0.0 } else { 20.0 + 15.0 * diag.len() as f64 };
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sd sd-document\" viewBox=\"0 0 {width} {h}\" \
         width=\"{width}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title><style>{STYLE}</style>\
         <rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{h}\" fill=\"#fff\"/>\
         <text class=\"heading\" x=\"12\" y=\"20\">{t}</text>",
        h = height.ceil(),
        t = escape(title),
    );
    for (i, l) in layouts.iter().enumerate() {
        let x = i as f64 * (WIDTH + GAP);
        let _ = write!(out, "<g transform=\"translate({x},{TITLE})\">");
        group(l, &mut out);
        out.push_str("</g>");
    }
    if !diag.is_empty() {
        let y0 = TITLE + tallest + 18.0;
        out.push_str("<g class=\"diagnosis\">");
        for (i, line) in diag.iter().enumerate() {
            let prefix = if i == 0 { "diagnosis: " } else { "" };
            let _ = write!(
                out,
                "<text class=\"failure-line\" x=\"12\" y=\"{}\">{}{}</text>",
                y0 + 15.0 * i as f64,
                prefix,
                escape(line)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>\n");
    out
}

/// One diagram's elements, in its own coordinates.
fn group(l: &Layout, out: &mut String) {
    let _ = write!(out, "<g class=\"sd-diagram\" data-mode=\"{}\" data-success=\"{}\">", l.mode, l.success);
    let _ =
        write!(out, "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{}\" fill=\"#fff\"/>", l.height.ceil());
    let _ = write!(
        out,
        "<text class=\"heading {}\" x=\"10\" y=\"20\">{}{}</text>",
        if l.success { "ok" } else { "bad" },
        escape(&l.heading),
        if l.mismatch { " · ⚠ 227 address mismatch" } else { "" }
    );
    out.push_str("<g class=\"bands\">");
    for b in &l.bands {
        band(b, out);
    }
    out.push_str("</g>");
    lifelines(l, out);
    out.push_str("<g class=\"rows\">");
    for n in &l.notes {
        let _ = write!(
            out,
            "<g class=\"note-row\"><text class=\"time\" x=\"8\" y=\"{y}\">{t}</text>\
             <text class=\"note\" x=\"{x}\" y=\"{y}\">{text}</text></g>",
            y = n.y,
            t = time(n.at),
            x = EXPORTER_X + 8.0,
            text = escape(&fit(&format!("* {}", n.text), LABEL_CHARS + 8)),
        );
    }
    for a in &l.arrows {
        arrow(a, out);
    }
    out.push_str("</g>");
    if let Some(f) = &l.failure {
        failure(f, out);
    }
    if l.omitted > 0 {
        let _ = write!(
            out,
            "<text class=\"omitted\" x=\"10\" y=\"{}\">… {} rows left out (see the transcript)</text>",
            l.height - 8.0,
            l.omitted
        );
    }
    out.push_str("</g>");
}

fn time(at: std::time::Duration) -> String {
    format!("+{:.3}s", at.as_secs_f64())
}

fn millis(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.3} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

fn band(b: &Band, out: &mut String) {
    let h = (b.y1 - b.y0).max(1.0);
    let class = if b.failed { "band failed" } else { "band" };
    let _ = write!(
        out,
        "<g class=\"phase\" data-phase=\"{p}\" data-duration=\"{d:.6}\"><title>{p} {ms}</title>\
         <rect class=\"{class}\" fill=\"{color}\" x=\"0\" y=\"{y0}\" width=\"{WIDTH}\" height=\"{h}\"/>\
         <text class=\"band-label\" x=\"{x}\" y=\"{ly}\">{p}</text>\
         <text class=\"band-duration\" x=\"{x}\" y=\"{dy}\">{ms}</text></g>",
        p = b.phase,
        d = b.duration().as_secs_f64(),
        ms = millis(b.duration()),
        color = phase_color(b.phase),
        y0 = b.y0,
        x = SERVER_X + 12.0,
        ly = b.y0 + 11.0,
        dy = b.y0 + 22.0,
    );
}

fn lifelines(l: &Layout, out: &mut String) {
    const HEAD_Y: f64 = 32.0;
    const HEAD_H: f64 = 40.0;
    const HEAD_W: f64 = 220.0;
    out.push_str("<g class=\"lifelines\">");
    for line in [&l.exporter, &l.server] {
        let x = line.side.x();
        let _ = write!(
            out,
            "<g class=\"lifeline {s}\" data-side=\"{s}\">\
             <line class=\"lifeline-line\" x1=\"{x}\" y1=\"{y1}\" x2=\"{x}\" y2=\"{y2}\"/>\
             <rect class=\"lifeline-head\" x=\"{rx}\" y=\"{HEAD_Y}\" width=\"{HEAD_W}\" height=\"{HEAD_H}\" rx=\"4\"/>\
             <text class=\"lifeline-title\" text-anchor=\"middle\" x=\"{x}\" y=\"{ty}\">{title}</text>\
             <text class=\"lifeline-address\" text-anchor=\"middle\" x=\"{x}\" y=\"{ay}\">{addr}</text></g>",
            s = line.side.as_str(),
            y1 = HEAD_Y + HEAD_H,
            y2 = l.height - 10.0,
            rx = x - HEAD_W / 2.0,
            ty = HEAD_Y + 16.0,
            ay = HEAD_Y + 31.0,
            title = escape(&fit(&line.title, 34)),
            addr = escape(&fit(line.address.as_deref().unwrap_or("not connected"), 40)),
        );
    }
    out.push_str("</g>");
}

fn arrow(a: &Arrow, out: &mut String) {
    let (x1, x2) = (a.from.x(), a.to().x());
    let dir = if x2 > x1 { 1.0 } else { -1.0 };
    // A broken arrow stops halfway, at a cross: it never reached the other side.
    let end = if a.arrived { x2 - dir * 2.0 } else { (x1 + x2) / 2.0 };
    let mut class = vec!["arrow", a.kind.as_str()];
    if a.failed {
        class.push("failed");
    }
    if !a.arrived {
        class.push(if a.failed { "broken" } else { "not-opened" });
    }
    if a.mismatch {
        class.push("mismatch");
    }
    let mut full = a.label.clone();
    for d in &a.details {
        full.push_str(" · ");
        full.push_str(d);
    }
    let y = a.y;
    let _ = write!(
        out,
        "<g class=\"{class}\" data-kind=\"{kind}\" data-from=\"{from}\" data-to=\"{to}\" data-at=\"{at:.6}\" \
         data-arrived=\"{arrived}\"><title>{title}</title>\
         <text class=\"time\" x=\"8\" y=\"{ty}\">{time}</text>\
         <line class=\"arrow-line\" x1=\"{x1}\" y1=\"{y}\" x2=\"{end}\" y2=\"{y}\"{dash}/>",
        class = class.join(" "),
        kind = a.kind.as_str(),
        from = a.from.as_str(),
        to = a.to().as_str(),
        at = a.at.as_secs_f64(),
        arrived = a.arrived,
        title = escape(&full),
        ty = y + 3.5,
        time = time(a.at),
        // Data connections are dashed, as in the troubleshooting note's pictures.
        dash = if a.kind == ArrowKind::Data { " stroke-dasharray=\"7 4\"" } else { "" },
    );
    if a.arrived {
        head(out, end, y, dir);
        if a.kind == ArrowKind::Tls {
            head(out, x1 + dir * 2.0, y, -dir);
        }
    } else if a.failed {
        let _ = write!(
            out,
            "<path class=\"cross\" d=\"M{a1} {b1} L{a2} {b2} M{a1} {b2} L{a2} {b1}\"/>",
            a1 = end - 5.0,
            a2 = end + 5.0,
            b1 = y - 5.0,
            b2 = y + 5.0
        );
    }
    let mid = (EXPORTER_X + SERVER_X) / 2.0;
    // Above the cross of a broken arrow, not through it.
    let lift = if a.arrived { 5.0 } else { 8.0 };
    let _ = write!(
        out,
        "<text class=\"arrow-label\" text-anchor=\"middle\" x=\"{mid}\" y=\"{}\">{}</text>",
        y - lift,
        escape(&fit(&a.label, LABEL_CHARS))
    );
    for (i, d) in a.details.iter().enumerate() {
        let mark = if d.starts_with('⚠') { " mark" } else { "" };
        let _ = write!(
            out,
            "<text class=\"arrow-detail{mark}\" text-anchor=\"middle\" x=\"{mid}\" y=\"{}\">{}</text>",
            y + 12.0 + if a.arrived { 0.0 } else { 3.0 } + 13.0 * i as f64,
            escape(&fit(d, LABEL_CHARS))
        );
    }
    out.push_str("</g>");
}

fn head(out: &mut String, x: f64, y: f64, dir: f64) {
    let _ = write!(
        out,
        "<polygon class=\"head\" points=\"{x},{y} {bx},{y1} {bx},{y2}\"/>",
        bx = x - dir * HEAD,
        y1 = y - 4.0,
        y2 = y + 4.0
    );
}

fn failure(f: &FailureMark, out: &mut String) {
    let _ = write!(
        out,
        "<g class=\"failure\" data-phase=\"{p}\" data-reason=\"{r}\" data-code=\"{code}\" data-at=\"{at:.6}\">\
         <rect class=\"failure-box\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"4\"/>\
         <text class=\"failure-title\" x=\"{tx}\" y=\"{ty}\">✕ {title}</text>",
        p = f.phase,
        r = f.reason,
        code = escape(&f.code),
        at = f.at.as_secs_f64(),
        x = 40.0,
        y = f.y,
        w = WIDTH - 80.0,
        h = f.height(),
        tx = 50.0,
        ty = f.y + 15.0,
        title = escape(&f.title()),
    );
    for (i, line) in f.lines.iter().enumerate() {
        let _ = write!(
            out,
            "<text class=\"failure-line\" x=\"50\" y=\"{}\">{}</text>",
            f.y + 15.0 + 14.0 * (i + 1) as f64,
            escape(&fit(line, FAILURE_CHARS))
        );
    }
    out.push_str("</g>");
}
