//! Cross-cutting rules for every request, applied in one place:
//!
//! * **Origin check (CSRF defence beyond SameSite).** A state-changing request (any method
//!   but GET/HEAD/OPTIONS) that carries an `Origin` header must come from this site: its host
//!   must equal the request's `Host` (or the configured public URL's). Browsers always send
//!   `Origin` on cross-site POSTs, so a forged form post from another site is refused with
//!   403 before it reaches any handler. Requests without `Origin` are not from a browser form
//!   on another site (curl, scripts) and pass; they still need a session cookie.
//! * **Body size.** Bodies are read whole, up to the limit, before any handler runs: one
//!   with a `Content-Length` over the limit is refused unread (the router's
//!   `RequestBodyLimitLayer`), and a chunked one that grows past it gets the same 413 here,
//!   instead of failing inside a handler's own read (which Leptos answers with 500).
//! * **Status codes of failed server functions.** Leptos answers every server-function error
//!   with 500; here the `AppError` in the body picks the real status (400, 401, 403, 409, 429…).

use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, header};
use std::sync::Arc;

/// The origins allowed besides the request's own host.
#[derive(Clone, Debug, Default)]
pub struct OriginPolicy {
    pub public_origin: Option<String>,
}

pub async fn check_origin(
    State(policy): State<Arc<OriginPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !origin_allowed(req.headers(), &policy) {
        tracing::warn!(
            method = %req.method(),
            path = %req.uri().path(),
            origin = ?req.headers().get(header::ORIGIN),
            "refused a cross-site request"
        );
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    next.run(req).await
}

/// For WebSocket upgrades (GET, so `check_origin` lets them through): browsers always send
/// `Origin` there, and it must be this site, or any page on the web could open a console
/// with the visitor's cookie (cross-site WebSocket hijacking).
pub fn websocket_origin_allowed(headers: &HeaderMap, policy: &OriginPolicy) -> bool {
    headers.contains_key(header::ORIGIN) && origin_allowed(headers, policy)
}

fn origin_allowed(headers: &HeaderMap, policy: &OriginPolicy) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if policy.public_origin.as_deref() == Some(origin) {
        return true;
    }
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// Reads the request's body whole (it is small: the limit is 64 KiB), answering 413 when it
/// is longer than `limit` and 400 when the client broke off. Requests without a body pass
/// untouched (WebSocket upgrades, page loads).
pub async fn read_body(State(limit): State<usize>, req: Request, next: Next) -> Response {
    if HttpBody::size_hint(req.body()).exact() == Some(0) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    match to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) if too_long(&e) => {
            (StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.").into_response()
        }
        Err(e) => {
            tracing::debug!(error = %e, "request body could not be read");
            (
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            )
                .into_response()
        }
    }
}

/// Whether a body read failed on a length limit (ours, or the outer layer's).
fn too_long(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Largest server-function error body we re-read to find its status.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn server_fn_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    if let Ok(err) = serde_json::from_slice::<app::AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn same_site_and_originless_requests_pass() {
        let p = OriginPolicy::default();
        assert!(origin_allowed(
            &headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000"),
            &p
        ));
        assert!(origin_allowed(&headers(None, "127.0.0.1:3000"), &p));
    }

    #[test]
    fn cross_site_requests_are_refused() {
        let p = OriginPolicy::default();
        assert!(!origin_allowed(
            &headers(Some("https://evil.example"), "127.0.0.1:3000"),
            &p
        ));
        assert!(!origin_allowed(
            &headers(Some("null"), "127.0.0.1:3000"),
            &p
        ));
        assert!(!origin_allowed(
            &headers(Some("http://127.0.0.1:3001"), "127.0.0.1:3000"),
            &p
        ));
    }

    #[test]
    fn the_public_origin_passes_behind_a_proxy() {
        let p = OriginPolicy {
            public_origin: Some("https://lab.school.example".into()),
        };
        assert!(origin_allowed(
            &headers(Some("https://lab.school.example"), "10.0.0.5:3000"),
            &p
        ));
    }
}
