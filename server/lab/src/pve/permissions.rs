//! `GET /access/permissions`: the privileges the client's own identity holds, and "does it
//! hold privilege P on path X" answered from them the way Proxmox decides it.
//!
//! What Proxmox answers (proxmox/pve-access-control `src/PVE/API2/AccessControl.pm`
//! `permissions`, open to every user for itself and its own tokens): `{path: {privilege:
//! propagate}}`. Without `path` it is `RPCEnvironment::get_effective_permissions`: the
//! eight top-level paths of [`DEFAULT_PATHS`], every node of the ACL tree and every pool
//! member's path, each with the privileges `RPCEnvironment::permissions` computes for it,
//! and paths where nothing is held left out. With `path`, only that path, also when
//! nothing is held there (`{"/sdn/zones": {}}`).
//!
//! Each listed path's privileges are already the effective ones (`AccessControl::roles`
//! walked from `/` down, deeper entries replacing inherited ones, `NoAccess` winning; roles
//! inherited through pools; for a privilege-separated token the intersection with its
//! user's privileges, the propagate flag being the AND of both). What is left to us is a
//! path that is not listed ([`Permissions::on`]):
//!
//! * one of the [`DEFAULT_PATHS`], or one asked for with `path`, holds nothing;
//! * any other path either has no ACL entry at or below it, so `roles` finds nothing
//!   between its nearest listed ancestor and itself: exactly the ancestor's privileges
//!   with propagate 1 reach it (propagate 0 entries only count on their own path) — or it
//!   is an ACL node where nothing is held (`NoAccess`), which the whole-tree answer cannot
//!   tell apart. For paths that matter, ask with `path` (see `clusters::privileges`).
//!
//! Proxmox checks most privileges on objects below a path (`/vms/{vmid}`,
//! `/storage/{storage}`), so a privilege on `/vms` is only useful with propagate 1
//! ([`Grant::Propagated`]). The flag of a privilege held without propagate on X is 0, and
//! objects below X then get only what X's own propagating entries or, if X has none for
//! the identity, what X's ancestors propagate: [`Grant::Here`] says "not from here", which
//! may understate an unusual setup but never overstates one.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Error;

/// The paths `get_effective_permissions` always evaluates
/// (pve-access-control `src/PVE/RPCEnvironment.pm`): one of these that is not listed
/// holds nothing.
pub const DEFAULT_PATHS: [&str; 8] = [
    "/",
    "/access",
    "/access/groups",
    "/nodes",
    "/pool",
    "/sdn",
    "/storage",
    "/vms",
];

/// How a privilege is held on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Missing,
    /// Held on the path itself, without propagate: objects below it do not get it from here.
    Here,
    /// Held and propagated to the objects below the path.
    Propagated,
}

/// The answer of `GET /access/permissions`: path → privilege → propagate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(BTreeMap<String, BTreeMap<String, bool>>);

impl Permissions {
    /// Reads the answer; propagate flags may be `0`/`1`, strings or booleans (Perl).
    pub fn from_data(data: Value) -> Result<Self, Error> {
        let paths = match data {
            Value::Null => return Ok(Self::default()),
            Value::Object(paths) => paths,
            other => {
                return Err(Error::Decode(format!(
                    "permissions: expected an object, got {other}"
                )));
            }
        };
        let mut out = BTreeMap::new();
        for (path, privs) in paths {
            let privs = match privs {
                Value::Object(privs) => privs
                    .into_iter()
                    .map(|(p, flag)| (p, propagates(&flag)))
                    .collect(),
                Value::Null => BTreeMap::new(),
                other => {
                    return Err(Error::Decode(format!(
                        "permissions of {path}: expected an object, got {other}"
                    )));
                }
            };
            out.insert(path, privs);
        }
        Ok(Self(out))
    }

    /// Adds the paths of another answer (one asked with `path`), replacing the same paths.
    pub fn merge(&mut self, other: Permissions) {
        self.0.extend(other.0);
    }

    /// Whether the answer speaks for `path` itself: listed, or a default path.
    pub fn covers(&self, path: &str) -> bool {
        self.0.contains_key(path) || DEFAULT_PATHS.contains(&path)
    }

    /// How `privilege` is held on `path` (see the module doc for unlisted paths).
    pub fn on(&self, path: &str, privilege: &str) -> Grant {
        let mut at = normalize(path);
        let mut inherited = false;
        loop {
            if self.covers(&at) {
                return match self.0.get(&at).and_then(|p| p.get(privilege)) {
                    Some(true) => Grant::Propagated,
                    Some(false) if !inherited => Grant::Here,
                    _ => Grant::Missing,
                };
            }
            match parent(&at) {
                Some(up) => {
                    at = up;
                    inherited = true;
                }
                None => return Grant::Missing,
            }
        }
    }
}

/// Perl truth of a propagate flag.
fn propagates(flag: &Value) -> bool {
    match flag {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !matches!(s.trim(), "" | "0"),
        _ => false,
    }
}

/// `/vms/100/` → `/vms/100`, `vms` → `/vms` (as `AccessControl::normalize_path`).
fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

fn parent(path: &str) -> Option<String> {
    if path == "/" {
        return None;
    }
    let cut = path.rfind('/').unwrap_or(0);
    Some(if cut == 0 {
        "/".into()
    } else {
        path[..cut].into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn perms(data: Value) -> Permissions {
        Permissions::from_data(data).unwrap()
    }

    #[test]
    fn a_listed_path_says_it_all() {
        let p = perms(json!({"/vms": {"VM.Audit": 1, "VM.Clone": 0}, "/": {"Sys.Audit": "1"}}));
        assert_eq!(p.on("/vms", "VM.Audit"), Grant::Propagated);
        assert_eq!(p.on("/vms/", "VM.Clone"), Grant::Here);
        assert_eq!(p.on("/vms", "VM.Allocate"), Grant::Missing);
        assert_eq!(p.on("/", "Sys.Audit"), Grant::Propagated);
    }

    #[test]
    fn an_unlisted_path_gets_what_its_nearest_listed_ancestor_propagates() {
        let p = perms(json!({"/": {"SDN.Use": 1, "Sys.Audit": 0}}));
        assert_eq!(p.on("/sdn/zones/localnetwork", "SDN.Use"), Grant::Missing);
        let p = perms(json!({"/": {"Sys.Audit": 0}, "/sdn": {"SDN.Use": 1, "SDN.Audit": 0}}));
        assert_eq!(p.on("/sdn/zones", "SDN.Use"), Grant::Propagated);
        assert_eq!(
            p.on("/sdn/zones/localnetwork/vmbr0", "SDN.Use"),
            Grant::Propagated
        );
        // Propagate 0 counts on its own path only.
        assert_eq!(p.on("/sdn/zones", "SDN.Audit"), Grant::Missing);
        assert_eq!(p.on("/sdn/zones", "Sys.Audit"), Grant::Missing);
    }

    #[test]
    fn an_unlisted_default_path_holds_nothing() {
        // `/vms` is always evaluated: absent means NoAccess there, whatever `/` has.
        let p = perms(json!({"/": {"VM.Audit": 1}}));
        assert_eq!(p.on("/vms", "VM.Audit"), Grant::Missing);
        assert_eq!(p.on("/vms/100", "VM.Audit"), Grant::Missing);
        assert_eq!(p.on("/nodes", "VM.Audit"), Grant::Missing);
    }

    #[test]
    fn a_path_asked_for_explicitly_holds_what_it_lists() {
        let mut p = perms(json!({"/": {"SDN.Use": 1}, "/sdn": {"SDN.Use": 1}}));
        assert_eq!(p.on("/sdn/zones", "SDN.Use"), Grant::Propagated);
        // `?path=/sdn/zones` answered `{}`: a NoAccess the whole tree did not show.
        p.merge(perms(json!({"/sdn/zones": {}})));
        assert!(p.covers("/sdn/zones"));
        assert_eq!(p.on("/sdn/zones", "SDN.Use"), Grant::Missing);
        assert_eq!(p.on("/sdn/zones/localnetwork", "SDN.Use"), Grant::Missing);
    }

    #[test]
    fn odd_answers() {
        assert_eq!(perms(Value::Null), Permissions::default());
        assert_eq!(perms(json!({})).on("/", "Sys.Audit"), Grant::Missing);
        let p = perms(json!({"/vms": {"VM.Audit": true, "VM.Console": "0"}, "/x": null}));
        assert_eq!(p.on("/vms", "VM.Audit"), Grant::Propagated);
        assert_eq!(p.on("/vms", "VM.Console"), Grant::Here);
        assert!(Permissions::from_data(json!([1])).is_err());
        assert!(Permissions::from_data(json!({"/": 1})).is_err());
    }
}
