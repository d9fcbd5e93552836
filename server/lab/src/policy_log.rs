//! The policy log: every warning and automatic act (the policy worker's, its `power` jobs',
//! a refused start, a student's "I'm still here"), for the class's teachers and admins.
//! A leaf, so the job engine and the policies both write it without needing each other.
//! Its acts (not its warnings) also go to the audit log, as the policy worker's, and are
//! counted for `/metrics`.

use crate::db::entity::{policy_log, user};
use crate::model::{AuditAction, PolicyLogView};
use crate::{Result, Services};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use std::collections::HashMap;

/// One line to record.
#[derive(Clone, Debug)]
pub struct Entry {
    pub class_id: i32,
    pub cluster_id: i32,
    pub vmid: Option<i32>,
    pub user_id: Option<i32>,
    /// `warn`, `start`, `shutdown`, `hibernate`, `refused`, `failed`, `still-here`, `skipped`.
    pub action: String,
    pub reason: String,
    pub detail: Option<String>,
    pub job_id: Option<i32>,
}

fn row(at: i64, e: Entry) -> policy_log::ActiveModel {
    policy_log::ActiveModel {
        class_id: Set(e.class_id),
        cluster_id: Set(e.cluster_id),
        vmid: Set(e.vmid),
        user_id: Set(e.user_id),
        action: Set(e.action),
        reason: Set(e.reason),
        at: Set(at),
        detail: Set(e.detail),
        job_id: Set(e.job_id),
        ..Default::default()
    }
}

pub async fn record(db: &impl ConnectionTrait, at: i64, entry: Entry) -> Result<()> {
    row(at, entry.clone()).insert(db).await?;
    audit(db, at, &entry).await;
    Ok(())
}

/// The acts of the policy worker and its jobs, as audit lines (warnings, skips and a
/// student's "I'm still here" are the class's business, not the audit log's).
async fn audit(db: &impl ConnectionTrait, at: i64, e: &Entry) {
    if !matches!(
        e.action.as_str(),
        "start" | "shutdown" | "hibernate" | "refused" | "failed"
    ) {
        return;
    }
    crate::metrics::policy_action(&e.action);
    let mut line =
        crate::audit::Entry::by_name(crate::audit::POLICY_WORKER, AuditAction::PolicyAction)
            .class(e.class_id)
            .cluster(e.cluster_id)
            .detail(match &e.detail {
                Some(d) => format!("{} ({}): {d}", e.action, e.reason),
                None => format!("{} ({})", e.action, e.reason),
            });
    if let Some(vmid) = e.vmid {
        line = line.vmid(vmid);
    }
    if e.action == "failed" {
        line.outcome = crate::model::AuditOutcome::Failed;
    }
    crate::audit::record(db, at, line).await;
}

/// Records many lines in one statement per 200 (a tick's warnings).
pub async fn record_many(db: &impl ConnectionTrait, at: i64, entries: Vec<Entry>) -> Result<()> {
    for chunk in entries.chunks(200) {
        policy_log::Entity::insert_many(chunk.iter().cloned().map(|e| row(at, e)))
            .exec_without_returning(db)
            .await?;
    }
    for e in &entries {
        audit(db, at, e).await;
    }
    Ok(())
}

/// The class's latest `limit` lines, newest first, with the students' names.
pub async fn recent(services: &Services, class_id: i32, limit: u64) -> Result<Vec<PolicyLogView>> {
    let rows = policy_log::Entity::find()
        .filter(policy_log::Column::ClassId.eq(class_id))
        .order_by_desc(policy_log::Column::At)
        .order_by_desc(policy_log::Column::Id)
        .limit(limit)
        .all(&services.db)
        .await?;
    let ids: Vec<i32> = rows.iter().filter_map(|r| r.user_id).collect();
    let names: HashMap<i32, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| PolicyLogView {
            at: r.at,
            vmid: r.vmid,
            student: r.user_id.and_then(|id| names.get(&id).cloned()),
            action: r.action,
            reason: r.reason,
            detail: r.detail,
        })
        .collect())
}
