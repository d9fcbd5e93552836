//! Who may use a class's VMs, build from its base and manage it: a class's VMs are its
//! `class_vms` rows (not its VMID block), class bases stay with their classes, and the role
//! is checked before ownership.

use super::{World, settings, world};
use lab::db::entity::{user, vm};
use lab::jobs::run_until_idle;
use lab::model::{Role, VmAction};
use lab::{Error, access, actions, classes, inventory};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::Duration;

/// A deployed class of `students` student VMs owned by `teacher`: (class id, VMID base).
async fn deployed(w: &World, teacher: &user::Model, name: &str, students: u32) -> (i32, i32) {
    let id = classes::launch(&w.services, teacher, &w.form(name, students))
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    sync(w).await;
    let base = classes::detail(&w.services, teacher, id)
        .await
        .unwrap()
        .summary
        .vmid_base;
    (id, base)
}

async fn sync(w: &World) {
    let row = lab::clusters::find(&w.services, w.cluster_id)
        .await
        .unwrap();
    lab::sync::quick::run(&w.services, &row).await.unwrap();
}

async fn status(w: &World, vmid: i32) -> String {
    vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(w.cluster_id))
        .filter(vm::Column::Vmid.eq(vmid))
        .one(&w.services.db)
        .await
        .unwrap()
        .map(|v| v.status)
        .unwrap_or_default()
}

async fn reload(w: &World, u: &user::Model) -> user::Model {
    lab::auth::find_user(&w.services, &u.username)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_vm_in_a_class_block_is_not_the_teachers() {
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let other = w.user("other", Role::Teacher).await;
    let admin = w.user("admin", Role::Admin).await;
    let (_, base) = deployed(&w, &teacher, "Net", 1).await;

    // An admin makes a VM by hand at a free VMID of the class's block, and starts it.
    let stray = base + 50;
    std::fs::write(
        w.root
            .join(format!("etc/pve/nodes/pve1/qemu-server/{stray}.conf")),
        "cores: 1\nmemory: 512\nname: hand-made\nostype: l26\n",
    )
    .unwrap();
    sync(&w).await;
    actions::power(&w.services, &admin, w.cluster_id, stray, VmAction::Start)
        .await
        .unwrap();
    for _ in 0..50 {
        sync(&w).await;
        if status(&w, stray).await == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status(&w, stray).await, "running");

    // The teacher cannot touch it: not found, before any Proxmox call.
    w.sim.control().reset_counters();
    assert!(matches!(
        inventory::usable_vm(&w.services, &teacher, w.cluster_id, stray).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        actions::power(&w.services, &teacher, w.cluster_id, stray, VmAction::Stop).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        lab::console::open(&w.services, &teacher, w.cluster_id, stray).await,
        Err(Error::NotFound(_))
    ));
    assert!(
        w.sim
            .control()
            .counters()
            .keys()
            .all(|k| !k.starts_with("POST")),
        "{:?}",
        w.sim.control().counters()
    );
    assert_eq!(status(&w, stray).await, "running");

    // The class's own VMs stay the teacher's (and only theirs).
    for vmid in [base, base + 1] {
        inventory::usable_vm(&w.services, &teacher, w.cluster_id, vmid)
            .await
            .unwrap();
        assert!(matches!(
            inventory::usable_vm(&w.services, &other, w.cluster_id, vmid).await,
            Err(Error::NotFound(_))
        ));
    }
    // A VMID Proxmox could never have is bad input, for everyone (no arithmetic on it).
    for vmid in [i32::MIN, -1, 0, 99, 1_000_000_000, i32::MAX] {
        for who in [&teacher, &admin] {
            assert!(matches!(
                inventory::usable_vm(&w.services, who, w.cluster_id, vmid).await,
                Err(Error::Invalid(_))
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn class_bases_are_offered_only_to_their_classes_teachers() {
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let other = w.user("other", Role::Teacher).await;
    let co = w.user("co", Role::Teacher).await;
    let admin = w.user("admin", Role::Admin).await;
    let (id, base) = deployed(&w, &teacher, "Web", 1).await;
    let class_base = base + 99;
    let offered = |u: user::Model| {
        let services = w.services.clone();
        async move {
            classes::templates(&services, &u)
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.vmid)
                .collect::<Vec<_>>()
        }
    };
    assert!(offered(admin.clone()).await.contains(&class_base));
    let mine = offered(teacher.clone()).await;
    assert!(
        mine.contains(&9000) && mine.contains(&class_base),
        "{mine:?}"
    );
    let theirs = offered(other.clone()).await;
    assert!(theirs.contains(&9000), "{theirs:?}");
    assert!(!theirs.contains(&class_base), "{theirs:?}");
    classes::add_co_owner(&w.services, &teacher, id, "co")
        .await
        .unwrap();
    assert!(offered(co).await.contains(&class_base));

    // A hand-made request for another teacher's base: not found, at plan and at launch.
    let mut form = w.form("Copy", 1);
    form.template_vmid = class_base.to_string();
    w.sim.control().reset_counters();
    assert!(matches!(
        classes::plan(&w.services, &other, &form).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        classes::launch(&w.services, &other, &form).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        w.sim.control().counters(),
        Default::default(),
        "refused before any Proxmox call"
    );
    assert_eq!(classes::list(&w.services, &other).await.unwrap().len(), 0);
    // Its own teacher may plan next term's class from it.
    let plan = classes::plan(&w.services, &teacher, &form).await.unwrap();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_demoted_to_student_manages_nothing() {
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let co = w.user("co", Role::Teacher).await;
    let (id, base) = deployed(&w, &teacher, "Ops", 2).await;
    classes::add_co_owner(&w.services, &teacher, id, "co")
        .await
        .unwrap();
    let ids = [teacher.id, co.id];
    for uid in ids {
        lab::auth::set_role(&w.services, uid, Role::Student)
            .await
            .unwrap();
    }
    let owner = reload(&w, &teacher).await;
    let co = reload(&w, &co).await;
    let s = &w.services;
    let c = w.cluster_id;
    for who in [&owner, &co] {
        let refused = |r: Result<(), Error>, what: &str| {
            assert!(matches!(r, Err(Error::NotFound(_))), "{what}: {r:?}");
        };
        assert!(matches!(
            classes::detail(s, who, id).await,
            Err(Error::NotFound(_))
        ));
        // Reset: a student VM, and the teacher VM the owner still has.
        refused(classes::request_reset(s, who, c, base + 1).await, "reset");
        refused(classes::request_reset(s, who, c, base).await, "reset P00");
        refused(classes::publish(s, who, id).await, "publish");
        refused(classes::cancel(s, who, id).await, "cancel");
        refused(classes::revoke_invite(s, who, id).await, "revoke");
        refused(
            classes::regenerate_invite(s, who, id, None).await.map(drop),
            "invite",
        );
        refused(classes::add_co_owner(s, who, id, "co").await, "co-owner");
        refused(classes::remove_co_owner(s, who, id, "co").await, "co-owner");
        refused(
            classes::unassign_student(s, who, id, base + 1).await,
            "take",
        );
        refused(
            classes::assign_student(s, who, id, base + 1, "co").await,
            "give",
        );
        refused(classes::add_students(s, who, id, 1).await, "add VMs");
        refused(classes::remove_vm(s, who, id, base + 2).await, "remove");
        refused(classes::respec(s, who, id, Some(2), None).await, "specs");
        refused(classes::set_ssh(s, who, id, true).await, "ssh");
        refused(
            classes::power_all(s, who, id, VmAction::Start)
                .await
                .map(drop),
            "power all",
        );
        refused(classes::delete(s, who, id).await, "delete");
        assert!(!access::manages_vm(s, who, c, base + 1).await.unwrap());
        assert!(matches!(
            inventory::usable_vm(s, who, c, base + 1).await,
            Err(Error::NotFound(_))
        ));
    }
    // Made a teacher again, the owner has the class back.
    lab::auth::set_role(s, teacher.id, Role::Teacher)
        .await
        .unwrap();
    let owner = reload(&w, &teacher).await;
    classes::detail(s, &owner, id).await.unwrap();
    classes::request_reset(s, &owner, c, base + 1)
        .await
        .unwrap();
}
