//! The permission tests of `/access` endpoints that are more than one privilege on one path
//! (proxmox/pve-access-control `src/PVE/RPCEnvironment.pm` `exec_api2_perm_check`:
//! `userid-group`, `userid-param`; `filter_groups`, `group_member_join`).
//!
//! `userid-group` grants access to a user's data with the privileges on `/access/groups`
//! (all users), or on `/access/groups/<group>` for members of that group; a failing check
//! is a bare `403 Permission check failed`. `check_api2_permissions` lets `root@pam` pass
//! every test before it runs, so root gets the handler's own errors instead.

use std::collections::BTreeSet;

use crate::api::Cx;
use crate::api::authn::{denied, has_any, require};
use crate::api::reply::ApiError;
use crate::model::Inner;

/// How a `userid-group` test treats the `groups` parameter (`groups_param` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupsParam {
    /// Not looked at (read, delete, tokens).
    Ignored,
    /// `create`: the user need not exist yet; every given group must be allowed.
    Create,
    /// `update`: every given group must be allowed, and the user reachable.
    Update,
}

/// Whether the caller is `root@pam` itself (not one of its tokens).
pub(crate) fn is_root(cx: &Cx) -> bool {
    cx.ident.ticket && cx.ident.authid == "root@pam"
}

/// `filter_groups`: the groups the caller holds any of `privs` on.
pub(crate) fn allowed_groups(inner: &Inner, cx: &Cx, privs: &[&str]) -> BTreeSet<String> {
    inner
        .groups
        .keys()
        .filter(|g| has_any(inner, &cx.ident, &format!("/access/groups/{g}"), privs))
        .cloned()
        .collect()
}

/// `group_member_join` of the groups the caller holds any of `privs` on.
pub(crate) fn reachable_users(inner: &Inner, cx: &Cx, privs: &[&str]) -> BTreeSet<String> {
    allowed_groups(inner, cx, privs)
        .iter()
        .filter_map(|g| inner.groups.get(g))
        .flat_map(|g| g.users.iter().cloned())
        .collect()
}

/// `['userid-group', privs, groups_param => ...]` for `userid` (and the `groups` given).
pub(crate) fn userid_group(
    inner: &Inner,
    cx: &Cx,
    userid: &str,
    privs: &[&str],
    mode: GroupsParam,
    groups: &[String],
) -> Result<(), ApiError> {
    if is_root(cx) {
        return Ok(());
    }
    let existing = mode != GroupsParam::Create;
    if existing && !inner.users.contains_key(userid) {
        return Err(ApiError::msg(format!("no such user ('{userid}')")));
    }
    if has_any(inner, &cx.ident, "/access/groups", privs) {
        return Ok(());
    }
    let allowed = allowed_groups(inner, cx, privs);
    let what = privs.join("|");
    if mode != GroupsParam::Ignored {
        if groups.is_empty() {
            return Err(denied(Some(format!("/access/groups, {what}"))));
        }
        if let Some(g) = groups.iter().find(|g| !allowed.contains(*g)) {
            return Err(denied(Some(format!("/access/groups/{g}, {what}"))));
        }
    }
    if existing {
        let reachable = allowed
            .iter()
            .filter_map(|g| inner.groups.get(g))
            .any(|g| g.users.iter().any(|u| u == userid));
        if !reachable {
            return Err(denied(None));
        }
    }
    Ok(())
}

/// `['userid-param', 'Realm.AllocateUser']`: that privilege on the user's realm.
pub(crate) fn realm_allocate(inner: &Inner, cx: &Cx, userid: &str) -> Result<(), ApiError> {
    if is_root(cx) {
        return Ok(());
    }
    let realm = userid.rsplit_once('@').map_or("", |(_, r)| r);
    require(
        inner,
        &cx.ident,
        &format!("/access/realm/{realm}"),
        "Realm.AllocateUser",
    )
}

/// `['userid-param', 'self']`: the caller is that user, with a ticket (a token's authid
/// is `user@realm!token`, never the user).
pub(crate) fn is_self(cx: &Cx, userid: &str) -> bool {
    cx.ident.ticket && cx.ident.authid == userid
}
