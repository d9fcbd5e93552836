//! Admins: VMs in the inventory that look like a class but have no class here (the old
//! portal's "orphan recovery"): a block of 100 VMIDs with a template at `P99` (the class
//! base) and VMs in `P01..P98`, that no class of this portal covers. Each suggestion can be
//! imported as a class ([`super::import`]), with a name guessed from its VMs' names.

use crate::access::role;
use crate::db::entity::{class, cluster, user, vm};
use crate::model::{AdoptionCandidate, Role};
use crate::{Error, Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap, HashSet};

pub async fn adoption_candidates(
    services: &Services,
    admin: &user::Model,
) -> Result<Vec<AdoptionCandidate>> {
    if role(admin) != Role::Admin {
        return Err(Error::Forbidden);
    }
    let covered: HashSet<(i32, i32)> = class::Entity::find()
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| (c.cluster_id, c.vmid_base))
        .collect();
    let names: HashMap<i32, String> = cluster::Entity::find()
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    // Only the class bases (templates at P99) are read first; then their blocks.
    let bases = vm::Entity::find()
        .filter(vm::Column::Template.eq(true))
        .filter(vm::Column::Kind.eq("qemu"))
        .order_by_asc(vm::Column::ClusterId)
        .order_by_asc(vm::Column::Vmid)
        .all(&services.db)
        .await?;
    let mut out = Vec::new();
    for base in bases.into_iter().filter(|b| b.vmid % 100 == 99) {
        let start = base.vmid - 99;
        if covered.contains(&(base.cluster_id, start)) {
            continue;
        }
        let block = vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(base.cluster_id))
            .filter(vm::Column::Vmid.between(start, start + 98))
            .all(&services.db)
            .await?;
        let students: Vec<&vm::Model> = block
            .iter()
            .filter(|v| v.vmid > start && !v.template)
            .collect();
        if students.is_empty() {
            continue;
        }
        out.push(AdoptionCandidate {
            cluster_id: base.cluster_id,
            cluster: names.get(&base.cluster_id).cloned().unwrap_or_default(),
            vmid_base: start,
            students: students.len() as u32,
            teacher_vm: block.iter().any(|v| v.vmid == start),
            base: base.name.clone(),
            name_guess: guess_name(students.iter().map(|v| v.name.as_str()), &base.name),
        });
    }
    Ok(out)
}

/// The most common student-name prefix (`linux-101-student-3` → `linux-101`), else the
/// base's name.
fn guess_name<'a>(names: impl Iterator<Item = &'a str>, base: &str) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in names {
        if let Some((prefix, rest)) = n.rsplit_once("-student-")
            && rest.chars().all(|c| c.is_ascii_digit())
            && !prefix.is_empty()
        {
            *counts.entry(prefix).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(p, _)| p.to_string())
        .unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::guess_name;

    #[test]
    fn names_come_from_the_students_prefix() {
        let names = [
            "os-lab-student-1",
            "os-lab-student-2",
            "odd-one",
            "net-student-x",
        ];
        assert_eq!(guess_name(names.into_iter(), "base"), "os-lab");
        assert_eq!(
            guess_name(["a", "b"].into_iter(), "ubuntu-base"),
            "ubuntu-base"
        );
    }
}
