//! The dashboard everyone lands on: cards of the user's VMs (admins: every VM, with filters
//! and paging), power actions, RDP files, and cheap polling for changes.

mod api;
mod dashboard_page;
mod vm_card;

pub use api::*;
pub use dashboard_page::DashboardPage;
