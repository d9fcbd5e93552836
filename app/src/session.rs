//! Who is asking: the one place server functions (and SSR) find the session, check the role,
//! and read or set the session cookie. Server functions never look at cookies themselves.

use crate::AppError;
use http::header::{COOKIE, SET_COOKIE};
use http::request::Parts;
use lab::Services;
use lab::auth::Session;
use lab::model::Role;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use std::net::SocketAddr;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "proxlab_session";

/// How the portal is reached; the server provides it as context.
#[derive(Clone, Debug, Default)]
pub struct WebSettings {
    /// The portal's public URL starts with `https://`: cookies are `Secure`.
    pub https: bool,
    /// A reverse proxy sets `X-Forwarded-For` / `X-Forwarded-Proto`, and it is trusted.
    pub behind_proxy: bool,
}

pub fn services() -> Result<Services, AppError> {
    use_context::<Services>().ok_or_else(|| {
        tracing::error!("lab::Services missing from the Leptos context");
        AppError::Internal
    })
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

fn web() -> WebSettings {
    use_context::<WebSettings>().unwrap_or_default()
}

/// The session secret from the request's cookie, if any.
pub fn session_token() -> Option<String> {
    let parts = parts()?;
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)
        .map(|c| c.value().to_owned())
}

/// The signed-in user's live session, or `None`.
pub async fn optional_session() -> Result<Option<Session>, AppError> {
    let Some(token) = session_token() else {
        return Ok(None);
    };
    Ok(lab::auth::resolve_session(&services()?, &token).await?)
}

/// The signed-in user's session, or `Unauthenticated`.
pub async fn session() -> Result<Session, AppError> {
    optional_session().await?.ok_or(AppError::Unauthenticated)
}

/// The session of a user who has at least `role`, or `Unauthenticated` / `Forbidden`.
pub async fn require(role: Role) -> Result<Session, AppError> {
    let session = session().await?;
    if session.role().includes(role) {
        Ok(session)
    } else {
        Err(AppError::Forbidden)
    }
}

/// The client's address: the connection's peer, or the last hop of `X-Forwarded-For` when a
/// trusted proxy sits in front (the entry that proxy added, which the client cannot forge).
pub fn client_addr() -> Option<String> {
    let parts = parts()?;
    client_ip(&parts.headers, &parts.extensions, web().behind_proxy).map(|ip| ip.to_string())
}

/// [`client_addr`]'s rule for any request (the rate limits and the WebSocket relays use it
/// too, so that throttling and the audit log name the same address).
pub fn client_ip(
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
    behind_proxy: bool,
) -> Option<std::net::IpAddr> {
    if behind_proxy
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|hop| hop.trim().parse().ok())
    {
        return Some(ip);
    }
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

fn secure() -> bool {
    let web = web();
    web.https
        || (web.behind_proxy
            && parts().is_some_and(|p| {
                p.headers
                    .get("x-forwarded-proto")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
            }))
}

/// Sets the session cookie: HttpOnly, SameSite=Lax, Secure over TLS; a browser-session cookie
/// (the server-side row decides when it ends).
pub fn set_session_cookie(token: &str) {
    let cookie = cookie::Cookie::build((COOKIE_NAME, token.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure())
        .build();
    set_cookie_header(&cookie.to_string());
}

/// Tells the browser to drop the session cookie.
pub fn clear_session_cookie() {
    let cookie = cookie::Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure())
        .max_age(cookie::time::Duration::ZERO)
        .build();
    set_cookie_header(&cookie.to_string());
}

fn set_cookie_header(value: &str) {
    if let (Some(res), Ok(value)) = (
        use_context::<ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        res.append_header(SET_COOKIE, value);
    }
}

/// Sets the status of the page being rendered (SSR only; 403/404 pages).
pub fn set_page_status(status: u16) {
    if let (Some(res), Ok(code)) = (
        use_context::<ResponseOptions>(),
        http::StatusCode::from_u16(status),
    ) {
        res.set_status(code);
    }
}

/// A local path to go to after login: only same-site paths, never `//host` or `/\host`.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if ok { next.to_owned() } else { "/".to_owned() }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next("/admin/users?q=a"), "/admin/users?q=a");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "",
            "javascript:x",
            "/a\\b",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
