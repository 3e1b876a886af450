//! Request routing and the handlers of SPEC §6.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;

use crate::scheduler::ProbeRefused;
use hyper::header::{HeaderValue, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use hyper::{Method, Request, Response, StatusCode};

use super::{page, HttpState};
use crate::check::Mode;
use crate::metrics::ProbeMetrics;

pub(super) type Resp = Response<Full<Bytes>>;

const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
/// The Prometheus text exposition format, version 0.0.4.
const METRICS: &str = "text/plain; version=0.0.4; charset=utf-8";

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Transcripts are server-chosen text served as text/plain: the browser
    // must not sniff them into HTML.
    r.headers_mut().insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

pub(super) fn text(status: StatusCode, body: impl Into<String>) -> Resp {
    let mut body = body.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    reply(status, TEXT, body)
}

pub(super) async fn handle(state: &HttpState, mut req: Request<Incoming>) -> Resp {
    // Body limit, Basic auth (health endpoints exempt), query checks.
    if let Some(refused) = super::guard::admit(state, &mut req).await {
        return refused;
    }
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    match path {
        p if p == state.telemetry_path && read => reply(StatusCode::OK, METRICS, state.metrics.encode()),
        "/" if read => {
            reply(StatusCode::OK, HTML, page::render(&state.status.snapshot(), &state.telemetry_path))
        }
        "/probe" if read => probe(state, query).await,
        "/transcript" if read => transcript(state, query),
        "/-/healthy" if read => text(StatusCode::OK, "Healthy"),
        "/-/ready" if read => {
            if state.ready.load(Ordering::Acquire) {
                text(StatusCode::OK, "Ready")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "Not ready: no configuration loaded")
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
            || ["/", "/probe", "/transcript", "/-/healthy", "/-/ready"].contains(&p) =>
        {
            text(StatusCode::METHOD_NOT_ALLOWED, "Only GET or HEAD requests allowed")
        }
        _ => text(StatusCode::NOT_FOUND, "Not found"),
    }
}

/// `target`, `mode` and `debug` of a query string.
struct Query {
    target: Option<String>,
    mode: Option<String>,
    debug: bool,
}

fn parse_query(query: &str) -> Query {
    let mut q = Query { target: None, mode: None, debug: false };
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "target" => q.target = Some(v.into_owned()),
            "mode" => q.mode = Some(v.into_owned()),
            "debug" => q.debug = v == "true" || v == "1",
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

async fn probe(state: &HttpState, query: &str) -> Resp {
    let q = parse_query(query);
    let Some(target) = q.target.filter(|t| !t.is_empty()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "'target' parameter is missing: /probe?target=NAME[&mode=passive|active]",
        );
    };
    let mode = match parse_mode(q.mode.as_deref()) {
        Ok(m) => m,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let probed = match state.backend.probe(&target, mode).await {
        Ok(p) => p,
        Err(ProbeRefused::UnknownTarget) => {
            return text(
                StatusCode::NOT_FOUND,
                format!("unknown target {target:?}: not in the configuration"),
            )
        }
        Err(ProbeRefused::ModeNotConfigured(m)) => {
            return text(StatusCode::BAD_REQUEST, format!("target {target:?} is not configured for {m} mode"))
        }
        Err(ProbeRefused::Busy) => {
            return text(StatusCode::TOO_MANY_REQUESTS, format!("a probe of {target:?} is already running"))
        }
    };
    if q.debug {
        let mut out = String::new();
        for o in &probed.outcomes {
            let _ = writeln!(out, "target={} mode={}", probed.info.name, o.mode);
            out.push_str(&page::transcript_text(o));
            out.push('\n');
        }
        let _ = writeln!(out, "diagnosis: {}", probed.diagnosis.as_deref().unwrap_or("none"));
        return text(StatusCode::OK, out);
    }
    let registry = match ProbeMetrics::new() {
        Ok(r) => r,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}")),
    };
    for o in &probed.outcomes {
        registry.record(&probed.info, o);
    }
    reply(StatusCode::OK, METRICS, registry.encode())
}

fn transcript(state: &HttpState, query: &str) -> Resp {
    let q = parse_query(query);
    let Some(target) = q.target else {
        return text(StatusCode::BAD_REQUEST, "'target' parameter is missing");
    };
    let mode = match parse_mode(q.mode.as_deref()) {
        Ok(Some(m)) => m,
        Ok(None) => return text(StatusCode::BAD_REQUEST, "'mode' must be passive or active"),
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    match state.status.last(&target, mode) {
        Some(o) => {
            let mut out = format!("target={target} mode={mode} (last scheduled check)\n");
            out.push_str(&page::transcript_text(&o));
            let _ = writeln!(
                out,
                "\ndiagnosis: {}",
                state.status.diagnosis(&target).as_deref().unwrap_or("none")
            );
            text(StatusCode::OK, out)
        }
        None => text(StatusCode::NOT_FOUND, format!("no check of {target:?} in {mode} mode yet")),
    }
}
