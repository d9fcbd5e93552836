//! SeaORM entities, one file per table. Times are Unix seconds (`i64`) on both engines.

pub mod login_failure;
pub mod session;
pub mod setup_token;
pub mod site_setting;
pub mod user;
