//! Effective privileges as PVE reports them: `GET /access/permissions`
//! (proxmox/pve-access-control `src/PVE/API2/AccessControl.pm` `permissions`) and the `cap`
//! of a login answer (`src/PVE/RPCEnvironment.pm` `compute_api_permission`).
//!
//! `GET /access/permissions` answers `{path: {privilege: propagate}}` (propagate `0`/`1`)
//! for the caller, or with `userid` for another user or token: one's own tokens are free,
//! anyone else needs `Sys.Audit` on `/access`. With `path`, only that path (also when it
//! is empty: `{"/x": {}}`); without, every path with a privilege (`effective_permissions`).

use serde_json::{Map, Value, json};

use crate::api::Cx;
use crate::api::authn::require;
use crate::api::reply::{ApiResult, ok};
use crate::model::Inner;
use crate::model::perms::{Privs, tree_paths};

fn privs_json(privs: &Privs) -> Value {
    Value::Object(
        privs
            .iter()
            .map(|(p, prop)| (p.clone(), json!(u8::from(*prop))))
            .collect(),
    )
}

/// `GET /access/permissions` (`userid`, `path`).
pub(crate) fn permissions(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let authid = cx.ident.authid.as_str();
    let target = cx.p.get("userid").unwrap_or(authid).to_string();
    let own_token = target
        .split_once('!')
        .is_some_and(|(user, _)| user == authid);
    if target != authid && !own_token {
        require(&inner, &cx.ident, "/access", "Sys.Audit")?;
    }
    let mut out = Map::new();
    match cx.p.get("path").filter(|p| !p.is_empty()) {
        Some(path) => {
            out.insert(path.into(), privs_json(&inner.permissions(&target, path)));
        }
        None => {
            for (path, privs) in inner.effective_permissions(&target) {
                out.insert(path, privs_json(&privs));
            }
        }
    }
    ok(Value::Object(out))
}

/// The `cap` categories of `compute_api_permission` and the privilege prefixes each shows.
const CAP_PREFIXES: &[(&str, &[&str])] = &[
    ("vms", &["VM.", "Permissions.Modify"]),
    ("access", &["User.", "Group.", "Permissions.Modify"]),
    ("storage", &["Datastore.", "Permissions.Modify"]),
    ("nodes", &["Sys.", "Permissions.Modify"]),
    ("sdn", &["SDN.", "Permissions.Modify"]),
    ("dc", &["Sys.Audit", "Sys.Modify", "SDN."]),
    ("mapping", &["Mapping.", "Permissions.Modify"]),
];

/// `compute_api_permission`: the privileges per GUI area, from the top-level paths and
/// every ACL path; privileges on pools count for `vms` and `storage`.
pub(crate) fn cap(inner: &Inner, authid: &str) -> Value {
    let mut res: Map<String, Value> = CAP_PREFIXES
        .iter()
        .map(|(area, _)| ((*area).to_string(), json!({})))
        .collect();
    let mut set = |area: &str, privilege: &str| {
        if let Some(Value::Object(m)) = res.get_mut(area) {
            m.insert(privilege.to_string(), json!(1));
        }
    };
    let mut paths: Vec<String> = [
        "/",
        "/nodes",
        "/access/groups",
        "/vms",
        "/storage",
        "/sdn",
        "/mapping",
    ]
    .iter()
    .map(|p| (*p).to_string())
    .collect();
    for p in tree_paths(inner) {
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    for path in paths {
        let privs = inner.permissions(authid, &path);
        // `($path =~ /^\/(\w+)/) ? $1 : 'dc'`
        let top: String = path
            .strip_prefix('/')
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let top = if top.is_empty() { "dc".into() } else { top };
        for p in privs.keys() {
            if top == "pool" {
                if p.starts_with("VM.") {
                    set("vms", p);
                } else if p.starts_with("Datastore.") {
                    set("storage", p);
                } else if p == "Permissions.Modify" {
                    set("storage", p);
                    set("vms", p);
                }
            } else if let Some((_, prefixes)) = CAP_PREFIXES.iter().find(|(a, _)| *a == top)
                && prefixes.iter().any(|x| p.starts_with(x))
            {
                set(&top, p);
            }
        }
    }
    Value::Object(res)
}
