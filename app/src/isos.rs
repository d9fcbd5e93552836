//! The ISO library in the UI (`/isos`): every ISO of the clusters the person may manage,
//! downloads Proxmox makes from a URL (with their progress), delete; and the VM builder
//! (`/vms/new`), a new VM from one of those ISOs. For admins, and for teachers on the
//! clusters whose settings allow it; `lab::isos` and `lab::builder` check who may.

mod api;
mod build_page;
mod hardware_page;
mod page;
mod upload;

pub use api::*;
pub use build_page::BuildPage;
pub use hardware_page::{HardwarePage, hardware_url};
pub use page::IsosPage;

/// The VM builder's page.
pub const ROUTE_BUILD: &str = "/vms/new";
