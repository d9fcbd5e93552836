//! `/metrics`: Prometheus's text format, behind the `[metrics]` settings (off by default) and
//! an optional bearer token. `metrics-exporter-prometheus` is the recorder behind every
//! `lab::metrics` call; this module installs it (once per process), counts each HTTP request
//! by the router's own pattern, and at each scrape has `lab::metrics::snapshot` read the
//! gauges that live in the database.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use lab::Services;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The `[metrics]` settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve `/metrics`. Off by default: it names clusters, routes and counts.
    pub enabled: bool,
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
}

/// What the `/metrics` route holds.
#[derive(Clone)]
pub struct MetricsState {
    services: Services,
    handle: PrometheusHandle,
    token: Option<Arc<SecretString>>,
}

/// The process's recorder: installed on first use, shared by every router this process
/// builds (the tests build several; a process has one global recorder).
fn recorder() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(lab::metrics::BUCKETS)?
        .install_recorder()?;
    // A race with another first use loses its handle; both read the one recorder installed.
    Ok(HANDLE.get_or_init(|| handle).clone())
}

impl MetricsState {
    pub fn new(services: Services, settings: &MetricsSettings) -> anyhow::Result<MetricsState> {
        Ok(MetricsState {
            services,
            handle: recorder()?,
            token: settings.token.clone().map(Arc::new),
        })
    }
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<MetricsState>, headers: http::HeaderMap) -> Response {
    if let Some(token) = &state.token {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same(sent.as_bytes(), token.expose_secret().as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is needed\n",
            )
                .into_response();
        }
    }
    if let Err(e) = lab::metrics::snapshot(&state.services).await {
        // The counters are still worth having; the database gauges keep their last values.
        tracing::warn!(error = %e, "metrics: database gauges not read");
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.handle.render(),
    )
        .into_response()
}

/// Compares in time that depends on the length only (the token's length is no secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts each request under the route that matched it (`/classes/{id}`, a server function's
/// path), or `unmatched` (static files, 404s): a label with as few values as the router has
/// routes, whatever the addresses asked for.
pub async fn count_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    lab::metrics::http_request(&route, method.as_str(), status, started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cret", b"s3creT"));
        assert!(!same(b"s3cret", b"s3cre"));
        assert!(!same(b"", b"s3cret"));
    }
}
