//! Managing users, groups, tokens, passwords and ACLs (proxmox/pve-access-control
//! `API2/User.pm`, `API2/Group.pm`, `API2/ACL.pm`, `API2/AccessControl.pm`).
//!
//! Deviation: ACL entries are stored and listed, but privilege checks stay the simplified
//! model of `authn` (admins vs. everyone else); they do not evaluate ACL paths or roles.

use serde_json::{Value, json};

use crate::api::Cx;
use crate::api::authn::has;
use crate::api::reply::{ApiError, ApiResult, ok};
use crate::model::{Acl, Group, User};

fn need(cx: &Cx, inner: &crate::model::Inner, path: &str, privilege: &str) -> Result<(), ApiError> {
    if has(inner, &cx.ident, privilege) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "Permission check failed ({path}, {privilege})"
        )))
    }
}

fn list(text: Option<&str>) -> Vec<String> {
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
pub(crate) fn create_user(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    need(cx, &inner, "/access/groups", "User.Modify")?;
    let userid =
        cx.p.get("userid")
            .ok_or_else(|| ApiError::param("userid", "property is missing and it is not optional"))?
            .to_string();
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
    set_groups(&mut inner, &userid, &list(cx.p.get("groups")), true)?;
    ok(Value::Null)
}

/// `PUT /access/users/{userid}`.
pub(crate) fn update_user(cx: &Cx, userid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    need(
        cx,
        &inner,
        &format!("/access/users/{userid}"),
        "User.Modify",
    )?;
    let append = cx.p.flag("append")?;
    let groups = cx.p.get("groups").map(|g| list(Some(g)));
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
pub(crate) fn delete_user(cx: &Cx, userid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    need(
        cx,
        &inner,
        &format!("/access/users/{userid}"),
        "User.Modify",
    )?;
    if inner.users.remove(userid).is_none() {
        return Err(ApiError::msg(format!(
            "delete user failed: no such user ('{userid}')"
        )));
    }
    for g in inner.groups.values_mut() {
        g.users.retain(|u| u != userid);
    }
    inner.acl.retain(|a| a.ugid != userid);
    ok(Value::Null)
}

/// `DELETE /access/users/{userid}/token/{tokenid}`.
pub(crate) fn delete_token(cx: &Cx, userid: &str, tokenid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    let own = cx.ident.userid == userid && cx.ident.ticket;
    if !own {
        need(
            cx,
            &inner,
            &format!("/access/users/{userid}"),
            "User.Modify",
        )?;
    }
    let user = inner
        .users
        .get_mut(userid)
        .ok_or_else(|| ApiError::msg(format!("no such user ('{userid}')")))?;
    if user.tokens.remove(tokenid).is_none() {
        return Err(ApiError::msg(format!(
            "no such token '{tokenid}' for user '{userid}'"
        )));
    }
    ok(Value::Null)
}

/// `PUT /access/password` (users may change their own; admins anyone's).
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
    if userid != cx.ident.userid {
        need(
            cx,
            &inner,
            &format!("/access/users/{userid}"),
            "User.Modify",
        )?;
    }
    let user = inner
        .users
        .get_mut(&userid)
        .ok_or_else(|| ApiError::msg(format!("no such user ('{userid}')")))?;
    user.password = password.to_string();
    ok(Value::Null)
}

/// `POST /access/groups`.
pub(crate) fn create_group(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    need(cx, &inner, "/access/groups", "Group.Allocate")?;
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

/// `DELETE /access/groups/{groupid}`.
pub(crate) fn delete_group(cx: &Cx, id: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    need(cx, &inner, "/access/groups", "Group.Allocate")?;
    if inner.groups.remove(id).is_none() {
        return Err(ApiError::msg(format!(
            "delete group failed: group '{id}' does not exist"
        )));
    }
    inner.acl.retain(|a| a.ugid != id);
    ok(Value::Null)
}

/// `GET /access/acl`.
pub(crate) fn acl(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let list: Vec<Value> = inner
        .acl
        .iter()
        .map(|a| json!({"path": a.path, "type": a.kind, "ugid": a.ugid, "roleid": a.role, "propagate": u8::from(a.propagate)}))
        .collect();
    ok(Value::Array(list))
}

/// `PUT /access/acl` (`path`, `roles`, `users`/`groups`/`tokens`, `propagate`, `delete`).
pub(crate) fn update_acl(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    need(cx, &inner, "/access", "Permissions.Modify")?;
    let path =
        cx.p.get("path")
            .ok_or_else(|| ApiError::param("path", "property is missing and it is not optional"))?
            .to_string();
    let roles = list(cx.p.get("roles"));
    if roles.is_empty() {
        return Err(ApiError::param(
            "roles",
            "property is missing and it is not optional",
        ));
    }
    let delete = cx.p.flag("delete")?;
    let propagate = cx.p.get("propagate").is_none() || cx.p.flag("propagate")?;
    let mut subjects: Vec<(&'static str, String)> = Vec::new();
    for (key, kind) in [("users", "user"), ("groups", "group"), ("tokens", "token")] {
        for id in list(cx.p.get(key)) {
            let known = match kind {
                "user" => inner.users.contains_key(&id),
                "group" => inner.groups.contains_key(&id),
                _ => id.split_once('!').is_some_and(|(u, t)| {
                    inner.users.get(u).is_some_and(|u| u.tokens.contains_key(t))
                }),
            };
            if !known {
                return Err(ApiError::msg(format!("unknown {kind} '{id}'")));
            }
            subjects.push((kind, id));
        }
    }
    for role in &roles {
        for (kind, ugid) in &subjects {
            inner
                .acl
                .retain(|a| !(a.path == path && a.ugid == *ugid && a.role == *role));
            if !delete {
                inner.acl.push(Acl {
                    path: path.clone(),
                    kind,
                    ugid: ugid.clone(),
                    role: role.clone(),
                    propagate,
                });
            }
        }
    }
    ok(Value::Null)
}
