//! The role a user row stands for. A leaf: sessions, the account rules, realm login and the
//! access rules all read a user's role here.

use crate::db::entity::user;
use crate::model::Role;

/// A stored role that does not parse gets the least privilege.
pub(crate) fn role_of(u: &user::Model) -> Role {
    u.role.parse().unwrap_or(Role::Student)
}
