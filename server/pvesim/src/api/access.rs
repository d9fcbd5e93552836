//! `/access`: ticket login and renewal, realms, users, groups and API tokens
//! (proxmox/pve-access-control `API2/AccessControl.pm`, `API2/User.pm`).
//!
//! Login normalises `username` + `realm` to `user@realm`; a still-valid ticket works as the
//! password (renewal); bad credentials and unknown users get the same
//! `401 authentication failure` (no user enumeration), delayed like every 401. API tokens
//! may not call this endpoint (`allowtoken => 0`). Deviations: no TFA (`NeedTFA`), no
//! `path`/`privs` verification mode.

mod manage;

pub(crate) use manage::{
    acl, create_group, create_user, delete_group, delete_token, delete_user, password, update_acl,
    update_user,
};

use serde_json::{Map, Value, json};

use super::Cx;
use super::reply::{ApiError, ApiResult, ok};
use crate::auth;
use crate::model::{Inner, Token, uuid};

fn cap(admin: bool) -> Value {
    if !admin {
        return json!({"vms": {"VM.Audit": 1, "VM.Console": 1, "VM.PowerMgmt": 1}, "storage": {}, "access": {}, "nodes": {}, "dc": {}, "sdn": {}, "mapping": {}});
    }
    let set = |privs: &[&str]| -> Value {
        Value::Object(privs.iter().map(|p| ((*p).to_string(), json!(1))).collect())
    };
    json!({
        "vms": set(&["VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk",
            "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Console", "VM.GuestAgent.Audit",
            "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.GuestAgent.Unrestricted", "VM.Migrate",
            "VM.PowerMgmt", "VM.Replicate", "VM.Snapshot", "VM.Snapshot.Rollback", "Permissions.Modify"]),
        "storage": set(&["Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit", "Permissions.Modify"]),
        "access": set(&["Group.Allocate", "User.Modify", "Permissions.Modify"]),
        "nodes": set(&["Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog", "Permissions.Modify"]),
        "dc": set(&["SDN.Allocate", "SDN.Audit", "SDN.Use", "Sys.Audit", "Sys.Modify"]),
        "sdn": set(&["SDN.Allocate", "SDN.Audit", "SDN.Use", "Permissions.Modify"]),
        "mapping": set(&["Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify"]),
    })
}

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
    let admin = inner.is_admin(&userid);
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
    if admin && inner.nodes.len() > 1 {
        m.insert("clustername".into(), json!(cx.st.clustername));
    }
    m.insert("cap".into(), cap(admin));
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

pub(crate) fn users(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let full = cx.p.flag("full")?;
    let mut out = Vec::new();
    for (id, u) in &inner.users {
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

pub(crate) fn user(cx: &Cx, userid: &str) -> ApiResult {
    let inner = cx.st.lock();
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

pub(crate) fn create_token(cx: &Cx, userid: &str, tokenid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    let own = cx.ident.userid == userid && cx.ident.ticket;
    if !own && !super::authn::has(&inner, &cx.ident, "User.Modify") {
        return Err(ApiError::Forbidden(format!(
            "Permission check failed (/access/users/{userid}, User.Modify)"
        )));
    }
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

pub(crate) fn groups(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let out: Vec<Value> = inner
        .groups
        .iter()
        .map(|(id, g)| {
            let mut m = Map::new();
            m.insert("groupid".into(), json!(id));
            if let Some(c) = &g.comment {
                m.insert("comment".into(), json!(c));
            }
            m.insert("users".into(), json!(g.users.join(",")));
            Value::Object(m)
        })
        .collect();
    ok(Value::Array(out))
}
