//! Admins: VMs nobody has that look like someone's: a VM outside every class with no
//! assignment whose name has a user's name as one of its parts (`lab-alice`, `alice_win11`,
//! `ws.alice.3`), or one of whose Proxmox tags is a user's name, or whose pool has one as a
//! part (`students-alice`). The old portal left VMs like these behind; the dashboard
//! offers to assign them in one go (through [`super::bulk_assign`], which checks each line
//! again). From the database only.

use crate::db::entity::{assignment, class_vm, cluster, user, vm};
use crate::model::{AssignmentSuggestion, SuggestionReason};
use crate::{Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{HashMap, HashSet};

/// The most suggestions offered at once.
const MAX_SUGGESTIONS: usize = 200;

/// Suggestions, by cluster then VMID. A VM that names two users (in its name, tags and pool
/// together) suggests nobody.
pub async fn suggested_assignments(services: &Services) -> Result<Vec<AssignmentSuggestion>> {
    let users: HashMap<String, String> = user::Entity::find()
        .all(&services.db)
        .await?
        .into_iter()
        .map(|u| (u.username.to_ascii_lowercase(), u.username))
        .collect();
    let taken: HashSet<(i32, i32)> = assignment::Entity::find()
        .select_only()
        .column(assignment::Column::ClusterId)
        .column(assignment::Column::Vmid)
        .into_tuple::<(i32, i32)>()
        .all(&services.db)
        .await?
        .into_iter()
        .chain(
            class_vm::Entity::find()
                .select_only()
                .column(class_vm::Column::ClusterId)
                .column(class_vm::Column::Vmid)
                .into_tuple::<(i32, i32)>()
                .all(&services.db)
                .await?,
        )
        .collect();
    let clusters: HashMap<i32, String> = cluster::Entity::find()
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let vms = vm::Entity::find()
        .filter(vm::Column::Template.eq(false))
        .order_by_asc(vm::Column::ClusterId)
        .order_by_asc(vm::Column::Vmid)
        .all(&services.db)
        .await?;
    let mut out = Vec::new();
    for v in vms {
        if taken.contains(&(v.cluster_id, v.vmid)) {
            continue;
        }
        let Some((username, reason)) = named_user(&v, &users) else {
            continue;
        };
        out.push(AssignmentSuggestion {
            cluster_id: v.cluster_id,
            cluster: clusters.get(&v.cluster_id).cloned().unwrap_or_default(),
            vmid: v.vmid,
            vm_name: v.name,
            username,
            reason,
        });
        if out.len() == MAX_SUGGESTIONS {
            break;
        }
    }
    Ok(out)
}

/// The one user that `v` names, and where it first does: a whole part of its name (split
/// at anything but letters and digits, parts of 3 or more), a whole tag (Proxmox separates
/// them with `;`, `,` or spaces), or a whole part of its pool.
fn named_user(
    v: &vm::Model,
    users: &HashMap<String, String>,
) -> Option<(String, SuggestionReason)> {
    let parts = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|part| part.len() >= 3)
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let tags: Vec<String> = v
        .tags
        .as_deref()
        .unwrap_or_default()
        .split([';', ',', ' '])
        .map(str::to_ascii_lowercase)
        .collect();
    let sources = [
        (SuggestionReason::Name, parts(&v.name)),
        (SuggestionReason::Tag, tags),
        (
            SuggestionReason::Pool,
            parts(v.pool.as_deref().unwrap_or_default()),
        ),
    ];
    let mut found: Vec<(&String, SuggestionReason)> = Vec::new();
    for (reason, words) in &sources {
        for word in words {
            if let Some(user) = users.get(word)
                && !found.iter().any(|(u, _)| *u == user)
            {
                found.push((user, *reason));
            }
        }
    }
    match found.as_slice() {
        [(user, reason)] => Some(((*user).clone(), *reason)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::named_user;
    use crate::db::entity::vm;
    use crate::model::SuggestionReason::{self, Name, Pool, Tag};
    use std::collections::HashMap;

    fn guest(name: &str, tags: Option<&str>, pool: Option<&str>) -> vm::Model {
        vm::Model {
            name: name.into(),
            tags: tags.map(Into::into),
            pool: pool.map(Into::into),
            ..crate::sync::quick::blank(1, 100, 0)
        }
    }

    fn named(v: vm::Model) -> Option<(String, SuggestionReason)> {
        let users: HashMap<String, String> = [("alice", "alice"), ("bob", "Bob"), ("win", "win")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        named_user(&v, &users)
    }

    #[test]
    fn a_vm_names_one_user_or_none() {
        let by = |user: &str, reason| Some((user.to_string(), reason));
        assert_eq!(named(guest("lab-alice", None, None)), by("alice", Name));
        assert_eq!(named(guest("ws.BOB.3", None, None)), by("Bob", Name));
        assert_eq!(
            named(guest("alicewin", None, None)),
            None,
            "only whole parts"
        );
        assert_eq!(
            named(guest("alice-bob", None, None)),
            None,
            "two users: nobody"
        );
        assert_eq!(named(guest("debian-12", None, None)), None);
        assert_eq!(
            named(guest("ws-7", Some("lab;Alice"), None)),
            by("alice", Tag)
        );
        assert_eq!(
            named(guest("ws-7", Some("alice-lab"), None)),
            None,
            "whole tags only"
        );
        assert_eq!(
            named(guest("ws-7", None, Some("students-bob"))),
            by("Bob", Pool)
        );
        assert_eq!(
            named(guest("lab-alice", Some("alice"), Some("alice"))),
            by("alice", Name),
            "the same user everywhere: the first place"
        );
        assert_eq!(
            named(guest("lab-alice", Some("bob"), None)),
            None,
            "name and tag disagree"
        );
    }
}
