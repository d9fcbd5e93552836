//! The job engine (`lab::jobs`): typed kinds and states, fenced leases, priorities.
//!
//! * `jobs.fence`: bumped at every claim; every write of the runner names it (with the lease
//!   owner), so a runner that lost its lease writes nothing more.
//! * `jobs.priority` (higher first), `jobs.attempts` (claims), `jobs.requested_by`,
//!   `jobs.started_at`: for the claim order and the admin's Jobs page.
//! * Existing rows are converted: the words are the enums' stored values (`model::job`), so a
//!   row keeps its word once it is trimmed and lower-cased; a state or step the engine does
//!   not know becomes `failed` (with the old word in the error) instead of a row no code can
//!   read; old single-VM jobs get their priority; started jobs get `attempts = 1` and
//!   `started_at = created_at`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const CONVERT: &[&str] = &[
    "UPDATE jobs SET kind = lower(trim(kind)), state = lower(trim(state))",
    "UPDATE class_vms SET step = lower(trim(step)), role = lower(trim(role))",
    "UPDATE jobs SET error = 'unknown state before upgrade: ' || state, state = 'failed' \
     WHERE state NOT IN ('queued', 'running', 'cancelling', 'done', 'failed', 'cancelled')",
    "UPDATE class_vms SET error = 'unknown step before upgrade: ' || step, step = 'failed' \
     WHERE step NOT IN ('queued', 'exporting', 'creating', 'ready', 'failed', 'cancelled')",
    "UPDATE jobs SET priority = 10 WHERE kind IN ('reset', 'remove')",
    "UPDATE jobs SET priority = 5 WHERE kind = 'respec'",
    "UPDATE jobs SET attempts = 1, started_at = created_at WHERE state <> 'queued'",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            big_integer(Jobs::Fence).default(0).to_owned(),
            integer(Jobs::Priority).default(0).to_owned(),
            integer(Jobs::Attempts).default(0).to_owned(),
            integer_null(Jobs::RequestedBy),
            big_integer_null(Jobs::StartedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        for sql in CONVERT {
            db.execute_unprepared(sql).await?;
        }
        // The claim looks for unfinished jobs of a class older than the candidate.
        super::index(
            manager,
            "jobs_class_state",
            Jobs::Table,
            &[Jobs::ClassId, Jobs::State],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("jobs_class_state").to_owned())
            .await?;
        for column in [
            Jobs::Fence,
            Jobs::Priority,
            Jobs::Attempts,
            Jobs::RequestedBy,
            Jobs::StartedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Jobs {
    Table,
    ClassId,
    State,
    Fence,
    Priority,
    Attempts,
    RequestedBy,
    StartedAt,
}
