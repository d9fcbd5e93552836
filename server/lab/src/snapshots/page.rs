//! The snapshot page of one VM, from the database: the list the last snapshot job wrote and
//! the VM's recent snapshot jobs (their state is the progress the page shows).

use super::store::rows;
use super::who::viewer;
use crate::db::entity::{job, user, vm_snapshot};
use crate::model::{
    JobKind, SnapshotJobView, SnapshotOp, SnapshotOrder, SnapshotPage, SnapshotView,
};
use crate::{Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;

/// Snapshot jobs shown (newest first).
const RECENT_JOBS: u64 = 5;

pub async fn page(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<SnapshotPage> {
    let v = viewer(services, user, cluster_id, vmid).await?;
    let list = rows(cluster_id, vmid)
        .order_by_asc(vm_snapshot::Column::TakenAt)
        .order_by_asc(vm_snapshot::Column::Id)
        .all(&services.db)
        .await?;
    let ids: Vec<i32> = list.iter().filter_map(|s| s.taken_by).collect();
    let names: HashMap<i32, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .all(&services.db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect()
    };
    let jobs = job::Entity::find()
        .filter(job::Column::ClassId.eq(v.class.id))
        .filter(job::Column::Kind.eq(JobKind::Snapshot))
        .filter(job::Column::Vmid.eq(vmid))
        .order_by_desc(job::Column::Id)
        .limit(RECENT_JOBS)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|j| {
            let order: Option<SnapshotOrder> = j
                .detail
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok());
            SnapshotJobView {
                id: j.id,
                op: order.as_ref().map_or(SnapshotOp::Refresh, |o| o.op),
                name: order.map(|o| o.name).unwrap_or_default(),
                state: j.state,
                error: j.error,
                created_at: j.created_at,
                finished_at: j.finished_at,
            }
        })
        .collect();
    Ok(SnapshotPage {
        cluster_id,
        vmid,
        vm_name: v.vm.name.clone(),
        class_id: v.class.id,
        class_name: v.class.name.clone(),
        qemu: v.vm.kind != "lxc",
        running: v.vm.status == "running",
        manager: v.manager,
        may_change: v.may_change(),
        student_limit: v.class.student_snapshots,
        snapshots: list
            .into_iter()
            .map(|s| SnapshotView {
                taken_by: s.taken_by.and_then(|id| names.get(&id).cloned()),
                name: s.name,
                description: s.description,
                taken_at: s.taken_at,
                vmstate: s.vmstate,
                parent: s.parent,
                current: s.current,
            })
            .collect(),
        jobs,
        now: services.clock.now(),
    })
}
