//! New CPU/RAM for a class: only `cores` and `memory` change in each VM's config (through the
//! API, so PVE validates them and keeps them pending on a running VM until its next start);
//! everything cloned stays.

use super::Outcome;
use super::context::Ctx;
use super::reset::current_node;
use crate::db::entity::class;
use crate::{Error, Result, Services};

pub(super) async fn run(services: &Services, class: class::Model) -> Result<Outcome> {
    let ctx = Ctx::open(services, class).await?;
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
        .rows(services)
        .await?
        .iter()
        .filter(|r| r.step == "ready")
    {
        let node = current_node(services, row).await?;
        if let Err(e) = ctx.client.set_config(&node, row.vmid as u32, &keys).await {
            failed.push(format!("VM {}: {e}", row.vmid));
        }
    }
    if failed.is_empty() {
        Ok(Outcome::Done)
    } else {
        Err(Error::Proxmox(failed.join("; ")))
    }
}
