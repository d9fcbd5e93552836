//! Classes: the teacher's wizard (plan, launch), the class page, invites and enrolment.
//!
//! Launching writes the whole intent (the class, one row per VM with its MACs, the deploy
//! job) in one transaction before anything happens on a node; `crate::deploy` does the work.
//! Who may do what is decided once, in [`crate::access`], which `inventory` reads too.

mod about;
mod adoption;
mod create;
mod invites;
mod manage;
mod method;
mod plan;
mod templates;
mod view;

// The access rules sit below both classes and inventory; re-exported so that `super::access`
// paths in the class modules keep working.
pub(crate) use crate::access;

pub use about::{about, edit};
pub use adoption::adoption_candidates;
pub use create::{cancel, delete, launch, publish, request_reset};
pub use invites::{join, join_view, regenerate_invite, revoke_invite, wait};
pub use manage::{
    add_co_owner, add_students, adopt, assign_student, import, power_all, remove_co_owner,
    remove_vm, respec, set_ssh, strays, unassign_student,
};
pub use plan::{plan, targets};
pub use templates::templates;
pub use view::{detail, list};

pub use crate::model::{BASE_OFFSET, TEACHER_OFFSET};
