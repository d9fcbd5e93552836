//! `GET`/`PUT /access/acl` (proxmox/pve-access-control `src/PVE/API2/ACL.pm` `read_acl`,
//! `update_acl`; paths as `AccessControl.pm` `normalize_path`/`check_path`; the
//! `perm-modify` check as `RPCEnvironment.pm` `check_perm_modify`).
//!
//! The list shows only entries on paths where the caller may modify permissions (or all
//! with `Sys.Audit` on `/access`), in PVE's tree order. Without `Permissions.Modify` on the
//! path (e.g. with only `VM.Allocate` on `/vms/100`), a caller may only hand out roles
//! whose privileges it holds itself, propagated if the entry propagates. Errors raised
//! inside PVE's `lock_user_config` arrive as 500 `ACL update failed: ...` — parameter
//! errors too, stringified with their code (`400 Parameter verification failed.`).

use serde_json::{Value, json};

use crate::api::Cx;
use crate::api::authn::{has, has_any, require_any};
use crate::api::reply::{ApiError, ApiResult, ok};
use crate::model::{Acl, AclKind, Inner};

use super::manage::list;

/// `normalize_path`: collapses slashes, drops a trailing one, adds the leading one; `None`
/// for characters outside `[[:alnum:]._/-]`.
pub(crate) fn normalize_path(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let norm = format!("/{}", parts.join("/"));
    norm.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
        .then_some(norm)
}

/// `check_path`: the ACL paths PVE accepts.
fn valid_path(path: &str) -> bool {
    let name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    let alnum = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    let vmid =
        |s: &str| s.len() >= 3 && !s.starts_with('0') && s.chars().all(|c| c.is_ascii_digit());
    let vlan = |s: &str| {
        (1..=4).contains(&s.len()) && !s.starts_with('0') && s.chars().all(|c| c.is_ascii_digit())
    };
    if path == "/" {
        return true;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let segs: Vec<&str> = rest.split('/').collect();
    match segs.as_slice() {
        ["access"] | ["access", "groups" | "realm"] => true,
        ["access", "groups" | "realm", id] => name(id),
        ["nodes" | "pool" | "sdn" | "storage" | "vms" | "mapping"] => true,
        ["nodes" | "storage" | "mapping", id] => name(id),
        ["mapping", kind, id] => name(kind) && name(id),
        ["pool", pools @ ..] => pools.len() <= 3 && pools.iter().all(|p| name(p)),
        ["vms", id] => vmid(id),
        [
            "sdn",
            "controllers" | "dns" | "fabrics" | "ipams" | "prefix-lists" | "route-maps",
        ] => true,
        ["sdn", "controllers", id] => {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        }
        [
            "sdn",
            "dns" | "fabrics" | "ipams" | "prefix-lists" | "route-maps",
            id,
        ] => alnum(id),
        ["sdn", "zones"] => true,
        ["sdn", "zones", zone] => name(zone),
        ["sdn", "zones", zone, vnet] => name(zone) && name(vnet),
        ["sdn", "zones", zone, vnet, tag] => name(zone) && name(vnet) && vlan(tag),
        _ => false,
    }
}

/// The privileges `check_perm_modify` accepts on `path`.
fn modify_privs(path: &str) -> Vec<&'static str> {
    let mut privs = vec!["Permissions.Modify"];
    let below = |prefix: &str| path.strip_prefix(prefix).is_some_and(|r| !r.is_empty());
    if below("/storage/") {
        privs.push("Datastore.Allocate");
    } else if below("/vms/") {
        privs.push("VM.Allocate");
    } else if below("/pool/") {
        privs.push("Pool.Allocate");
    }
    privs
}

/// PVE's listing order (`iterate_acl_tree`): depth first, children sorted; users, groups,
/// tokens at each node.
fn tree_order(a: &Acl) -> (Vec<&str>, AclKind, &str, &str) {
    let segs = a.path.split('/').filter(|s| !s.is_empty()).collect();
    (segs, a.kind, &a.ugid, &a.role)
}

/// `GET /access/acl`.
pub(crate) fn acl(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let audit = has(&inner, &cx.ident, "/access", "Sys.Audit");
    let mut entries: Vec<&Acl> = inner
        .acl
        .iter()
        .filter(|a| audit || has_any(&inner, &cx.ident, &a.path, &modify_privs(&a.path)))
        .collect();
    entries.sort_by(|a, b| tree_order(a).cmp(&tree_order(b)));
    let list: Vec<Value> = entries
        .iter()
        .map(|a| json!({"path": a.path, "type": a.kind.as_str(), "ugid": a.ugid, "roleid": a.role, "propagate": u8::from(a.propagate)}))
        .collect();
    ok(Value::Array(list))
}

fn failed(text: String) -> ApiError {
    ApiError::msg(format!("ACL update failed: {text}"))
}

/// The `update_acl` refusal for callers without `Permissions.Modify` on the path.
fn subset_check(
    inner: &Inner,
    cx: &Cx,
    path: &str,
    role: &str,
    propagate: bool,
    delete: bool,
) -> Result<(), ApiError> {
    let held = inner.permissions(&cx.ident.authid, path);
    if held.contains_key("Permissions.Modify") {
        return Ok(());
    }
    let verb = if delete { "remove" } else { "add" };
    let refuse = |why: String| {
        failed(format!(
            "400 Parameter verification failed.\nrole: Cannot {verb} role '{role}'{why}"
        ))
    };
    for p in inner.roles.get(role).into_iter().flatten() {
        match held.get(p) {
            None => {
                return Err(refuse(
                    " - requires 'Permissions.Modify' or superset of privileges.".into(),
                ));
            }
            Some(held_prop) if propagate && !held_prop && !delete => {
                return Err(refuse(
                    " with propagation - requires 'Permissions.Modify' or propagated superset of privileges.".into(),
                ));
            }
            Some(_) => {}
        }
    }
    if role == "NoAccess" {
        return Err(refuse(" - requires 'Permissions.Modify'".into()));
    }
    Ok(())
}

/// `PUT /access/acl` (`path`, `roles`, `users`/`groups`/`tokens`, `propagate`, `delete`).
pub(crate) fn update_acl(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    let raw_path =
        cx.p.get("path")
            .ok_or_else(|| ApiError::param("path", "property is missing and it is not optional"))?
            .to_string();
    if let Some(path) = normalize_path(&raw_path) {
        require_any(&inner, &cx.ident, &path, &modify_privs(&path))?;
    }
    let roles = list(cx.p.get("roles"));
    if roles.is_empty() {
        return Err(ApiError::param(
            "roles",
            "property is missing and it is not optional",
        ));
    }
    let (users, groups, tokens) = (
        list(cx.p.get("users")),
        list(cx.p.get("groups")),
        list(cx.p.get("tokens")),
    );
    if users.is_empty() && groups.is_empty() && tokens.is_empty() {
        let why = "either 'users', 'groups' or 'tokens' is required.";
        return Err(ApiError::Param(
            ["users", "groups", "tokens"]
                .iter()
                .map(|k| ((*k).to_string(), why.to_string()))
                .collect(),
        ));
    }
    let delete = cx.p.flag("delete")?;
    let propagate = cx.p.get("propagate").is_none() || cx.p.flag("propagate")?;
    let invalid = || ApiError::param("path", format!("invalid ACL path '{raw_path}'"));
    let path = normalize_path(&raw_path).ok_or_else(invalid)?;
    if !delete && !valid_path(&path) {
        return Err(invalid());
    }
    let mut subjects: Vec<(AclKind, String)> = Vec::new();
    for role in &roles {
        if !inner.roles.contains_key(role) {
            return Err(failed(format!("role '{role}' does not exist")));
        }
        subset_check(&inner, cx, &path, role, propagate, delete)?;
        subjects.clear();
        for g in &groups {
            if !inner.groups.contains_key(g) {
                return Err(failed(format!("group '{g}' does not exist")));
            }
            subjects.push((AclKind::Group, g.clone()));
        }
        for u in &users {
            if !inner.users.contains_key(u) {
                return Err(failed(format!("user '{u}' does not exist")));
            }
            subjects.push((AclKind::User, u.clone()));
        }
        for t in &tokens {
            let (user, token) = t.split_once('!').unwrap_or((t, ""));
            let Some(owner) = inner.users.get(user) else {
                return Err(failed(format!("no such user ('{user}')")));
            };
            if !owner.tokens.contains_key(token) {
                return Err(failed(format!("no such token '{token}' for user '{user}'")));
            }
            subjects.push((AclKind::Token, t.clone()));
        }
    }
    for role in &roles {
        for (kind, ugid) in &subjects {
            inner.acl.retain(|a| {
                !(a.path == path && a.kind == *kind && a.ugid == *ugid && a.role == *role)
            });
            if !delete {
                inner.acl.push(Acl {
                    path: path.clone(),
                    kind: *kind,
                    ugid: ugid.clone(),
                    role: role.clone(),
                    propagate,
                });
            }
        }
    }
    ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::{normalize_path, valid_path};

    #[test]
    fn paths_are_normalised_and_checked_as_pve_does() {
        assert_eq!(normalize_path("vms//100/").as_deref(), Some("/vms/100"));
        assert_eq!(normalize_path("/").as_deref(), Some("/"));
        assert_eq!(normalize_path("/vms/1 00"), None);
        for ok in [
            "/",
            "/vms",
            "/vms/100",
            "/pool/a/b/c",
            "/access/groups/x",
            "/sdn/zones/z/v/42",
        ] {
            assert!(valid_path(ok), "{ok}");
        }
        for bad in [
            "/vms/99",
            "/vms/0100",
            "/pool/a/b/c/d",
            "/foo",
            "/sdn/zones/z/v/0",
        ] {
            assert!(!valid_path(bad), "{bad}");
        }
    }
}
