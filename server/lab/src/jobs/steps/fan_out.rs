//! Many VM steps at once (a class's students), bounded: the node slots hold the real limit
//! per node; this keeps the number of waiting futures small.

use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use futures_util::StreamExt;

/// Runs the students' steps, a bounded number at a time; the first reason to stop wins once
/// the VMs under way have finished their step.
pub async fn fan_out<F>(run: &JobRun, work: Vec<F>) -> Result<(), JobError>
where
    F: std::future::Future<Output = Result<(), JobError>>,
{
    // The node slots hold the real limit; this only keeps the number of waiting futures
    // (and their rows in memory) small.
    let in_flight = (run.settings.per_node * 4).max(1);
    let mut stream = futures_util::stream::iter(work).buffer_unordered(in_flight);
    let mut stop = None;
    while let Some(r) = stream.next().await {
        if let Err(e) = r {
            stop.get_or_insert(e);
        }
    }
    drop(stream);
    stop.map_or(Ok(()), Err)
}
