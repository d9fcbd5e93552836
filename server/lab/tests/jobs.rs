//! The job engine against real parts: pvesim sharing its root folder with the node
//! operations, real `qemu-img`, a real SQLite file (and PostgreSQL for the migration).
//!
//! Asserted: rows written by the previous schema read back as typed values; a runner killed
//! at every crash point of a deployment resumes to exactly the requested VMs with their disks
//! on record and nothing on the node that no row names; a runner that stalls past its lease
//! changes nothing (files, rows, Proxmox) once another runner took over; jobs of different
//! classes run at once, jobs of one class in order, urgent work first.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/world.rs"]
mod world;

use lab::db::entity::{class, class_vm, cluster, job, user};
use lab::jobs::{
    FaultAction, FaultPoint, Faults, JobSettings, run_until_idle, run_until_idle_with,
};
use lab::model::{ClassForm, JobKind, JobState, Role, VmRole, VmStep};
use lab::{Services, classes};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use sea_orm_migration::MigratorTrait;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use world::{SimWorld, crash_runner_at, make_user, sim_world, sim_world_on};

/// Runs one behaviour on a SQLite file and on a fresh PostgreSQL database.
macro_rules! on_both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(super::sim_world(|_| {}).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(url) = super::postgres::fresh_database_url().await {
                    super::$body(super::sim_world_on(Some(url), |_| {}).await).await;
                }
            }
        }
    };
}

/// A lease far longer than any test step: on a loaded machine (CI builds beside the tests)
/// a heartbeat can be starved for a second, and a lapsed lease hands the job to a second run,
/// which would change the counts these tests check. Tests that need a lease to run out say so.
fn settings(workers: usize) -> JobSettings {
    JobSettings {
        workers,
        per_node: 2,
        attempts: 2,
        lease_secs: 60,
    }
}

async fn launch(w: &SimWorld, teacher: &user::Model, name: &str, students: u32) -> i32 {
    let form = ClassForm {
        name: name.into(),
        cluster_id: w.cluster_id,
        template_vmid: "9000".into(),
        students: students.to_string(),
        invite_days: "7".into(),
        ..ClassForm::default()
    };
    classes::launch(&w.services, teacher, &form).await.unwrap()
}

async fn jobs_of(services: &Services, class_id: i32) -> Vec<job::Model> {
    job::Entity::find()
        .filter(job::Column::ClassId.eq(class_id))
        .all(&services.db)
        .await
        .unwrap()
}

/// Lets every lease run out now, as time would after a runner died.
async fn expire_leases(services: &Services) {
    job::Entity::update_many()
        .col_expr(job::Column::LeaseUntil, Expr::value(0i64))
        .filter(job::Column::LeaseUntil.is_not_null())
        .exec(&services.db)
        .await
        .unwrap();
}

/// The class ended with exactly its VMs: every row ready with its disks on record, every
/// file of its VMID block named by a row (config, disk) or by the class (export), nothing
/// half-made.
async fn assert_exactly_the_requested_vms(w: &SimWorld, class_id: i32, vms: usize) {
    let c = class::Entity::find_by_id(class_id)
        .one(&w.services.db)
        .await
        .unwrap()
        .unwrap();
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .all(&w.services.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), vms);
    assert_eq!(c.state, "ready", "{c:?}");
    let mut named: Vec<String> = c.export_paths.lines().map(str::to_owned).collect();
    for r in &rows {
        assert_eq!(r.step, VmStep::Ready, "{r:?}");
        assert!(!r.disks.is_empty(), "disks on record: {r:?}");
        named.push(format!("/{}.conf", r.vmid));
        for pair in r.disks.split(',') {
            let volid = pair.split_once('=').unwrap().1;
            // local:123/vm-123-disk-0.qcow2 → images/123/vm-123-disk-0.qcow2
            let (_, rel) = volid.split_once(':').unwrap();
            let on_disk = w.root.join("var/lib/vz/images").join(rel);
            assert!(on_disk.exists(), "{} of {r:?}", on_disk.display());
            named.push(format!("/images/{rel}"));
        }
    }
    for f in w.files_of_block(c.vmid_base) {
        let s = f.display().to_string();
        assert!(
            named.iter().any(|n| s.ends_with(n.as_str()) || s == *n),
            "{s} is on the node but no row names it"
        );
        assert!(!s.ends_with(".part") && !s.ends_with(".tmp"), "{s}");
    }
}

on_both!(
    a_crash_at_every_point_of_a_deployment_resumes_to_exactly_the_requested_vms,
    crash_points
);

async fn crash_points(w: SimWorld) {
    let teacher = make_user(&w.services, "teacher", Role::Teacher).await;
    // A clean run lists the points: before every write and every node command.
    let points: Arc<Mutex<Vec<FaultPoint>>> = Arc::default();
    let seen = points.clone();
    let clean = launch(&w, &teacher, "Clean", 2).await;
    let faults = Faults::new(move |p| {
        seen.lock().unwrap().push(p.clone());
        FaultAction::Go
    });
    run_until_idle_with(&w.services, &settings(1), faults)
        .await
        .unwrap();
    assert_exactly_the_requested_vms(&w, clean, 4).await;
    let total = points.lock().unwrap().len();
    println!("{total} crash points in a 4-VM deployment");
    let writes = points.lock().unwrap().iter().filter(|p| p.write).count();
    // Per VM: start, "creating", the node step, "ready"; plus the export and the end.
    assert!(total >= 4 * 4 + 4, "{:?}", points.lock().unwrap());
    assert!(writes >= 4 * 2 + 2);

    // The lease outlives the test's steps: only `expire_leases` ends it.
    let long_lease = settings(1);
    for k in 0..total {
        let id = launch(&w, &teacher, &format!("Crash {k}"), 2).await;
        let at = crash_runner_at(&w, k, &long_lease).await;
        let job = &jobs_of(&w.services, id).await[0];
        assert_eq!(
            job.state,
            JobState::Running,
            "the dead runner left it at {at:?}"
        );
        assert!(job.lease_owner.is_some(), "and its lease");
        // A new runner waits for the lease; once it runs out, it resumes the job.
        assert_eq!(run_until_idle(&w.services, &long_lease).await.unwrap(), 0);
        expire_leases(&w.services).await;
        assert_eq!(run_until_idle(&w.services, &long_lease).await.unwrap(), 1);
        let job = &jobs_of(&w.services, id).await[0];
        assert_eq!(job.state, JobState::Done, "crash at {at:?}: {job:?}");
        assert_eq!(job.attempts, 2);
        assert_exactly_the_requested_vms(&w, id, 4).await;
    }
}

/// Files with their size and modification time: any node command that made or changed
/// something shows here.
fn snapshot_files(w: &SimWorld) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    w.all_files()
        .into_iter()
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?;
            Some((p, (m.len(), m.modified().ok()?)))
        })
        .collect()
}

async fn snapshot_rows(db: &DatabaseConnection) -> (Vec<class_vm::Model>, Vec<job::Model>) {
    (
        class_vm::Entity::find()
            .order_by_asc(class_vm::Column::Id)
            .all(db)
            .await
            .unwrap(),
        job::Entity::find()
            .order_by_asc(job::Column::Id)
            .all(db)
            .await
            .unwrap(),
    )
}

on_both!(
    a_runner_that_stalls_past_its_lease_changes_nothing_after_another_took_over,
    stalled_runner
);

async fn stalled_runner(w: SimWorld) {
    let teacher = make_user(&w.services, "teacher", Role::Teacher).await;
    let id = launch(&w, &teacher, "Fenced", 3).await;
    // Runner A freezes (heartbeat too) before its first VM step, far past its 1 s lease.
    let (began_tx, began_rx) = tokio::sync::oneshot::channel();
    let began = Mutex::new(Some(began_tx));
    let after_stall: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let stalled = Arc::new(AtomicBool::new(false));
    let (after, stalled2) = (after_stall.clone(), stalled.clone());
    let faults = Faults::new(move |p| {
        if stalled2.load(Ordering::SeqCst) {
            after.lock().unwrap().push(p.label);
            return FaultAction::Go;
        }
        if p.label == "make vm" {
            stalled2.store(true, Ordering::SeqCst);
            if let Some(tx) = began.lock().unwrap().take() {
                let _ = tx.send(());
            }
            return FaultAction::Stall(Duration::from_secs(6));
        }
        FaultAction::Go
    });
    let a = {
        let services = w.services.clone();
        let short_lease = JobSettings {
            lease_secs: 1,
            ..settings(1)
        };
        tokio::spawn(async move { run_until_idle_with(&services, &short_lease, faults).await })
    };
    began_rx.await.unwrap();
    // Runner B takes the job over once A's lease ran out, and finishes it.
    let b_started = std::time::Instant::now();
    loop {
        run_until_idle(&w.services, &settings(1)).await.unwrap();
        if jobs_of(&w.services, id).await[0].state == JobState::Done {
            break;
        }
        assert!(b_started.elapsed() < Duration::from_secs(5), "B took over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!a.is_finished(), "A is still frozen");
    assert_exactly_the_requested_vms(&w, id, 5).await;
    let files = snapshot_files(&w);
    let rows = snapshot_rows(&w.services.db).await;
    let calls = w.sim.control().counters();

    // A wakes up: it must notice at its next write or command and stop.
    a.await.unwrap().unwrap();
    assert!(
        !after_stall.lock().unwrap().is_empty(),
        "A went on after the stall (and was stopped by the fence)"
    );
    assert_eq!(
        snapshot_files(&w),
        files,
        "no node command of A changed a file"
    );
    assert_eq!(
        snapshot_rows(&w.services.db).await,
        rows,
        "no row change by A"
    );
    assert_eq!(w.sim.control().counters(), calls, "no Proxmox call by A");
    let job = &jobs_of(&w.services, id).await[0];
    assert_eq!((job.state, job.attempts), (JobState::Done, 2));
    assert!(job.lease_owner.is_none());
}

/// The order in which jobs reached their points: (sequence number, job id).
fn recorder() -> (Faults, Arc<Mutex<Vec<i32>>>) {
    let order: Arc<Mutex<Vec<i32>>> = Arc::default();
    let seen = order.clone();
    let faults = Faults::new(move |p| {
        seen.lock().unwrap().push(p.job_id);
        FaultAction::Go
    });
    (faults, order)
}

fn span(order: &[i32], job: i32) -> (usize, usize) {
    let first = order.iter().position(|j| *j == job).unwrap();
    let last = order.iter().rposition(|j| *j == job).unwrap();
    (first, last)
}

on_both!(
    classes_run_side_by_side_jobs_of_a_class_in_order_and_urgent_work_first,
    side_by_side
);

async fn side_by_side(w: SimWorld) {
    let teacher = make_user(&w.services, "teacher", Role::Teacher).await;
    let s = &w.services;

    // Two classes launched together, two workers: their deployments overlap.
    let x = launch(&w, &teacher, "Side X", 6).await;
    let y = launch(&w, &teacher, "Side Y", 6).await;
    let (faults, order) = recorder();
    assert_eq!(
        run_until_idle_with(s, &settings(2), faults).await.unwrap(),
        2
    );
    let order = order.lock().unwrap().clone();
    let (jx, jy) = (jobs_of(s, x).await[0].id, jobs_of(s, y).await[0].id);
    let (sx, sy) = (span(&order, jx), span(&order, jy));
    assert!(sy.0 < sx.1 && sx.0 < sy.1, "overlap: {sx:?} {sy:?}");
    assert_exactly_the_requested_vms(&w, x, 8).await;
    assert_exactly_the_requested_vms(&w, y, 8).await;

    // One class, two jobs queued at once: the later one (even urgent) waits for the first.
    let student_vm = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(x))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .one(&s.db)
        .await
        .unwrap()
        .unwrap();
    let respec = lab::jobs::queue(&s.db, x, JobKind::Respec, None, None)
        .await
        .unwrap();
    let reset = lab::jobs::queue(&s.db, x, JobKind::Reset, Some(student_vm.vmid), None)
        .await
        .unwrap();
    let (faults, order) = recorder();
    assert_eq!(
        run_until_idle_with(s, &settings(2), faults).await.unwrap(),
        2
    );
    let order = order.lock().unwrap().clone();
    assert!(
        span(&order, respec.id).1 < span(&order, reset.id).0,
        "in order: {order:?}"
    );

    // One worker, a bulk job queued before an urgent one of another class: urgent first.
    let z = launch(&w, &teacher, "Bulk Z", 4).await;
    let y_vm = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(y))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .one(&s.db)
        .await
        .unwrap()
        .unwrap();
    let urgent = lab::jobs::queue(&s.db, y, JobKind::Reset, Some(y_vm.vmid), None)
        .await
        .unwrap();
    let (faults, order) = recorder();
    assert_eq!(
        run_until_idle_with(s, &settings(1), faults).await.unwrap(),
        2
    );
    let order = order.lock().unwrap().clone();
    let bulk = jobs_of(s, z).await[0].id;
    assert!(bulk < urgent.id, "the bulk job was queued first");
    assert!(
        span(&order, urgent.id).1 < span(&order, bulk).0,
        "urgent first: {order:?}"
    );
    for j in job::Entity::find().all(&s.db).await.unwrap() {
        assert_eq!(j.state, JobState::Done, "{j:?}");
    }
}

/// A database at the previous schema (m0005) with rows as the old engine wrote them.
async fn old_rows_read_back_typed(db: DatabaseConnection) {
    lab::db::Migrator::up(&db, Some(5)).await.unwrap();
    let u = user::ActiveModel {
        username: Set("t".into()),
        display_name: Set("T".into()),
        role: Set("teacher".into()),
        password_hash: Set("x".into()),
        disabled: Set(false),
        created_at: Set(0),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    // Written with `exec` too: the row read back would ask for later columns.
    let cluster_id = cluster::Entity::insert(cluster::ActiveModel {
        name: Set("c".into()),
        api_urls: Set("https://127.0.0.1:8006".into()),
        auth_kind: Set("token".into()),
        auth_id: Set("x@pve!t".into()),
        secret_enc: Set(String::new()),
        vm_subnets: Set(String::new()),
        pve_root: Set("/etc/pve".into()),
        storage_paths: Set(String::new()),
        ssh_port: Set(22),
        enabled: Set(true),
        created_at: Set(0),
        ..Default::default()
    })
    .exec(&db)
    .await
    .unwrap()
    .last_insert_id;
    // Written with `exec`: reading the row back would ask for columns m0005 did not have.
    let class_id = class::Entity::insert(class::ActiveModel {
        name: Set("Old".into()),
        description: Set(String::new()),
        ssh_enabled: Set(false),
        cluster_id: Set(cluster_id),
        owner_id: Set(u.id),
        vmid_base: Set(100),
        students: Set(1),
        storage: Set("local".into()),
        state: Set("ready".into()),
        export_paths: Set(String::new()),
        created_at: Set(0),
        ..Default::default()
    })
    .exec(&db)
    .await
    .unwrap()
    .last_insert_id;
    for (vmid, role, step) in [
        (100, "teacher", "ready"),
        (101, "student", "exporting"),
        (199, "base", "bogus"),
    ] {
        db.execute_unprepared(&format!(
            "INSERT INTO class_vms (class_id, cluster_id, vmid, role, name, node, step, attempts, \
             macs, disks, updated_at) VALUES ({class_id}, {cluster_id}, {vmid}, '{role}', 'vm', 'pve1', \
             '{step}', 0, '', '', 0)"
        ))
        .await
        .unwrap();
    }
    for (kind, state) in [
        ("deploy", "done"),
        ("reset", "queued"),
        ("remove", "running"),
        ("respec", "cancelling"),
        ("publish", "Failed "),
        ("delete", "paused"),
    ] {
        db.execute_unprepared(&format!(
            "INSERT INTO jobs (class_id, kind, state, commands, created_at) \
             VALUES ({class_id}, '{kind}', '{state}', 0, 7)"
        ))
        .await
        .unwrap();
    }

    lab::db::migrate(&db).await.unwrap();
    // m0007: a class made before it was made by overlays.
    let old = class::Entity::find_by_id(class_id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.method, lab::model::DeployMethod::Overlay);
    let jobs: BTreeMap<JobKind, job::Model> = job::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.kind, j))
        .collect();
    assert_eq!(jobs.len(), 6);
    assert_eq!(jobs[&JobKind::Deploy].state, JobState::Done);
    assert_eq!(jobs[&JobKind::Reset].state, JobState::Queued);
    assert_eq!(jobs[&JobKind::Reset].priority, JobKind::Reset.priority());
    assert_eq!(jobs[&JobKind::Remove].priority, JobKind::Remove.priority());
    assert_eq!(jobs[&JobKind::Deploy].priority, 0);
    assert_eq!(jobs[&JobKind::Remove].state, JobState::Running);
    assert_eq!(
        (
            jobs[&JobKind::Remove].attempts,
            jobs[&JobKind::Remove].started_at
        ),
        (1, Some(7))
    );
    assert_eq!(jobs[&JobKind::Reset].attempts, 0);
    assert_eq!(jobs[&JobKind::Respec].state, JobState::Cancelling);
    assert_eq!(
        jobs[&JobKind::Publish].state,
        JobState::Failed,
        "trimmed, lower-cased"
    );
    let unknown = &jobs[&JobKind::Delete];
    assert_eq!(unknown.state, JobState::Failed);
    assert!(unknown.error.as_deref().unwrap().contains("paused"));
    assert!(
        jobs.values()
            .all(|j| j.fence == 0 && j.lease_owner.is_none())
    );

    let vms: BTreeMap<i32, class_vm::Model> = class_vm::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.vmid, v))
        .collect();
    assert_eq!(
        (vms[&100].role, vms[&100].step),
        (VmRole::Teacher, VmStep::Ready)
    );
    assert_eq!(
        (vms[&101].role, vms[&101].step),
        (VmRole::Student, VmStep::Exporting)
    );
    assert_eq!(
        (vms[&199].role, vms[&199].step),
        (VmRole::Base, VmStep::Failed)
    );
    assert!(vms[&199].error.as_deref().unwrap().contains("bogus"));
}

#[tokio::test]
async fn the_migration_types_rows_of_the_previous_schema_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = lab::db::connect(&format!("sqlite://{}", dir.path().join("old.db").display()))
        .await
        .unwrap();
    old_rows_read_back_typed(db).await;
}

#[tokio::test]
async fn the_migration_types_rows_of_the_previous_schema_on_postgres() {
    if let Some(url) = postgres::fresh_database_url().await {
        old_rows_read_back_typed(lab::db::connect(&url).await.unwrap()).await;
    }
}
