//! Account rules: creating, listing, changing and deleting local users.
//!
//! Invariants kept here, whoever calls: usernames follow `model::normalize_username`; new
//! passwords follow the policy; there is always at least one enabled admin once one exists;
//! a password change or reset, a disable or a delete ends the user's sessions; those and a
//! role change close the user's open consoles (`crate::revocation`).

use super::role::role_of;
use super::throttle::{self, Keys};
use super::{hash_password, now, sessions, verify_password};
use crate::db::entity::{session, user};
use crate::model::{Me, Role, UserView, check_password_policy, normalize_username};
use crate::revocation::Revoked;
use crate::{Error, Result, Services};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

/// What it takes to create an account.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub password: String,
}

impl From<user::Model> for UserView {
    fn from(u: user::Model) -> Self {
        UserView {
            id: u.id,
            role: role_of(&u),
            username: u.username,
            display_name: u.display_name,
            email: u.email,
            disabled: u.disabled,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

impl From<user::Model> for Me {
    fn from(u: user::Model) -> Self {
        Me {
            id: u.id,
            role: role_of(&u),
            username: u.username,
            display_name: u.display_name,
            email: u.email,
        }
    }
}

/// Validates and creates an account. The password is hashed before any database work.
pub async fn create_user(services: &Services, new: NewUser) -> Result<UserView> {
    let (row, _) = prepare(new).await?;
    insert(&services.db, row).await
}

/// Checks the input and hashes the password; returns the row to insert.
pub(super) async fn prepare(new: NewUser) -> Result<(user::ActiveModel, String)> {
    let username = normalize_username(&new.username).map_err(Error::Invalid)?;
    check_password_policy(&new.password).map_err(Error::Invalid)?;
    let display_name = clean_display_name(&new.display_name, &username)?;
    let email = clean_email(new.email.as_deref())?;
    let password_hash = hash_password(&new.password).await?;
    let row = user::ActiveModel {
        username: Set(username.clone()),
        display_name: Set(display_name),
        email: Set(email),
        role: Set(new.role.as_str().into()),
        password_hash: Set(password_hash),
        disabled: Set(false),
        created_at: Set(now()),
        last_login_at: Set(None),
        ..Default::default()
    };
    Ok((row, username))
}

pub(super) async fn insert(db: &impl ConnectionTrait, row: user::ActiveModel) -> Result<UserView> {
    let username = row.username.clone().unwrap();
    if user::Entity::find()
        .filter(user::Column::Username.eq(&username))
        .one(db)
        .await?
        .is_some()
    {
        return Err(taken(&username));
    }
    match row.insert(db).await {
        Ok(model) => Ok(model.into()),
        // Two requests racing for one name: the unique index decides.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(taken(&username))
        }
        Err(e) => Err(e.into()),
    }
}

fn taken(username: &str) -> Error {
    Error::Conflict(format!("The username {username} is already taken."))
}

fn clean_display_name(raw: &str, username: &str) -> Result<String> {
    let name = raw.trim();
    if name.chars().count() > 80 {
        return Err(Error::Invalid(
            "Display names are at most 80 characters.".into(),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "Display names cannot contain control characters.".into(),
        ));
    }
    Ok(if name.is_empty() {
        username.to_owned()
    } else {
        name.to_owned()
    })
}

fn clean_email(raw: Option<&str>) -> Result<Option<String>> {
    let Some(email) = raw.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if valid {
        Ok(Some(email.to_owned()))
    } else {
        Err(Error::Invalid(format!("{email} is not an email address.")))
    }
}

/// Looks an account up by username (any case).
pub async fn find_user(services: &Services, username: &str) -> Result<Option<user::Model>> {
    let Ok(username) = normalize_username(username) else {
        return Ok(None);
    };
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&services.db)
        .await?)
}

/// The username of account `user_id`, if it exists (for the audit log's words).
pub async fn username_of(services: &Services, user_id: i32) -> Result<Option<String>> {
    Ok(user::Entity::find_by_id(user_id)
        .one(&services.db)
        .await?
        .map(|u| u.username))
}

/// Accounts whose username, display name or email contains `search` (any case), by username.
pub async fn list_users(services: &Services, search: &str) -> Result<Vec<UserView>> {
    let mut query = user::Entity::find().order_by_asc(user::Column::Username);
    let search = search.trim().to_lowercase();
    if !search.is_empty() {
        let pattern = format!("%{}%", search.replace(['%', '_'], ""));
        query = query.filter(
            lower(user::Column::Username)
                .like(&pattern)
                .or(lower(user::Column::DisplayName).like(&pattern))
                .or(lower(user::Column::Email).like(&pattern)),
        );
    }
    let rows = query.limit(1000).all(&services.db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

fn lower(column: user::Column) -> Expr {
    Expr::expr(Func::lower(Expr::col(column)))
}

async fn get(db: &impl ConnectionTrait, id: i32) -> Result<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("That account".into()))
}

/// Enabled admins other than `except`.
async fn other_active_admins(db: &impl ConnectionTrait, except: i32) -> Result<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::Disabled.eq(false))
        .filter(user::Column::Id.ne(except))
        .count(db)
        .await?)
}

async fn keep_an_admin(db: &impl ConnectionTrait, target: &user::Model) -> Result<()> {
    if role_of(target) == Role::Admin
        && !target.disabled
        && other_active_admins(db, target.id).await? == 0
    {
        return Err(Error::Conflict(
            "This is the last enabled admin; make another admin first.".into(),
        ));
    }
    Ok(())
}

pub async fn set_role(services: &Services, user_id: i32, role: Role) -> Result<UserView> {
    let target = get(&services.db, user_id).await?;
    if role != Role::Admin {
        keep_an_admin(&services.db, &target).await?;
    }
    let mut row: user::ActiveModel = target.into();
    row.role = Set(role.as_str().into());
    let updated = row.update(&services.db).await?;
    // A lower role may lose VMs (another's class, any VM as admin): their consoles re-check.
    services.revocations.publish(Revoked::User(user_id));
    Ok(updated.into())
}

pub async fn set_disabled(services: &Services, user_id: i32, disabled: bool) -> Result<UserView> {
    let target = get(&services.db, user_id).await?;
    if disabled {
        keep_an_admin(&services.db, &target).await?;
    }
    let mut row: user::ActiveModel = target.into();
    row.disabled = Set(disabled);
    let updated = row.update(&services.db).await?;
    if disabled {
        sessions::end_all_for_user(services, user_id, None).await?;
    }
    Ok(updated.into())
}

/// Deletes an account (its sessions go with it). Admins cannot delete themselves.
pub async fn delete_user(services: &Services, actor_id: i32, user_id: i32) -> Result<()> {
    if actor_id == user_id {
        return Err(Error::Conflict(
            "You cannot delete your own account.".into(),
        ));
    }
    let target = get(&services.db, user_id).await?;
    keep_an_admin(&services.db, &target).await?;
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(&services.db)
        .await?;
    user::Entity::delete_by_id(user_id)
        .exec(&services.db)
        .await?;
    services.revocations.publish(Revoked::User(user_id));
    Ok(())
}

/// An admin sets a new password for someone; all that user's sessions end.
pub async fn reset_password(services: &Services, user_id: i32, new_password: &str) -> Result<()> {
    check_password_policy(new_password).map_err(Error::Invalid)?;
    let target = get(&services.db, user_id).await?;
    store_password(services, target, new_password).await?;
    sessions::end_all_for_user(services, user_id, None).await
}

/// A user changes their own password; their other sessions end, this one stays.
pub async fn change_password(
    services: &Services,
    user_id: i32,
    current: &str,
    new_password: &str,
    this_session: &str,
) -> Result<()> {
    let target = get(&services.db, user_id).await?;
    // Guessing the current password from a stolen session is throttled like sign-in: the
    // guess is counted before it is checked, and past the limit even the right one is refused.
    let keys = Keys::password_change(user_id);
    let reservation = throttle::reserve(services, &keys).await?;
    if !verify_password(current, Some(&target.password_hash)).await {
        return Err(Error::Invalid("The current password is not right.".into()));
    }
    throttle::succeeded(services, &keys, reservation).await?;
    check_password_policy(new_password).map_err(Error::Invalid)?;
    if current == new_password {
        return Err(Error::Invalid(
            "Choose a password different from the current one.".into(),
        ));
    }
    store_password(services, target, new_password).await?;
    sessions::end_all_for_user(services, user_id, Some(this_session)).await
}

async fn store_password(services: &Services, target: user::Model, password: &str) -> Result<()> {
    let hash = hash_password(password).await?;
    let mut row: user::ActiveModel = target.into();
    row.password_hash = Set(hash);
    row.update(&services.db).await?;
    Ok(())
}

/// A user edits their display name and email.
pub async fn update_profile(
    services: &Services,
    user_id: i32,
    display_name: &str,
    email: Option<&str>,
) -> Result<Me> {
    let target = get(&services.db, user_id).await?;
    let display_name = clean_display_name(display_name, &target.username)?;
    let email = clean_email(email)?;
    let mut row: user::ActiveModel = target.into();
    row.display_name = Set(display_name);
    row.email = Set(email);
    Ok(row.update(&services.db).await?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_loosely_but_checked() {
        assert_eq!(clean_email(None).unwrap(), None);
        assert_eq!(clean_email(Some("  ")).unwrap(), None);
        assert_eq!(
            clean_email(Some(" a@school.example ")).unwrap(),
            Some("a@school.example".into())
        );
        for bad in ["a", "a@b", "@school.example", "a b@school.example"] {
            assert!(clean_email(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names_default_to_the_username() {
        assert_eq!(clean_display_name("  ", "alice").unwrap(), "alice");
        assert_eq!(
            clean_display_name(" Alice B. ", "alice").unwrap(),
            "Alice B."
        );
        assert!(clean_display_name("a\u{7}b", "x").is_err());
        assert!(clean_display_name(&"x".repeat(81), "x").is_err());
    }
}
