//! Request routing and the handlers of docs/http.md. Handlers read the store
//! and hand rendering to `metrics` and `status`; CPU-heavy rendering (a
//! scrape of thousands of targets, the status page) runs off the async
//! workers so it never delays checks or other requests.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};

use super::HttpState;
use crate::check::Mode;
use crate::metrics;
use crate::scheduler::ProbeRefused;
use crate::status::{self, session::ModeView};

pub(super) type Resp = Response<Full<Bytes>>;

const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Transcripts are server-chosen text served as text/plain: the browser
    // must not sniff them into HTML.
    r.headers_mut().insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// An HTML page, with the policy that lets no script run but the page's own.
fn html(body: String) -> Resp {
    let mut r = reply(StatusCode::OK, HTML, body);
    r.headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(status::content_security_policy()));
    r.headers_mut().insert(VARY, HeaderValue::from_static("Accept"));
    r
}

/// Whether to answer HTML: `format=html|text` decides, else the `Accept`
/// header (a browser's `text/html`, not curl's `*/*`).
fn wants_html(headers: &HeaderMap, format: Option<&str>) -> bool {
    match format {
        Some("html") => return true,
        Some("text") => return false,
        _ => {}
    }
    let q_of = |wanted: &str| {
        header(headers, ACCEPT)
            .unwrap_or("")
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next()?;
                let q = parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.parse().ok()).unwrap_or(1.0);
                media.eq_ignore_ascii_case(wanted).then_some(q)
            })
            .fold(0.0_f64, f64::max)
    };
    let html = q_of("text/html");
    html > 0.0 && html >= q_of("text/plain")
}

pub(super) fn text(status: StatusCode, body: impl Into<String>) -> Resp {
    let mut body = body.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    reply(status, TEXT, body)
}

fn header(headers: &HeaderMap, name: hyper::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(super) async fn handle(state: &Arc<HttpState>, mut req: Request<Incoming>) -> Resp {
    // Body limit, Basic auth (health endpoints exempt), query checks.
    if let Some(refused) = super::guard::admit(state, &mut req).await {
        return refused;
    }
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    match path {
        p if p == state.telemetry_path && read => scrape(state, req.headers()).await,
        "/" if read => page(state, query).await,
        "/grid" if read => grid(state, query).await,
        "/probe" if read => probe(state, query, req.headers()).await,
        "/transcript" if read => transcript(state, query, req.headers()),
        "/-/healthy" if read => text(StatusCode::OK, "Healthy"),
        "/-/ready" if read => {
            if state.ready.load(Ordering::Acquire) {
                text(StatusCode::OK, "Ready")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "Not ready: no configuration loaded yet")
            }
        }
        "/-/reload" if matches!(*req.method(), Method::POST | Method::PUT) => {
            match state.backend.reload().await {
                Ok(()) => text(StatusCode::OK, "Configuration reloaded"),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}")),
            }
        }
        "/-/reload" => text(StatusCode::METHOD_NOT_ALLOWED, "Only POST or PUT requests allowed"),
        p if p == state.telemetry_path
            || ["/", "/grid", "/probe", "/transcript", "/-/healthy", "/-/ready"].contains(&p) =>
        {
            text(StatusCode::METHOD_NOT_ALLOWED, "Only GET or HEAD requests allowed")
        }
        _ => text(StatusCode::NOT_FOUND, "Not found"),
    }
}

/// Runs CPU-heavy rendering on the blocking pool. A failure there (a panic
/// in rendering) is a 500 and a log line, never an empty 200.
async fn off_runtime<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Resp> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "rendering {what} failed");
        text(StatusCode::INTERNAL_SERVER_ERROR, format!("rendering {what} failed; see the exporter's log"))
    })
}

async fn scrape(state: &Arc<HttpState>, headers: &HeaderMap) -> Resp {
    let format = metrics::negotiate(header(headers, ACCEPT));
    let gzip = metrics::accepts_gzip(header(headers, ACCEPT_ENCODING));
    let (store, collector) = (state.store.clone(), state.collector.clone());
    let body = off_runtime("metrics", move || {
        let body = collector.render(&store, format);
        if gzip {
            metrics::gzip(&body).map(|b| (b, true))
        } else {
            Ok((body, false))
        }
    })
    .await;
    match body {
        Ok(Ok((body, gzipped))) => {
            let mut r = reply(StatusCode::OK, format.content_type(), body);
            r.headers_mut().insert(VARY, HeaderValue::from_static("Accept-Encoding"));
            if gzipped {
                r.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            r
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "compressing metrics failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("compressing metrics failed: {e}"))
        }
        Err(r) => r,
    }
}

async fn page(state: &Arc<HttpState>, query: &str) -> Resp {
    let q = parse_query(query);
    let refresh = q.refresh.unwrap_or(status::DEFAULT_REFRESH);
    let limit = q.limit.unwrap_or(status::DEFAULT_ROWS);
    let (store, path) = (state.store.clone(), state.telemetry_path.clone());
    match off_runtime("the status page", move || status::render(&store.targets(), &path, refresh, limit))
        .await
    {
        Ok(page) => html(page),
        Err(r) => r,
    }
}

/// The status page's rows alone, for its in-place refresh.
async fn grid(state: &Arc<HttpState>, query: &str) -> Resp {
    let limit = parse_query(query).limit.unwrap_or(status::DEFAULT_ROWS);
    let store = state.store.clone();
    let now = std::time::SystemTime::now();
    match off_runtime("the status grid", move || status::grid(&store.targets(), now, limit)).await {
        Ok(rows) => html(rows),
        Err(r) => r,
    }
}

/// `target`, `module`, `mode` and `debug` of a query string.
struct Query {
    target: Option<String>,
    module: Option<String>,
    mode: Option<String>,
    debug: bool,
    /// `html` or `text`: overrides the `Accept` header.
    format: Option<String>,
    /// Seconds between the status page's refreshes.
    refresh: Option<u64>,
    /// Target rows on the status page.
    limit: Option<usize>,
}

fn parse_query(query: &str) -> Query {
    let mut q = Query {
        target: None,
        module: None,
        mode: None,
        debug: false,
        format: None,
        refresh: None,
        limit: None,
    };
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "target" => q.target = Some(v.into_owned()),
            "module" => q.module = Some(v.into_owned()),
            "mode" => q.mode = Some(v.into_owned()),
            "debug" => q.debug = v == "true" || v == "1",
            "format" => q.format = Some(v.into_owned()),
            "refresh" => q.refresh = v.parse().ok(),
            "limit" => q.limit = v.parse().ok(),
            _ => {}
        }
    }
    q
}

/// `Err` is the message for a 400 answer.
fn parse_mode(mode: Option<&str>) -> Result<Option<Mode>, String> {
    match mode {
        None | Some("") | Some("both") => Ok(None),
        Some(m) => m.parse::<Mode>().map(Some),
    }
}

/// The time a probe may take: the scraper's timeout (Prometheus sends it
/// with every scrape) minus the offset that leaves room for the answer.
fn probe_budget(headers: &HeaderMap, offset: Duration) -> Result<Option<Duration>, String> {
    let Some(v) = headers.get("x-prometheus-scrape-timeout-seconds") else { return Ok(None) };
    let v = v.to_str().map_err(|_| "X-Prometheus-Scrape-Timeout-Seconds: not text".to_string())?;
    let secs: f64 =
        v.trim().parse().map_err(|_| format!("X-Prometheus-Scrape-Timeout-Seconds: not a number: {v:?}"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("X-Prometheus-Scrape-Timeout-Seconds must be positive, got {v:?}"));
    }
    let scrape = Duration::from_secs_f64(secs.min(86_400.0));
    // An offset larger than the timeout would leave nothing: keep half.
    Ok(Some(scrape.checked_sub(offset).filter(|b| !b.is_zero()).unwrap_or(scrape / 2)))
}

async fn probe(state: &Arc<HttpState>, query: &str, headers: &HeaderMap) -> Resp {
    let q = parse_query(query);
    let module = q.module.filter(|m| !m.is_empty());
    let Some(target) = q.target.filter(|t| !t.is_empty()) else {
        let usage = match module {
            Some(_) => "/probe?module=M&target=HOST[:PORT][&mode=passive|active]",
            None => "/probe?target=NAME[&mode=passive|active]",
        };
        return text(StatusCode::BAD_REQUEST, format!("'target' parameter is missing: {usage}"));
    };
    let mode = match parse_mode(q.mode.as_deref()) {
        Ok(m) => m,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let budget = match probe_budget(headers, state.probe_timeout_offset) {
        Ok(b) => b,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let probed = match &module {
        Some(m) => state.backend.probe_module(m, &target, mode, budget).await,
        None => state.backend.probe(&target, mode, budget).await,
    };
    let probed = match probed {
        Ok(p) => p,
        Err(refused) => return refusal(refused, &target, module.as_deref()),
    };
    if q.debug && wants_html(headers, q.format.as_deref()) {
        let views: Vec<ModeView> = probed
            .recorded
            .iter()
            .map(|r| ModeView {
                mode: r.outcome.mode,
                outcome: Some(&r.outcome),
                kept: Some(&r.transcript),
                source: crate::store::Source::Probe,
            })
            .collect();
        let diagnosis = probed.diagnosis.as_deref();
        return html(status::session::render(&probed.target, &views, diagnosis, mode, "probe"));
    }
    if q.debug {
        let mut out = String::new();
        for r in &probed.recorded {
            let _ = writeln!(out, "target={} mode={}", probed.target.name, r.outcome.mode);
            out.push_str(&status::transcript_text(&r.outcome, Some(r.transcript.transcript())));
            out.push('\n');
        }
        let _ = writeln!(out, "diagnosis: {}", probed.diagnosis.as_deref().unwrap_or("none"));
        return text(StatusCode::OK, out);
    }
    let format = metrics::negotiate(header(headers, ACCEPT));
    let outcomes: Vec<_> = probed.recorded.iter().map(|r| r.outcome.clone()).collect();
    reply(StatusCode::OK, format.content_type(), metrics::render_probe(&probed.target, &outcomes, format))
}

/// The answer to a probe that did not run.
fn refusal(refused: ProbeRefused, target: &str, module: Option<&str>) -> Resp {
    let what = match module {
        Some(m) => format!("{target:?} with module {m:?}"),
        None => format!("{target:?}"),
    };
    let (status, message) = match refused {
        ProbeRefused::UnknownTarget => {
            (StatusCode::NOT_FOUND, format!("unknown target {target:?}: not in the configuration"))
        }
        ProbeRefused::UnknownModule => (
            StatusCode::NOT_FOUND,
            format!("unknown module {:?}: not in the configuration's modules:", module.unwrap_or("")),
        ),
        ProbeRefused::BadTarget(why) => (StatusCode::BAD_REQUEST, why),
        ProbeRefused::NotAllowed(why) => (StatusCode::FORBIDDEN, why),
        ProbeRefused::ModeNotConfigured(m) => {
            let whose = match module {
                Some(name) => format!("module {name:?}"),
                None => format!("target {target:?}"),
            };
            (StatusCode::BAD_REQUEST, format!("{whose} is not configured for {m} mode"))
        }
        ProbeRefused::Busy => {
            (StatusCode::TOO_MANY_REQUESTS, format!("a probe of {what} is already running"))
        }
        ProbeRefused::Overloaded => (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many probes running; raise --probe.max-concurrency or probe less often".to_string(),
        ),
        ProbeRefused::SessionBusy => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("a scheduled check of {target:?} was still running when the probe's time ran out"),
        ),
    };
    text(status, message)
}

fn transcript(state: &HttpState, query: &str, headers: &HeaderMap) -> Resp {
    let q = parse_query(query);
    let Some(target) = q.target else {
        return text(StatusCode::BAD_REQUEST, "'target' parameter is missing");
    };
    let as_html = wants_html(headers, q.format.as_deref());
    let mode = match parse_mode(q.mode.as_deref()) {
        Ok(m) if m.is_some() || as_html => m,
        Ok(_) => return text(StatusCode::BAD_REQUEST, "'mode' must be passive or active"),
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let Some(entry) = state.store.get(&target) else {
        return text(StatusCode::NOT_FOUND, format!("unknown target {target:?}"));
    };
    let results = entry.results();
    if as_html {
        // Every mode side by side; `mode` only picks the one to highlight.
        let views: Vec<ModeView> = entry
            .target
            .modes
            .iter()
            .map(|m| {
                let r = results.mode(*m);
                ModeView {
                    mode: *m,
                    outcome: r.last.as_deref(),
                    kept: r.transcript.as_deref(),
                    source: r.source,
                }
            })
            .collect();
        let diagnosis = results.diagnosis.as_deref();
        return html(status::session::render(&entry.target, &views, diagnosis, mode, "last checks"));
    }
    let Some(mode) = mode else { return text(StatusCode::BAD_REQUEST, "'mode' must be passive or active") };
    let m = results.mode(mode);
    match &m.last {
        Some(o) => {
            let mut out = format!("target={target} mode={mode} (last check: {})\n", m.source.as_str());
            out.push_str(&status::transcript_text(o, m.transcript.as_ref().map(|k| k.transcript())));
            let _ = writeln!(out, "\ndiagnosis: {}", results.diagnosis.as_deref().unwrap_or("none"));
            text(StatusCode::OK, out)
        }
        None => text(StatusCode::NOT_FOUND, format!("no check of {target:?} in {mode} mode yet")),
    }
}
