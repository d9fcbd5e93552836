//! Administration: accounts (and, later, clusters).

mod api;
mod users_page;

pub use api::*;
pub use users_page::UsersPage;
