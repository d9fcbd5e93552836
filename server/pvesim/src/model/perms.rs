//! Evaluating ACLs: which privileges an identity holds on an ACL path, as PVE computes them.
//!
//! * [`Inner::acl_roles`] is `PVE::AccessControl::roles` (`src/PVE/AccessControl.pm`): walk
//!   the path from `/` down; at each level the caller's *token* entries, else its *user*
//!   entries, else the entries of its *groups* replace everything inherited so far (user
//!   beats group at the same level, a deeper level beats a shallower one); entries with
//!   `propagate=0` only count on their own path; `NoAccess` in the result wins alone.
//!   A `privsep=0` token takes its user's roles.
//! * [`Inner::permissions`] is `PVE::RPCEnvironment::permissions` + `$compile_acl_path`
//!   (`src/PVE/RPCEnvironment.pm`): `root@pam` holds every privilege; roles on
//!   `/pool/<pool>` apply to the pool's guests (`/vms/<vmid>`) and storages without
//!   propagation, never over a `NoAccess` on the object, and a `NoAccess` on the pool
//!   trumps the object's own roles; a `privsep=1` token holds the intersection of its own
//!   and its user's privileges (except tokens of `root@pam`: only their own). Values are
//!   the propagate flags PVE reports (`GET /access/permissions`).
//! * [`Inner::effective_permissions`] is `get_effective_permissions`, the whole tree.

use std::collections::{BTreeMap, BTreeSet};

use super::{AclKind, Inner};

/// Privileges held on one path, each with its propagate flag.
pub(crate) type Privs = BTreeMap<String, bool>;

/// Roles applying on one path, each with its propagate flag.
type Roles = BTreeMap<String, bool>;

/// `/`, `/vms`, `/vms/100` for `/vms/100`: the levels `roles` walks. Perl's
/// `split("/", $path)` drops trailing empty fields, and `/` alone is the root only.
fn levels(path: &str) -> Vec<String> {
    if path == "/" {
        return vec!["/".into()];
    }
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut out = Vec::with_capacity(parts.len());
    let mut cur = String::new();
    for p in parts {
        if !p.is_empty() {
            cur.push('/');
            cur.push_str(p);
        }
        out.push(if cur.is_empty() {
            "/".into()
        } else {
            cur.clone()
        });
    }
    out
}

/// Every node of PVE's ACL tree (`iterate_acl_tree`): each entry's path and its ancestors.
pub(crate) fn tree_paths(inner: &Inner) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in &inner.acl {
        out.extend(levels(&a.path));
    }
    out
}

impl Inner {
    /// `PVE::AccessControl::roles($cfg, $authid, $path)` (pools not considered).
    pub(crate) fn acl_roles(&self, authid: &str, path: &str) -> Roles {
        if let Some((user, token)) = authid.split_once('!') {
            let Some(info) = self.users.get(user).and_then(|u| u.tokens.get(token)) else {
                return Roles::new();
            };
            if !info.privsep {
                return self.acl_roles(user, path);
            }
        }
        let levels = levels(path);
        let mut roles = Roles::new();
        for (i, level) in levels.iter().enumerate() {
            let last = i + 1 == levels.len();
            let here = |kind: AclKind, matches: &dyn Fn(&str) -> bool| -> Roles {
                self.acl
                    .iter()
                    .filter(|a| a.kind == kind && a.path == *level && matches(&a.ugid))
                    .filter(|a| last || a.propagate)
                    .map(|a| (a.role.clone(), a.propagate))
                    .collect()
            };
            let token = here(AclKind::Token, &|id| id == authid);
            if !token.is_empty() {
                roles = token;
                continue;
            }
            let user = here(AclKind::User, &|id| id == authid);
            if !user.is_empty() {
                roles = user;
                continue;
            }
            let member = |group: &str| {
                self.groups
                    .get(group)
                    .is_some_and(|g| g.users.iter().any(|u| u == authid))
            };
            // Several groups at one level: their roles add up (a role given to two groups
            // keeps the propagate flag of the last one, as the Perl hash does).
            let group = here(AclKind::Group, &member);
            if !group.is_empty() {
                roles = group;
            }
        }
        match roles.get("NoAccess") {
            Some(p) => Roles::from([("NoAccess".to_string(), *p)]),
            None => roles,
        }
    }

    /// `PVE::RPCEnvironment::permissions($authid, $path)`: privilege → propagate flag.
    pub(crate) fn permissions(&self, authid: &str, path: &str) -> Privs {
        if authid == "root@pam" {
            return self
                .roles
                .get("Administrator")
                .map(|set| set.iter().map(|p| (p.clone(), true)).collect())
                .unwrap_or_default();
        }
        let Some((user, token)) = authid.split_once('!') else {
            return self.compile(authid, path);
        };
        let Some(info) = self.users.get(user).and_then(|u| u.tokens.get(token)) else {
            return Privs::new();
        };
        let user_privs = self.permissions(user, path);
        if !info.privsep {
            return user_privs;
        }
        let own = self.compile(authid, path);
        if user == "root@pam" {
            return own;
        }
        own.into_iter()
            .filter_map(|(p, prop)| user_privs.get(&p).map(|up| (p, prop && *up)))
            .collect()
    }

    /// Whether `authid` holds `privilege` on `path`.
    pub(crate) fn holds(&self, authid: &str, path: &str, privilege: &str) -> bool {
        self.permissions(authid, path).contains_key(privilege)
    }

    /// `$compile_acl_path`: the path's roles, plus those inherited from pools, as privileges.
    fn compile(&self, authid: &str, path: &str) -> Privs {
        let mut roles = self.acl_roles(authid, path);
        let mut from_pools = BTreeSet::new();
        for (id, pool) in &self.pools {
            let member = pool.vms.iter().any(|v| path == format!("/vms/{v}"))
                || pool
                    .storages
                    .iter()
                    .any(|s| path == format!("/storage/{s}"));
            if member {
                from_pools.extend(self.acl_roles(authid, &format!("/pool/{id}")).into_keys());
            }
        }
        if !from_pools.is_empty() && !roles.contains_key("NoAccess") {
            if from_pools.contains("NoAccess") {
                roles = Roles::from([("NoAccess".to_string(), false)]);
            } else {
                for role in from_pools {
                    roles.entry(role).or_insert(false);
                }
            }
        }
        let mut privs = Privs::new();
        for (role, propagate) in roles {
            for p in self.roles.get(&role).into_iter().flatten() {
                *privs.entry(p.clone()).or_insert(false) |= propagate;
            }
        }
        privs
    }

    /// `get_effective_permissions`: every path with at least one privilege — the top-level
    /// paths, every ACL tree node and every pool member's path.
    pub(crate) fn effective_permissions(&self, authid: &str) -> BTreeMap<String, Privs> {
        let mut paths: BTreeSet<String> = [
            "/",
            "/access",
            "/access/groups",
            "/nodes",
            "/pool",
            "/sdn",
            "/storage",
            "/vms",
        ]
        .iter()
        .map(|p| (*p).to_string())
        .collect();
        paths.extend(tree_paths(self));
        for pool in self.pools.values() {
            paths.extend(pool.vms.iter().map(|v| format!("/vms/{v}")));
            paths.extend(pool.storages.iter().map(|s| format!("/storage/{s}")));
        }
        paths
            .into_iter()
            .filter_map(|path| {
                let privs = self.permissions(authid, &path);
                (!privs.is_empty()).then_some((path, privs))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::levels;

    #[test]
    fn levels_follow_perl_split() {
        assert_eq!(levels("/"), ["/"]);
        assert_eq!(levels("/vms/100"), ["/", "/vms", "/vms/100"]);
        assert_eq!(levels("/vms/"), ["/", "/vms"]);
        assert_eq!(levels("vms"), ["/vms"]);
    }
}
