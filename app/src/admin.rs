//! Administration: accounts, clusters, their nodes' capacity, the sync workers and the job
//! engine's jobs.

mod api;
mod clusters_page;
mod jobs_page;
mod nodes_page;
mod sync_page;
mod users_page;

pub use api::*;
pub use clusters_page::ClustersPage;
pub use jobs_page::JobsPage;
pub use nodes_page::NodesPage;
pub use sync_page::SyncPage;
pub use users_page::UsersPage;
