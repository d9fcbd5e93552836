//! `/access/roles` (proxmox/pve-access-control `src/PVE/API2/Role.pm`): the generated
//! roles (`special`, immutable) and custom ones, which ACL entries refer to by ID.
//! Listing and reading are open to every user; changes need `Sys.Modify` on `/access`.

use serde_json::{Map, Value, json};

use super::manage::list;
use crate::api::Cx;
use crate::api::authn::require;
use crate::api::reply::{ApiError, ApiResult, ok};
use crate::model::roles::{PrivSet, is_special, valid_privs};

/// `GET /access/roles`.
pub(crate) fn index(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let version = cx.st.cfg.version;
    let out: Vec<Value> = inner
        .roles
        .iter()
        .map(|(id, privs)| {
            let joined: Vec<&str> = privs.iter().map(String::as_str).collect();
            json!({"roleid": id, "privs": joined.join(","), "special": u8::from(is_special(version, id))})
        })
        .collect();
    ok(Value::Array(out))
}

/// `GET /access/roles/{roleid}`: `{privilege: 1}`.
pub(crate) fn read(cx: &Cx, id: &str) -> ApiResult {
    let inner = cx.st.lock();
    let privs = inner
        .roles
        .get(id)
        .ok_or_else(|| ApiError::msg(format!("role '{id}' does not exist")))?;
    let map: Map<String, Value> = privs.iter().map(|p| (p.clone(), json!(1))).collect();
    ok(Value::Object(map))
}

/// The `privs` parameter (`pve-priv-list`), every name checked by `verify_privname`.
fn privs_param(cx: &Cx) -> Result<PrivSet, ApiError> {
    let valid = valid_privs(cx.st.cfg.version);
    let privs = list(cx.p.get("privs"));
    if let Some(bad) = privs.iter().find(|p| !valid.contains(*p)) {
        return Err(ApiError::param(
            "privs",
            format!("invalid format - invalid privilege '{bad}'"),
        ));
    }
    Ok(privs.into_iter().collect())
}

fn valid_roleid(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::param(
            "roleid",
            format!("invalid format - role name '{id}' contains invalid characters"),
        ))
    }
}

/// `POST /access/roles` (`roleid`, `privs`).
pub(crate) fn create(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, "/access", "Sys.Modify")?;
    let id =
        cx.p.get("roleid")
            .ok_or_else(|| ApiError::param("roleid", "property is missing and it is not optional"))?
            .to_string();
    valid_roleid(&id)?;
    let privs = privs_param(cx)?;
    if id.to_ascii_lowercase().starts_with("pve") {
        return Err(ApiError::param(
            "roleid",
            "cannot use role ID starting with the (case-insensitive) 'PVE' namespace",
        ));
    }
    if inner.roles.contains_key(&id) {
        return Err(ApiError::msg(format!(
            "create role failed: role '{id}' already exists"
        )));
    }
    inner.roles.insert(id, privs);
    ok(Value::Null)
}

/// `PUT /access/roles/{roleid}` (`privs`, `append`).
pub(crate) fn update(cx: &Cx, id: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, "/access", "Sys.Modify")?;
    let privs = privs_param(cx)?;
    let append = cx.p.flag("append")?;
    if is_special(cx.st.cfg.version, id) {
        return Err(ApiError::msg(format!(
            "auto-generated role '{id}' cannot be modified"
        )));
    }
    let role = inner
        .roles
        .get_mut(id)
        .ok_or_else(|| ApiError::msg(format!("update role failed: role '{id}' does not exist")))?;
    if !append {
        role.clear();
    }
    role.extend(privs);
    ok(Value::Null)
}

/// `DELETE /access/roles/{roleid}` (ACL entries naming it stay, as in PVE, and grant
/// nothing).
pub(crate) fn delete(cx: &Cx, id: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, "/access", "Sys.Modify")?;
    if is_special(cx.st.cfg.version, id) {
        return Err(ApiError::msg(format!(
            "auto-generated role '{id}' cannot be deleted"
        )));
    }
    if inner.roles.remove(id).is_none() {
        return Err(ApiError::msg(format!(
            "delete role failed: role '{id}' does not exist"
        )));
    }
    ok(Value::Null)
}
