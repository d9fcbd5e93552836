//! Admin server functions, under `/api/admin/`. Every one starts with
//! `session::require(Role::Admin)`: teachers and students are refused before anything happens.

use crate::AppError;
use lab::model::{Role, UserView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::session::{require, services};

#[server(endpoint = "admin/users")]
pub async fn list_users(search: String) -> Result<Vec<UserView>, AppError> {
    require(Role::Admin).await?;
    Ok(lab::auth::list_users(&services()?, &search).await?)
}

#[server(endpoint = "admin/users/create")]
pub async fn create_user(
    username: String,
    display_name: String,
    email: String,
    role: Role,
    password: String,
) -> Result<UserView, AppError> {
    let admin = require(Role::Admin).await?;
    let email = Some(email).filter(|e| !e.trim().is_empty());
    let user = lab::auth::create_user(
        &services()?,
        lab::auth::NewUser {
            username,
            display_name,
            email,
            role,
            password,
        },
    )
    .await?;
    tracing::info!(by = %admin.user.username, user = %user.username, role = %user.role, "account created");
    Ok(user)
}

#[server(endpoint = "admin/users/role")]
pub async fn set_role(user_id: i32, role: Role) -> Result<UserView, AppError> {
    let admin = require(Role::Admin).await?;
    let user = lab::auth::set_role(&services()?, user_id, role).await?;
    tracing::info!(by = %admin.user.username, user = %user.username, role = %role, "role changed");
    Ok(user)
}

#[server(endpoint = "admin/users/password")]
pub async fn reset_password(user_id: i32, password: String) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    lab::auth::reset_password(&services()?, user_id, &password).await?;
    tracing::info!(by = %admin.user.username, user_id, "password reset");
    Ok(())
}

#[server(endpoint = "admin/users/disabled")]
pub async fn set_disabled(user_id: i32, disabled: bool) -> Result<UserView, AppError> {
    let admin = require(Role::Admin).await?;
    if disabled && admin.user.id == user_id {
        return Err(AppError::Conflict(
            "You cannot disable your own account.".into(),
        ));
    }
    let user = lab::auth::set_disabled(&services()?, user_id, disabled).await?;
    tracing::info!(by = %admin.user.username, user = %user.username, disabled, "account status changed");
    Ok(user)
}

#[server(endpoint = "admin/users/delete")]
pub async fn delete_user(user_id: i32) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    lab::auth::delete_user(&services()?, admin.user.id, user_id).await?;
    tracing::info!(by = %admin.user.username, user_id, "account deleted");
    Ok(())
}

#[server(endpoint = "admin/registration")]
pub async fn set_registration(open: bool) -> Result<bool, AppError> {
    let admin = require(Role::Admin).await?;
    lab::site::set_registration_open(&services()?, open).await?;
    tracing::info!(by = %admin.user.username, open, "self-registration changed");
    Ok(open)
}
