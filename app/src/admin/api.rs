//! Admin server functions, under `/api/admin/`. Every one starts with
//! `session::require(Role::Admin)`: teachers and students are refused before anything happens.

use crate::AppError;
use lab::model::{ClusterForm, ClusterTest, ClusterView, JobFilter, JobView, Role, UserView};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::audited;
#[cfg(feature = "ssr")]
use crate::session::{require, services};
#[cfg(feature = "ssr")]
use lab::audit::Entry;
#[cfg(feature = "ssr")]
use lab::jobs::admin::Caller;
#[cfg(feature = "ssr")]
use lab::model::AuditAction;

/// `account alice` when the change went through, `account #7` when it did not.
#[cfg(feature = "ssr")]
fn account(user_id: i32, result: &Result<UserView, lab::Error>) -> String {
    match result {
        Ok(user) => format!("account {}", user.username),
        Err(_) => format!("account #{user_id}"),
    }
}

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
    let object = format!("account {}", username.trim());
    let result = lab::auth::create_user(
        &services()?,
        lab::auth::NewUser {
            username,
            display_name,
            email,
            role,
            password,
        },
    )
    .await;
    let entry = Entry::by(&admin.user, AuditAction::AccountCreated)
        .object(object)
        .detail(format!("role {role}"));
    audited::record(entry, &result).await;
    Ok(result?)
}

#[server(endpoint = "admin/users/role")]
pub async fn set_role(user_id: i32, role: Role) -> Result<UserView, AppError> {
    let admin = require(Role::Admin).await?;
    let result = lab::auth::set_role(&services()?, user_id, role).await;
    let entry = Entry::by(&admin.user, AuditAction::RoleChanged)
        .object(account(user_id, &result))
        .detail(format!("to {role}"));
    audited::record(entry, &result).await;
    Ok(result?)
}

#[server(endpoint = "admin/users/password")]
pub async fn reset_password(user_id: i32, password: String) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    let services = services()?;
    let result = lab::auth::reset_password(&services, user_id, &password).await;
    let name = lab::auth::username_of(&services, user_id)
        .await
        .ok()
        .flatten();
    let entry = Entry::by(&admin.user, AuditAction::PasswordChanged)
        .object(match name {
            Some(name) => format!("account {name}"),
            None => format!("account #{user_id}"),
        })
        .detail("set by an admin");
    audited::record(entry, &result).await;
    Ok(result?)
}

#[server(endpoint = "admin/users/disabled")]
pub async fn set_disabled(user_id: i32, disabled: bool) -> Result<UserView, AppError> {
    let admin = require(Role::Admin).await?;
    if disabled && admin.user.id == user_id {
        return Err(AppError::Conflict(
            "You cannot disable your own account.".into(),
        ));
    }
    let result = lab::auth::set_disabled(&services()?, user_id, disabled).await;
    let action = if disabled {
        AuditAction::AccountDisabled
    } else {
        AuditAction::AccountEnabled
    };
    let entry = Entry::by(&admin.user, action).object(account(user_id, &result));
    audited::record(entry, &result).await;
    Ok(result?)
}

#[server(endpoint = "admin/users/delete")]
pub async fn delete_user(user_id: i32) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    let services = services()?;
    let name = lab::auth::username_of(&services, user_id)
        .await
        .ok()
        .flatten();
    let result = lab::auth::delete_user(&services, admin.user.id, user_id).await;
    let entry = Entry::by(&admin.user, AuditAction::AccountDeleted).object(match name {
        Some(name) => format!("account {name}"),
        None => format!("account #{user_id}"),
    });
    audited::record(entry, &result).await;
    Ok(result?)
}

#[server(endpoint = "admin/registration")]
pub async fn set_registration(open: bool) -> Result<bool, AppError> {
    let admin = require(Role::Admin).await?;
    let result = lab::site::set_registration_open(&services()?, open).await;
    let entry = Entry::by(&admin.user, AuditAction::AccountChanged)
        .object("self-registration")
        .detail(if open { "opened" } else { "closed" });
    audited::record(entry, &result).await;
    result?;
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
    let (result, action) = match id {
        Some(id) => (
            lab::clusters::update(&services, id, &form).await,
            AuditAction::ClusterChanged,
        ),
        None => (
            lab::clusters::create(&services, &form).await,
            AuditAction::ClusterAdded,
        ),
    };
    let mut entry = Entry::by(&admin.user, action).object(format!("cluster {}", form.name.trim()));
    if let Ok(view) = &result {
        entry = entry.cluster(view.id);
    }
    audited::record(entry, &result).await;
    Ok(result?)
}

#[server(endpoint = "admin/clusters/enabled")]
pub async fn set_cluster_enabled(id: i32, enabled: bool) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    let result = lab::clusters::set_enabled(&services()?, id, enabled).await;
    let entry = Entry::by(&admin.user, AuditAction::ClusterChanged)
        .object(format!("cluster #{id}"))
        .cluster(id)
        .detail(if enabled { "enabled" } else { "disabled" });
    audited::record(entry, &result).await;
    Ok(result?)
}

#[server(endpoint = "admin/clusters/delete")]
pub async fn delete_cluster(id: i32) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    let result = lab::clusters::delete(&services()?, id).await;
    let entry = Entry::by(&admin.user, AuditAction::ClusterRemoved)
        .object(format!("cluster #{id}"))
        .cluster(id);
    audited::record(entry, &result).await;
    Ok(result?)
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
