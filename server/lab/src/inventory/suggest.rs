//! Admins: VMs nobody has that look like someone's, by name: a VM outside every class with
//! no assignment whose name has a user's name as one of its parts (`lab-alice`,
//! `alice_win11`, `ws.alice.3`). The old portal left VMs like these behind; the dashboard
//! offers to assign them in one go (through [`super::bulk_assign`], which checks each line
//! again). From the database only.

use crate::db::entity::{assignment, class_vm, cluster, user, vm};
use crate::model::AssignmentSuggestion;
use crate::{Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{HashMap, HashSet};

/// The most suggestions offered at once.
const MAX_SUGGESTIONS: usize = 200;

/// Suggestions, by cluster then VMID. A name that names two users suggests nobody.
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
        let Some(username) = named_user(&v.name, &users) else {
            continue;
        };
        out.push(AssignmentSuggestion {
            cluster_id: v.cluster_id,
            cluster: clusters.get(&v.cluster_id).cloned().unwrap_or_default(),
            vmid: v.vmid,
            vm_name: v.name,
            username,
        });
        if out.len() == MAX_SUGGESTIONS {
            break;
        }
    }
    Ok(out)
}

/// The one user whose name is a part of `name` (split at anything but letters and digits).
fn named_user(name: &str, users: &HashMap<String, String>) -> Option<String> {
    let found: HashSet<&String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| part.len() >= 3)
        .filter_map(|part| users.get(&part.to_ascii_lowercase()))
        .collect();
    match found.len() {
        1 => found.into_iter().next().cloned(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::named_user;
    use std::collections::HashMap;

    #[test]
    fn a_vm_name_names_one_user_or_none() {
        let users: HashMap<String, String> = [("alice", "alice"), ("bob", "Bob"), ("win", "win")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(named_user("lab-alice", &users).as_deref(), Some("alice"));
        assert_eq!(named_user("ws.BOB.3", &users).as_deref(), Some("Bob"));
        assert_eq!(named_user("alicewin", &users), None, "only whole parts");
        assert_eq!(named_user("alice-bob", &users), None, "two users: nobody");
        assert_eq!(named_user("debian-12", &users), None);
    }
}
