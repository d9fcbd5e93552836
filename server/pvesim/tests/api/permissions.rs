//! ACL evaluation as pve-access-control does it: privsep tokens (token ∩ user), `NoAccess`
//! on a sub-path, `propagate=0`, user entries over group entries, deeper over shallower,
//! pool roles, `root@pam`; and the endpoints built on it (`/access/users/{id}`,
//! `/access/groups/{id}`, `/access/permissions`, `/access/roles`, the login `cap`).

use serde_json::{Value, json};

use crate::client::{Auth, Client, Resp};
use crate::sim_with;

async fn root(sim: &pvesim::Sim) -> Client {
    Client::new(sim).login("root@pam", "secret").await
}

fn ok(r: Resp) -> Value {
    assert_eq!(r.status, 200, "{} {}", r.reason, r.text());
    r.data()
}

fn refused(r: &Resp) -> (u16, &str) {
    (r.status, r.reason.as_str())
}

/// `PUT /access/acl` as root.
async fn grant(root: &Client, params: &[(&str, &str)]) {
    ok(root.call("PUT", "/access/acl", params).await);
}

/// A new API token of `user` (`privsep` "0"/"1") as a client.
async fn token(root: &Client, user: &str, id: &str, privsep: &str) -> Client {
    let d = ok(root
        .call(
            "POST",
            &format!("/access/users/{user}/token/{id}"),
            &[("privsep", privsep)],
        )
        .await);
    root.with_auth(Auth::Token(format!(
        "{user}!{id}={}",
        d["value"].as_str().unwrap_or_default()
    )))
}

/// `GET /access/permissions?path=...` of the caller: the privileges on that path.
async fn privs_on(c: &Client, path: &str) -> Value {
    ok(c.call("GET", "/access/permissions", &[("path", path)])
        .await)[path]
        .clone()
}

#[tokio::test]
async fn a_privsep_token_needs_acls_of_its_own_and_of_its_user() {
    let (_d, sim) = sim_with(None);
    let root = root(&sim).await;
    let t = token(&root, "teacher1@pve", "audit", "1").await;
    let group_denied = "Permission check failed (/access/groups, Sys.Audit|Group.Allocate)";

    let user = t.call("GET", "/access/users/student1@pve", &[]).await;
    assert_eq!(refused(&user), (403, "Permission check failed"));
    assert_eq!(
        user.json()["message"],
        "Permission check failed\n",
        "PVE's text in the body too"
    );
    let group = t.call("GET", "/access/groups/students", &[]).await;
    assert_eq!(refused(&group), (403, group_denied));

    // The token's own ACL is not enough: its user lacks the privilege.
    grant(
        &root,
        &[
            ("path", "/access/groups"),
            ("roles", "PVEAuditor"),
            ("tokens", "teacher1@pve!audit"),
        ],
    )
    .await;
    let group = t.call("GET", "/access/groups/students", &[]).await;
    assert_eq!(refused(&group), (403, group_denied));

    grant(
        &root,
        &[
            ("path", "/access/groups"),
            ("roles", "PVEAuditor"),
            ("users", "teacher1@pve"),
        ],
    )
    .await;
    assert_eq!(
        ok(t.call("GET", "/access/groups/students", &[]).await),
        json!({"members": ["student1@pve", "student2@pve"], "comment": "Course 2026"})
    );
    let student = ok(t.call("GET", "/access/users/student1@pve", &[]).await);
    assert_eq!(student["groups"], json!(["students"]));
    let missing = t.call("GET", "/access/groups/nope", &[]).await;
    assert_eq!(refused(&missing), (500, "group 'nope' does not exist"));

    // The user's privileges alone do not reach a privsep token either.
    let bare = token(&root, "teacher1@pve", "bare", "1").await;
    let group = bare.call("GET", "/access/groups/students", &[]).await;
    assert_eq!(refused(&group), (403, group_denied));
    // ... but a privsep=0 token is its user.
    let full = token(&root, "teacher1@pve", "full", "0").await;
    ok(full.call("GET", "/access/groups/teachers", &[]).await);
}

#[tokio::test]
async fn users_are_readable_through_their_groups_only() {
    let (_d, sim) = sim_with(None);
    let root = root(&sim).await;
    grant(
        &root,
        &[
            ("path", "/access/groups/students"),
            ("roles", "PVEUserAdmin"),
            ("users", "teacher1@pve"),
        ],
    )
    .await;
    let teacher = Client::new(&sim).login("teacher1@pve", "secret").await;
    ok(teacher.call("GET", "/access/users/student2@pve", &[]).await);
    let portal = teacher.call("GET", "/access/users/portal@pve", &[]).await;
    assert_eq!(refused(&portal), (403, "Permission check failed"));
    let nobody = teacher.call("GET", "/access/users/nobody@pve", &[]).await;
    assert_eq!(refused(&nobody), (500, "no such user ('nobody@pve')"));
    // Group-level rights do not reach /access/groups itself.
    let group = teacher.call("GET", "/access/groups/students", &[]).await;
    assert_eq!(group.status, 403);

    let listed = ok(teacher.call("GET", "/access/users", &[]).await);
    let ids: Vec<&str> = listed
        .as_array()
        .map(|l| l.iter().filter_map(|u| u["userid"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["student1@pve", "student2@pve", "teacher1@pve"]);
    let groups = ok(teacher.call("GET", "/access/groups", &[]).await);
    assert_eq!(groups.as_array().map(Vec::len), Some(1), "{groups}");

    let student = Client::new(&sim).login("student1@pve", "secret").await;
    let own = ok(student.call("GET", "/access/users", &[]).await);
    assert_eq!(own.as_array().map(Vec::len), Some(1), "only itself: {own}");
    let other = student.call("GET", "/access/users/student2@pve", &[]).await;
    assert_eq!(refused(&other), (403, "Permission check failed"));
}

#[tokio::test]
async fn no_access_on_a_sub_path_beats_inherited_and_same_level_roles() {
    let (_d, sim) = sim_with(None);
    let root = root(&sim).await;
    let student = Client::new(&sim).login("student1@pve", "secret").await;
    ok(student
        .call("GET", "/nodes/pve1/qemu/101/config", &[])
        .await);
    grant(
        &root,
        &[
            ("path", "/vms/101"),
            ("roles", "NoAccess,PVEVMAdmin"),
            ("users", "student1@pve"),
        ],
    )
    .await;
    let denied = student
        .call("GET", "/nodes/pve1/qemu/101/config", &[])
        .await;
    assert_eq!(
        refused(&denied),
        (403, "Permission check failed (/vms/101, VM.Audit)")
    );
    assert_eq!(privs_on(&student, "/vms/101").await, json!({}));
    ok(student
        .call("GET", "/nodes/pve1/qemu/100/config", &[])
        .await);
    let other = Client::new(&sim).login("student2@pve", "secret").await;
    ok(other.call("GET", "/nodes/pve1/qemu/101/config", &[]).await);
}

#[tokio::test]
async fn propagate_0_applies_on_its_own_path_only() {
    let (_d, sim) = sim_with(None);
    let root = root(&sim).await;
    grant(
        &root,
        &[
            ("path", "/vms"),
            ("roles", "PVEVMAdmin"),
            ("users", "student2@pve"),
            ("propagate", "0"),
        ],
    )
    .await;
    let student = Client::new(&sim).login("student2@pve", "secret").await;
    let on_vms = privs_on(&student, "/vms").await;
    assert_eq!(on_vms["VM.Allocate"], 0, "set, not propagated: {on_vms}");
    // Below /vms the non-propagating user entry is skipped, so the group's role applies.
    assert_eq!(
        privs_on(&student, "/vms/100").await,
        json!({"VM.Audit": 1, "VM.Console": 1, "VM.PowerMgmt": 1})
    );
    let r = student
        .call("PUT", "/nodes/pve1/qemu/100/config", &[("cores", "2")])
        .await;
    assert_eq!(
        refused(&r),
        (403, "Permission check failed (/vms/100, VM.Config.CPU)")
    );
}

#[tokio::test]
async fn user_entries_beat_group_entries_and_deeper_beats_shallower() {
    let (_d, sim) = sim_with(None);
    let root = root(&sim).await;
    // Group `students` holds LabUser on /vms; a user entry at the same level replaces it.
    grant(
        &root,
        &[
            ("path", "/vms"),
            ("roles", "PVEAuditor"),
            ("users", "student1@pve"),
        ],
    )
    .await;
    let s1 = Client::new(&sim).login("student1@pve", "secret").await;
    let s2 = Client::new(&sim).login("student2@pve", "secret").await;
    let console = s1
        .call(
            "POST",
            "/nodes/pve1/qemu/100/vncproxy",
            &[("websocket", "1")],
        )
        .await;
    assert_eq!(
        refused(&console),
        (403, "Permission check failed (/vms/100, VM.Console)")
    );
    ok(s2
        .call(
            "POST",
            "/nodes/pve1/qemu/100/vncproxy",
            &[("websocket", "1")],
        )
        .await);
    assert_eq!(privs_on(&s1, "/vms/100").await["VM.GuestAgent.Audit"], 1);

    // A group entry on the guest beats the user entry on /vms.
    grant(
        &root,
        &[
            ("path", "/vms/101"),
            ("roles", "PVEVMAdmin"),
            ("groups", "students"),
        ],
    )
    .await;
    ok(s1
        .call("PUT", "/nodes/pve1/qemu/101/config", &[("cores", "2")])
        .await);
}

#[tokio::test]
async fn pool_roles_reach_the_pool_members_without_overriding_no_access() {
    let (_d, sim) = sim_with(None);
    let root = root(&sim).await;
    grant(
        &root,
        &[
            ("path", "/pool/lab-a"),
            ("roles", "PVEVMAdmin"),
            ("users", "teacher1@pve"),
        ],
    )
    .await;
    let teacher = Client::new(&sim).login("teacher1@pve", "secret").await;
    let in_pool = privs_on(&teacher, "/vms/100").await;
    assert_eq!(in_pool["VM.Config.CPU"], 0, "from the pool, not propagated");
    assert_eq!(in_pool["VM.Audit"], 1, "the group's propagated role stays");
    assert!(privs_on(&teacher, "/vms/102").await["VM.Config.CPU"].is_null());
    grant(
        &root,
        &[
            ("path", "/vms/100"),
            ("roles", "NoAccess"),
            ("users", "teacher1@pve"),
        ],
    )
    .await;
    assert_eq!(privs_on(&teacher, "/vms/100").await, json!({}));
    assert_eq!(privs_on(&teacher, "/vms/101").await["VM.Config.CPU"], 0);
}

#[tokio::test]
async fn root_holds_every_privilege_whatever_the_acls_say() {
    let (_d, sim) = sim_with(None);
    let root = root(&sim).await;
    grant(
        &root,
        &[("path", "/"), ("roles", "NoAccess"), ("users", "root@pam")],
    )
    .await;
    ok(root
        .call("PUT", "/nodes/pve1/qemu/101/config", &[("cores", "2")])
        .await);
    let all = privs_on(&root, "/vms/100").await;
    assert_eq!(all["Permissions.Modify"], 1);
    assert_eq!(all["Sys.AccessNetwork"], 1);
    let by_token = Client::new(&sim).with_auth(Auth::Token(sim.token()));
    ok(by_token.call("GET", "/access/groups/admin", &[]).await);
    let missing = root.call("GET", "/access/groups/nope", &[]).await;
    assert_eq!(refused(&missing), (500, "group 'nope' does not exist"));
}

#[tokio::test]
async fn the_login_cap_and_the_permissions_endpoint_follow_the_acls() {
    let (_d, sim) = sim_with(None);
    let anon = Client::new(&sim);
    let login = |user: &'static str| {
        let anon = anon.clone();
        async move {
            ok(anon
                .call(
                    "POST",
                    "/access/ticket",
                    &[("username", user), ("password", "secret")],
                )
                .await)
        }
    };
    let student = login("student1@pve").await;
    assert_eq!(
        student["cap"],
        json!({"vms": {"VM.Audit": 1, "VM.Console": 1, "VM.PowerMgmt": 1}, "storage": {},
               "access": {}, "nodes": {}, "dc": {}, "sdn": {}, "mapping": {}}),
        "the fixture cluster's answer for student1"
    );
    assert!(student.get("clustername").is_none());
    let portal = login("portal@pve").await;
    assert_eq!(portal["cap"]["access"]["Permissions.Modify"], 1);
    assert_eq!(portal["clustername"], "labcluster");

    let s1 = anon.login("student1@pve", "secret").await;
    let mine = ok(s1.call("GET", "/access/permissions", &[]).await);
    assert_eq!(
        mine,
        json!({"/vms": {"VM.Audit": 1, "VM.Console": 1, "VM.PowerMgmt": 1},
               "/vms/100": {"VM.Audit": 1, "VM.Console": 1, "VM.PowerMgmt": 1},
               "/vms/101": {"VM.Audit": 1, "VM.Console": 1, "VM.PowerMgmt": 1},
               "/vms/9000": {"VM.Audit": 1, "VM.Console": 1, "VM.PowerMgmt": 1}})
    );
    let other = s1
        .call("GET", "/access/permissions", &[("userid", "root@pam")])
        .await;
    assert_eq!(
        refused(&other),
        (403, "Permission check failed (/access, Sys.Audit)")
    );
    let root = anon.login("root@pam", "secret").await;
    let theirs = ok(root
        .call(
            "GET",
            "/access/permissions",
            &[("userid", "student1@pve"), ("path", "/nodes/pve1")],
        )
        .await);
    assert_eq!(theirs, json!({"/nodes/pve1": {}}));
}

#[tokio::test]
async fn custom_roles_and_acl_changes_are_checked() {
    let (_d, sim) = sim_with(None);
    let root = root(&sim).await;
    let roles = ok(root.call("GET", "/access/roles", &[]).await);
    let role = |id: &str| {
        roles
            .as_array()
            .and_then(|l| l.iter().find(|r| r["roleid"] == id))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(role("PVEVMUser")["special"], 1);
    assert_eq!(
        role("LabUser"),
        json!({"roleid": "LabUser", "privs": "VM.Audit,VM.Console,VM.PowerMgmt", "special": 0})
    );
    let reserved = root
        .call("POST", "/access/roles", &[("roleid", "PVEMine")])
        .await;
    assert_eq!(reserved.status, 400);
    ok(root
        .call(
            "POST",
            "/access/roles",
            &[("roleid", "Snapshotter"), ("privs", "VM.Snapshot,VM.Audit")],
        )
        .await);
    assert_eq!(
        ok(root.call("GET", "/access/roles/Snapshotter", &[]).await),
        json!({"VM.Audit": 1, "VM.Snapshot": 1})
    );
    let unknown = root
        .call(
            "PUT",
            "/access/acl",
            &[
                ("path", "/vms"),
                ("roles", "Nope"),
                ("users", "student1@pve"),
            ],
        )
        .await;
    assert_eq!(
        refused(&unknown),
        (500, "ACL update failed: role 'Nope' does not exist")
    );
    grant(
        &root,
        &[
            ("path", "/vms/100"),
            ("roles", "Snapshotter"),
            ("users", "student1@pve"),
        ],
    )
    .await;
    let student = Client::new(&sim).login("student1@pve", "secret").await;
    assert_eq!(privs_on(&student, "/vms/100").await["VM.Snapshot"], 1);

    let acl = student
        .call(
            "PUT",
            "/access/acl",
            &[
                ("path", "/vms/100"),
                ("roles", "PVEVMAdmin"),
                ("users", "student1@pve"),
            ],
        )
        .await;
    assert_eq!(
        refused(&acl),
        (
            403,
            "Permission check failed (/vms/100, Permissions.Modify|VM.Allocate)"
        )
    );
    assert_eq!(
        ok(student.call("GET", "/access/acl", &[]).await),
        json!([]),
        "only entries the caller may modify are listed"
    );
}

#[tokio::test]
async fn a_clone_needs_vm_clone_on_the_source_and_space_on_the_storage() {
    let (dir, sim) = sim_with(None);
    std::fs::remove_file(dir.path().join("etc/pve/nodes/pve1/qemu-server/103.conf"))
        .expect("rm 103");
    let root = root(&sim).await;
    ok(root
        .call(
            "POST",
            "/access/roles",
            &[
                ("roleid", "Cloner"),
                ("privs", "VM.Clone,VM.Allocate,VM.Audit"),
            ],
        )
        .await);
    ok(root
        .call(
            "POST",
            "/access/roles",
            &[("roleid", "Maker"), ("privs", "VM.Allocate,VM.Audit")],
        )
        .await);
    let t = token(&root, "teacher1@pve", "portal", "0").await;
    let clone = || t.call("POST", "/nodes/pve1/qemu/9000/clone", &[("newid", "150")]);
    grant(
        &root,
        &[
            ("path", "/vms"),
            ("users", "teacher1@pve"),
            ("roles", "Maker"),
        ],
    )
    .await;
    assert_eq!(
        refused(&clone().await),
        (403, "Permission check failed (/vms/9000, VM.Clone)")
    );
    grant(
        &root,
        &[
            ("path", "/vms"),
            ("users", "teacher1@pve"),
            ("roles", "Cloner"),
        ],
    )
    .await;
    assert_eq!(
        refused(&clone().await),
        (
            403,
            "Permission check failed (/storage/local, Datastore.AllocateSpace)"
        )
    );
    grant(
        &root,
        &[
            ("path", "/storage"),
            ("users", "teacher1@pve"),
            ("roles", "PVEDatastoreUser"),
        ],
    )
    .await;
    let upid = ok(clone().await);
    assert_eq!(
        t.wait_task(upid.as_str().unwrap_or_default()).await["exitstatus"],
        "OK"
    );
}
