//! "Test connection" against pvesim with least-privilege tokens made the way the README says
//! (issue 14, "Permissions instead of root"): the README's role gives no privilege warning,
//! the same role without `VM.Clone` gives exactly the clone warning, and an unreadable
//! `/access/permissions` is a warning, not a failed test.

#[path = "support/world.rs"]
mod world;

use lab::clusters;
use lab::model::{ClusterForm, ClusterTest};
use world::{SimWorld, sim_world};

/// The privileges of the README's `pveum role add ProxlabPortal --privs "…"`.
fn readme_privs() -> Vec<String> {
    let readme = include_str!("../../../README.md");
    let (_, rest) = readme
        .split_once("pveum role add ProxlabPortal --privs \"")
        .expect("the README has the role recipe");
    let (privs, _) = rest.split_once('"').unwrap();
    privs.split(',').map(str::to_owned).collect()
}

/// A role with `privs` given on `/` to `proxlab@pve` and to a new privilege-separated token
/// of it (both, as the README says); returns the token's id and secret.
async fn token_with(w: &SimWorld, role: &str, privs: &[String], token: &str) -> (String, String) {
    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;
    w.pve_as_root(
        post.clone(),
        "access/roles",
        &[("roleid", role), ("privs", &privs.join(","))],
    )
    .await;
    let users = w
        .pve_as_root(reqwest::Method::GET, "access/users", &[])
        .await;
    let exists = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["userid"] == "proxlab@pve");
    if !exists {
        w.pve_as_root(post.clone(), "access/users", &[("userid", "proxlab@pve")])
            .await;
    }
    let created = w
        .pve_as_root(
            post,
            &format!("access/users/proxlab@pve/token/{token}"),
            &[("privsep", "1")],
        )
        .await;
    let id = format!("proxlab@pve!{token}");
    w.pve_as_root(
        put.clone(),
        "access/acl",
        &[("path", "/"), ("users", "proxlab@pve"), ("roles", role)],
    )
    .await;
    w.pve_as_root(
        put,
        "access/acl",
        &[("path", "/"), ("tokens", &id), ("roles", role)],
    )
    .await;
    (id, created["data"]["value"].as_str().unwrap().to_owned())
}

/// "Test connection" of an unsaved form with this token and the groups mapped.
async fn test_token(w: &SimWorld, id: &str, secret: &str) -> ClusterTest {
    let view = clusters::list(&w.services).await.unwrap().remove(0);
    let form = ClusterForm {
        name: "least".into(),
        api_urls: view.api_urls.join("\n"),
        fingerprint: view.fingerprint.unwrap_or_default(),
        auth_kind: "token".into(),
        auth_id: id.into(),
        secret: secret.into(),
        admin_group: "admin".into(),
        teacher_group: "teachers".into(),
        student_group: "students".into(),
        ..Default::default()
    };
    clusters::test_form(&form).await.unwrap()
}

fn privilege_warnings(t: &ClusterTest) -> Vec<&String> {
    t.warnings
        .iter()
        .filter(|w| w.contains(" lacks "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_vm_clone_is_told_that_classes_break() {
    let w = sim_world(|_| {}).await;
    let all = readme_privs();
    assert!(all.iter().any(|p| p == "VM.Clone"), "{all:?}");
    let (id, secret) = token_with(&w, "ProxlabPortal", &all, "portal").await;
    let full = test_token(&w, &id, &secret).await;
    assert!(full.warnings.is_empty(), "{:?}", full.warnings);
    assert!(full.guests > 0, "VM.Audit lets it see the guests");

    let no_clone: Vec<String> = all.iter().filter(|p| *p != "VM.Clone").cloned().collect();
    let (id, secret) = token_with(&w, "NoClone", &no_clone, "noclone").await;
    let tested = test_token(&w, &id, &secret).await;
    assert_eq!(
        privilege_warnings(&tested),
        ["The token lacks VM.Clone on /vms: teachers cannot make classes (Proxmox clones)."],
        "{:?}",
        tested.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_token_is_told_every_feature_and_an_unreadable_answer_is_a_warning() {
    let w = sim_world(|_| {}).await;
    let (id, secret) = token_with(&w, "Nothing", &["VM.Audit".to_string()], "bare").await;
    let tested = test_token(&w, &id, &secret).await;
    let lacks = privilege_warnings(&tested);
    assert_eq!(lacks.len(), 8, "{:?}", tested.warnings);
    assert!(
        lacks
            .iter()
            .any(|m| m.contains("Datastore.AllocateTemplate, Datastore.Allocate on /storage")),
        "{lacks:?}"
    );
    assert!(
        lacks
            .iter()
            .any(|m| m.contains("Sys.Audit or Group.Allocate on /access/groups")),
        "{lacks:?}"
    );
    assert!(lacks.iter().all(|m| !m.contains("VM.Audit")), "{lacks:?}");

    w.sim
        .control()
        .fail_path("/access/permissions", 1, "not here");
    let tested = clusters::test(&w.services, w.cluster_id).await.unwrap();
    assert_eq!(tested.warnings.len(), 2, "{:?}", tested.warnings);
    assert!(
        tested.warnings[0].starts_with("No admin group"),
        "{:?}",
        tested.warnings
    );
    assert!(
        tested.warnings[1]
            .starts_with("Cannot read what the token may do (GET /access/permissions"),
        "{:?}",
        tested.warnings
    );
}

/// Points the world's cluster at another token (and at no pmxcfs: no node shell).
async fn use_token(w: &SimWorld, id: &str, secret: &str) {
    let view = clusters::list(&w.services).await.unwrap().remove(0);
    let form = ClusterForm {
        name: view.name.clone(),
        api_urls: view.api_urls.join("\n"),
        fingerprint: view.fingerprint.unwrap_or_default(),
        auth_kind: "token".into(),
        auth_id: id.into(),
        secret: secret.into(),
        pve_root: "/nonexistent/etc/pve".into(),
        ..Default::default()
    };
    clusters::update(&w.services, w.cluster_id, &form)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_role_makes_a_class_on_local_lvm_and_without_vm_clone_proxmox_says_why() {
    let w = world::sim_world_with(None, |c| c.template_storage = "local-lvm".into(), |_| {}).await;
    let teacher = world::make_user(&w.services, "teacher", lab::model::Role::Teacher).await;
    let form = lab::model::ClassForm {
        name: "Least".into(),
        cluster_id: w.cluster_id,
        template_vmid: "9000".into(),
        students: "1".into(),
        ..Default::default()
    };
    let settings = lab::jobs::JobSettings {
        lease_secs: 60,
        ..Default::default()
    };
    let rows = |id: i32| {
        let db = w.services.db.clone();
        async move {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            lab::db::entity::class_vm::Entity::find()
                .filter(lab::db::entity::class_vm::Column::ClassId.eq(id))
                .all(&db)
                .await
                .unwrap()
        }
    };

    let (id, secret) = token_with(&w, "ProxlabPortal", &readme_privs(), "portal").await;
    use_token(&w, &id, &secret).await;
    let class = lab::classes::launch(&w.services, &teacher, &form)
        .await
        .unwrap();
    lab::jobs::run_until_idle(&w.services, &settings)
        .await
        .unwrap();
    for r in rows(class).await {
        assert_eq!(r.step, lab::model::VmStep::Ready, "{r:?}");
    }

    let no_clone: Vec<String> = readme_privs()
        .into_iter()
        .filter(|p| p != "VM.Clone")
        .collect();
    let (id, secret) = token_with(&w, "NoClone", &no_clone, "noclone").await;
    use_token(&w, &id, &secret).await;
    let form = lab::model::ClassForm {
        name: "Refused".into(),
        ..form
    };
    let class = lab::classes::launch(&w.services, &teacher, &form)
        .await
        .unwrap();
    lab::jobs::run_until_idle(&w.services, &settings)
        .await
        .unwrap();
    let base = rows(class)
        .await
        .into_iter()
        .find(|r| r.role == lab::model::VmRole::Base)
        .unwrap();
    assert_eq!(base.step, lab::model::VmStep::Failed);
    let error = base.error.unwrap_or_default();
    assert!(
        error.contains("Permission check failed") && error.contains("VM.Clone"),
        "{error}"
    );
}
