//! Proxmox-realm login: `user@pam` / `user@pve` is checked with `/access/ticket` against the
//! enabled clusters and, when accepted (and in the cluster's admin group if one is named),
//! signs in as a portal admin. The account row is created on first login with an unusable
//! password hash, so it can only ever sign in through Proxmox; local usernames can never
//! contain `@`, so the two kinds cannot collide.

use super::now;
use super::throttle::{self, Keys};
use crate::db::entity::{cluster, user};
use crate::model::Role;
use crate::pve;
use crate::{Error, Result, Services, clusters};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// The password hash of realm accounts: not a PHC string, so no password ever matches it.
const NO_LOCAL_PASSWORD: &str = "!proxmox-realm";

pub(super) async fn realm_login(
    services: &Services,
    username: &str,
    password: &str,
    client_addr: Option<&str>,
) -> Result<(user::Model, String)> {
    let username = username.trim();
    let valid = username.len() <= 128
        && username.split_once('@').is_some_and(|(u, realm)| {
            !u.is_empty()
                && !realm.is_empty()
                && username
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
        });
    if !valid {
        return Err(Error::WrongCredentials);
    }
    let keys = Keys::new(username, client_addr);
    throttle::check(services, &keys).await?;
    let clusters = cluster::Entity::find()
        .filter(cluster::Column::Enabled.eq(true))
        .all(&services.db)
        .await?;
    if clusters.is_empty() {
        return Err(Error::Invalid(
            "Proxmox accounts (name@realm) can sign in once an admin has connected a cluster."
                .into(),
        ));
    }
    let mut reachable = false;
    let mut accepted = None;
    for cluster in &clusters {
        let client = clusters::client(services, cluster)?;
        match client.check_login(username, password).await {
            Ok(info) => {
                reachable = true;
                let allowed = cluster
                    .admin_group
                    .as_deref()
                    .is_none_or(|group| info.groups.iter().any(|g| g == group));
                if allowed {
                    accepted = Some(info.username);
                    break;
                }
                tracing::info!(user = %info.username, cluster = %cluster.name, "realm login refused: not in the admin group");
            }
            Err(pve::Error::Unauthorized(_)) => reachable = true,
            Err(e) => {
                tracing::warn!(cluster = %cluster.name, error = %e, "realm login: cluster unavailable")
            }
        }
    }
    let Some(username) = accepted else {
        if !reachable {
            return Err(Error::Unavailable(
                "No Proxmox cluster can be reached to check this account. Try again later.".into(),
            ));
        }
        throttle::record_failure(services, &keys).await?;
        return Err(Error::WrongCredentials);
    };
    throttle::clear_user(services, &keys).await?;
    let user = find_or_create(services, &username).await?;
    if user.disabled {
        return Err(Error::Invalid(
            "This account is disabled. Ask an admin to enable it.".into(),
        ));
    }
    super::login::signed_in(services, user, client_addr).await
}

async fn find_or_create(services: &Services, username: &str) -> Result<user::Model> {
    if let Some(found) = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&services.db)
        .await?
    {
        return Ok(found);
    }
    tracing::info!(user = %username, "first Proxmox-realm login: admin account created");
    Ok(user::ActiveModel {
        username: Set(username.to_owned()),
        display_name: Set(username.to_owned()),
        email: Set(None),
        role: Set(Role::Admin.as_str().into()),
        password_hash: Set(NO_LOCAL_PASSWORD.into()),
        disabled: Set(false),
        created_at: Set(now()),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(&services.db)
    .await?)
}
