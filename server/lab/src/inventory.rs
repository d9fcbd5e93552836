//! Reading the inventory: who may see and touch which VM, the dashboard page (one or two
//! indexed queries, never a Proxmox call), direct assignments, and the change counters that
//! let a polling browser hear "no change" without a body.

mod bulk;
mod suggest;

pub use bulk::{BulkOutcome, bulk_assign};
pub use suggest::suggested_assignments;

use crate::clock::now;
use crate::db::entity::{assignment, change_counter, cluster, user, vm};
use crate::model::{Dashboard, Role, VmCard, VmFilter, VmState, Vmid, check_page};
use crate::model::{VmRole, VmStep};
use crate::revocation::Revoked;
use crate::{Error, Result, Services};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{HashMap, HashSet};

/// Cards per page in the admin's all-VMs view.
pub const PER_PAGE: u64 = 60;
/// A running VM without an IP counts as "Starting…" for this long after it started; after
/// that it is "Running" (some guests never report an IP).
const BOOT_GRACE_SECS: i64 = 300;
/// A pending action the sync never confirmed stops blocking new ones after this long.
pub const PENDING_TIMEOUT_SECS: i64 = 120;

const ALL: &str = "all";

const USER_KEY_PREFIX: &str = "user:";

pub fn user_key(user_id: i32) -> String {
    format!("{USER_KEY_PREFIX}{user_id}")
}

/// Adds one to each counter (creating it), so that pollers of those keys see a change.
pub async fn bump(db: &impl ConnectionTrait, keys: impl IntoIterator<Item = String>) -> Result<()> {
    let rows: Vec<_> = keys
        .into_iter()
        .map(|key| change_counter::ActiveModel {
            key: Set(key),
            value: Set(1),
        })
        .collect();
    for chunk in rows.chunks(500) {
        change_counter::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(change_counter::Column::Key)
                    .value(
                        change_counter::Column::Value,
                        Expr::col((change_counter::Entity, change_counter::Column::Value)).add(1),
                    )
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Bumps `all` and the counters of everyone with a VM of class `class_id` (a class setting
/// their cards show changed).
pub async fn bump_for_class(
    db: &impl ConnectionTrait,
    cluster_id: i32,
    class_id: i32,
) -> Result<()> {
    use crate::db::entity::class_vm;
    let vms: HashSet<i32> = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.vmid)
        .collect();
    bump_for_vms(db, cluster_id, &vms).await
}

pub async fn bump_all(db: &impl ConnectionTrait) -> Result<()> {
    bump(db, [ALL.to_owned()]).await
}

/// Bumps `all` and the counters of everyone assigned to one of `vms` of `cluster_id`.
pub async fn bump_for_vms(
    db: &impl ConnectionTrait,
    cluster_id: i32,
    vms: &HashSet<i32>,
) -> Result<()> {
    if vms.is_empty() {
        return Ok(());
    }
    let users: HashSet<i32> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(cluster_id))
        .all(db)
        .await?
        .into_iter()
        .filter(|a| vms.contains(&a.vmid))
        .map(|a| a.user_id)
        .collect();
    bump(
        db,
        std::iter::once(ALL.to_owned()).chain(users.into_iter().map(user_key)),
    )
    .await
}

/// Shows an action under way on a VM's card ("Starting…", "Stopping…") until the sync
/// confirms it or it times out: a person's power action and a policy's `power` job alike.
pub async fn mark_pending(
    db: &impl ConnectionTrait,
    row: &vm::Model,
    action: &str,
    now: i64,
) -> Result<()> {
    vm::Entity::update_many()
        .col_expr(vm::Column::PendingAction, Expr::value(action))
        .col_expr(vm::Column::PendingSince, Expr::value(now))
        .col_expr(vm::Column::TaskError, Expr::value(Option::<String>::None))
        .filter(vm::Column::Id.eq(row.id))
        .exec(db)
        .await?;
    bump_for_vms(db, row.cluster_id, &HashSet::from([row.vmid])).await
}

/// Ends a pending action, with Proxmox's error message or without.
pub async fn end_pending(
    db: &impl ConnectionTrait,
    cluster_id: i32,
    row_id: i32,
    vmid: i32,
    error: Option<String>,
) -> Result<()> {
    vm::Entity::update_many()
        .col_expr(
            vm::Column::PendingAction,
            Expr::value(Option::<String>::None),
        )
        .col_expr(vm::Column::PendingSince, Expr::value(Option::<i64>::None))
        .col_expr(vm::Column::TaskError, Expr::value(error))
        .filter(vm::Column::Id.eq(row_id))
        .exec(db)
        .await?;
    bump_for_vms(db, cluster_id, &HashSet::from([vmid])).await
}

/// The counter a user's dashboard depends on.
pub async fn counter(services: &Services, user: &user::Model) -> Result<i64> {
    let key = if is_admin(user) {
        ALL.to_owned()
    } else {
        user_key(user.id)
    };
    Ok(change_counter::Entity::find_by_id(key)
        .one(&services.db)
        .await?
        .map_or(0, |c| c.value))
}

/// The poll every open dashboard sends (every 2 to 15 s), answered with one query: whether
/// `token` is a live session that needs no touch and its dashboard's counter is still
/// `since`. `false` means "take the full path" (which resolves and slides the session,
/// refuses it, or loads the page); it never grants anything by itself. The counter key is
/// [`counter`]'s: `all` for admins, `user:{id}` for everyone else.
pub async fn unchanged_since(services: &Services, token: &str, since: i64) -> Result<bool> {
    if token.is_empty() || token.len() > 128 {
        return Ok(false);
    }
    let backend = services.db.get_database_backend();
    let p = |n: usize| match backend {
        sea_orm::DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let sql = format!(
        "SELECT COALESCE(c.value, 0) AS value FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         LEFT JOIN change_counters c ON c.key = CASE WHEN u.role = {} THEN {} \
           ELSE {} || CAST(u.id AS TEXT) END \
         WHERE s.id_hash = {} AND s.expires_at > {} AND s.last_seen_at > {} AND NOT u.disabled",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    );
    let now = now();
    let statement = sea_orm::Statement::from_sql_and_values(
        backend,
        sql,
        [
            Role::Admin.as_str().into(),
            ALL.into(),
            USER_KEY_PREFIX.into(),
            crate::token::hash_token(token).into(),
            now.into(),
            (now - crate::auth::TOUCH_EVERY_SECS).into(),
        ],
    );
    let Some(row) = services.db.query_one_raw(statement).await? else {
        return Ok(false);
    };
    Ok(row.try_get::<i64>("", "value")? == since)
}

fn is_admin(user: &user::Model) -> bool {
    crate::auth::role_of(user) == Role::Admin
}

/// The dashboard for `user`, or `None` when `since` is still the current counter.
pub async fn dashboard(
    services: &Services,
    user: &user::Model,
    filter: &VmFilter,
    since: Option<i64>,
) -> Result<Option<Dashboard>> {
    let counter = counter(services, user).await?;
    if since == Some(counter) {
        return Ok(None);
    }
    let clusters: Vec<(i32, String)> = cluster::Entity::find()
        .order_by_asc(cluster::Column::Name)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let names: HashMap<i32, String> = clusters.iter().cloned().collect();
    let now = now();
    let mut dashboard = if is_admin(user) {
        let (rows, total) = admin_page(services, filter).await?;
        let owners = owners_of(services, &rows).await?;
        Dashboard {
            counter,
            now,
            cards: rows
                .into_iter()
                .map(|row| {
                    let owners = owners
                        .get(&(row.cluster_id, row.vmid))
                        .cloned()
                        .unwrap_or_default();
                    card(row, &names, owners, now)
                })
                .collect(),
            total,
            page: filter.page,
            per_page: PER_PAGE,
            all_vms: true,
            clusters,
        }
    } else {
        let cards = own_cards(services, user, &names, now).await?;
        Dashboard {
            counter,
            now,
            total: cards.len() as u64,
            cards,
            page: 0,
            per_page: PER_PAGE,
            all_vms: false,
            clusters: Vec::new(),
        }
    };
    mark_class_vms(services, user, &mut dashboard.cards).await?;
    mark_hardware(services, user, &mut dashboard.cards).await?;
    Ok(Some(dashboard))
}

async fn own_cards(
    services: &Services,
    user: &user::Model,
    names: &HashMap<i32, String>,
    now: i64,
) -> Result<Vec<VmCard>> {
    let assigned = assignment::Entity::find()
        .filter(assignment::Column::UserId.eq(user.id))
        .order_by_asc(assignment::Column::ClusterId)
        .order_by_asc(assignment::Column::Vmid)
        .all(&services.db)
        .await?;
    if assigned.is_empty() {
        return Ok(Vec::new());
    }
    let mut any = Condition::any();
    for a in &assigned {
        any = any.add(
            Condition::all()
                .add(vm::Column::ClusterId.eq(a.cluster_id))
                .add(vm::Column::Vmid.eq(a.vmid)),
        );
    }
    let mut rows: HashMap<(i32, i32), vm::Model> = vm::Entity::find()
        .filter(any)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|r| ((r.cluster_id, r.vmid), r))
        .collect();
    Ok(assigned
        .into_iter()
        .map(|a| match rows.remove(&(a.cluster_id, a.vmid)) {
            Some(row) => card(row, names, Vec::new(), now),
            None => missing_card(a.cluster_id, a.vmid, names),
        })
        .collect())
}

async fn admin_page(services: &Services, filter: &VmFilter) -> Result<(Vec<vm::Model>, u64)> {
    let mut query = vm::Entity::find();
    if let Some(id) = filter.cluster {
        query = query.filter(vm::Column::ClusterId.eq(id));
    }
    if let Some(node) = filter.node.as_deref().filter(|n| !n.is_empty()) {
        query = query.filter(vm::Column::Node.eq(node));
    }
    query = match filter.status.as_deref().unwrap_or("") {
        "template" => query.filter(vm::Column::Template.eq(true)),
        "" | "all" => query.filter(vm::Column::Template.eq(false)),
        status => query
            .filter(vm::Column::Template.eq(false))
            .filter(vm::Column::Status.eq(status)),
    };
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        let mut any = Condition::any()
            .add(Expr::expr(Func::lower(Expr::col(vm::Column::Name))).like(pattern));
        if let Ok(vmid) = q.parse::<i32>() {
            any = any.add(vm::Column::Vmid.eq(vmid));
        }
        query = query.filter(any);
    }
    if let Some(owner) = filter
        .owner
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        let owned = match crate::auth::find_user(services, owner).await? {
            Some(u) => {
                assignment::Entity::find()
                    .filter(assignment::Column::UserId.eq(u.id))
                    .all(&services.db)
                    .await?
            }
            None => Vec::new(),
        };
        if owned.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let mut any = Condition::any();
        for a in owned {
            any = any.add(
                Condition::all()
                    .add(vm::Column::ClusterId.eq(a.cluster_id))
                    .add(vm::Column::Vmid.eq(a.vmid)),
            );
        }
        query = query.filter(any);
    }
    // `fetch_page` multiplies the page by its size: a huge page must not get that far.
    let page = check_page(filter.page).map_err(Error::Invalid)?;
    let paginator = query
        .order_by_asc(vm::Column::ClusterId)
        .order_by_asc(vm::Column::Vmid)
        .paginate(&services.db, PER_PAGE);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page).await?;
    Ok((rows, total))
}

async fn owners_of(
    services: &Services,
    rows: &[vm::Model],
) -> Result<HashMap<(i32, i32), Vec<String>>> {
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let vmids: Vec<i32> = rows.iter().map(|r| r.vmid).collect();
    let wanted: HashSet<(i32, i32)> = rows.iter().map(|r| (r.cluster_id, r.vmid)).collect();
    let found = assignment::Entity::find()
        .filter(assignment::Column::Vmid.is_in(vmids))
        .find_also_related(user::Entity)
        .all(&services.db)
        .await?;
    let mut owners: HashMap<(i32, i32), Vec<String>> = HashMap::new();
    for (a, u) in found {
        if let (true, Some(u)) = (wanted.contains(&(a.cluster_id, a.vmid)), u) {
            owners
                .entry((a.cluster_id, a.vmid))
                .or_default()
                .push(u.username);
        }
    }
    Ok(owners)
}

/// The state a person sees, from the row and the clock.
pub fn state_of(row: &vm::Model, now: i64) -> VmState {
    let pending = row.pending_action.as_deref().filter(|_| {
        row.pending_since
            .is_some_and(|t| now - t < PENDING_TIMEOUT_SECS)
    });
    if row.template {
        return VmState::Template;
    }
    match (row.status.as_str(), pending) {
        ("unknown", _) => VmState::Unknown,
        ("running", Some("shutdown" | "stop")) => VmState::Stopping,
        (_, Some("start" | "reboot")) => VmState::Starting,
        ("running", _)
            if row.ip.is_none() && row.started_at.is_some_and(|t| now - t < BOOT_GRACE_SECS) =>
        {
            VmState::Starting
        }
        ("running", _) => VmState::Running,
        _ => VmState::Stopped,
    }
}

fn card(row: vm::Model, names: &HashMap<i32, String>, owners: Vec<String>, now: i64) -> VmCard {
    VmCard {
        state: state_of(&row, now),
        cluster: names.get(&row.cluster_id).cloned().unwrap_or_default(),
        cluster_id: row.cluster_id,
        vmid: row.vmid,
        name: row.name,
        node: row.node,
        kind: row.kind,
        os_type: row.os_type,
        ip: row.ip,
        cpus: row.cpus,
        max_mem: row.max_mem,
        started_at: row.started_at.filter(|_| row.status == "running"),
        task_error: row.task_error,
        owners,
        rdp_open: row.rdp_open,
        resettable: false,
        ssh: false,
        notice: None,
        usage: None,
        snapshots: false,
        class: None,
        hardware: false,
    }
}

fn missing_card(cluster_id: i32, vmid: i32, names: &HashMap<i32, String>) -> VmCard {
    VmCard {
        cluster_id,
        cluster: names.get(&cluster_id).cloned().unwrap_or_default(),
        vmid,
        name: format!("VM {vmid}"),
        node: String::new(),
        kind: "qemu".into(),
        os_type: None,
        state: VmState::Missing,
        ip: None,
        cpus: 0,
        max_mem: 0,
        started_at: None,
        task_error: None,
        owners: Vec::new(),
        rdp_open: None,
        resettable: false,
        ssh: false,
        notice: None,
        usage: None,
        snapshots: false,
        class: None,
        hardware: false,
    }
}

/// The VM, if `user` may use it: admins any; teachers the VMs of the classes they manage
/// (their `class_vms` rows, `access::manages_vm`); everyone the VMs assigned to
/// them. Anything else is "not found", so that VMIDs of other people's VMs cannot be probed.
/// A VMID Proxmox could never have is refused as invalid first: every console, terminal,
/// SSH socket, RDP file and power action comes through here with a VMID from outside.
pub async fn usable_vm(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<vm::Model> {
    let vmid = Vmid::new(vmid).map_err(Error::Invalid)?.get();
    let not_found = || Error::NotFound(format!("VM {vmid}"));
    if !is_admin(user) && !crate::access::manages_vm(services, user, cluster_id, vmid).await? {
        assignment::Entity::find()
            .filter(assignment::Column::UserId.eq(user.id))
            .filter(assignment::Column::ClusterId.eq(cluster_id))
            .filter(assignment::Column::Vmid.eq(vmid))
            .one(&services.db)
            .await?
            .ok_or_else(not_found)?;
    }
    vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await?
        .ok_or_else(not_found)
}

/// Gives `username` the VM directly (no class). The VM must be in the inventory.
pub async fn assign(services: &Services, cluster_id: i32, vmid: i32, username: &str) -> Result<()> {
    let vmid = Vmid::new(vmid).map_err(Error::Invalid)?.get();
    let user = crate::auth::find_user(services, username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("User {username:?}")))?;
    let vm = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("VM {vmid}")))?;
    if vm.template {
        return Err(Error::Invalid(
            "Templates cannot be assigned; they cannot run.".into(),
        ));
    }
    let inserted = assignment::Entity::insert(assignment::ActiveModel {
        user_id: Set(user.id),
        cluster_id: Set(cluster_id),
        vmid: Set(vmid),
        created_at: Set(now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            assignment::Column::UserId,
            assignment::Column::ClusterId,
            assignment::Column::Vmid,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&services.db)
    .await?;
    if inserted == 0 {
        return Err(Error::Conflict(format!(
            "{} already has VM {vmid}.",
            user.username
        )));
    }
    bump(&services.db, [ALL.to_owned(), user_key(user.id)]).await
}

pub async fn unassign(
    services: &Services,
    cluster_id: i32,
    vmid: i32,
    username: &str,
) -> Result<()> {
    let vmid = Vmid::new(vmid).map_err(Error::Invalid)?.get();
    let user = crate::auth::find_user(services, username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("User {username:?}")))?;
    let gone = assignment::Entity::delete_many()
        .filter(assignment::Column::UserId.eq(user.id))
        .filter(assignment::Column::ClusterId.eq(cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .exec(&services.db)
        .await?
        .rows_affected;
    if gone == 0 {
        return Err(Error::NotFound(format!(
            "{}'s assignment of VM {vmid}",
            user.username
        )));
    }
    services
        .revocations
        .publish(Revoked::Vm { cluster_id, vmid });
    bump(&services.db, [ALL.to_owned(), user_key(user.id)]).await
}

/// Assignments whose VM no longer exists, for an admin to resolve: (username, cluster, vmid).
pub async fn missing_assignments(services: &Services) -> Result<Vec<(String, i32, String, i32)>> {
    let all = assignment::Entity::find()
        .find_also_related(user::Entity)
        .all(&services.db)
        .await?;
    let names: HashMap<i32, String> = cluster::Entity::find()
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let existing: HashSet<(i32, i32)> = vm::Entity::find()
        .select_only()
        .column(vm::Column::ClusterId)
        .column(vm::Column::Vmid)
        .into_tuple()
        .all(&services.db)
        .await?
        .into_iter()
        .collect();
    let mut missing = Vec::new();
    for (a, u) in all {
        if !existing.contains(&(a.cluster_id, a.vmid))
            && let Some(u) = u
        {
            let cluster = names.get(&a.cluster_id).cloned().unwrap_or_default();
            missing.push((u.username, a.cluster_id, cluster, a.vmid));
        }
    }
    Ok(missing)
}

/// The first `n` ordinary QEMU guests of a cluster, by VMID (demo and tests).
pub async fn first_vms(services: &Services, cluster_id: i32, n: u64) -> Result<Vec<i32>> {
    Ok(vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Template.eq(false))
        .filter(vm::Column::Kind.eq("qemu"))
        .order_by_asc(vm::Column::Vmid)
        .limit(n)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|r| r.vmid)
        .collect())
}

/// Marks the VMs whose hardware page the viewer may open: teachers and admins, QEMU VMs
/// outside classes on clusters they may build on (a teacher's own VMs are the only ones
/// outside classes on their page). Two queries, none for students.
async fn mark_hardware(
    services: &Services,
    user: &user::Model,
    cards: &mut [VmCard],
) -> Result<()> {
    if crate::auth::role_of(user) == crate::model::Role::Student || cards.is_empty() {
        return Ok(());
    }
    let clusters: HashSet<i32> = crate::access::buildable_clusters(services, user)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    // Any class row, the base's too: class VMs change through their class.
    let in_classes: HashSet<(i32, i32)> = crate::db::entity::class_vm::Entity::find()
        .select_only()
        .column(crate::db::entity::class_vm::Column::ClusterId)
        .column(crate::db::entity::class_vm::Column::Vmid)
        .filter(crate::db::entity::class_vm::Column::Vmid.is_in(cards.iter().map(|c| c.vmid)))
        .into_tuple::<(i32, i32)>()
        .all(&services.db)
        .await?
        .into_iter()
        .collect();
    for c in cards.iter_mut() {
        c.hardware = c.kind == "qemu"
            && !matches!(c.state, VmState::Missing | VmState::Template)
            && clusters.contains(&c.cluster_id)
            && !in_classes.contains(&(c.cluster_id, c.vmid));
    }
    Ok(())
}

/// Marks the cards of class VMs (teacher and students, once made): those can be reset to
/// the class baseline; those of classes with SSH through the portal, when the VM has an
/// IP; and those whose snapshot page the viewer may use (teachers and admins always, a
/// student when the class allows snapshots). Two queries for the page.
async fn mark_class_vms(
    services: &Services,
    user: &user::Model,
    cards: &mut [VmCard],
) -> Result<()> {
    use crate::db::entity::{class, class_vm};
    let vmids: Vec<i32> = cards.iter().map(|c| c.vmid).collect();
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::Vmid.is_in(vmids))
        .filter(class_vm::Column::Role.ne(VmRole::Base))
        .filter(class_vm::Column::Step.eq(VmStep::Ready))
        .all(&services.db)
        .await?;
    // id → (SSH on, student snapshots, name)
    let classes: HashMap<i32, (bool, i32, String)> = if rows.is_empty() {
        HashMap::new()
    } else {
        class::Entity::find()
            .select_only()
            .column(class::Column::Id)
            .column(class::Column::SshEnabled)
            .column(class::Column::StudentSnapshots)
            .column(class::Column::Name)
            .filter(class::Column::Id.is_in(rows.iter().map(|r| r.class_id)))
            .into_tuple::<(i32, bool, i32, String)>()
            .all(&services.db)
            .await?
            .into_iter()
            .map(|(id, ssh, snaps, name)| (id, (ssh, snaps, name)))
            .collect()
    };
    let student = crate::auth::role_of(user) == crate::model::Role::Student;
    for c in cards.iter_mut() {
        let mine = |r: &&class_vm::Model| r.cluster_id == c.cluster_id && r.vmid == c.vmid;
        let of_class: Vec<(i32, &(bool, i32, String))> = rows
            .iter()
            .filter(mine)
            .filter_map(|r| classes.get(&r.class_id).map(|c| (r.class_id, c)))
            .collect();
        c.resettable = rows.iter().any(|r| mine(&r));
        c.ssh = c.ip.is_some() && of_class.iter().any(|(_, (ssh, _, _))| *ssh);
        c.snapshots = c.resettable && (!student || of_class.iter().any(|(_, (_, n, _))| *n > 0));
        c.class = of_class
            .first()
            .map(|(id, (_, _, name))| (*id, name.clone()));
    }
    Ok(())
}
