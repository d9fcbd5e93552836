//! The ISO library in the UI (`/isos`): every ISO of the clusters the person may manage,
//! downloads Proxmox makes from a URL (with their progress), delete. For admins, and for
//! teachers on the clusters whose settings allow it; `lab::isos` checks who may.

mod api;
mod page;

pub use api::*;
pub use page::IsosPage;
