//! Exports: flattened copies of a VM's data disks in the class's export folder, which the
//! class base and the teacher's VM sit on. A file that exists is done (they appear by
//! rename), so a resumed job finds what it already made.

use super::context::Ctx;
use crate::Error;
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::node::{NodeOps, Script};
use std::collections::BTreeMap;

/// Exports `disks` (slot → source path) to `<export dir>/<slot><suffix>.qcow2`; returns
/// slot → export path. On failure the folder is removed when `fresh` (nothing sits on a
/// half-made first export yet).
pub async fn export_disks(
    run: &JobRun,
    ctx: &Ctx,
    disks: &BTreeMap<String, String>,
    suffix: &str,
    fresh: bool,
) -> Result<BTreeMap<String, String>, JobError> {
    let dir = ctx
        .paths
        .export_dir(&ctx.class.storage, ctx.class.vmid_base as u32)?;
    let mut script = NodeOps::mkdir(Script::new(), &dir)?;
    let mut exports = BTreeMap::new();
    for (slot, src) in disks {
        let dst = format!("{dir}/{slot}{suffix}.qcow2");
        script = NodeOps::export_disk(script, src, &dst)?;
        exports.insert(slot.clone(), dst);
    }
    run.guard("export disks", None).await?;
    if let Err(e) = ctx.run_script(&script).await {
        if fresh {
            let _ = ctx
                .run_script(&NodeOps::remove_dir(Script::new(), &dir)?)
                .await;
        }
        return Err(JobError::Retryable(Error::Unavailable(format!(
            "The disks could not be exported: {e}"
        ))));
    }
    Ok(exports)
}
