//! Accounts and sessions: password hashing, the account rules, server-side sessions, login
//! with throttling, and the one-time setup link that creates the first admin.
//!
//! Every function takes `&Services`; the web layer decides *who* may call what, this module
//! keeps the invariants that hold whoever calls (usernames, password policy, never zero
//! admins, a password change ends the other sessions).

mod login;
mod password;
mod realm;
mod role;
mod sessions;
mod setup;
mod throttle;
mod users;

pub use login::{LoginAttempt, login};
pub use password::{hash_password, verify_password};
pub use realm::{RealmVerdict, realm_role};
pub(crate) use role::role_of;
pub(crate) use sessions::TOUCH_EVERY_SECS;
pub use sessions::{Session, end_session, resolve_session, start_session};
pub use setup::{admin_exists, complete_setup, issue_setup_token, setup_token_is_valid};
pub use users::{
    NewUser, change_password, create_user, delete_user, find_user, list_users, reset_password,
    set_disabled, set_role, update_profile, username_of,
};

/// For the submodules (`super::now`); everyone else reads [`crate::clock`].
use crate::clock::now;
