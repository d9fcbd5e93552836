//! Snapshots of class VMs: the page a student or teacher sees (from the database only), the
//! requests that queue a `snapshot` job (`jobs::kinds::snapshot` does the work), and the
//! rows the job writes from Proxmox's list.
//!
//! Who may: a class's teachers and admins on every VM of the class but its base (a
//! template, which Proxmox cannot snapshot); a student on their own VM when the class allows
//! snapshots (`classes.student_snapshots` > 0), up to that many. Anyone else gets "not
//! found", as for every class object.
//!
//! Reset and publish make a VM's disks anew, so its snapshots are removed with them
//! (`jobs::steps::reimage` deletes them in Proxmox first; a re-cloned VM loses them with
//! the old VM); the page says so before a student resets.

mod page;
mod request;
mod store;
mod who;

pub use page::page;
pub use request::{delete, refresh, rollback, set_student_limit, take};
pub(crate) use store::{forget, replace};
