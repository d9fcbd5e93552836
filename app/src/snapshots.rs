//! Snapshots in the UI: a VM's snapshot page (take, roll back, delete, with the progress of
//! its snapshot jobs), reached from the VM's card and the class page, and the class page's
//! setting for how many snapshots each student may keep. `lab::snapshots` checks who may.

mod api;
mod page;
mod setting;

pub use api::*;
pub use page::SnapshotsPage;
pub use setting::StudentSnapshotsSetting;

/// The snapshot page of a VM.
pub fn snapshots_url(cluster_id: i32, vmid: i32) -> String {
    format!("/vms/{cluster_id}/{vmid}/snapshots")
}
