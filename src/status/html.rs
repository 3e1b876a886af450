//! The frame every HTML page shares: head, stylesheet, no external asset
//! (an empty `data:` icon keeps browsers from asking for `/favicon.ico`).
//! Readable on a phone: the grid becomes cards under 720 px.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::escape::escape;

const STYLE: &str = "*{box-sizing:border-box}body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header{background:#fff;border-bottom:1px solid #dde1e6;padding:.7em 1.2em}header h1{font-size:1.25em;margin:.1em 0 .3em}\
header h1 small{font-weight:normal;color:#666;font-size:.7em}main{padding:1em 1.2em}a{color:#0a5aa0}\
.controls{display:flex;flex-wrap:wrap;gap:.4em;align-items:center;margin-top:.4em}\
.controls button{font:inherit;border:1px solid #bbb;background:#fff;border-radius:1em;padding:.15em .8em;cursor:pointer}\
.controls button[aria-pressed=true]{background:#1b1f24;color:#fff;border-color:#1b1f24}\
#updated{color:#666;font-size:.85em}body.stale #updated{color:#b00;font-weight:bold}\
table.grid{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e6}\
.grid th{text-align:left;background:#eef1f4;padding:.4em .6em;font-size:.85em}\
.grid td{border-top:1px solid #e4e7eb;padding:.5em .6em;vertical-align:top}\
.grid .name{font-weight:600;word-break:break-all}.grid .addr,.grid .labels{color:#666;font-size:.8em;word-break:break-all}\
.diag{margin:.4em 0 0;font-size:.85em;color:#5a2b00;background:#fff7e6;border-left:3px solid #e69500;padding:.3em .5em}\
.cell{border-left:4px solid #bbb}.cell.up{border-left-color:#2a9d3a}.cell.down{border-left-color:#d02020;background:#fff5f5}\
.cell.pending{border-left-color:#aaa;background:#fafafa}.cell.none{color:#999}\
.badge{display:inline-block;font-weight:700;font-size:.75em;padding:.05em .5em;border-radius:.3em;color:#fff;background:#888}\
.up .badge{background:#2a9d3a}.down .badge{background:#d02020}\
.why{font-family:ui-monospace,monospace;font-size:.85em;color:#a00;margin-left:.3em}\
.meta{color:#555;font-size:.8em;margin:.2em 0}.links{font-size:.8em}.spark{display:block;margin:.25em 0}\
.modes{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}\
.mode{background:#fff;border:1px solid #dde1e6;padding:.6em;flex:1 1 640px;min-width:0;max-width:740px}\
.mode.selected{outline:2px solid #0a5aa0}.mode h2{font-size:1em;margin:.1em 0 .4em}\
.mode svg.sd{max-width:100%;height:auto}pre{white-space:pre-wrap;word-break:break-all;font-size:.8em;background:#f3f4f6;padding:.5em}\
[hidden]{display:none!important}\
@media (max-width:720px){.grid thead{display:none}.grid,.grid tbody,.grid tr,.grid td{display:block;width:100%}\
.grid tr{border-top:6px solid #f6f7f9}.grid td.cell::before{content:attr(data-mode);font-weight:600;font-size:.8em;margin-right:.5em}\
main{padding:.5em}header{padding:.5em}}";

/// A whole page: `head` markup (already escaped), `body_attrs` (already
/// escaped, with a leading space), `body` markup, and the status page's
/// script when `script` is true.
pub fn page(title: &str, body_attrs: &str, body: &str, script: bool) -> String {
    let mut h = String::with_capacity(body.len() + 8 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head>\n<body{body_attrs}>\n",
        escape(title)
    );
    h.push_str(body);
    if script {
        let _ = writeln!(h, "<script>{}</script>", super::script::SCRIPT);
    }
    h.push_str("</body></html>\n");
    h
}

pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `12 s ago`, as the script writes it (the page is right before the script runs).
pub fn ago(t: SystemTime, now: SystemTime) -> String {
    let secs = now.duration_since(t).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        0..=119 => format!("{secs} s ago"),
        120..=7199 => format!("{} min ago", (secs + 30) / 60),
        _ => format!("{} h ago", (secs + 1800) / 3600),
    }
}
