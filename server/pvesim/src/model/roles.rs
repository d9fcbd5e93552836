//! Privileges and the built-in roles, generated the way PVE generates them
//! (proxmox/pve-access-control `src/PVE/AccessControl.pm`: `$privgroups`, `create_roles`,
//! `$special_roles`, `role_is_special`, `verify_privname`).
//!
//! PVE does not list its roles anywhere: it derives them from privilege groups, one per
//! category, each split into `root` / `admin` / `user` / `audit` privileges:
//! `PVE<cat>Admin` = admin + user + audit, `PVE<cat>User` = user + audit (only for
//! categories with user privileges), `PVEAdmin` = every admin/user/audit privilege except
//! `Mapping.Modify`, `PVEAuditor` = every audit privilege, `PVETemplateUser` =
//! `VM.Clone` + `VM.Audit`, `NoAccess` = nothing and `Administrator` = every privilege
//! (root-only ones and `Permissions.Modify` included). Reproducing the generator keeps the
//! lists exact for both versions: PVE 9 (libpve-access-control 9.x) replaced `VM.Monitor`
//! by the `VM.GuestAgent.*` privileges and added `VM.Replicate`.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::PveVersion;

/// The privileges of one role.
pub(crate) type PrivSet = BTreeSet<String>;

/// One category of `$privgroups`.
struct PrivGroup {
    category: &'static str,
    root: &'static [&'static str],
    admin: &'static [&'static str],
    user: &'static [&'static str],
    audit: &'static [&'static str],
}

const VM_ADMIN_9: &[&str] = &[
    "VM.Config.Disk",
    "VM.Config.CPU",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.HWType",
    "VM.Config.Options",
    "VM.Allocate",
    "VM.Clone",
    "VM.GuestAgent.Unrestricted",
    "VM.Migrate",
    "VM.Replicate",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
];
const VM_USER_9: &[&str] = &[
    "VM.Config.CDROM",
    "VM.Config.Cloudinit",
    "VM.Console",
    "VM.Backup",
    "VM.GuestAgent.FileRead",
    "VM.GuestAgent.FileSystemMgmt",
    "VM.GuestAgent.FileWrite",
    "VM.PowerMgmt",
];
const VM_AUDIT_9: &[&str] = &["VM.Audit", "VM.GuestAgent.Audit"];

/// libpve-access-control 8.x (branch `stable-bookworm`).
const VM_ADMIN_8: &[&str] = &[
    "VM.Config.Disk",
    "VM.Config.CPU",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.HWType",
    "VM.Config.Options",
    "VM.Allocate",
    "VM.Clone",
    "VM.Migrate",
    "VM.Monitor",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
];
const VM_USER_8: &[&str] = &[
    "VM.Config.CDROM",
    "VM.Config.Cloudinit",
    "VM.Console",
    "VM.Backup",
    "VM.PowerMgmt",
];
const VM_AUDIT_8: &[&str] = &["VM.Audit"];

/// The categories after `VM`, identical in PVE 8.4 and 9.
const OTHER_GROUPS: &[PrivGroup] = &[
    PrivGroup {
        category: "Sys",
        root: &[
            "Sys.PowerMgmt",
            "Sys.Modify",
            "Sys.Incoming",
            "Sys.AccessNetwork",
        ],
        admin: &["Sys.Console", "Sys.Syslog"],
        user: &[],
        audit: &["Sys.Audit"],
    },
    PrivGroup {
        category: "Datastore",
        root: &[],
        admin: &["Datastore.Allocate", "Datastore.AllocateTemplate"],
        user: &["Datastore.AllocateSpace"],
        audit: &["Datastore.Audit"],
    },
    PrivGroup {
        category: "SDN",
        root: &[],
        admin: &["SDN.Allocate", "SDN.Audit"],
        user: &["SDN.Use"],
        audit: &["SDN.Audit"],
    },
    PrivGroup {
        category: "User",
        root: &["Realm.Allocate"],
        admin: &["User.Modify", "Group.Allocate", "Realm.AllocateUser"],
        user: &[],
        audit: &[],
    },
    PrivGroup {
        category: "Pool",
        root: &[],
        admin: &["Pool.Allocate"],
        user: &["Pool.Audit"],
        audit: &["Pool.Audit"],
    },
    PrivGroup {
        category: "Mapping",
        root: &[],
        admin: &["Mapping.Modify"],
        user: &["Mapping.Use"],
        audit: &["Mapping.Audit"],
    },
];

fn groups(version: PveVersion) -> Vec<&'static PrivGroup> {
    const VM_9: PrivGroup = PrivGroup {
        category: "VM",
        root: &[],
        admin: VM_ADMIN_9,
        user: VM_USER_9,
        audit: VM_AUDIT_9,
    };
    const VM_8: PrivGroup = PrivGroup {
        category: "VM",
        root: &[],
        admin: VM_ADMIN_8,
        user: VM_USER_8,
        audit: VM_AUDIT_8,
    };
    let vm: &'static PrivGroup = match version {
        PveVersion::V9 => &VM_9,
        PveVersion::V8 => &VM_8,
    };
    std::iter::once(vm).chain(OTHER_GROUPS.iter()).collect()
}

/// Every valid privilege name (`$valid_privs`).
pub(crate) fn valid_privs(version: PveVersion) -> PrivSet {
    let mut all: PrivSet = ["Permissions.Modify".to_string()].into();
    for g in groups(version) {
        for p in g.root.iter().chain(g.admin).chain(g.user).chain(g.audit) {
            all.insert((*p).to_string());
        }
    }
    all
}

/// The generated roles (`create_roles` + `$special_roles`), by role ID.
pub(crate) fn builtin(version: PveVersion) -> BTreeMap<String, PrivSet> {
    let mut roles: BTreeMap<String, PrivSet> = BTreeMap::new();
    let mut add = |role: &str, privs: &[&str]| {
        roles
            .entry(role.to_string())
            .or_default()
            .extend(privs.iter().map(|p| (*p).to_string()));
    };
    add("NoAccess", &[]);
    add("PVEAuditor", &[]);
    for g in groups(version) {
        for part in [g.admin, g.user, g.audit] {
            add(&format!("PVE{}Admin", g.category), part);
            add("PVEAdmin", part);
        }
        if !g.user.is_empty() {
            add(&format!("PVE{}User", g.category), g.user);
            add(&format!("PVE{}User", g.category), g.audit);
        }
        add("PVEAuditor", g.audit);
    }
    add("PVETemplateUser", &["VM.Clone", "VM.Audit"]);
    if let Some(admin) = roles.get_mut("PVEAdmin") {
        // "only Administrator, root@pam and PVEMappingAdmin should be able to use that"
        admin.remove("Mapping.Modify");
    }
    roles.insert("Administrator".into(), valid_privs(version));
    roles
}

/// Whether a role is generated by PVE (`role_is_special`): it cannot be changed or deleted.
pub(crate) fn is_special(version: PveVersion, role: &str) -> bool {
    builtin(version).contains_key(role)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn privs(version: PveVersion, role: &str) -> Vec<String> {
        builtin(version)
            .get(role)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn generated_roles_match_pve() {
        let v9 = builtin(PveVersion::V9);
        let names: Vec<&str> = v9.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "Administrator",
                "NoAccess",
                "PVEAdmin",
                "PVEAuditor",
                "PVEDatastoreAdmin",
                "PVEDatastoreUser",
                "PVEMappingAdmin",
                "PVEMappingUser",
                "PVEPoolAdmin",
                "PVEPoolUser",
                "PVESDNAdmin",
                "PVESDNUser",
                "PVESysAdmin",
                "PVETemplateUser",
                "PVEUserAdmin",
                "PVEVMAdmin",
                "PVEVMUser",
            ]
        );
        assert_eq!(
            privs(PveVersion::V9, "PVEAuditor"),
            [
                "Datastore.Audit",
                "Mapping.Audit",
                "Pool.Audit",
                "SDN.Audit",
                "Sys.Audit",
                "VM.Audit",
                "VM.GuestAgent.Audit"
            ]
        );
        assert_eq!(
            privs(PveVersion::V9, "PVEDatastoreUser"),
            ["Datastore.AllocateSpace", "Datastore.Audit"]
        );
        assert_eq!(
            privs(PveVersion::V9, "PVESysAdmin"),
            ["Sys.Audit", "Sys.Console", "Sys.Syslog"]
        );
        let admin = privs(PveVersion::V9, "PVEAdmin");
        assert!(!admin.contains(&"Mapping.Modify".to_string()));
        assert!(!admin.contains(&"Permissions.Modify".to_string()));
        assert!(!admin.contains(&"Sys.Modify".to_string()));
        let all = privs(PveVersion::V9, "Administrator");
        assert!(all.contains(&"Permissions.Modify".to_string()));
        assert!(all.contains(&"Realm.Allocate".to_string()));
        assert!(privs(PveVersion::V9, "NoAccess").is_empty());
    }

    #[test]
    fn pve8_has_vm_monitor_instead_of_guest_agent_privileges() {
        let user8 = privs(PveVersion::V8, "PVEVMUser");
        assert_eq!(
            user8,
            [
                "VM.Audit",
                "VM.Backup",
                "VM.Config.CDROM",
                "VM.Config.Cloudinit",
                "VM.Console",
                "VM.PowerMgmt"
            ]
        );
        assert!(privs(PveVersion::V8, "PVEVMAdmin").contains(&"VM.Monitor".to_string()));
        assert!(!valid_privs(PveVersion::V9).contains("VM.Monitor"));
        assert!(!valid_privs(PveVersion::V8).contains("VM.Replicate"));
    }
}
