//! What every request passes before a handler sees it: its body within the
//! limit (413), Basic auth when users are configured (401), a sane query
//! string (400).
//!
//! Health endpoints (`GET`/`HEAD` of `/-/healthy` and `/-/ready`) need no
//! credentials: they reveal nothing but "up" and "config loaded", and
//! Kubernetes' probes cannot send any. TLS still applies to them (the
//! kubelet's HTTPS probes do not verify the certificate).

use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH, WWW_AUTHENTICATE};
use hyper::{Method, Request, StatusCode};

use super::routes::{text, Resp};
use super::{query, HttpState};

/// `Some(answer)` when the request is refused.
pub(super) async fn admit(state: &HttpState, req: &mut Request<Incoming>) -> Option<Resp> {
    if let Some(r) = read_body(state, req).await {
        return Some(r);
    }
    let health = matches!(*req.method(), Method::GET | Method::HEAD)
        && matches!(req.uri().path(), "/-/healthy" | "/-/ready");
    if !health && !state.web.authorized(req.headers()).await {
        let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized");
        r.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"ftp_exporter\""));
        return Some(r);
    }
    if let Err(e) = query::check(req.uri().query().unwrap_or("")) {
        return Some(text(StatusCode::BAD_REQUEST, e));
    }
    None
}

/// No endpoint takes a body; one within the limit is read and dropped (so
/// the connection stays usable), a larger one is refused unread when its
/// length is declared, and as soon as it passes the limit when chunked.
/// Reading it has the header-read timeout too: a body dripped byte by byte
/// must not hold the connection either.
async fn read_body(state: &HttpState, req: &mut Request<Incoming>) -> Option<Resp> {
    let limit = state.limits.max_request_body_bytes;
    let too_large =
        || text(StatusCode::PAYLOAD_TOO_LARGE, format!("request bodies are limited to {limit} bytes"));
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Some(too_large());
    }
    let body = req.body_mut();
    if body.is_end_stream() {
        return None;
    }
    let read = async {
        let mut seen = 0u64;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Some(text(StatusCode::BAD_REQUEST, "unreadable request body"));
            };
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > limit {
                return Some(too_large());
            }
        }
        None
    };
    tokio::time::timeout(state.limits.header_read_timeout, read)
        .await
        .unwrap_or_else(|_| Some(text(StatusCode::REQUEST_TIMEOUT, "request body not received in time")))
}
