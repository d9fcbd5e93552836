//! Hardening headers on every response.
//!
//! * **Content-Security-Policy**, per response: scripts only from this site plus the inline
//!   scripts Leptos writes (the hydration loader and the resolved resources of async pages),
//!   which carry this response's nonce; `'wasm-unsafe-eval'` to compile the app's wasm;
//!   no plugins, no `<base>`, forms only to this site, and `frame-ancestors 'none'`, so no
//!   other page can frame the portal (click-jacking an admin page). `connect-src 'self'`
//!   covers the console's and terminal's WebSockets to the same host (CSP3; the Playwright
//!   flows check it). Styles: the app's stylesheet, plus inline styles, because xterm.js and
//!   noVNC set element styles at run time (a style cannot run code).
//! * `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`;
//!   `X-Content-Type-Options: nosniff`; `Referrer-Policy: same-origin` (console and invite
//!   URLs never leave the site in a Referer); `Permissions-Policy` denying the powerful
//!   features the portal never uses, keeping full screen (the console's button) and the
//!   clipboard (noVNC) for the portal itself.
//! * `Strict-Transport-Security` only when the public URL is https: over plain http it would
//!   be ignored, and on a test or lab address it must not pin https for a year.
//!
//! The nonce is made here, handed to the Leptos renderer through the request's extensions
//! ([`CspNonce`], picked up by the router's context), and written into the header after the
//! page has rendered.

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// This response's CSP nonce: 128 random bits, hex.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

impl CspNonce {
    fn new() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the OS random source is available");
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// The policy for a response whose inline scripts carry `nonce`.
pub fn content_security_policy(nonce: &str) -> String {
    [
        "default-src 'self'".to_owned(),
        format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        "style-src 'self' 'unsafe-inline'".to_owned(),
        // noVNC draws its cursor from a data: URL.
        "img-src 'self' data:".to_owned(),
        "font-src 'self'".to_owned(),
        "connect-src 'self'".to_owned(),
        "object-src 'none'".to_owned(),
        "base-uri 'none'".to_owned(),
        "form-action 'self'".to_owned(),
        "frame-ancestors 'none'".to_owned(),
    ]
    .join("; ")
}

const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
    magnetometer=(), microphone=(), payment=(), usb=(), fullscreen=(self), \
    clipboard-read=(self), clipboard-write=(self)";

/// HSTS: a year, this host only (the portal may live beside other sites of a school's domain).
const HSTS: &str = "max-age=31536000";

/// Adds every header to every response of `router`.
pub fn harden(router: Router, https: bool) -> Router {
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
    ];
    let mut router = router.layer(middleware::from_fn(csp));
    for (name, value) in fixed {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    if https {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ));
    }
    router
}

async fn csp(mut req: Request, next: Next) -> Response {
    let nonce = CspNonce::new();
    let policy = content_security_policy(&nonce.0);
    req.extensions_mut().insert(nonce);
    let mut res = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&policy) {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_this_site_and_this_nonce() {
        let p = content_security_policy("abc123");
        assert!(
            p.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"),
            "{p}"
        );
        assert!(p.contains("frame-ancestors 'none'"), "{p}");
        assert!(!p.contains("script-src 'self' 'unsafe-inline'"), "{p}");
        assert!(!p.contains(" 'unsafe-eval'"), "{p}");
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(CspNonce::new().0, CspNonce::new().0);
        assert_eq!(CspNonce::new().0.len(), 32);
    }
}
