//! A clone class's bases and students, node by node: each base (the class base proper, and
//! its copies on other nodes for node-local storage) is made, and as soon as it is a
//! template the students on its node are cloned from it, while the other bases are still
//! being copied. So the students beside the template do not wait for the copies' migrations
//! (measured: the first student VM of a 30-student class with a copy on a second node came
//! 45 s after Launch when every student waited for every base, and as early as on one node
//! once each node went on by itself; see the README's Classes figures).

use super::clone_vm::{CloneSource, clone_vm};
use super::fan_out::fan_out;
use super::rows::{base_for, ready_base};
use crate::db::entity::class_vm;
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::jobs::steps::context::Ctx;
use crate::model::DeployMethod;

/// Makes every base in `bases` from `source` (full copies), then the `students` from the
/// base on their node (the base proper where their node has none: shared storage). The
/// first reason to stop wins once the work under way has finished its step.
pub async fn bases_then_students(
    run: &JobRun,
    ctx: &Ctx,
    bases: &[class_vm::Model],
    students: &[class_vm::Model],
    source: &CloneSource,
) -> Result<(), JobError> {
    let full = ctx.class.method == DeployMethod::FullClone;
    let groups = bases.iter().map(|b| async move {
        clone_vm(run, ctx, b, source).await?;
        let base = ready_base(run, b).await?;
        let from = CloneSource {
            vmid: base.vmid as u32,
            node: base.node.clone(),
            full,
        };
        let work = students
            .iter()
            .filter(|s| base_for(bases, &s.node).id == b.id)
            .map(|s| clone_vm(run, ctx, s, &from))
            .collect();
        fan_out(run, work).await
    });
    first_stop(futures_util::future::join_all(groups).await)
}

/// The reason to stop among several branches' results: the job's own interruption (lease
/// lost, shutting down) before a cancel, a cancel before a VM's failure.
pub fn first_stop(results: Vec<Result<(), JobError>>) -> Result<(), JobError> {
    let rank = |e: &JobError| match e {
        JobError::LeaseLost | JobError::Stopping => 0,
        JobError::Cancelled => 1,
        _ => 2,
    };
    results
        .into_iter()
        .filter_map(Result::err)
        .min_by_key(rank)
        .map_or(Ok(()), Err)
}
