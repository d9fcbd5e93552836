//! The signed-in user of a plain axum route (downloads, WebSockets), from the same session
//! cookie the Leptos pages use.

use app::session::COOKIE_NAME;
use axum::http::{HeaderMap, header};
use lab::Services;
use lab::auth::Session;
use lab::db::entity::user;

pub async fn signed_in_user(
    services: &Services,
    headers: &HeaderMap,
) -> lab::Result<Option<user::Model>> {
    Ok(signed_in_session(services, headers)
        .await?
        .map(|session| session.user))
}

/// The live session itself (the consoles watch it, to close when it ends).
pub async fn signed_in_session(
    services: &Services,
    headers: &HeaderMap,
) -> lab::Result<Option<Session>> {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)
        .map(|c| c.value().to_owned());
    let Some(token) = token else {
        return Ok(None);
    };
    lab::auth::resolve_session(services, &token).await
}
