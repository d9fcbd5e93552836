//! Proxmox-realm login: `user@pam` / `user@pve` is checked with `/access/ticket` against the
//! enabled clusters; the portal role comes from the user's Proxmox groups, mapped explicitly
//! per cluster ([`realm_role`]):
//!
//! * `root@pam` is an admin (it is the cluster's superuser in any case);
//! * a member of the cluster's admin group is an admin, of its teacher group a teacher, of its
//!   student group a student (the highest wins; with several clusters, the highest over all);
//! * anyone else is refused, with a message that says why. An empty admin group means "only
//!   `root@pam`": nobody becomes an admin just because Proxmox accepted their password.
//!
//! Groups are read with the cluster's own credentials: `GET /access/users/{userid}`, and when
//! that is refused or not answered, `GET /access/groups/{groupid}` of each mapped group. When
//! neither answers, the sign-in is refused with "cannot check your Proxmox groups" (logged at
//! WARN, and not counted as a failed password: the password was right).
//!
//! The role is applied at every sign-in, so Proxmox stays the source of truth for realm
//! accounts. The account row is created on first login with an unusable password hash, so it
//! can only ever sign in through Proxmox; local usernames can never contain `@`, so the two
//! kinds cannot collide.

use super::now;
use super::throttle::{self, Keys};
use crate::db::entity::{cluster, user};
use crate::model::Role;
use crate::pve;
use crate::{Error, Result, Services, clusters};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// The password hash of realm accounts: not a PHC string, so no password ever matches it.
const NO_LOCAL_PASSWORD: &str = "!proxmox-realm";
/// The cluster's superuser, always a portal admin.
const ROOT: &str = "root@pam";

/// What one cluster says about a realm user whose password it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealmVerdict {
    /// Signs in with this role.
    Role(Role),
    /// In none of the mapped groups.
    NoRole,
    /// The groups could not be read with the portal's credentials.
    GroupsUnknown,
}

/// The role a cluster's group mapping gives `userid` with `groups` (`None`: no role).
pub fn realm_role(cluster: &cluster::Model, userid: &str, groups: &[String]) -> Option<Role> {
    if userid == ROOT {
        return Some(Role::Admin);
    }
    let member = |group: &Option<String>| {
        group
            .as_deref()
            .is_some_and(|g| groups.iter().any(|have| have == g))
    };
    if member(&cluster.admin_group) {
        Some(Role::Admin)
    } else if member(&cluster.teacher_group) {
        Some(Role::Teacher)
    } else if member(&cluster.student_group) {
        Some(Role::Student)
    } else {
        None
    }
}

/// The mapped groups of a cluster (those set).
fn mapped_groups(cluster: &cluster::Model) -> Vec<&str> {
    [
        &cluster.admin_group,
        &cluster.teacher_group,
        &cluster.student_group,
    ]
    .into_iter()
    .filter_map(|g| g.as_deref())
    .collect()
}

/// The user's groups among those that matter, or `None` when Proxmox would not tell us.
async fn groups_of(
    client: &pve::Client,
    cluster: &cluster::Model,
    userid: &str,
) -> Option<Vec<String>> {
    let mapped = mapped_groups(cluster);
    if mapped.is_empty() || userid == ROOT {
        return Some(Vec::new());
    }
    match client.user_groups(userid).await {
        Ok(groups) => return Some(groups),
        Err(e) => tracing::info!(
            cluster = %cluster.name, user = %userid, error = %e,
            "cannot read the user's groups; asking each mapped group instead"
        ),
    }
    let mut groups = Vec::new();
    for group in mapped {
        match client.group_members(group).await {
            Ok(members) if members.iter().any(|m| m == userid) => groups.push(group.to_owned()),
            Ok(_) => {}
            // PVE: 500 "group 'x' does not exist": nobody is in it.
            Err(pve::Error::Api { message, .. }) if message.contains("does not exist") => {
                tracing::warn!(cluster = %cluster.name, %group, "a mapped Proxmox group does not exist");
            }
            Err(e) => {
                tracing::warn!(
                    cluster = %cluster.name, user = %userid, %group, error = %e,
                    "cannot check a realm user's Proxmox groups: the portal's token needs Sys.Audit"
                );
                return None;
            }
        }
    }
    Some(groups)
}

/// What `cluster` says of `userid`, whose password it accepted.
pub async fn verdict(client: &pve::Client, cluster: &cluster::Model, userid: &str) -> RealmVerdict {
    match groups_of(client, cluster, userid).await {
        None => RealmVerdict::GroupsUnknown,
        Some(groups) => match realm_role(cluster, userid, &groups) {
            Some(role) => RealmVerdict::Role(role),
            None => RealmVerdict::NoRole,
        },
    }
}

/// The message for a user no cluster gives a role.
const GROUPS_UNKNOWN: &str = "The portal cannot check your Proxmox groups: the portal's token needs \
     Sys.Audit on /access/groups. Ask an admin.";

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
    let mut accepted: Option<String> = None;
    let mut role: Option<Role> = None;
    let mut groups_unknown = false;
    for cluster in &clusters {
        let client = clusters::client(services, cluster)?;
        match client.check_login(username, password).await {
            Ok(userid) => {
                reachable = true;
                match verdict(&client, cluster, &userid).await {
                    RealmVerdict::Role(r) => role = role.max(Some(r)),
                    RealmVerdict::NoRole => tracing::info!(
                        user = %userid, cluster = %cluster.name,
                        "realm login: in none of the cluster's mapped groups"
                    ),
                    RealmVerdict::GroupsUnknown => groups_unknown = true,
                }
                accepted = Some(userid);
            }
            Err(pve::Error::Unauthorized(_)) => reachable = true,
            Err(e) => {
                tracing::warn!(cluster = %cluster.name, error = %e, "realm login: cluster unavailable")
            }
        }
    }
    let Some(userid) = accepted else {
        if !reachable {
            return Err(Error::Unavailable(
                "No Proxmox cluster can be reached to check this account. Try again later.".into(),
            ));
        }
        throttle::record_failure(services, &keys).await?;
        return Err(Error::WrongCredentials);
    };
    // The password was right: whatever follows is not a failed guess.
    throttle::clear_user(services, &keys).await?;
    let Some(role) = role else {
        if groups_unknown {
            return Err(Error::Unavailable(GROUPS_UNKNOWN.into()));
        }
        return Err(Error::Invalid(format!(
            "Your Proxmox account {userid} is not in a Proxmox group that this portal gives a \
             role to. Ask an admin to add you to the portal's admin, teacher or student group."
        )));
    };
    let user = find_or_create(services, &userid, role).await?;
    if user.disabled {
        return Err(Error::Invalid(
            "This account is disabled. Ask an admin to enable it.".into(),
        ));
    }
    super::sessions::signed_in(services, user, client_addr).await
}

/// The account of a realm user, created on first sign-in; its role follows Proxmox.
async fn find_or_create(services: &Services, username: &str, role: Role) -> Result<user::Model> {
    if let Some(found) = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&services.db)
        .await?
    {
        if super::role_of(&found) == role {
            return Ok(found);
        }
        tracing::info!(user = %username, %role, "realm login: role follows the Proxmox groups");
        super::set_role(services, found.id, role).await?;
        return user::Entity::find_by_id(found.id)
            .one(&services.db)
            .await?
            .ok_or_else(|| Error::NotFound("The account".into()));
    }
    tracing::info!(user = %username, %role, "first Proxmox-realm login: account created");
    Ok(user::ActiveModel {
        username: Set(username.to_owned()),
        display_name: Set(username.to_owned()),
        email: Set(None),
        role: Set(role.as_str().into()),
        password_hash: Set(NO_LOCAL_PASSWORD.into()),
        disabled: Set(false),
        created_at: Set(now()),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(&services.db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(
        admin: Option<&str>,
        teacher: Option<&str>,
        student: Option<&str>,
    ) -> cluster::Model {
        cluster::Model {
            id: 1,
            name: "c".into(),
            api_urls: String::new(),
            fingerprint: None,
            auth_kind: "token".into(),
            auth_id: String::new(),
            secret_enc: String::new(),
            admin_group: admin.map(Into::into),
            teacher_group: teacher.map(Into::into),
            student_group: student.map(Into::into),
            vm_subnets: String::new(),
            ssh_user: None,
            ssh_key_enc: None,
            ssh_host_keys: None,
            pve_root: "/etc/pve".into(),
            storage_paths: String::new(),
            ssh_port: 22,
            enabled: true,
            created_at: 0,
            teachers_build: false,
        }
    }

    /// Every mapping (each group set or not) against every membership (in each group or not),
    /// for root@pam and an ordinary user: the role is the highest mapped group the user is in,
    /// root@pam is always an admin, and nothing else gives a role.
    #[test]
    fn the_permission_matrix() {
        let names = ["admins", "teachers", "students"];
        for mapping in 0u8..8 {
            let set = |i: usize| (mapping & (1 << i) != 0).then_some(names[i]);
            let c = cluster(set(0), set(1), set(2));
            for membership in 0u8..8 {
                let groups: Vec<String> = (0..3)
                    .filter(|i| membership & (1 << i) != 0)
                    .map(|i| names[i].to_owned())
                    .collect();
                let in_mapped = |i: usize| mapping & membership & (1 << i) != 0;
                let expected = if in_mapped(0) {
                    Some(Role::Admin)
                } else if in_mapped(1) {
                    Some(Role::Teacher)
                } else if in_mapped(2) {
                    Some(Role::Student)
                } else {
                    None
                };
                assert_eq!(
                    realm_role(&c, "someone@pve", &groups),
                    expected,
                    "mapping {mapping:03b}, membership {membership:03b}"
                );
                assert_eq!(realm_role(&c, ROOT, &groups), Some(Role::Admin));
            }
        }
    }

    #[test]
    fn an_empty_admin_group_makes_only_root_an_admin() {
        let c = cluster(None, None, None);
        assert_eq!(realm_role(&c, "student1@pve", &["admin".into()]), None);
        assert_eq!(realm_role(&c, "root@pve", &[]), None, "only root@pam");
        assert_eq!(realm_role(&c, ROOT, &[]), Some(Role::Admin));
    }
}
