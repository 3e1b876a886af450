//! The status page's only script (filter, sort, ages, refresh in place)
//! and the Content-Security-Policy every HTML page is served with.
//!
//! The policy allows exactly this script, by its SHA-256 (CSP Level 2
//! hash source), and nothing else: no other script, no external resource,
//! no form, no frame. So even an escaping bug could not make a server's
//! banner run in an operator's browser.

use std::sync::LazyLock;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Filter and sort state lives in the URL hash (`#state=down&sort=age`),
/// so it survives the refresh, a reload and a shared link. The refresh
/// fetches `/grid` (the rows alone) and swaps them in: the page, its scroll
/// position and its controls stay. No framework, no external file.
pub const SCRIPT: &str = r##"(function () {
  "use strict";
  var body = document.body, rows = document.getElementById("rows");
  if (!rows) { return; }
  var every = Math.max(1, parseInt(body.getAttribute("data-refresh"), 10) || 10);
  var skew = 0;
  function serverNow() {
    var n = document.getElementById("grid-now");
    if (n) { skew = Number(n.getAttribute("data-now")) - Date.now() / 1000; }
  }
  function state() {
    var h = new URLSearchParams(location.hash.slice(1));
    return { state: h.get("state") || "all", sort: h.get("sort") || "name" };
  }
  function save(s) {
    history.replaceState(null, "", "#state=" + encodeURIComponent(s.state) + "&sort=" + encodeURIComponent(s.sort));
  }
  function ago(secs) {
    if (!isFinite(secs)) { return ""; }
    secs = Math.max(0, Math.round(secs));
    if (secs < 120) { return secs + " s ago"; }
    if (secs < 7200) { return Math.round(secs / 60) + " min ago"; }
    return Math.round(secs / 3600) + " h ago";
  }
  function ages() {
    var now = Date.now() / 1000 + skew;
    var list = document.querySelectorAll("[data-at]");
    for (var i = 0; i < list.length; i++) {
      list[i].textContent = ago(now - Number(list[i].getAttribute("data-at")));
    }
  }
  var keys = {
    name: function (r) { return [0, r.getAttribute("data-name")]; },
    state: function (r) { return [-Number(r.getAttribute("data-severity")), r.getAttribute("data-name")]; },
    age: function (r) { return [Number(r.getAttribute("data-oldest")), r.getAttribute("data-name")]; },
    duration: function (r) { return [-Number(r.getAttribute("data-slowest")), r.getAttribute("data-name")]; }
  };
  function compare(a, b) {
    for (var i = 0; i < a.length; i++) {
      if (a[i] < b[i]) { return -1; }
      if (a[i] > b[i]) { return 1; }
    }
    return 0;
  }
  function apply() {
    var s = state(), key = keys[s.sort] || keys.name;
    var buttons = document.querySelectorAll("[data-filter]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", String(buttons[i].getAttribute("data-filter") === s.state));
    }
    var sort = document.getElementById("sort");
    if (sort) { sort.value = keys[s.sort] ? s.sort : "name"; }
    var list = Array.prototype.slice.call(rows.querySelectorAll("tr.target"));
    var counts = { up: 0, down: 0, pending: 0 }, shown = 0;
    list.sort(function (a, b) { return compare(key(a), key(b)); });
    for (var j = 0; j < list.length; j++) {
      var st = list[j].getAttribute("data-state");
      counts[st] = (counts[st] || 0) + 1;
      list[j].hidden = !(s.state === "all" || st === s.state);
      if (!list[j].hidden) { shown++; }
      rows.appendChild(list[j]);
    }
    var summary = document.getElementById("summary"), all = document.getElementById("grid-now");
    if (summary) {
      var total = all ? Number(all.getAttribute("data-total")) : list.length;
      if (total > list.length) {
        // More targets than rows: the counts are the server's, over all of them.
        summary.textContent = total + " targets: " + all.getAttribute("data-down") + " down, " +
          all.getAttribute("data-pending") + " pending, " + all.getAttribute("data-up") + " up (" +
          list.length + " rows, down first; ?limit=N shows more" + (shown < list.length ? ", " + shown + " shown" : "") + ")";
      } else {
        summary.textContent = list.length + " targets: " + counts.down + " down, " + counts.pending +
          " pending, " + counts.up + " up" + (shown < list.length ? " (" + shown + " shown)" : "");
      }
    }
    ages();
  }
  function refresh() {
    fetch("grid" + location.search, { cache: "no-store", headers: { "Accept": "text/html" } }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text();
    }).then(function (html) {
      rows.innerHTML = html;
      serverNow();
      apply();
      body.setAttribute("data-refreshed", String(Number(body.getAttribute("data-refreshed") || 0) + 1));
      document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
      body.classList.remove("stale");
    }).catch(function () {
      body.classList.add("stale");
      document.getElementById("updated").textContent = "not updated: the exporter does not answer";
    });
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("[data-filter]") : null;
    if (!b) { return; }
    var s = state();
    s.state = b.getAttribute("data-filter");
    save(s);
    apply();
  });
  var sort = document.getElementById("sort");
  if (sort) {
    sort.addEventListener("change", function () { var s = state(); s.sort = sort.value; save(s); apply(); });
  }
  window.addEventListener("hashchange", apply);
  serverNow();
  apply();
  setInterval(ages, 1000);
  setInterval(refresh, every * 1000);
  body.setAttribute("data-ready", "1");
})();"##;

static POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
    format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; img-src data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
});

/// The `Content-Security-Policy` of every HTML page.
pub fn content_security_policy() -> &'static str {
    &POLICY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_this_script_and_nothing_else() {
        let p = content_security_policy();
        assert!(p.starts_with("default-src 'none'; script-src 'sha256-"), "{p}");
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
        let script_src = p.split("; ").find(|d| d.starts_with("script-src")).unwrap();
        assert_eq!(script_src, format!("script-src 'sha256-{hash}'"));
        assert!(!SCRIPT.contains("</script"), "the script cannot end its own element");
    }
}
