//! Proxmox-realm sign-in against pvesim: the role comes only from the cluster's mapped groups
//! (issue 12.1: with no admin group, any Proxmox user used to become a portal admin), follows
//! Proxmox at every sign-in, and a user whose groups cannot be read is told why without it
//! counting as a failed password (issue 12.12).

#[path = "support/world.rs"]
mod world;

use lab::auth::{self, LoginAttempt};
use lab::model::ClusterForm;
use lab::{Error, clusters};
use world::{SimWorld, sim_world};

async fn sign_in(w: &SimWorld, username: &str, password: &str) -> lab::Result<String> {
    auth::login(
        &w.services,
        LoginAttempt {
            username,
            password,
            client_addr: Some("192.0.2.7"),
        },
    )
    .await
    .map(|(user, _)| user.role)
}

/// The cluster's current settings as a form, with the groups changed.
async fn map_groups(w: &SimWorld, admin: &str, teacher: &str, student: &str) {
    let view = clusters::list(&w.services).await.unwrap().remove(0);
    let form = ClusterForm {
        name: view.name,
        api_urls: view.api_urls.join("\n"),
        fingerprint: view.fingerprint.unwrap_or_default(),
        auth_kind: view.auth_kind,
        auth_id: view.auth_id,
        admin_group: admin.into(),
        teacher_group: teacher.into(),
        student_group: student.into(),
        pve_root: view.pve_root,
        storage_paths: view.storage_paths,
        ..Default::default()
    };
    clusters::update(&w.services, w.cluster_id, &form)
        .await
        .unwrap();
}

fn not_in_a_group(result: &lab::Result<String>) -> bool {
    matches!(result, Err(Error::Invalid(m)) if m.contains("not in a Proxmox group"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realm_roles_come_from_the_mapped_groups_only() {
    let w = sim_world(|_| {}).await;
    // No groups mapped (the default, and what every cluster had before): only root@pam.
    assert_eq!(sign_in(&w, "root@pam", "secret").await.unwrap(), "admin");
    for user in ["student1@pve", "teacher1@pve", "portal@pve"] {
        let refused = sign_in(&w, user, "secret").await;
        assert!(not_in_a_group(&refused), "{user}: {refused:?}");
    }
    assert!(matches!(
        sign_in(&w, "student1@pve", "nope").await,
        Err(Error::WrongCredentials)
    ));

    map_groups(&w, "admin", "teachers", "students").await;
    assert_eq!(sign_in(&w, "portal@pve", "secret").await.unwrap(), "admin");
    assert_eq!(
        sign_in(&w, "teacher1@pve", "secret").await.unwrap(),
        "teacher"
    );
    assert_eq!(
        sign_in(&w, "student1@pve", "secret").await.unwrap(),
        "student"
    );
    assert_eq!(sign_in(&w, "root@pam", "secret").await.unwrap(), "admin");

    // Someone in no mapped group is refused, however often, without being throttled: the
    // password was right.
    w.pve_as_root(
        reqwest::Method::POST,
        "access/users",
        &[("userid", "nobody@pve"), ("password", "secret")],
    )
    .await;
    for _ in 0..8 {
        let refused = sign_in(&w, "nobody@pve", "secret").await;
        assert!(not_in_a_group(&refused), "{refused:?}");
    }

    // The role follows Proxmox at the next sign-in, both ways.
    w.pve_as_root(
        reqwest::Method::PUT,
        "access/users/student1@pve",
        &[("groups", "teachers")],
    )
    .await;
    assert_eq!(
        sign_in(&w, "student1@pve", "secret").await.unwrap(),
        "teacher"
    );
    w.pve_as_root(
        reqwest::Method::PUT,
        "access/users/student1@pve",
        &[("groups", "")],
    )
    .await;
    assert!(not_in_a_group(&sign_in(&w, "student1@pve", "secret").await));
    w.pve_as_root(
        reqwest::Method::PUT,
        "access/users/student1@pve",
        &[("groups", "students")],
    )
    .await;
    assert_eq!(
        sign_in(&w, "student1@pve", "secret").await.unwrap(),
        "student"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_groups_are_explained_and_never_count_as_a_wrong_password() {
    let w = sim_world(|_| {}).await;
    map_groups(&w, "admin", "teachers", "students").await;
    // A server that does not answer GET /access/users/{id}: the group is asked instead.
    w.sim.control().fail_path("/access/users", 1, "not here");
    assert_eq!(
        sign_in(&w, "student1@pve", "secret").await.unwrap(),
        "student"
    );
    assert_eq!(w.sim.control().count("GET /access/groups/{groupid}"), 3);

    // Neither answers: a clear message, at WARN, and no failed-password count: ten tries
    // with a policy of five failures per user are never throttled.
    for _ in 0..10 {
        w.sim.control().fail_path("/access/users", 1, "no");
        w.sim.control().fail_path("/access/groups", 1, "no");
        let refused = sign_in(&w, "teacher1@pve", "secret").await;
        assert!(
            matches!(&refused, Err(Error::Unavailable(m)) if m.contains("needs Sys.Audit")),
            "{refused:?}"
        );
    }
    w.sim.control().clear_faults();
    assert_eq!(
        sign_in(&w, "teacher1@pve", "secret").await.unwrap(),
        "teacher"
    );

    // "Test connection" says the same.
    w.sim.control().fail_path("/access/groups", 3, "no");
    let tested = clusters::test(&w.services, w.cluster_id).await.unwrap();
    assert!(
        tested.warnings.iter().any(|m| m.contains("Sys.Audit")),
        "{:?}",
        tested.warnings
    );
}

/// A least-privilege token (privilege separation, no ACL): Proxmox refuses it both the user
/// and the groups (403), so the portal cannot tell a role and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_sys_audit_is_explained() {
    let w = sim_world(|_| {}).await;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let created: serde_json::Value = client
        .post(format!(
            "{}/api2/json/access/users/root@pam/token/limited",
            w.sim.url()
        ))
        .header("Authorization", format!("PVEAPIToken={}", w.sim.token()))
        .form(&[("privsep", "1")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["data"]["value"].as_str().unwrap().to_owned();
    let view = clusters::list(&w.services).await.unwrap().remove(0);
    let form = ClusterForm {
        name: view.name,
        api_urls: view.api_urls.join("\n"),
        fingerprint: view.fingerprint.unwrap_or_default(),
        auth_kind: "token".into(),
        auth_id: "root@pam!limited".into(),
        secret,
        admin_group: "admin".into(),
        teacher_group: "teachers".into(),
        student_group: "students".into(),
        pve_root: view.pve_root,
        storage_paths: view.storage_paths,
        ..Default::default()
    };
    clusters::update(&w.services, w.cluster_id, &form)
        .await
        .unwrap();
    for _ in 0..7 {
        let refused = sign_in(&w, "student1@pve", "secret").await;
        assert!(
            matches!(&refused, Err(Error::Unavailable(m)) if m.contains("needs Sys.Audit")),
            "{refused:?}"
        );
    }
}
