//! Snapshots against pvesim: on a stock-looking cluster (LVM-thin, an API token, Proxmox
//! clones) students and teachers take, roll back and delete snapshots (with RAM and
//! without) as jobs, within the class's limit, and nobody else can; a snapshot made outside
//! the portal shows after a refresh; a runner killed at any point of a take leaves exactly
//! one snapshot; a reset takes the snapshots with it, on a cloned VM and on an overlay VM
//! (whose snapshots are deleted in Proxmox before its disks are replaced).

#[path = "support/world.rs"]
mod world;

use lab::db::entity::{job, user, vm};
use lab::jobs::{
    FaultAction, FaultPoint, Faults, JobSettings, run_until_idle, run_until_idle_with,
};
use lab::model::{JobState, Role, SnapshotPage, VmAction};
use lab::pve::{Client, GuestKind};
use lab::{Error, Services, actions, classes, clusters, snapshots};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use world::{SimWorld, class_with_students, crash_runner_at, make_user, sim_world, sim_world_with};

fn settings() -> JobSettings {
    world::job_settings()
}

struct Lab {
    w: SimWorld,
    class_id: i32,
    teacher: user::Model,
    /// (student, their VMID), in VMID order.
    students: Vec<(user::Model, i32)>,
}

/// A class of `students` VMs, every student joined. `stock`: LVM-thin and Proxmox clones
/// (else file storage and overlays made on this host).
async fn lab(students: u32, stock: bool) -> Lab {
    let w = if stock {
        sim_world_with(
            None,
            |_| {},
            |form| form.pve_root = "/nonexistent/etc/pve".into(),
        )
        .await
    } else {
        sim_world(|_| {}).await
    };
    let teacher = make_user(&w.services, "teacher", Role::Teacher).await;
    let (class_id, joined) = class_with_students(&w, &teacher, "Snapshots", students).await;
    let l = Lab {
        w,
        class_id,
        teacher,
        students: joined,
    };
    l.sync().await;
    l
}

impl Lab {
    fn services(&self) -> &Services {
        &self.w.services
    }

    async fn sync(&self) {
        let cluster = clusters::find(self.services(), self.w.cluster_id)
            .await
            .unwrap();
        lab::sync::quick::run(self.services(), &cluster)
            .await
            .unwrap();
    }

    async fn client(&self) -> Client {
        let cluster = clusters::find(self.services(), self.w.cluster_id)
            .await
            .unwrap();
        clusters::client(self.services(), &cluster).unwrap()
    }

    async fn vm(&self, vmid: i32) -> vm::Model {
        vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(self.w.cluster_id))
            .filter(vm::Column::Vmid.eq(vmid))
            .one(&self.services().db)
            .await
            .unwrap()
            .unwrap()
    }

    async fn page(&self, who: &user::Model, vmid: i32) -> lab::Result<SnapshotPage> {
        snapshots::page(self.services(), who, self.w.cluster_id, vmid).await
    }

    /// Snapshot names on the page, oldest first.
    async fn names(&self, vmid: i32) -> Vec<String> {
        let p = self.page(&self.teacher, vmid).await.unwrap();
        p.snapshots.into_iter().map(|s| s.name).collect()
    }

    /// Snapshot names in Proxmox (without `current`).
    async fn in_proxmox(&self, vmid: i32) -> Vec<String> {
        let node = self.vm(vmid).await.node;
        let mut names: Vec<String> = self
            .client()
            .await
            .snapshots(&node, GuestKind::Qemu, vmid as u32)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .filter(|n| n != "current")
            .collect();
        names.sort();
        names
    }

    async fn take(&self, who: &user::Model, vmid: i32, name: &str, ram: bool) -> lab::Result<i32> {
        snapshots::take(
            self.services(),
            who,
            self.w.cluster_id,
            vmid,
            name,
            "before the lab",
            ram,
        )
        .await
    }

    /// Runs the queued jobs; the last snapshot job of the VM must end as `want`.
    async fn run(&self, vmid: i32, want: JobState) -> job::Model {
        run_until_idle(self.services(), &settings()).await.unwrap();
        let p = self.page(&self.teacher, vmid).await.unwrap();
        let last = p.jobs.first().expect("a snapshot job");
        assert_eq!(last.state, want, "{last:?}");
        job::Entity::find_by_id(last.id)
            .one(&self.services().db)
            .await
            .unwrap()
            .unwrap()
    }

    async fn start(&self, who: &user::Model, vmid: i32) {
        actions::power(
            self.services(),
            who,
            self.w.cluster_id,
            vmid,
            VmAction::Start,
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await; // pvesim's start task
        self.sync().await;
    }
}

#[tokio::test]
async fn students_and_teachers_take_roll_back_and_delete_within_the_class_limit() {
    let l = lab(2, true).await;
    let (alice, a_vm) = l.students[0].clone();
    let (bob, b_vm) = l.students[1].clone();
    let t = &l.teacher;

    // Off by default: the student sees the page but may not change anything.
    let p = l.page(&alice, a_vm).await.unwrap();
    assert!(!p.may_change && !p.manager && p.snapshots.is_empty());
    assert!(matches!(
        l.take(&alice, a_vm, "first", false).await,
        Err(Error::Invalid(m)) if m.contains("not allowed")
    ));
    // Nobody else sees it: another student, a teacher of no class of it.
    let stranger = make_user(l.services(), "stranger", Role::Teacher).await;
    for who in [&bob, &stranger] {
        assert!(matches!(l.page(who, a_vm).await, Err(Error::NotFound(_))));
        assert!(matches!(
            l.take(who, a_vm, "sneaky", false).await,
            Err(Error::NotFound(_))
        ));
    }
    // Only the class's teachers set the limit, within bounds.
    assert!(matches!(
        snapshots::set_student_limit(l.services(), &alice, l.class_id, 2).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        snapshots::set_student_limit(l.services(), t, l.class_id, 11).await,
        Err(Error::Invalid(_))
    ));
    snapshots::set_student_limit(l.services(), t, l.class_id, 2)
        .await
        .unwrap();

    // Bad names change nothing.
    for bad in ["1st", "a", "with space", "current", "x;reboot"] {
        assert!(
            matches!(
                l.take(&alice, a_vm, bad, false).await,
                Err(Error::Invalid(_))
            ),
            "{bad}"
        );
    }
    assert!(l.page(&alice, a_vm).await.unwrap().jobs.is_empty());

    // With RAM, while running: one job; a second request meanwhile is refused.
    l.start(&alice, a_vm).await;
    l.take(&alice, a_vm, "before-lab", true).await.unwrap();
    assert!(matches!(
        l.take(&alice, a_vm, "again", false).await,
        Err(Error::Conflict(m)) if m.contains("under way")
    ));
    l.run(a_vm, JobState::Done).await;
    let p = l.page(&alice, a_vm).await.unwrap();
    assert_eq!(p.snapshots.len(), 1);
    let s = &p.snapshots[0];
    assert_eq!(
        (s.name.as_str(), s.vmstate, s.current, s.taken_by.as_deref()),
        ("before-lab", true, true, Some("student0"))
    );
    assert_eq!(s.description, "before the lab");
    assert_eq!(l.in_proxmox(a_vm).await, ["before-lab"]);
    assert!(matches!(
        l.take(&alice, a_vm, "Before-Lab", false).await,
        Err(Error::Conflict(_))
    ));

    // A second one without RAM; then the limit holds for the student, not for the teacher.
    l.take(&alice, a_vm, "second", false).await.unwrap();
    l.run(a_vm, JobState::Done).await;
    assert!(matches!(
        l.take(&alice, a_vm, "third", false).await,
        Err(Error::Conflict(m)) if m.contains("2 of 2")
    ));
    l.take(t, a_vm, "teacher-copy", false).await.unwrap();
    l.run(a_vm, JobState::Done).await;
    assert_eq!(
        l.names(a_vm).await,
        ["before-lab", "second", "teacher-copy"]
    );

    // Rolling back to a snapshot without RAM stops the running VM ...
    snapshots::rollback(l.services(), &alice, l.w.cluster_id, a_vm, "second")
        .await
        .unwrap();
    l.run(a_vm, JobState::Done).await;
    l.sync().await;
    assert_eq!(l.vm(a_vm).await.status, "stopped");
    let p = l.page(&alice, a_vm).await.unwrap();
    let current: Vec<&str> = p
        .snapshots
        .iter()
        .filter(|s| s.current)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(current, ["second"]);
    // ... and to one with RAM resumes it.
    snapshots::rollback(l.services(), &alice, l.w.cluster_id, a_vm, "before-lab")
        .await
        .unwrap();
    l.run(a_vm, JobState::Done).await;
    l.sync().await;
    assert_eq!(l.vm(a_vm).await.status, "running");

    // Delete; an unknown snapshot is "not found" and queues nothing.
    snapshots::delete(l.services(), &alice, l.w.cluster_id, a_vm, "second")
        .await
        .unwrap();
    l.run(a_vm, JobState::Done).await;
    assert_eq!(l.names(a_vm).await, ["before-lab", "teacher-copy"]);
    assert_eq!(l.in_proxmox(a_vm).await, ["before-lab", "teacher-copy"]);
    let jobs_before = l.page(t, a_vm).await.unwrap().jobs.len();
    assert!(matches!(
        snapshots::delete(l.services(), &alice, l.w.cluster_id, a_vm, "second").await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(l.page(t, a_vm).await.unwrap().jobs.len(), jobs_before);

    // The class allows none any more: the student keeps what they have but changes nothing.
    snapshots::set_student_limit(l.services(), t, l.class_id, 0)
        .await
        .unwrap();
    assert!(matches!(
        snapshots::delete(l.services(), &alice, l.w.cluster_id, a_vm, "before-lab").await,
        Err(Error::Invalid(_))
    ));
    assert_eq!(l.page(&alice, a_vm).await.unwrap().snapshots.len(), 2);

    // A snapshot made in Proxmox directly shows after a refresh.
    let node = l.vm(b_vm).await.node;
    let upid = l
        .client()
        .await
        .take_snapshot(
            &node,
            GuestKind::Qemu,
            b_vm as u32,
            "made-in-pve",
            "",
            false,
        )
        .await
        .unwrap();
    l.client()
        .await
        .wait_task(&node, &upid, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(l.names(b_vm).await.is_empty());
    snapshots::refresh(l.services(), &bob, l.w.cluster_id, b_vm)
        .await
        .unwrap();
    l.run(b_vm, JobState::Done).await;
    let p = l.page(&bob, b_vm).await.unwrap();
    assert_eq!(p.snapshots.len(), 1);
    assert_eq!(p.snapshots[0].taken_by, None);

    // Proxmox refuses (a name taken meanwhile outside the portal is fine: the job sees it
    // exists; a rollback of a snapshot deleted outside the portal fails with the reason).
    let upid = l
        .client()
        .await
        .delete_snapshot(&node, GuestKind::Qemu, b_vm as u32, "made-in-pve", false)
        .await
        .unwrap();
    l.client()
        .await
        .wait_task(&node, &upid, Duration::from_secs(10))
        .await
        .unwrap();
    snapshots::rollback(l.services(), t, l.w.cluster_id, b_vm, "made-in-pve")
        .await
        .unwrap();
    let failed = l.run(b_vm, JobState::Failed).await;
    assert!(
        failed.error.as_deref().unwrap_or("").contains("gone"),
        "{failed:?}"
    );
    assert!(
        l.names(b_vm).await.is_empty(),
        "the list is Proxmox's again"
    );

    // A reset re-clones the VM: its snapshots are gone, here and in Proxmox.
    classes::request_reset(l.services(), &alice, l.w.cluster_id, a_vm)
        .await
        .unwrap();
    run_until_idle(l.services(), &settings()).await.unwrap();
    assert!(l.names(a_vm).await.is_empty());
    assert!(l.in_proxmox(a_vm).await.is_empty());
}

#[tokio::test]
async fn a_runner_killed_anywhere_in_a_take_leaves_exactly_one_snapshot() {
    let l = lab(1, true).await;
    let (alice, vm) = l.students[0].clone();
    snapshots::set_student_limit(l.services(), &l.teacher, l.class_id, 10)
        .await
        .unwrap();
    // A clean take lists its crash points.
    let points: Arc<Mutex<Vec<FaultPoint>>> = Arc::default();
    let seen = points.clone();
    l.take(&alice, vm, "clean", false).await.unwrap();
    let faults = Faults::new(move |p| {
        seen.lock().unwrap().push(p.clone());
        FaultAction::Go
    });
    run_until_idle_with(l.services(), &settings(), faults)
        .await
        .unwrap();
    let total = points.lock().unwrap().len();
    let labels: Vec<&str> = points.lock().unwrap().iter().map(|p| p.label).collect();
    assert_eq!(
        labels,
        ["snapshot act", "snapshot list"],
        "before the act, after it"
    );
    for k in 0..total {
        let name = format!("crash-{k}");
        l.take(&alice, vm, &name, false).await.unwrap();
        let at = crash_runner_at(&l.w, k, &settings()).await;
        // The dead runner's lease runs out; a new runner resumes the job.
        job::Entity::update_many()
            .col_expr(job::Column::LeaseUntil, Expr::value(0i64))
            .filter(job::Column::LeaseUntil.is_not_null())
            .exec(&l.services().db)
            .await
            .unwrap();
        let done = l.run(vm, JobState::Done).await;
        assert_eq!(done.attempts, 2, "crash at {at:?}");
        let in_pve = l.in_proxmox(vm).await;
        assert_eq!(
            in_pve.iter().filter(|n| **n == name).count(),
            1,
            "crash at {at:?}"
        );
        let names = l.names(vm).await;
        assert!(names.contains(&name), "crash at {at:?}: {names:?}");
        assert_eq!(names.len(), in_pve.len(), "crash at {at:?}");
    }
}

#[tokio::test]
async fn resetting_an_overlay_vm_deletes_its_snapshots_in_proxmox_first() {
    let l = lab(1, false).await;
    let (alice, vm) = l.students[0].clone();
    snapshots::set_student_limit(l.services(), &l.teacher, l.class_id, 1)
        .await
        .unwrap();
    l.take(&alice, vm, "mine", false).await.unwrap();
    l.run(vm, JobState::Done).await;
    assert_eq!(l.in_proxmox(vm).await, ["mine"]);
    classes::request_reset(l.services(), &alice, l.w.cluster_id, vm)
        .await
        .unwrap();
    run_until_idle(l.services(), &settings()).await.unwrap();
    assert!(l.in_proxmox(vm).await.is_empty());
    assert!(l.names(vm).await.is_empty());
    let conf = std::fs::read_to_string(
        l.w.root
            .join(format!("etc/pve/nodes/pve1/qemu-server/{vm}.conf")),
    )
    .unwrap();
    assert!(
        !conf.contains("[mine]") && !conf.contains("parent:"),
        "{conf}"
    );
}
