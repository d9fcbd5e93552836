//! Reset: one VM back to the class base (fresh overlays of its disks).

use crate::Error;
use crate::db::entity::class;
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::context::Ctx;
use crate::jobs::steps::disks::data_disk_paths;
use crate::jobs::steps::reimage::reimage;
use crate::model::{VmRole, VmStep};

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let vmid = run.job_vmid()?;
    let ctx = Ctx::open(&run.services, class).await?;
    let rows = ctx.rows(&run.services).await?;
    let row = rows
        .iter()
        .find(|r| r.vmid == vmid)
        .ok_or_else(|| JobError::Permanent(Error::NotFound(format!("VM {vmid}"))))?;
    let base = rows
        .iter()
        .find(|r| r.role == VmRole::Base && r.step == VmStep::Ready)
        .ok_or_else(|| {
            JobError::Permanent(Error::Invalid("The class base is not ready.".into()))
        })?;
    let backing = data_disk_paths(&ctx, base)?;
    reimage(run, &ctx, row, &backing).await?;
    Ok(Outcome::Done)
}
