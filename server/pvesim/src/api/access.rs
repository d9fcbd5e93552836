//! `/access`: ticket login and renewal, realms, users, groups and API tokens
//! (proxmox/pve-access-control `API2/AccessControl.pm`, `API2/User.pm`).
//!
//! Login normalises `username` + `realm` to `user@realm`; a still-valid ticket works as the
//! password (renewal); bad credentials and unknown users get the same
//! `401 authentication failure` (no user enumeration), delayed like every 401. API tokens
//! may not call this endpoint (`allowtoken => 0`). Deviations: no TFA (`NeedTFA`), no
//! `path`/`privs` verification mode.

mod acl;
mod checks;
mod manage;
mod permissions;
pub(crate) mod roles;

pub(crate) use acl::{acl, update_acl};
pub(crate) use manage::{
    create_group, create_user, delete_group, delete_token, delete_user, password, update_user,
};
pub(crate) use permissions::permissions;

use serde_json::{Map, Value, json};

use super::Cx;
use super::authn::{has_any, require_any};
use super::reply::{ApiError, ApiResult, ok};
use crate::auth;
use crate::model::{Inner, Token, uuid};
use checks::{GroupsParam, reachable_users, userid_group};

/// What `userid-group` and the user list accept (`API2/User.pm` `index`, `read_user`).
const USER_READ: &[&str] = &["User.Modify", "Sys.Audit"];

pub(crate) async fn ticket(cx: &Cx, method: &axum::http::Method) -> ApiResult {
    if *method == axum::http::Method::GET {
        // The GET form only exists so the GUI can probe it.
        return ok(Value::Null);
    }
    if !cx.ident.anonymous && !cx.ident.ticket {
        return Err(ApiError::Forbidden(
            "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.\n)".into(),
        ));
    }
    let username = cx
        .p
        .get("username")
        .ok_or_else(|| ApiError::param("username", "property is missing and it is not optional"))?;
    let password = cx
        .p
        .get("password")
        .ok_or_else(|| ApiError::param("password", "property is missing and it is not optional"))?;
    let userid = match (username.contains('@'), cx.p.get("realm")) {
        (false, Some(realm)) => format!("{username}@{realm}"),
        _ => username.to_string(),
    };
    let now = cx.st.now();
    let inner = cx.st.lock();
    let valid = match inner.users.get(&userid).filter(|u| u.enable) {
        None => false,
        Some(_) if password.starts_with("PVE:") => {
            auth::verify_ticket(&cx.st.secret, password, now).is_some_and(|(u, _)| u == userid)
        }
        Some(user) => user.password == password,
    };
    if !valid {
        return Err(ApiError::LoginFailed);
    }
    let mut m = Map::new();
    m.insert("username".into(), json!(userid));
    m.insert(
        "ticket".into(),
        json!(auth::ticket(&cx.st.secret, &userid, now)),
    );
    m.insert(
        "CSRFPreventionToken".into(),
        json!(auth::csrf(&cx.st.secret, &userid, now)),
    );
    if inner.nodes.len() > 1 && inner.holds(&userid, "/", "Sys.Audit") {
        m.insert("clustername".into(), json!(cx.st.clustername));
    }
    m.insert("cap".into(), permissions::cap(&inner, &userid));
    ok(Value::Object(m))
}

pub(crate) fn domains(_cx: &Cx) -> ApiResult {
    ok(json!([
        {"realm": "pam", "type": "pam", "comment": "Linux PAM standard authentication"},
        {"realm": "pve", "type": "pve", "comment": "Proxmox VE authentication server", "default": 1},
    ]))
}

fn groups_of(inner: &Inner, userid: &str) -> Vec<String> {
    inner
        .groups
        .iter()
        .filter(|(_, g)| g.users.iter().any(|u| u == userid))
        .map(|(id, _)| id.clone())
        .collect()
}

fn tokens_json(tokens: &std::collections::BTreeMap<String, Token>) -> Vec<Value> {
    tokens
        .iter()
        .map(|(id, t)| {
            let mut m = Map::new();
            m.insert("tokenid".into(), json!(id));
            m.insert("expire".into(), json!(0));
            m.insert("privsep".into(), json!(u8::from(t.privsep)));
            if let Some(c) = &t.comment {
                m.insert("comment".into(), json!(c));
            }
            Value::Object(m)
        })
        .collect()
}

/// `GET /access/users`: everyone may call it; the list holds the users the caller may read
/// (`User.Modify` or `Sys.Audit` on `/access/groups`, or on a group of theirs) and the
/// caller itself.
pub(crate) fn users(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let full = cx.p.flag("full")?;
    let all = has_any(&inner, &cx.ident, "/access/groups", USER_READ);
    let reachable = if all {
        Default::default()
    } else {
        reachable_users(&inner, cx, USER_READ)
    };
    let mut out = Vec::new();
    for (id, u) in &inner.users {
        if !(all || *id == cx.ident.authid || reachable.contains(id)) {
            continue;
        }
        let mut m = Map::new();
        m.insert("userid".into(), json!(id));
        m.insert("enable".into(), json!(u8::from(u.enable)));
        m.insert("expire".into(), json!(0));
        m.insert(
            "realm-type".into(),
            json!(id.rsplit('@').next().unwrap_or("pve")),
        );
        for (k, v) in [
            ("email", &u.email),
            ("firstname", &u.firstname),
            ("lastname", &u.lastname),
            ("comment", &u.comment),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        let groups = groups_of(&inner, id);
        if !groups.is_empty() {
            m.insert("groups".into(), json!(groups.join(",")));
        }
        if full {
            m.insert("tokens".into(), Value::Array(tokens_json(&u.tokens)));
        }
        out.push(Value::Object(m));
    }
    ok(Value::Array(out))
}

/// `GET /access/users/{userid}`, permission `['userid-group', ['User.Modify', 'Sys.Audit']]`.
pub(crate) fn user(cx: &Cx, userid: &str) -> ApiResult {
    let inner = cx.st.lock();
    userid_group(&inner, cx, userid, USER_READ, GroupsParam::Ignored, &[])?;
    let u = inner
        .users
        .get(userid)
        .ok_or_else(|| ApiError::msg(format!("no such user ('{userid}')")))?;
    let mut m = Map::new();
    m.insert("enable".into(), json!(u8::from(u.enable)));
    m.insert("expire".into(), json!(0));
    for (k, v) in [
        ("email", &u.email),
        ("firstname", &u.firstname),
        ("lastname", &u.lastname),
        ("comment", &u.comment),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("groups".into(), json!(groups_of(&inner, userid)));
    let tokens: Map<String, Value> = u
        .tokens
        .iter()
        .map(|(id, t)| {
            (
                id.clone(),
                json!({"privsep": u8::from(t.privsep), "expire": 0}),
            )
        })
        .collect();
    m.insert("tokens".into(), Value::Object(tokens));
    ok(Value::Object(m))
}

/// `POST /access/users/{userid}/token/{tokenid}`, permission `['or', ['userid-param',
/// 'self'], ['userid-group', ['User.Modify']]]`.
pub(crate) fn create_token(cx: &Cx, userid: &str, tokenid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    manage::own_or_user_modify(&inner, cx, userid)?;
    let valid = tokenid
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && tokenid.len() >= 2
        && tokenid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !valid {
        return Err(ApiError::param(
            "tokenid",
            format!("invalid format - invalid API token ID '{tokenid}'"),
        ));
    }
    let privsep = match cx.p.get("privsep") {
        None => true,
        Some(_) => cx.p.flag("privsep")?,
    };
    let comment = cx.p.get("comment").map(str::to_string);
    let user = inner
        .users
        .get_mut(userid)
        .ok_or_else(|| ApiError::msg(format!("no such user ('{userid}')")))?;
    if user.tokens.contains_key(tokenid) {
        return Err(ApiError::msg("Token already exists."));
    }
    let secret = uuid();
    user.tokens.insert(
        tokenid.to_string(),
        Token {
            secret: secret.clone(),
            privsep,
            comment: comment.clone(),
        },
    );
    let mut info = Map::new();
    info.insert("privsep".into(), json!(u8::from(privsep)));
    if let Some(c) = comment {
        info.insert("comment".into(), json!(c));
    }
    ok(json!({"full-tokenid": format!("{userid}!{tokenid}"), "info": info, "value": secret}))
}

/// `GET /access/groups`: the groups the caller holds `User.Modify`, `Sys.Audit` or
/// `Group.Allocate` on (`/access/groups/<group>`, inherited from `/access/groups`).
pub(crate) fn groups(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let privs = ["User.Modify", "Sys.Audit", "Group.Allocate"];
    let out: Vec<Value> = inner
        .groups
        .iter()
        .filter(|(id, _)| has_any(&inner, &cx.ident, &format!("/access/groups/{id}"), &privs))
        .map(|(id, g)| {
            let mut m = Map::new();
            m.insert("groupid".into(), json!(id));
            if let Some(c) = &g.comment {
                m.insert("comment".into(), json!(c));
            }
            let mut users = g.users.clone();
            users.sort();
            m.insert("users".into(), json!(users.join(",")));
            Value::Object(m)
        })
        .collect();
    ok(Value::Array(out))
}

/// `GET /access/groups/{groupid}`: `{"members": [...], "comment": ...}` (`API2/Group.pm`
/// `read_group`, `['perm', '/access/groups', ['Sys.Audit', 'Group.Allocate'], any => 1]`).
pub(crate) fn group(cx: &Cx, id: &str) -> ApiResult {
    let inner = cx.st.lock();
    require_any(
        &inner,
        &cx.ident,
        "/access/groups",
        &["Sys.Audit", "Group.Allocate"],
    )?;
    let g = inner
        .groups
        .get(id)
        .ok_or_else(|| ApiError::msg(format!("group '{id}' does not exist")))?;
    let mut members = g.users.clone();
    members.sort();
    let mut m = Map::new();
    m.insert("members".into(), json!(members));
    if let Some(c) = &g.comment {
        m.insert("comment".into(), json!(c));
    }
    ok(Value::Object(m))
}
