//! Managing users, groups, tokens and passwords (proxmox/pve-access-control
//! `src/PVE/API2/User.pm`, `API2/Group.pm`, `API2/AccessControl.pm` `change_password`),
//! each with the permission test of its `permissions => { check => ... }` (see `checks`).

use serde_json::Value;

use super::checks::{GroupsParam, is_root, is_self, realm_allocate, userid_group};
use crate::api::Cx;
use crate::api::authn::{denied, require};
use crate::api::reply::{ApiError, ApiResult, ok};
use crate::model::{AclKind, Group, User};

/// PVE's `split_list`.
pub(super) fn list(text: Option<&str>) -> Vec<String> {
    text.unwrap_or("")
        .split([',', ';', ' '])
        .filter(|s| !s.is_empty())
        .map(Into::into)
        .collect()
}

fn valid_userid(userid: &str) -> bool {
    userid
        .split_once('@')
        .is_some_and(|(name, realm)| !name.is_empty() && (realm == "pve" || realm == "pam"))
}

fn set_groups(
    inner: &mut crate::model::Inner,
    userid: &str,
    groups: &[String],
    append: bool,
) -> Result<(), ApiError> {
    for g in groups {
        if !inner.groups.contains_key(g) {
            return Err(ApiError::msg(format!("no such group '{g}'")));
        }
    }
    for (id, g) in inner.groups.iter_mut() {
        let wanted = groups.contains(id);
        let member = g.users.iter().any(|u| u == userid);
        if wanted && !member {
            g.users.push(userid.to_string());
        } else if !wanted && member && !append {
            g.users.retain(|u| u != userid);
        }
    }
    Ok(())
}

/// `POST /access/users`.
/// Permission: `['and', ['userid-param', 'Realm.AllocateUser'], ['userid-group',
/// ['User.Modify'], groups_param => 'create']]`.
pub(crate) fn create_user(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    let userid =
        cx.p.get("userid")
            .ok_or_else(|| ApiError::param("userid", "property is missing and it is not optional"))?
            .to_string();
    let groups = list(cx.p.get("groups"));
    realm_allocate(&inner, cx, &userid)?;
    userid_group(
        &inner,
        cx,
        &userid,
        &["User.Modify"],
        GroupsParam::Create,
        &groups,
    )?;
    if !valid_userid(&userid) {
        return Err(ApiError::param(
            "userid",
            format!("value does not look like a valid user ID ('{userid}')"),
        ));
    }
    if inner.users.contains_key(&userid) {
        return Err(ApiError::msg(format!(
            "create user failed: user '{userid}' already exists"
        )));
    }
    let user = User {
        password: cx.p.get("password").unwrap_or_default().to_string(),
        enable: cx.p.get("enable").is_none() || cx.p.flag("enable")?,
        email: cx.p.get("email").map(Into::into),
        firstname: cx.p.get("firstname").map(Into::into),
        lastname: cx.p.get("lastname").map(Into::into),
        comment: cx.p.get("comment").map(Into::into),
        tokens: Default::default(),
    };
    inner.users.insert(userid.clone(), user);
    set_groups(&mut inner, &userid, &groups, true)?;
    ok(Value::Null)
}

/// `PUT /access/users/{userid}`; permission `['userid-group', ['User.Modify'],
/// groups_param => 'update']`.
pub(crate) fn update_user(cx: &Cx, userid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    let groups = cx.p.get("groups").map(|g| list(Some(g)));
    userid_group(
        &inner,
        cx,
        userid,
        &["User.Modify"],
        GroupsParam::Update,
        groups.as_deref().unwrap_or_default(),
    )?;
    let append = cx.p.flag("append")?;
    let user = inner
        .users
        .get_mut(userid)
        .ok_or_else(|| ApiError::msg(format!("no such user ('{userid}')")))?;
    for (key, field) in [
        ("email", &mut user.email),
        ("firstname", &mut user.firstname),
        ("lastname", &mut user.lastname),
        ("comment", &mut user.comment),
    ] {
        if let Some(v) = cx.p.get(key) {
            *field = Some(v.to_string());
        }
    }
    if cx.p.get("enable").is_some() {
        user.enable = cx.p.flag("enable")?;
    }
    if let Some(groups) = groups {
        set_groups(&mut inner, userid, &groups, append)?;
    }
    ok(Value::Null)
}

/// `DELETE /access/users/{userid}`: also drops group memberships and ACL entries.
/// Permission: `['and', ['userid-param', 'Realm.AllocateUser'], ['userid-group',
/// ['User.Modify']]]`.
pub(crate) fn delete_user(cx: &Cx, userid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    realm_allocate(&inner, cx, userid)?;
    userid_group(
        &inner,
        cx,
        userid,
        &["User.Modify"],
        GroupsParam::Ignored,
        &[],
    )?;
    if inner.users.remove(userid).is_none() {
        return Err(ApiError::msg(format!(
            "delete user failed: no such user ('{userid}')"
        )));
    }
    for g in inner.groups.values_mut() {
        g.users.retain(|u| u != userid);
    }
    // user.cfg drops the ACL entries of vanished users and tokens when it is read again.
    let own_token = format!("{userid}!");
    inner
        .acl
        .retain(|a| a.ugid != userid && !a.ugid.starts_with(&own_token));
    ok(Value::Null)
}

/// `['or', ['userid-param', 'self'], ['userid-group', ['User.Modify']]]` (token calls).
pub(crate) fn own_or_user_modify(
    inner: &crate::model::Inner,
    cx: &Cx,
    userid: &str,
) -> Result<(), ApiError> {
    let group = || {
        userid_group(
            inner,
            cx,
            userid,
            &["User.Modify"],
            GroupsParam::Ignored,
            &[],
        )
    };
    if is_self(cx, userid) || group().is_ok() {
        Ok(())
    } else {
        Err(denied(None))
    }
}

/// `DELETE /access/users/{userid}/token/{tokenid}`.
pub(crate) fn delete_token(cx: &Cx, userid: &str, tokenid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    own_or_user_modify(&inner, cx, userid)?;
    let user = inner
        .users
        .get_mut(userid)
        .ok_or_else(|| ApiError::msg(format!("no such user ('{userid}')")))?;
    if user.tokens.remove(tokenid).is_none() {
        return Err(ApiError::msg(format!(
            "no such token '{tokenid}' for user '{userid}'"
        )));
    }
    let full = format!("{userid}!{tokenid}");
    inner
        .acl
        .retain(|a| !(a.kind == AclKind::Token && a.ugid == full));
    ok(Value::Null)
}

/// `PUT /access/password`: users may change their own; others need `['and',
/// ['userid-param', 'Realm.AllocateUser'], ['userid-group', ['User.Modify']]]`, and only
/// root may change `root@pam`'s or any `@pam` password (`change_password`).
pub(crate) fn password(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    if !cx.ident.ticket {
        return Err(ApiError::Forbidden(
            "Permission check failed (URI '/access/password' not available with API token, need proper ticket.\n)".into(),
        ));
    }
    let userid =
        cx.p.get("userid")
            .ok_or_else(|| ApiError::param("userid", "property is missing and it is not optional"))?
            .to_string();
    let password = cx
        .p
        .get("password")
        .ok_or_else(|| ApiError::param("password", "property is missing and it is not optional"))?;
    if password.len() < 5 {
        return Err(ApiError::param(
            "password",
            "value must be at least 5 characters long",
        ));
    }
    if !is_self(cx, &userid) {
        let allowed = realm_allocate(&inner, cx, &userid).is_ok()
            && userid_group(
                &inner,
                cx,
                &userid,
                &["User.Modify"],
                GroupsParam::Ignored,
                &[],
            )
            .is_ok();
        // "only root may change root password", "do not allow to change system user passwords"
        if !allowed || (!is_root(cx) && userid.ends_with("@pam")) {
            return Err(denied(None));
        }
    }
    let user = inner
        .users
        .get_mut(&userid)
        .ok_or_else(|| ApiError::msg(format!("no such user ('{userid}')")))?;
    user.password = password.to_string();
    ok(Value::Null)
}

/// `POST /access/groups` (`['perm', '/access/groups', ['Group.Allocate']]`).
pub(crate) fn create_group(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, "/access/groups", "Group.Allocate")?;
    let id = cx
        .p
        .get("groupid")
        .ok_or_else(|| ApiError::param("groupid", "property is missing and it is not optional"))?
        .to_string();
    if inner.groups.contains_key(&id) {
        return Err(ApiError::msg(format!(
            "create group failed: group '{id}' already exists"
        )));
    }
    inner.groups.insert(
        id,
        Group {
            comment: cx.p.get("comment").map(Into::into),
            users: Vec::new(),
        },
    );
    ok(Value::Null)
}

/// `DELETE /access/groups/{groupid}` (`['perm', '/access/groups', ['Group.Allocate']]`).
pub(crate) fn delete_group(cx: &Cx, id: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, "/access/groups", "Group.Allocate")?;
    if inner.groups.remove(id).is_none() {
        return Err(ApiError::msg(format!(
            "delete group failed: group '{id}' does not exist"
        )));
    }
    inner
        .acl
        .retain(|a| !(a.kind == AclKind::Group && a.ugid == id));
    ok(Value::Null)
}
