//! The audit log's page (`/audit`, admins and teachers) and its server function. Recording
//! an act is `crate::audited`, a leaf, so that the server functions the layout uses (sign-in)
//! do not depend on this page.

mod api;
mod page;

pub use api::*;
pub use page::AuditPage;
