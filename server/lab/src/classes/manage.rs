//! Changing a class after launch: co-owners, who has which student VM, more VMs, removing
//! one, new CPU/RAM, start or stop them all, and importing a class made elsewhere.

use crate::access::{ensure_teacher, managed_class, role};
use crate::clock::now;
use crate::db::entity::{assignment, class, class_owner, class_vm, user, vm};
use crate::jobs::{ensure_idle, queue};
use crate::model::{JobKind, VmRole, VmStep};
use crate::model::{MAX_STUDENTS, MAX_VMID, MIN_VMID, Role, VmAction};
use crate::node::guest_config::{random_mac, sanitize_vm_name};
use crate::revocation::Revoked;
use crate::{Error, Result, Services, actions, inventory};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

async fn find_user(services: &Services, username: &str) -> Result<user::Model> {
    crate::auth::find_user(services, username.trim())
        .await?
        .ok_or_else(|| Error::NotFound(format!("User {:?}", username.trim())))
}

async fn class_row(
    services: &Services,
    class: &class::Model,
    vmid: i32,
) -> Result<class_vm::Model> {
    class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class.id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("VM {vmid} in this class")))
}

pub async fn add_co_owner(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    username: &str,
) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    let other = find_user(services, username).await?;
    if role(&other) == Role::Student {
        return Err(Error::Invalid(format!(
            "{} is a student; co-owners are teachers.",
            other.username
        )));
    }
    if other.id == class.owner_id {
        return Err(Error::Conflict(format!(
            "{} owns this class already.",
            other.username
        )));
    }
    class_owner::Entity::insert(class_owner::ActiveModel {
        class_id: Set(class.id),
        user_id: Set(other.id),
    })
    .on_conflict(
        OnConflict::columns([class_owner::Column::ClassId, class_owner::Column::UserId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&services.db)
    .await?;
    Ok(())
}

pub async fn remove_co_owner(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    username: &str,
) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    let other = find_user(services, username).await?;
    class_owner::Entity::delete_many()
        .filter(class_owner::Column::ClassId.eq(class.id))
        .filter(class_owner::Column::UserId.eq(other.id))
        .exec(&services.db)
        .await?;
    services.revocations.publish(Revoked::User(other.id));
    Ok(())
}

/// Gives a student VM to `username` (taking it from whoever had it).
pub async fn assign_student(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    vmid: i32,
    username: &str,
) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    let row = class_row(services, &class, vmid).await?;
    if row.role != VmRole::Student || row.step != VmStep::Ready {
        return Err(Error::Invalid(
            "Only ready student VMs can be given to a student.".into(),
        ));
    }
    let student = find_user(services, username).await?;
    let has_one = assignment::Entity::find()
        .filter(assignment::Column::UserId.eq(student.id))
        .filter(assignment::Column::ClusterId.eq(class.cluster_id))
        .filter(assignment::Column::Vmid.between(class.vmid_base + 1, class.vmid_base + 98))
        .one(&services.db)
        .await?;
    if has_one.is_some_and(|a| a.vmid != vmid) {
        return Err(Error::Conflict(format!(
            "{} has a VM in this class already.",
            student.username
        )));
    }
    let txn = services.db.begin().await?;
    let previous: Vec<i32> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(class.cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| a.user_id)
        .collect();
    assignment::Entity::delete_many()
        .filter(assignment::Column::ClusterId.eq(class.cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .exec(&txn)
        .await?;
    assignment::ActiveModel {
        user_id: Set(student.id),
        cluster_id: Set(class.cluster_id),
        vmid: Set(vmid),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let keys = previous
        .into_iter()
        .chain([student.id])
        .map(inventory::user_key);
    inventory::bump(&txn, keys.chain(["all".to_owned()])).await?;
    txn.commit().await?;
    services.revocations.publish(Revoked::Vm {
        cluster_id: class.cluster_id,
        vmid,
    });
    Ok(())
}

/// Takes a student VM back (the VM stays, free for the first student waiting, or the next
/// who joins).
pub async fn unassign_student(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    vmid: i32,
) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    let row = class_row(services, &class, vmid).await?;
    if row.role != VmRole::Student {
        return Err(Error::Invalid("Only student VMs are handed out.".into()));
    }
    let previous: Vec<String> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(class.cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|a| inventory::user_key(a.user_id))
        .collect();
    assignment::Entity::delete_many()
        .filter(assignment::Column::ClusterId.eq(class.cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .exec(&services.db)
        .await?;
    services.revocations.publish(Revoked::Vm {
        cluster_id: class.cluster_id,
        vmid,
    });
    inventory::bump(&services.db, previous.into_iter().chain(["all".to_owned()])).await?;
    // The VM is free: the first student waiting gets it.
    crate::waitlist::fill(services, class.id).await?;
    Ok(())
}

/// Adds `count` student VMs (next free slots), made by a deploy job like the first ones.
pub async fn add_students(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    count: u32,
) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    ensure_idle(services, class.id).await?;
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class.id))
        .all(&services.db)
        .await?;
    let used: Vec<i32> = rows.iter().map(|r| r.vmid - class.vmid_base).collect();
    let free: Vec<i32> = (1..=MAX_STUDENTS as i32)
        .filter(|s| !used.contains(s))
        .collect();
    if count == 0 || count as usize > free.len() {
        return Err(Error::Invalid(format!(
            "This class can take {} more student VM(s) (its VMID block ends at {}).",
            free.len(),
            class.vmid_base + 98
        )));
    }
    let base = rows
        .iter()
        .find(|r| r.role == VmRole::Base && r.step == VmStep::Ready)
        .ok_or_else(|| Error::Invalid("The class base is not ready yet.".into()))?;
    let nics = base
        .macs
        .split(',')
        .filter(|m| !m.is_empty())
        .count()
        .max(1);
    // Spread the new VMs over the nodes the class uses, fewest first.
    let mut per_node: Vec<(String, usize)> = Vec::new();
    for r in rows.iter().filter(|r| r.role != VmRole::Base) {
        match per_node.iter_mut().find(|(n, _)| *n == r.node) {
            Some((_, c)) => *c += 1,
            None => per_node.push((r.node.clone(), 1)),
        }
    }
    // A node with a base (the class's own, or a copy on node-local storage) can take VMs.
    for b in rows.iter().filter(|r| r.role == VmRole::Base) {
        if !per_node.iter().any(|(n, _)| *n == b.node) {
            per_node.push((b.node.clone(), 0));
        }
    }
    let prefix = sanitize_vm_name(&class.name, class.vmid_base as u32);
    let at = now();
    let txn = services.db.begin().await?;
    for slot in free.into_iter().take(count as usize) {
        let (node, n) = per_node
            .iter_mut()
            .min_by_key(|(_, c)| *c)
            .expect("one node");
        *n += 1;
        let vmid = class.vmid_base + slot;
        class_vm::ActiveModel {
            class_id: Set(class.id),
            cluster_id: Set(class.cluster_id),
            vmid: Set(vmid),
            role: Set(VmRole::Student),
            name: Set(sanitize_vm_name(
                &format!("{prefix}-student-{slot}"),
                vmid as u32,
            )),
            node: Set(node.clone()),
            step: Set(VmStep::Queued),
            attempts: Set(0),
            macs: Set((0..nics)
                .map(|_| random_mac())
                .collect::<Vec<_>>()
                .join(",")),
            disks: Set(String::new()),
            updated_at: Set(at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    let mut c: class::ActiveModel = class.clone().into();
    c.students = Set(class.students + count as i32);
    c.state = Set("deploying".into());
    c.update(&txn).await?;
    queue(&txn, class.id, JobKind::Deploy, None, Some(user.id)).await?;
    txn.commit().await?;
    services.jobs.wake();
    Ok(())
}

/// Destroys one student VM (its student loses it).
pub async fn remove_vm(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    vmid: i32,
) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    let row = class_row(services, &class, vmid).await?;
    if row.role != VmRole::Student {
        return Err(Error::Invalid(
            "Only student VMs can be removed; delete the class to remove the rest.".into(),
        ));
    }
    ensure_idle(services, class.id).await?;
    queue(
        &services.db,
        class.id,
        JobKind::Remove,
        Some(vmid),
        Some(user.id),
    )
    .await?;
    services.jobs.wake();
    Ok(())
}

/// New CPU/RAM for every VM of the class; the cloned configs keep everything else. Running
/// VMs get the change at their next start (PVE keeps it pending).
pub async fn respec(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    cores: Option<u32>,
    memory_mb: Option<u32>,
) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    if cores.is_some_and(|c| !(1..=64).contains(&c)) {
        return Err(Error::Invalid("CPU cores: 1 to 64.".into()));
    }
    if memory_mb.is_some_and(|m| !(256..=262_144).contains(&m)) {
        return Err(Error::Invalid("Memory: 256 to 262144 MiB.".into()));
    }
    if cores.is_none() && memory_mb.is_none() {
        return Err(Error::Invalid(
            "Give new CPU cores, memory, or both.".into(),
        ));
    }
    ensure_idle(services, class.id).await?;
    let mut c: class::ActiveModel = class.clone().into();
    if let Some(v) = cores {
        c.cores = Set(Some(v as i32));
    }
    if let Some(v) = memory_mb {
        c.memory_mb = Set(Some(v as i32));
    }
    c.update(&services.db).await?;
    queue(&services.db, class.id, JobKind::Respec, None, Some(user.id)).await?;
    services.jobs.wake();
    Ok(())
}

/// Starts or shuts down every ready student VM; returns how many were asked (VMs already in
/// that state are skipped).
pub async fn power_all(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    action: VmAction,
) -> Result<usize> {
    let class = managed_class(services, user, class_id).await?;
    if !matches!(action, VmAction::Start | VmAction::Shutdown) {
        return Err(Error::Invalid("Start or shut down the whole class.".into()));
    }
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class.id))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .filter(class_vm::Column::Step.eq(VmStep::Ready))
        .all(&services.db)
        .await?;
    let mut asked = 0;
    for r in rows {
        match actions::power(services, user, class.cluster_id, r.vmid, action).await {
            Ok(_) => asked += 1,
            Err(Error::Conflict(_)) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(asked)
}

/// Admins: adopt a class made elsewhere (e.g. by the old portal) from a VMID block in the
/// inventory: `P00` teacher, `P01..P98` students, `P99` class base. Returns the class id.
pub async fn import(
    services: &Services,
    admin: &user::Model,
    cluster_id: i32,
    vmid_base: i32,
    name: &str,
    teacher: &str,
) -> Result<i32> {
    if role(admin) != Role::Admin {
        return Err(Error::Forbidden);
    }
    // The whole block, `vmid_base + 99` included, must be VMIDs Proxmox allows.
    let last = vmid_base.checked_add(99).filter(|l| *l <= MAX_VMID);
    if vmid_base < MIN_VMID || vmid_base % 100 != 0 || last.is_none() {
        return Err(Error::Invalid(format!(
            "The block starts at a multiple of 100 from {MIN_VMID} to {} (e.g. 1200).",
            MAX_VMID - 99
        )));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "Class name: 1 to 80 characters, no line breaks.".into(),
        ));
    }
    let owner = find_user(services, teacher).await?;
    ensure_teacher(&owner)
        .map_err(|_| Error::Invalid(format!("{} is not a teacher.", owner.username)))?;
    let cluster = crate::clusters::find(services, cluster_id).await?;
    let client = crate::clusters::client(services, &cluster)?;
    let vms = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Vmid.between(vmid_base, vmid_base + 99))
        .filter(vm::Column::Kind.eq("qemu"))
        .all(&services.db)
        .await?;
    let base = vms
        .iter()
        .find(|v| v.vmid == vmid_base + 99)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "No class base VM {} in the inventory.",
                vmid_base + 99
            ))
        })?;
    // Disks and MACs come from each VM's config (reset and publish need them).
    let mut rows = Vec::new();
    let mut storage = String::new();
    for v in &vms {
        let (macs, disks) = macs_and_disks(&client, v).await?;
        if v.vmid == base.vmid {
            storage = disks
                .first()
                .and_then(|d| {
                    d.split_once('=')
                        .map(|(_, volid)| volid.split(':').next().unwrap_or("").to_owned())
                })
                .unwrap_or_default();
        }
        let offset = v.vmid - vmid_base;
        // A template elsewhere in the block is a copy of the base on another node.
        let role = match offset {
            0 => VmRole::Teacher,
            99 => VmRole::Base,
            _ if v.template => VmRole::Base,
            _ => VmRole::Student,
        };
        rows.push((v.clone(), role, macs, disks.join(",")));
    }
    // Reset and publish work the way the block's storage allows (as for a new class).
    let plugin = client
        .storage_status(&base.node, &storage)
        .await
        .map(|s| s.plugin)
        .unwrap_or_default();
    let has_path = super::method::shell_reaches(&cluster, &storage);
    let method = super::method::choose(&storage, &plugin, has_path, true)
        .map(|(m, _)| m)
        .map_err(Error::Invalid)?;
    let at = now();
    let txn = services.db.begin().await?;
    let class = class::ActiveModel {
        name: Set(name.to_owned()),
        description: Set("Imported".into()),
        method: Set(method),
        cluster_id: Set(cluster_id),
        owner_id: Set(owner.id),
        template_vmid: Set(None),
        template_node: Set(Some(base.node.clone())),
        vmid_base: Set(vmid_base),
        students: Set(rows.iter().filter(|r| r.1 == VmRole::Student).count() as i32),
        storage: Set(storage),
        invite_token: Set(Some(crate::token::random_token())),
        invite_expires_at: Set(None),
        state: Set("ready".into()),
        export_paths: Set(String::new()),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            Error::Conflict("A class already owns this VMID block.".into())
        }
        _ => e.into(),
    })?;
    for (v, role, macs, disks) in rows {
        class_vm::ActiveModel {
            class_id: Set(class.id),
            cluster_id: Set(cluster_id),
            vmid: Set(v.vmid),
            role: Set(role),
            name: Set(v.name.clone()),
            node: Set(v.node.clone()),
            step: Set(VmStep::Ready),
            attempts: Set(0),
            macs: Set(macs),
            disks: Set(disks),
            updated_at: Set(at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(class.id)
}

/// A VM's MACs (`a,b`) and data disks (`slot=volid`) from its config, as a class row keeps
/// them (reset and publish need them).
async fn macs_and_disks(
    client: &crate::pve::Client,
    v: &vm::Model,
) -> Result<(String, Vec<String>)> {
    let config = client
        .guest_config(&v.node, crate::pve::GuestKind::Qemu, v.vmid as u32)
        .await?;
    let text: String = config
        .entries
        .iter()
        .map(|(k, val)| format!("{k}: {val}\n"))
        .collect();
    let parsed = crate::node::guest_config::GuestConfig::parse(&text)
        .map_err(|e| Error::Proxmox(e.to_string()))?;
    let disks = parsed
        .disks()
        .into_iter()
        .filter(|d| d.kind != crate::node::guest_config::DiskKind::CdRom)
        .filter_map(|d| Some(format!("{}={}", d.slot, d.volid?)))
        .collect();
    Ok((parsed.macs().join(","), disks))
}

/// VMs the class does not have that look like its own: in its block of student VMIDs
/// (`P01..P98`), or in its Proxmox pool (`proxlab-class-<base>`) wherever their VMID, made by
/// hand for it or left by another tool. No other class's VM, no template. `(vmid, name)`,
/// from the inventory.
pub async fn strays(services: &Services, class: &class::Model) -> Result<Vec<(i32, String)>> {
    use sea_orm::Condition;
    // Every class VM of the cluster: a VM some other class has is not this one's stray.
    let in_a_class: std::collections::HashSet<i32> = class_vm::Entity::find()
        .filter(class_vm::Column::ClusterId.eq(class.cluster_id))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|r| r.vmid)
        .collect();
    let pool = crate::model::class_pool(class.vmid_base);
    Ok(vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(class.cluster_id))
        .filter(
            Condition::any()
                .add(vm::Column::Vmid.between(class.vmid_base + 1, class.vmid_base + 98))
                .add(vm::Column::Pool.eq(pool)),
        )
        .filter(vm::Column::Kind.eq("qemu"))
        .filter(vm::Column::Template.eq(false))
        .order_by_asc(vm::Column::Vmid)
        .all(&services.db)
        .await?
        .into_iter()
        .filter(|v| !in_a_class.contains(&v.vmid))
        .map(|v| (v.vmid, v.name))
        .collect())
}

/// Makes VMs that look like the class's but that it does not have ([`strays`]; `vmid` 0: all)
/// student VMs of the class, as they are: whoever has one keeps it, a free one goes to the
/// waiting list or the next student to join, and reset re-clones it from the class base like
/// any other. Returns how many were adopted.
pub async fn adopt(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    vmid: i32,
) -> Result<usize> {
    let class = managed_class(services, user, class_id).await?;
    ensure_idle(services, class.id).await?;
    let strays = strays(services, &class).await?;
    let chosen: Vec<i32> = strays
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| vmid == 0 || *v == vmid)
        .collect();
    if chosen.is_empty() {
        return Err(Error::NotFound(format!(
            "VM {vmid} among this class's strays"
        )));
    }
    let cluster = crate::clusters::find(services, class.cluster_id).await?;
    let client = crate::clusters::client(services, &cluster)?;
    let vms = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(class.cluster_id))
        .filter(vm::Column::Vmid.is_in(chosen.clone()))
        .all(&services.db)
        .await?;
    let mut rows = Vec::new();
    for v in &vms {
        let (macs, disks) = macs_and_disks(&client, v).await?;
        rows.push((v, macs, disks.join(",")));
    }
    let at = now();
    let txn = services.db.begin().await?;
    for (v, macs, disks) in &rows {
        class_vm::ActiveModel {
            class_id: Set(class.id),
            cluster_id: Set(class.cluster_id),
            vmid: Set(v.vmid),
            role: Set(VmRole::Student),
            name: Set(v.name.clone()),
            node: Set(v.node.clone()),
            step: Set(VmStep::Ready),
            attempts: Set(0),
            macs: Set(macs.clone()),
            disks: Set(disks.clone()),
            updated_at: Set(at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    let mut c: class::ActiveModel = class.clone().into();
    c.students = Set(class.students + rows.len() as i32);
    c.update(&txn).await?;
    txn.commit().await?;
    crate::waitlist::fill(services, class.id).await?;
    tracing::info!(class = class.id, vms = ?chosen, user = %user.username, "VMs adopted into a class");
    Ok(rows.len())
}

/// Turns SSH through the portal (`console::ssh`) on or off for the class's VMs. The
/// dashboards of everyone with one of its VMs hear of it (their "SSH" link).
pub async fn set_ssh(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    enabled: bool,
) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    class::ActiveModel {
        id: Set(class.id),
        ssh_enabled: Set(enabled),
        ..Default::default()
    }
    .update(&services.db)
    .await?;
    inventory::bump_for_class(&services.db, class.cluster_id, class.id).await?;
    inventory::bump_all(&services.db).await
}
