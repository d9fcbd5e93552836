//! Worker leases: one instance at a time runs a named singleton worker (a cluster's sync and
//! its policy worker), even with several portal instances on one PostgreSQL database.
//!
//! A hold is one conditional UPDATE (the row's owner is us, or its lease ran out) or, for a
//! name never held, one INSERT that a concurrent INSERT makes fail on the primary key. Both
//! engines give the UPDATE row-level atomicity, so two instances never both see a row
//! affected. The holder renews every tick; a crashed holder is replaced once `until` passes.
//! The job engine has its own, fenced, leases (`jobs::lease`): a worker lease only decides
//! who *decides*; every act it decides goes through a job.

use crate::db::entity::worker_lease;
use crate::{Result, Services};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Set};

/// A lease owner's name for one worker of this process: `<worker>/<host>:<pid>/<random>`, so
/// an operator reading `worker_leases` sees which instance holds what.
pub fn owner(worker: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let random = crate::token::random_token();
    format!(
        "{worker}/{}:{}/{}",
        host.trim(),
        std::process::id(),
        &random[..8]
    )
}

/// Holds (takes or renews) the lease `name` for `owner` until `now + secs`. Returns whether
/// `owner` holds it now.
pub async fn hold(services: &Services, name: &str, owner: &str, secs: i64) -> Result<bool> {
    let now = services.clock.now();
    let renewed = worker_lease::Entity::update_many()
        .col_expr(worker_lease::Column::Owner, Expr::value(owner))
        .col_expr(worker_lease::Column::Until, Expr::value(now + secs))
        .filter(worker_lease::Column::Name.eq(name))
        .filter(
            Condition::any()
                .add(worker_lease::Column::Owner.eq(owner))
                .add(worker_lease::Column::Until.lte(now)),
        )
        .exec(&services.db)
        .await?
        .rows_affected;
    if renewed == 1 {
        return Ok(true);
    }
    let exists = worker_lease::Entity::find_by_id(name.to_string())
        .one(&services.db)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    let inserted = worker_lease::Entity::insert(worker_lease::ActiveModel {
        name: Set(name.to_string()),
        owner: Set(owner.to_string()),
        until: Set(now + secs),
    })
    .exec_without_returning(&services.db)
    .await;
    // Another instance inserted it first: theirs.
    Ok(inserted.is_ok())
}

/// Lets the lease go (at shutdown), so another instance takes over at once.
pub async fn release(services: &Services, name: &str, owner: &str) -> Result<()> {
    worker_lease::Entity::delete_many()
        .filter(worker_lease::Column::Name.eq(name))
        .filter(worker_lease::Column::Owner.eq(owner))
        .exec(&services.db)
        .await?;
    Ok(())
}
