//! Per-session rate limits on what costs the server (or Proxmox) work: server-function calls
//! (`POST /api/…`) and WebSocket opens (`/ws/…`, each one a Proxmox ticket and a node
//! connection). Past the limit the answer is 429 with `Retry-After`, before any handler runs.
//! Sign-in failures have their own, stricter and database-backed throttle (`lab::auth`); this
//! one is about volume, not guessing.
//!
//! Keyed by the session cookie (a keyed hash of it, never the cookie itself), or by the
//! client's address when there is no cookie (sign-in, registration). The counts are in memory,
//! per instance (governor's GCRA keyed limiter): a restart forgets them, which is fine for a
//! volume limit. Idle keys are dropped now and then, so the map stays as small as the set of
//! recently busy clients.

use app::session::COOKIE_NAME;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The numbers (the `[limits]` section of the settings).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Server-function calls per second per session, sustained. The busiest page (a class
    /// with a deploy running) polls every 2 s and a person clicks a few times a second at
    /// most; 20/s is ten times that, and a script hammering one endpoint is held to it.
    pub api_per_second: u32,
    /// …and in one burst: "start all", several tabs reloading at once, a form posted with
    /// JavaScript off and its page's reads right after.
    pub api_burst: u32,
    /// WebSocket opens per minute per session, sustained (one every 3 s). Each open asks
    /// Proxmox for a ticket and connects to a node; a person opens a console or reconnects a
    /// few times a minute at most, and at most 4 are open at once anyway.
    pub sockets_per_minute: u32,
    /// …and in one burst: opening the consoles of a few VMs and reconnecting each.
    pub sockets_burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            api_per_second: 20,
            api_burst: 60,
            sockets_per_minute: 20,
            sockets_burst: 10,
        }
    }
}

impl RateLimitSettings {
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            self.api_per_second,
            self.api_burst,
            self.sockets_per_minute,
            self.sockets_burst,
        ];
        if all.contains(&0) {
            return Err("limits: every rate and burst must be at least 1".into());
        }
        Ok(())
    }
}

/// Who a request counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// A keyed hash of the session cookie: the cookie itself is a secret.
    Session(u64),
    Addr(IpAddr),
}

/// What a request is, as far as the limits go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    ServerFn,
    Socket,
}

/// The two limiters and how to find the client; one per router.
pub struct RateLimits {
    server_fns: DefaultKeyedRateLimiter<Key>,
    sockets: DefaultKeyedRateLimiter<Key>,
    hasher: std::hash::RandomState,
    behind_proxy: bool,
    checks: AtomicU32,
}

/// Idle keys are swept every this many checks (cheap: one pass over a small map).
const SWEEP_EVERY: u32 = 1024;

impl RateLimits {
    pub fn new(settings: &RateLimitSettings, behind_proxy: bool) -> Self {
        let nz = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let api =
            Quota::per_second(nz(settings.api_per_second)).allow_burst(nz(settings.api_burst));
        let sockets = Quota::per_minute(nz(settings.sockets_per_minute))
            .allow_burst(nz(settings.sockets_burst));
        Self {
            server_fns: RateLimiter::keyed(api),
            sockets: RateLimiter::keyed(sockets),
            hasher: std::hash::RandomState::new(),
            behind_proxy,
            checks: AtomicU32::new(0),
        }
    }

    /// `Err(wait)` when `key` is over the limit for `kind`.
    fn check(&self, kind: Kind, key: &Key) -> Result<(), Duration> {
        let limiter = match kind {
            Kind::ServerFn => &self.server_fns,
            Kind::Socket => &self.sockets,
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.server_fns.retain_recent();
            self.sockets.retain_recent();
        }
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    fn key(&self, req: &Request) -> Option<Key> {
        if let Some(token) = session_cookie(req.headers()) {
            return Some(Key::Session(self.hasher.hash_one(token)));
        }
        app::session::client_ip(req.headers(), req.extensions(), self.behind_proxy).map(Key::Addr)
    }
}

fn kind(method: &Method, path: &str) -> Option<Kind> {
    if *method == Method::POST && path.starts_with("/api/") {
        Some(Kind::ServerFn)
    } else if path.starts_with("/ws/") {
        Some(Kind::Socket)
    } else {
        None
    }
}

/// The middleware: 429 with `Retry-After` (whole seconds, at least 1) past the limit.
pub async fn limit(
    State(limits): State<std::sync::Arc<RateLimits>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(kind) = kind(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let Some(key) = limits.key(&req) else {
        return next.run(req).await;
    };
    match limits.check(kind, &key) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::warn!(path = %req.uri().path(), ?kind, "rate limit reached");
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut res = (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests. Wait a moment and try again.",
            )
                .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            res
        }
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(api_burst: u32, sockets_burst: u32) -> RateLimits {
        RateLimits::new(
            &RateLimitSettings {
                api_per_second: 1,
                api_burst,
                sockets_per_minute: 1,
                sockets_burst,
            },
            false,
        )
    }

    #[test]
    fn each_key_has_its_own_bucket_and_kinds_are_apart() {
        let l = limits(3, 2);
        let a = Key::Session(1);
        let b = Key::Addr("192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            assert!(l.check(Kind::ServerFn, &a).is_ok());
        }
        let wait = l.check(Kind::ServerFn, &a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(l.check(Kind::ServerFn, &b).is_ok());
        assert!(l.check(Kind::Socket, &a).is_ok());
        assert!(l.check(Kind::Socket, &a).is_ok());
        let wait = l.check(Kind::Socket, &a).unwrap_err();
        assert!(wait > Duration::from_secs(50), "one a minute: {wait:?}");
    }

    #[test]
    fn only_server_functions_and_sockets_count() {
        assert_eq!(kind(&Method::POST, "/api/vms/action"), Some(Kind::ServerFn));
        assert_eq!(kind(&Method::GET, "/ws/console/1/100"), Some(Kind::Socket));
        assert_eq!(kind(&Method::GET, "/"), None);
        assert_eq!(kind(&Method::GET, "/pkg/proxlab.wasm"), None);
        assert_eq!(kind(&Method::POST, "/login"), None);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; proxlab_session=abc; x=y"),
        );
        assert_eq!(session_cookie(&h), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("proxlab_session="));
        assert_eq!(session_cookie(&h), None);
    }

    #[test]
    fn zero_is_refused_in_the_settings() {
        let mut s = RateLimitSettings::default();
        assert!(s.validate().is_ok());
        s.sockets_burst = 0;
        assert!(s.validate().is_err());
    }
}
