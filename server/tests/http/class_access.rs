//! A class over HTTP once its owner is demoted to student: the role is checked before
//! ownership, so the class page and its functions refuse them like any student.

use super::*;
use lab::db::entity::{class, class_vm};
use sea_orm::{ActiveModelTrait, Set};

/// A ready class of `owner` on `cluster`, block 100: 100 the teacher's VM, 101 a student's.
async fn ready_class(s: &Server, cluster: i32, owner: i32) -> i32 {
    let db = &s.services.db;
    let c = class::ActiveModel {
        name: Set("Routing 201".into()),
        description: Set(String::new()),
        cluster_id: Set(cluster),
        owner_id: Set(owner),
        vmid_base: Set(100),
        students: Set(1),
        storage: Set("local".into()),
        state: Set("ready".into()),
        export_paths: Set(String::new()),
        created_at: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    for (vmid, role) in [
        (100, lab::model::VmRole::Teacher),
        (101, lab::model::VmRole::Student),
    ] {
        class_vm::ActiveModel {
            class_id: Set(c.id),
            cluster_id: Set(cluster),
            vmid: Set(vmid),
            role: Set(role),
            name: Set(format!("vm-{vmid}")),
            node: Set("pve1".into()),
            step: Set(lab::model::VmStep::Ready),
            attempts: Set(0),
            macs: Set(String::new()),
            disks: Set(String::new()),
            updated_at: Set(0),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    c.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_demoted_to_student_is_refused_their_class() {
    let (s, _sim, _dir, cluster) = start_with_cluster().await;
    let owner = s.add_user("tess", Role::Teacher).await;
    s.add_user("ada", Role::Admin).await;
    let id = ready_class(&s, cluster, owner).await;
    let tess = s.login("tess").await;
    let admin = s.login("ada").await;
    let page = format!("/classes/{id}");
    let shown = s.get(&page, Some(&tess)).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("Routing 201"), "{}", shown.body);

    let demoted = s
        .post(
            "/api/admin/users/role",
            Some(&admin),
            &[("user_id", &owner.to_string()), ("role", "student")],
        )
        .await;
    assert_eq!(demoted.status, 200, "{}", demoted.body);

    let cluster = cluster.to_string();
    for vmid in ["101", "100"] {
        let r = s
            .post(
                "/api/classes/reset",
                Some(&tess),
                &[("cluster_id", &cluster), ("vmid", vmid)],
            )
            .await;
        assert_eq!(r.status, 404, "reset {vmid}: {}", r.body);
    }
    let id = id.to_string();
    for (path, form) in [
        ("/api/classes/detail", vec![("id", id.as_str())]),
        ("/api/classes/invite/revoke", vec![("id", id.as_str())]),
        ("/api/classes/publish", vec![("id", &id), ("confirm", "on")]),
        ("/api/classes/delete", vec![("id", &id), ("confirm", "on")]),
    ] {
        let r = s.post(path, Some(&tess), &form).await;
        assert!(
            matches!(r.status.as_u16(), 403 | 404),
            "{path}: {} {}",
            r.status,
            r.body
        );
    }
    // A student is refused every teacher page alike (403), whatever the class id.
    let refused = s.get(&page, Some(&tess)).await;
    assert_eq!(refused.status, 403);
    assert!(!refused.body.contains("Routing 201"), "{}", refused.body);
    assert_eq!(
        lab::classes::detail(&s.services, &lab_user(&s, "ada").await, id.parse().unwrap())
            .await
            .unwrap()
            .summary
            .state,
        "ready",
        "nothing was queued"
    );
}

async fn lab_user(s: &Server, name: &str) -> lab::db::entity::user::Model {
    lab::auth::find_user(&s.services, name)
        .await
        .unwrap()
        .unwrap()
}
