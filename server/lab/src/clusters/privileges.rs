//! The Proxmox privileges the portal's identity (an API token, usually) needs, per feature,
//! and the words "Test connection" uses for each feature a missing one breaks.
//!
//! Every entry is the check Proxmox itself makes, read in its sources:
//!
//! * pve-manager `PVE/API2/Cluster.pm`: `get_status` (`/cluster/status`) checks `Sys.Audit`
//!   on `/`; `resources` lists a guest only with `VM.Audit` on `/vms/{vmid}` and a storage
//!   only with `Datastore.Audit` on `/storage/{storage}`.
//! * pve-storage `src/PVE/API2/Storage/Status.pm` `read_status`: `Datastore.Audit` or
//!   `Datastore.AllocateSpace` on `/storage/{storage}`.
//! * qemu-server `src/PVE/API2/Qemu.pm`: `vm_config` `VM.Audit`; `vm_start`, `vm_stop`,
//!   `vm_shutdown`, `vm_reset`, `vm_reboot` `VM.PowerMgmt`; `vncproxy`, `vncwebsocket`,
//!   `termproxy` `VM.Console`; `clone_vm` `VM.Clone` on the source and `VM.Allocate` on
//!   `/vms/{newid}`, then `$check_storage_access_clone` (`Datastore.AllocateSpace` on each
//!   target storage) and `PVE::QemuServer::check_bridge_access`; `destroy_vm` and
//!   `template` `VM.Allocate`; `update_vm` through `$check_vm_modify_config_perm`
//!   (`cores`/`sockets`: `VM.Config.CPU`, `memory`: `VM.Config.Memory`, `net*`:
//!   `VM.Config.Network`, `name`/`description`/`onboot`: `VM.Config.Options`, `boot`:
//!   `VM.Config.Disk`); `resize_vm` `VM.Config.Disk`; `snapshot`, `delsnapshot`
//!   `VM.Snapshot`; `rollback` `VM.Snapshot` or `VM.Snapshot.Rollback`; `migrate_vm`
//!   `VM.Migrate` — all on `/vms/{vmid}`. `VM.Monitor` (the `monitor` call, PVE 8 and
//!   older) is not needed: the portal never uses the monitor.
//! * pve-guest-common `src/PVE/GuestHelpers.pm` `check_vnet_access` (what
//!   `check_bridge_access` calls for each `net*` bridge since PVE 8.0, June 2023):
//!   `SDN.Use` on `/sdn/zones/{zone}/{bridge}`, zone `localnetwork` for a plain Linux
//!   bridge. The privilege itself came with PVE 8.0 (pve-access-control a62d78d), so it is
//!   not asked of older servers.
//! * pve-manager `PVE/API2/Pool.pm` `create_pool`, `delete_pool`: `Pool.Allocate` on
//!   `/pool/{poolid}` (guests join a pool through `clone_vm`'s `pool`, covered by
//!   `VM.Allocate`: `RPCEnvironment::check_perm_modify`).
//! * pve-storage `src/PVE/API2/Storage/Status.pm` `download_url`: `Datastore.AllocateTemplate`
//!   on `/storage/{storage}` and `Sys.Audit` or `Sys.Modify` on `/` (or `Sys.AccessNetwork`
//!   on the node); `API2/Storage/Content.pm` `delete`: `Datastore.Allocate` on the storage.
//! * pve-access-control `src/PVE/API2/Group.pm` `read_group`: `Sys.Audit` or
//!   `Group.Allocate` on `/access/groups` (and `API2/User.pm` `read_user` for a user's groups).
//!
//! Privilege names as `src/PVE/AccessControl.pm` `$privgroups` lists them (PVE 9, where
//! `VM.Monitor` is gone). Checks on objects below a path (`/vms/{vmid}`) need the privilege
//! propagated from that path; see [`pve::Permissions`] for how the answer is read.

use crate::pve::{self, Grant, Permissions};

/// One check Proxmox makes: any of `privs` on `path` (`below`: on the objects under it,
/// which needs propagate), from PVE `since` (major version) on.
pub(crate) struct Need {
    pub privs: &'static [&'static str],
    pub path: &'static str,
    pub below: bool,
    pub since: u32,
}

/// A portal feature and what stops working without its privileges.
pub(crate) struct Feature {
    pub breaks: &'static str,
    pub needs: &'static [Need],
    /// Only with Proxmox groups mapped to portal roles.
    pub realm_only: bool,
}

const fn vms(privs: &'static [&'static str]) -> Need {
    Need {
        privs,
        path: "/vms",
        below: true,
        since: 0,
    }
}

/// The features, in the order the warnings are given.
pub(crate) const FEATURES: &[Feature] = &[
    Feature {
        breaks: "the inventory and sync see only part of the cluster (VMs, node addresses, \
                 storage space)",
        needs: &[
            Need {
                privs: &["Sys.Audit"],
                path: "/",
                below: false,
                since: 0,
            },
            vms(&["VM.Audit"]),
            Need {
                privs: &["Datastore.Audit"],
                path: "/storage",
                below: true,
                since: 0,
            },
        ],
        realm_only: false,
    },
    Feature {
        breaks: "nobody can start, stop or restart VMs through the portal",
        needs: &[vms(&["VM.PowerMgmt"])],
        realm_only: false,
    },
    Feature {
        breaks: "nobody can open a VM's console in the portal",
        needs: &[vms(&["VM.Console"])],
        realm_only: false,
    },
    Feature {
        breaks: "nobody can take, roll back or delete snapshots in the portal",
        needs: &[vms(&["VM.Snapshot"])],
        realm_only: false,
    },
    Feature {
        breaks: "teachers cannot make classes (Proxmox clones)",
        needs: &[
            vms(&["VM.Clone"]),
            vms(&["VM.Allocate"]),
            vms(&["VM.Config.Disk"]),
            vms(&["VM.Config.CPU"]),
            vms(&["VM.Config.Memory"]),
            vms(&["VM.Config.Network"]),
            vms(&["VM.Config.Options"]),
            Need {
                privs: &["Datastore.AllocateSpace"],
                path: "/storage",
                below: true,
                since: 0,
            },
            Need {
                privs: &["SDN.Use"],
                path: "/sdn/zones",
                below: true,
                since: 8,
            },
            Need {
                privs: &["Pool.Allocate"],
                path: "/pool",
                below: true,
                since: 0,
            },
        ],
        realm_only: false,
    },
    Feature {
        breaks: "classes on node-local storage cannot get a copy of their base on each \
                 node (Proxmox migrations)",
        needs: &[vms(&["VM.Migrate"])],
        realm_only: false,
    },
    Feature {
        breaks: "nobody can download or delete ISO images in the portal",
        needs: &[
            Need {
                privs: &["Datastore.AllocateTemplate"],
                path: "/storage",
                below: true,
                since: 0,
            },
            Need {
                privs: &["Datastore.Allocate"],
                path: "/storage",
                below: true,
                since: 0,
            },
        ],
        realm_only: false,
    },
    Feature {
        breaks: "Proxmox accounts cannot sign in (their groups cannot be read)",
        needs: &[Need {
            privs: &["Sys.Audit", "Group.Allocate"],
            path: "/access/groups",
            below: false,
            since: 0,
        }],
        realm_only: true,
    },
];

/// Reads the identity's privileges and says, per feature, what a missing one breaks;
/// a failed read becomes the only warning. `who` names the identity ("The token").
pub(crate) async fn check(
    client: &pve::Client,
    who: &str,
    version: &str,
    realm_signin: bool,
) -> Vec<String> {
    match read(client).await {
        Ok(perms) => warnings(&perms, who, major(version), realm_signin),
        Err(e) => vec![format!(
            "Cannot read what {} may do (GET /access/permissions: {e}); the privileges \
             were not checked.",
            who.to_lowercase()
        )],
    }
}

/// The whole tree, plus each needed path the tree answer does not speak for by itself
/// (asked with `path`, so a `NoAccess` there is not mistaken for inheritance).
async fn read(client: &pve::Client) -> Result<Permissions, pve::Error> {
    let mut perms = client.permissions(None).await?;
    let mut asked: Vec<&str> = Vec::new();
    for need in FEATURES.iter().flat_map(|f| f.needs) {
        if !perms.covers(need.path) && !asked.contains(&need.path) {
            asked.push(need.path);
            let one = client.permissions(Some(need.path)).await?;
            perms.merge(one);
        }
    }
    Ok(perms)
}

/// `8.2.4` → 8; unreadable → 0 (every need applies).
fn major(version: &str) -> u32 {
    version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// `None` when the need is met; else whether one of its privileges is held on the path
/// but without the propagate the objects below it need.
fn unmet(perms: &Permissions, need: &Need) -> Option<bool> {
    let grants: Vec<Grant> = need.privs.iter().map(|p| perms.on(need.path, p)).collect();
    let met = |g: &Grant| *g == Grant::Propagated || (*g == Grant::Here && !need.below);
    (!grants.iter().any(met)).then(|| grants.contains(&Grant::Here))
}

/// One sentence per feature with a need not met.
pub(crate) fn warnings(
    perms: &Permissions,
    who: &str,
    major: u32,
    realm_signin: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for feature in FEATURES {
        if feature.realm_only && !realm_signin {
            continue;
        }
        let mut lacks: Vec<(String, &str, bool)> = Vec::new();
        let applies = |n: &&Need| major == 0 || major >= n.since;
        for need in feature.needs.iter().filter(applies) {
            let Some(not_propagated) = unmet(perms, need) else {
                continue;
            };
            let privs = need.privs.join(" or ");
            let same = |(_, path, np): &&mut (String, &str, bool)| {
                *path == need.path && *np == not_propagated
            };
            match lacks.iter_mut().find(same) {
                Some((listed, _, _)) => {
                    listed.push_str(", ");
                    listed.push_str(&privs);
                }
                None => lacks.push((privs, need.path, not_propagated)),
            }
        }
        if lacks.is_empty() {
            continue;
        }
        let items: Vec<String> = lacks
            .into_iter()
            .map(|(privs, path, not_propagated)| {
                if not_propagated {
                    format!("{privs} on {path} (set without propagate, so not on what is below)")
                } else {
                    format!("{privs} on {path}")
                }
            })
            .collect();
        out.push(format!(
            "{who} lacks {}: {}.",
            items.join("; "),
            feature.breaks
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    /// Every privilege of a role that serves all features on PVE 8 or later: the first of
    /// each need's alternatives, in [`FEATURES`] order, once each.
    fn role_privs() -> Vec<&'static str> {
        let mut out = Vec::new();
        for need in FEATURES.iter().flat_map(|f| f.needs) {
            if !out.contains(&need.privs[0]) {
                out.push(need.privs[0]);
            }
        }
        out
    }

    /// The whole-tree answer for a role on `/` with propagate: every default path, all 1.
    fn granted(privs: &[&str]) -> Permissions {
        let set: Map<String, Value> = privs.iter().map(|p| ((*p).to_string(), json!(1))).collect();
        let tree: Map<String, Value> = pve::DEFAULT_PATHS
            .iter()
            .map(|path| ((*path).to_string(), Value::Object(set.clone())))
            .collect();
        Permissions::from_data(Value::Object(tree)).unwrap()
    }

    fn without(privilege: &str) -> Vec<&'static str> {
        role_privs()
            .into_iter()
            .filter(|p| *p != privilege)
            .collect()
    }

    #[test]
    fn the_whole_role_warns_of_nothing() {
        let perms = granted(&role_privs());
        assert_eq!(warnings(&perms, "The token", 9, true), Vec::<String>::new());
        assert_eq!(warnings(&perms, "The token", 0, true), Vec::<String>::new());
    }

    #[test]
    fn a_missing_privilege_names_the_feature_it_breaks() {
        let perms = granted(&without("VM.Clone"));
        assert_eq!(
            warnings(&perms, "The token", 8, true),
            ["The token lacks VM.Clone on /vms: teachers cannot make classes (Proxmox clones)."]
        );
        let perms = granted(&["VM.Audit", "Datastore.Audit"]);
        let all = warnings(&perms, "The user", 8, false);
        assert_eq!(all.len(), 7, "{all:?}");
        assert_eq!(
            all[0],
            "The user lacks Sys.Audit on /: the inventory and sync see only part of the \
             cluster (VMs, node addresses, storage space)."
        );
        assert!(all[4].starts_with(
            "The user lacks VM.Clone, VM.Allocate, VM.Config.Disk, VM.Config.CPU, \
             VM.Config.Memory, VM.Config.Network, VM.Config.Options on /vms; \
             Datastore.AllocateSpace on /storage; SDN.Use on /sdn/zones; Pool.Allocate on /pool: \
             teachers"
        ));
        assert_eq!(
            all[5],
            "The user lacks VM.Migrate on /vms: classes on node-local storage cannot get a \
             copy of their base on each node (Proxmox migrations)."
        );
        assert_eq!(
            all[6],
            "The user lacks Datastore.AllocateTemplate, Datastore.Allocate on /storage: nobody \
             can download or delete ISO images in the portal."
        );
    }

    #[test]
    fn privileges_on_vms_without_propagate_do_not_reach_the_vms() {
        let mut answer = json!({});
        let privs: Map<String, Value> = role_privs()
            .iter()
            .map(|p| ((*p).into(), json!(1)))
            .collect();
        for path in pve::DEFAULT_PATHS {
            answer[path] = Value::Object(privs.clone());
        }
        answer["/vms"]["VM.PowerMgmt"] = json!(0);
        let perms = Permissions::from_data(answer).unwrap();
        let all = warnings(&perms, "The token", 8, true);
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(
            all[0].contains("VM.PowerMgmt on /vms (set without propagate"),
            "{all:?}"
        );
    }

    #[test]
    fn sdn_use_is_asked_from_pve_8_on() {
        let perms = granted(&without("SDN.Use"));
        assert_eq!(warnings(&perms, "The token", 7, true), Vec::<String>::new());
        let all = warnings(&perms, "The token", 8, true);
        assert!(
            all[0].contains("lacks SDN.Use on /sdn/zones: teachers"),
            "{all:?}"
        );
        assert_eq!(major("8.2.4"), 8);
        assert_eq!(major("9.0"), 9);
        assert_eq!(major("?"), 0);
    }

    #[test]
    fn group_reading_matters_only_with_mapped_groups() {
        let perms = granted(&without("Sys.Audit"));
        let all = warnings(&perms, "The token", 8, false);
        assert!(all.iter().all(|w| !w.contains("/access/groups")), "{all:?}");
        let all = warnings(&perms, "The token", 8, true);
        assert!(
            all.iter().any(|w| w
                .contains("lacks Sys.Audit or Group.Allocate on /access/groups: Proxmox accounts")),
            "{all:?}"
        );
        let mut privs = without("Sys.Audit");
        privs.push("Group.Allocate");
        let all = warnings(&granted(&privs), "The token", 8, true);
        assert!(all.iter().all(|w| !w.contains("/access/groups")), "{all:?}");
    }

    /// The README's `pveum role add` recipe is this module's list.
    #[test]
    fn the_readme_recipe_is_the_role() {
        let readme = include_str!("../../../../README.md");
        let recipe = format!(
            "pveum role add ProxlabPortal --privs \"{}\"",
            role_privs().join(",")
        );
        assert!(readme.contains(&recipe), "README lacks: {recipe}");
    }
}
