//! New CPU/RAM for a class: only `cores` and `memory` change in each VM's config (through the
//! API, so PVE validates them and keeps them pending on a running VM until its next start);
//! everything cloned stays.

use crate::Error;
use crate::db::entity::class;
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::context::Ctx;
use crate::jobs::steps::rows::current_node;
use crate::model::VmStep;

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let ctx = Ctx::open(&run.services, class).await?;
    let cores = ctx.class.cores.map(|c| c.to_string());
    let memory = ctx.class.memory_mb.map(|m| m.to_string());
    let mut keys: Vec<(&str, &str)> = Vec::new();
    if let Some(c) = &cores {
        keys.push(("cores", c));
    }
    if let Some(m) = &memory {
        keys.push(("memory", m));
    }
    let mut failed = Vec::new();
    for row in ctx
        .rows(&run.services)
        .await?
        .iter()
        .filter(|r| r.step == VmStep::Ready)
    {
        let node = current_node(&run.services, row).await?;
        run.guard("set config", Some(row.vmid)).await?;
        if let Err(e) = ctx.client.set_config(&node, row.vmid as u32, &keys).await {
            failed.push(format!("VM {}: {e}", row.vmid));
        }
    }
    if failed.is_empty() {
        Ok(Outcome::Done)
    } else {
        Err(JobError::Permanent(Error::Proxmox(failed.join("; "))))
    }
}
