//! Local login: throttle reservation, password check, session start.
//!
//! Every failure says the same thing ("wrong username or password") and costs the same time:
//! an unknown or malformed username is verified against a dummy hash, so neither message nor
//! timing tells whether an account exists. The one exception is a disabled account with the
//! right password: its owner is told to ask an admin.

use super::sessions::signed_in;
use super::throttle::{self, Keys};
use super::verify_password;
use crate::db::entity::user;
use crate::model::normalize_username;
use crate::{Error, Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// One login attempt as it arrives.
pub struct LoginAttempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// The client's address, for per-address throttling.
    pub client_addr: Option<&'a str>,
}

/// Checks the credentials and starts a session; returns the user and the cookie secret.
pub async fn login(
    services: &Services,
    attempt: LoginAttempt<'_>,
) -> Result<(user::Model, String)> {
    if attempt.username.contains('@') {
        return super::realm::realm_login(
            services,
            attempt.username,
            attempt.password,
            attempt.client_addr,
        )
        .await;
    }
    let username = normalize_username(attempt.username).unwrap_or_default();
    let keys = Keys::new(&username, attempt.client_addr);
    // Counted before the password is checked, so parallel guesses cannot overtake the limit.
    let reservation = throttle::reserve(services, &keys).await?;

    let found = if username.is_empty() {
        None
    } else {
        user::Entity::find()
            .filter(user::Column::Username.eq(&username))
            .one(&services.db)
            .await?
    };
    let hash = found.as_ref().map(|u| u.password_hash.as_str());
    let password_ok = verify_password(attempt.password, hash).await;
    let user = match found {
        Some(user) if password_ok => user,
        // The reservation stays: it is this failure's count.
        _ => return Err(Error::WrongCredentials),
    };
    if user.disabled {
        throttle::give_back(services, reservation).await?;
        return Err(Error::Invalid(
            "This account is disabled. Ask an admin to enable it.".into(),
        ));
    }
    throttle::succeeded(services, &keys, reservation).await?;
    signed_in(services, user, attempt.client_addr).await
}
