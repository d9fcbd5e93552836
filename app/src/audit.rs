//! The audit log: the page (`/audit`, admins and teachers), its server function, and the
//! helpers every other server function records its act with.

mod api;
mod page;
mod record;

pub use api::*;
pub use page::AuditPage;
#[cfg(feature = "ssr")]
pub use record::{audited, record};
