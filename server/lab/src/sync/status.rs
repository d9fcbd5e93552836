//! Writing `sync_status`: what each run did, for the admin's Sync page.

use crate::Result;
use crate::clock::now;
use crate::db::entity::sync_status;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

pub(crate) enum Run {
    Quick { ms: i64, guests: i32 },
    Full { ms: i64, calls: i64 },
    Failed { error: String },
}

/// Records a run; `calls` Proxmox calls are added to the running total.
pub(crate) async fn record(
    db: &impl ConnectionTrait,
    cluster_id: i32,
    run: Run,
    calls: i64,
) -> Result<()> {
    let t = now();
    let mut row = sync_status::ActiveModel {
        cluster_id: Set(cluster_id),
        calls_total: Set(calls),
        ..Default::default()
    };
    let mut update = vec![];
    match run {
        Run::Quick { ms, guests } => {
            row.quick_at = Set(Some(t));
            row.quick_ms = Set(ms);
            row.guests = Set(guests);
            row.last_error = Set(None);
            update.extend([
                sync_status::Column::QuickAt,
                sync_status::Column::QuickMs,
                sync_status::Column::Guests,
                sync_status::Column::LastError,
            ]);
        }
        Run::Full { ms, calls } => {
            row.full_at = Set(Some(t));
            row.full_ms = Set(ms);
            row.full_calls = Set(calls);
            update.extend([
                sync_status::Column::FullAt,
                sync_status::Column::FullMs,
                sync_status::Column::FullCalls,
            ]);
        }
        Run::Failed { error } => {
            row.last_error = Set(Some(error));
            row.error_at = Set(Some(t));
            update.extend([sync_status::Column::LastError, sync_status::Column::ErrorAt]);
        }
    }
    sync_status::Entity::insert(row)
        .on_conflict(
            OnConflict::column(sync_status::Column::ClusterId)
                .update_columns(update)
                .value(
                    sync_status::Column::CallsTotal,
                    Expr::col((sync_status::Entity, sync_status::Column::CallsTotal)).add(calls),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
