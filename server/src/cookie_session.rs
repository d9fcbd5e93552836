//! The signed-in user of a plain axum route (downloads, WebSockets), from the same session
//! cookie the Leptos pages use.

use app::session::COOKIE_NAME;
use axum::http::{HeaderMap, header};
use lab::Services;
use lab::db::entity::user;

pub async fn signed_in_user(
    services: &Services,
    headers: &HeaderMap,
) -> lab::Result<Option<user::Model>> {
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
    Ok(lab::auth::resolve_session(services, &token)
        .await?
        .map(|session| session.user))
}
