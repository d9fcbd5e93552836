//! Admin server functions, under `/api/admin/`. Every one starts with
//! `session::require(Role::Admin)`: teachers and students are refused before anything happens.

use crate::AppError;
use lab::model::{ClusterForm, ClusterTest, ClusterView, JobFilter, JobView, Role, UserView};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::session::{require, services};
#[cfg(feature = "ssr")]
use lab::jobs::admin::Caller;

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

#[server(endpoint = "admin/clusters")]
pub async fn list_clusters() -> Result<Vec<ClusterView>, AppError> {
    require(Role::Admin).await?;
    Ok(lab::clusters::list(&services()?).await?)
}

/// Adds (`id` = None) or changes a cluster. Secret fields left empty keep the stored ones.
#[server(endpoint = "admin/clusters/save")]
pub async fn save_cluster(id: Option<i32>, form: ClusterForm) -> Result<ClusterView, AppError> {
    let admin = require(Role::Admin).await?;
    let services = services()?;
    let view = match id {
        Some(id) => lab::clusters::update(&services, id, &form).await?,
        None => lab::clusters::create(&services, &form).await?,
    };
    tracing::info!(by = %admin.user.username, cluster = %view.name, "cluster saved");
    Ok(view)
}

#[server(endpoint = "admin/clusters/enabled")]
pub async fn set_cluster_enabled(id: i32, enabled: bool) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    lab::clusters::set_enabled(&services()?, id, enabled).await?;
    tracing::info!(by = %admin.user.username, id, enabled, "cluster switched");
    Ok(())
}

#[server(endpoint = "admin/clusters/delete")]
pub async fn delete_cluster(id: i32) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    lab::clusters::delete(&services()?, id).await?;
    tracing::info!(by = %admin.user.username, id, "cluster removed");
    Ok(())
}

#[server(endpoint = "admin/clusters/test")]
pub async fn test_cluster(id: i32) -> Result<ClusterTest, AppError> {
    require(Role::Admin).await?;
    Ok(lab::clusters::test(&services()?, id).await?)
}

/// The certificate fingerprint at `url`, for the admin to compare and pin.
#[server(endpoint = "admin/clusters/fingerprint")]
pub async fn fetch_fingerprint(url: String) -> Result<String, AppError> {
    require(Role::Admin).await?;
    Ok(lab::clusters::fetch_fingerprint(&url).await?)
}

/// Wakes the sync workers: a quick and a full sync of every enabled cluster, now.
#[server(endpoint = "admin/sync/now")]
pub async fn sync_now() -> Result<(), AppError> {
    require(Role::Admin).await?;
    services()?.sync.wake();
    Ok(())
}

/// The Jobs page's rows, with the server's clock (for "5 s ago" and a lease's time left, the
/// same in the server's HTML and in the browser).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobList {
    pub now: i64,
    pub jobs: Vec<JobView>,
    /// The newest `lab::jobs::admin::PAGE` were shown; older ones exist.
    pub capped: bool,
}

#[server(endpoint = "admin/jobs")]
pub async fn list_jobs(state: JobFilter) -> Result<JobList, AppError> {
    let admin = require(Role::Admin).await?;
    let jobs = lab::jobs::admin::list(&services()?, Caller::Person(&admin.user), state).await?;
    let now = lab::clock::now();
    Ok(JobList {
        now,
        capped: jobs.len() as u64 >= lab::jobs::admin::PAGE,
        jobs,
    })
}

/// Asks a queued job, or a running deploy, to stop; the lab refuses any other with a reason.
#[server(endpoint = "admin/jobs/cancel")]
pub async fn cancel_job(id: i32) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    lab::jobs::admin::cancel(&services()?, Caller::Person(&admin.user), id).await?;
    tracing::info!(by = %admin.user.username, id, "job cancel requested");
    Ok(())
}

/// The Nodes page: every cluster's nodes with their figures, storages and VM counts.
#[server(endpoint = "admin/nodes")]
pub async fn load_nodes() -> Result<lab::model::NodesPage, AppError> {
    let admin = require(Role::Admin).await?;
    Ok(lab::capacity::overview(&services()?, &admin.user).await?)
}
