//! Server-side sessions. The browser holds a random 256-bit id; the `sessions` table holds its
//! SHA-256, the user, and two clocks: an idle deadline that slides forward on use, and an
//! absolute lifetime it never slides past. Logout deletes the row, so a stolen cookie dies
//! with it.

use super::now;
use super::role::role_of;
use crate::db::entity::{session, user};
use crate::model::Role;
use crate::revocation::Revoked;
use crate::token::{hash_token, random_token};
use crate::{Result, Services};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// Refresh `last_seen_at` at most this often, so reads do not each become a write.
pub(crate) const TOUCH_EVERY_SECS: i64 = 60;

/// A live session and its user. Its `Debug` leaves out the cookie's secret and the user's
/// password hash, so a `{:?}` in a log line or a panic message cannot leak them.
#[derive(Clone)]
pub struct Session {
    /// The secret from the cookie (needed to end the other sessions but not this one).
    pub token: String,
    pub user: user::Model,
    pub expires_at: i64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"[redacted]")
            .field("user_id", &self.user.id)
            .field("username", &self.user.username)
            .field("role", &self.role())
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Session {
    pub fn role(&self) -> Role {
        role_of(&self.user)
    }
}

/// Starts a session for `user_id`; returns the secret to put in the cookie.
pub async fn start_session(
    services: &Services,
    user_id: i32,
    client_addr: Option<String>,
) -> Result<String> {
    let token = random_token();
    let t = now();
    session::ActiveModel {
        id_hash: Set(hash_token(&token)),
        user_id: Set(user_id),
        created_at: Set(t),
        last_seen_at: Set(t),
        expires_at: Set(t + services.policy.session_idle_minutes * 60),
        client_addr: Set(client_addr),
    }
    .insert(&services.db)
    .await?;
    Ok(token)
}

/// The live session for a cookie secret, sliding its idle deadline; `None` when it is unknown,
/// expired, or its user is disabled.
pub async fn resolve_session(services: &Services, token: &str) -> Result<Option<Session>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let found = session::Entity::find_by_id(hash_token(token))
        .find_also_related(user::Entity)
        .one(&services.db)
        .await?;
    let Some((row, Some(user))) = found else {
        return Ok(None);
    };
    let t = now();
    if row.expires_at <= t || user.disabled {
        session::Entity::delete_by_id(row.id_hash)
            .exec(&services.db)
            .await?;
        return Ok(None);
    }
    let mut expires_at = row.expires_at;
    if t - row.last_seen_at >= TOUCH_EVERY_SECS {
        let hard_end = row.created_at + services.policy.session_max_hours * 3600;
        expires_at = (t + services.policy.session_idle_minutes * 60).min(hard_end);
        let mut active: session::ActiveModel = row.into();
        active.last_seen_at = Set(t);
        active.expires_at = Set(expires_at);
        active.update(&services.db).await?;
    }
    Ok(Some(Session {
        token: token.to_owned(),
        user,
        expires_at,
    }))
}

/// Ends one session (logout). Unknown secrets are fine: the result is the same. Its open
/// consoles close (see `crate::revocation`).
pub async fn end_session(services: &Services, token: &str) -> Result<()> {
    let id_hash = hash_token(token);
    session::Entity::delete_by_id(id_hash.clone())
        .exec(&services.db)
        .await?;
    services.revocations.publish(Revoked::Session(id_hash));
    Ok(())
}

/// Ends every session of a user, except the one whose secret is `keep`; the consoles open
/// in them close (those of `keep` stay).
pub(super) async fn end_all_for_user(
    services: &Services,
    user_id: i32,
    keep: Option<&str>,
) -> Result<()> {
    let mut query = session::Entity::delete_many().filter(session::Column::UserId.eq(user_id));
    if let Some(keep) = keep {
        query = query.filter(session::Column::IdHash.ne(hash_token(keep)));
    }
    query.exec(&services.db).await?;
    services.revocations.publish(Revoked::User(user_id));
    Ok(())
}

/// The end of every successful login (local or Proxmox realm): a session, and the time.
pub(super) async fn signed_in(
    services: &Services,
    user: user::Model,
    client_addr: Option<&str>,
) -> Result<(user::Model, String)> {
    purge_expired(services).await?;
    let token = start_session(services, user.id, client_addr.map(str::to_owned)).await?;
    let mut active: user::ActiveModel = user.into();
    active.last_login_at = Set(Some(now()));
    let user = active.update(&services.db).await?;
    Ok((user, token))
}

/// Deletes sessions past their deadline (they would be refused anyway; this keeps the table
/// small). Called at login.
pub(super) async fn purge_expired(services: &Services) -> Result<()> {
    session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(now()))
        .exec(&services.db)
        .await?;
    Ok(())
}
