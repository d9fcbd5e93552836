//! Administration: accounts, clusters and the sync workers.

mod api;
mod clusters_page;
mod sync_page;
mod users_page;

pub use api::*;
pub use clusters_page::ClustersPage;
pub use sync_page::SyncPage;
pub use users_page::UsersPage;
