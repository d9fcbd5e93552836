//! Classes against real parts: pvesim sharing its root folder with the node operations,
//! real `qemu-img`, and (for the SSH path) a real `sshd` on loopback. A config written by the
//! deployment creates the VM in pvesim, as pmxcfs would.
//!
//! Asserted: the 3-level backing chain (student → class base → export), unique MACs, the
//! base marked as a template, resuming after the runner is killed at random points with
//! exactly the requested VMs and no stray files, reset, publish, delete, invites, and that
//! other teachers and students cannot touch the class.

#[path = "classes/access.rs"]
mod access;
#[path = "support/sshd.rs"]
mod sshd;
#[path = "support/world.rs"]
mod world;

use lab::db::entity::{class_vm, user};
use lab::jobs::{JobSettings, run_until_idle};
use lab::model::{ClassForm, ClusterForm, Role, VmRole, VmStep};
use lab::{Error, classes, clusters};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use world::{SimWorld, make_user, sim_world};

struct World {
    w: SimWorld,
    _sshd: Option<sshd::Sshd>,
}

impl std::ops::Deref for World {
    type Target = SimWorld;
    fn deref(&self) -> &SimWorld {
        &self.w
    }
}

async fn world(over_ssh: bool) -> World {
    let sshd = over_ssh.then(sshd::Sshd::start);
    let w = sim_world(|form| {
        if let Some(s) = &sshd {
            s.fill_cluster_form(form);
        }
    })
    .await;
    World { w, _sshd: sshd }
}

/// A lease far longer than any test step: a loaded machine (CI builds beside the tests)
/// can starve the heartbeat for a second, and a lapsed lease hands the job to a second run.
fn settings() -> JobSettings {
    JobSettings {
        workers: 4,
        per_node: 4,
        attempts: 2,
        lease_secs: 60,
    }
}

/// A one-second lease, for the test that abandons runners and waits for their leases to end.
fn short_lease() -> JobSettings {
    JobSettings {
        lease_secs: 1,
        ..settings()
    }
}

impl World {
    async fn user(&self, name: &str, role: Role) -> user::Model {
        make_user(&self.services, name, role).await
    }

    fn form(&self, name: &str, students: u32) -> ClassForm {
        ClassForm {
            name: name.into(),
            cluster_id: self.cluster_id,
            template_vmid: "9000".into(),
            students: students.to_string(),
            invite_days: "7".into(),
            ..ClassForm::default()
        }
    }

    /// The class `name` of `students` launched by `teacher` and deployed: its id and base.
    async fn launched(&self, teacher: &user::Model, name: &str, students: u32) -> (i32, i32) {
        let id = classes::launch(&self.services, teacher, &self.form(name, students))
            .await
            .unwrap();
        run_until_idle(&self.services, &settings()).await.unwrap();
        let base = classes::detail(&self.services, teacher, id)
            .await
            .unwrap()
            .summary
            .vmid_base;
        (id, base)
    }

    /// The inventory's row of VM `vmid`.
    async fn vm_row(&self, vmid: i32) -> lab::db::entity::vm::Model {
        use lab::db::entity::vm;
        vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(self.cluster_id))
            .filter(vm::Column::Vmid.eq(vmid))
            .one(&self.services.db)
            .await
            .unwrap()
            .unwrap()
    }

    async fn rows(&self, class_id: i32) -> Vec<class_vm::Model> {
        class_vm::Entity::find()
            .filter(class_vm::Column::ClassId.eq(class_id))
            .all(&self.services.db)
            .await
            .unwrap()
    }

    fn config(&self, vmid: i32) -> PathBuf {
        self.root
            .join(format!("etc/pve/nodes/pve1/qemu-server/{vmid}.conf"))
    }

    fn disk(&self, vmid: i32) -> PathBuf {
        self.root
            .join(format!("var/lib/vz/images/{vmid}/vm-{vmid}-disk-0.qcow2"))
    }
}

fn backing_chain(path: &Path) -> Vec<String> {
    let out = Command::new("qemu-img")
        .args(["info", "--backing-chain", "--output=json", "-U"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["filename"].as_str().unwrap().to_owned())
        .collect()
}

fn qemu_io(path: &Path, cmd: &str) -> bool {
    Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", cmd])
        .arg(path)
        .output()
        .map(|o| {
            o.status.success()
                && !String::from_utf8_lossy(&o.stdout).contains("Pattern verification failed")
        })
        .unwrap()
}

async fn deploy_and_check(over_ssh: bool) {
    let w = world(over_ssh).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let id = classes::launch(&w.services, &teacher, &w.form("Net 101", 3))
        .await
        .unwrap();
    let ran = run_until_idle(&w.services, &settings()).await.unwrap();
    assert_eq!(ran, 1);
    let rows = w.rows(id).await;
    assert_eq!(rows.len(), 5);
    for r in &rows {
        assert_eq!(r.step, VmStep::Ready, "{r:?}");
        assert!(w.config(r.vmid).exists(), "config of {}", r.vmid);
    }
    let base = rows[0].vmid - rows[0].vmid % 100;
    // pvesim (like pmxcfs) sees the new guests.
    let client = clusters::client(
        &w.services,
        &clusters::find(&w.services, w.cluster_id).await.unwrap(),
    )
    .unwrap();
    let guests = client.vm_resources().await.unwrap();
    for v in [base, base + 1, base + 2, base + 3, base + 99] {
        assert!(
            guests.iter().any(|g| g.vmid == v as u32),
            "pvesim lists {v}"
        );
    }
    let base_guest = guests
        .iter()
        .find(|g| g.vmid == (base + 99) as u32)
        .unwrap();
    assert!(base_guest.template, "the class base is a template");
    // student → class base → export
    let chain = backing_chain(&w.disk(base + 1));
    assert_eq!(chain.len(), 3, "{chain:?}");
    assert!(
        chain[1].ends_with(&format!(
            "images/{}/vm-{}-disk-0.qcow2",
            base + 99,
            base + 99
        )),
        "{chain:?}"
    );
    assert!(
        chain[2].contains(&format!("proxlab/class-{base}/scsi0.qcow2")),
        "{chain:?}"
    );
    let teacher_chain = backing_chain(&w.disk(base));
    assert_eq!(
        teacher_chain.len(),
        2,
        "teacher sits on the export: {teacher_chain:?}"
    );
    // MACs unique across the class, and none of the template's.
    let macs: Vec<String> = rows
        .iter()
        .flat_map(|r| r.macs.split(',').map(str::to_owned))
        .collect();
    assert_eq!(macs.iter().collect::<HashSet<_>>().len(), macs.len());
    let tpl = std::fs::read_to_string(w.config(9000)).unwrap();
    for r in &rows {
        let conf = std::fs::read_to_string(w.config(r.vmid)).unwrap();
        assert!(!conf.contains("base-9000-disk-0"), "{conf}");
        assert!(conf.contains(&format!("name: {}", r.name)), "{conf}");
        for m in &macs {
            assert!(!tpl.contains(m.as_str()));
        }
    }
    // The teacher has their VM; the class is ready.
    let detail = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert_eq!(detail.summary.state, "ready");
    assert_eq!(detail.progress.done, 5);
    assert!(!detail.progress.active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_deploys_with_a_three_level_backing_chain_on_this_host() {
    deploy_and_check(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_deploys_over_ssh_to_a_real_sshd() {
    deploy_and_check(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_at_random_points_resumes_to_exactly_the_requested_vms() {
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let id = classes::launch(&w.services, &teacher, &w.form("Crash course", 6))
        .await
        .unwrap();
    // Kill the runner (drop its future, and with it any command in flight) after a few
    // different delays, then let a fresh runner take over once the lease runs out.
    for ms in [40u64, 120, 250, 400] {
        let _ = tokio::time::timeout(
            Duration::from_millis(ms),
            run_until_idle(&w.services, &short_lease()),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    run_until_idle(&w.services, &short_lease()).await.unwrap();
    let rows = w.rows(id).await;
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r.step == VmStep::Ready), "{rows:?}");
    let base = rows[0].vmid - rows[0].vmid % 100;
    let files = w.files_of_block(base);
    let configs = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .count();
    assert_eq!(configs, 8, "{files:?}");
    assert!(
        files.iter().all(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.contains(".part") && !name.contains(".tmp")
        }),
        "no half-made files: {files:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_reset_publish_and_delete() {
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let other = w.user("other", Role::Teacher).await;
    let alice = w.user("alice", Role::Student).await;
    let bob = w.user("bob", Role::Student).await;
    let carol = w.user("carol", Role::Student).await;
    let id = classes::launch(
        &w.services,
        &teacher,
        &w.form("Linux '; rm -rf / # $(reboot) ü", 2),
    )
    .await
    .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let detail = classes::detail(&w.services, &teacher, id).await.unwrap();
    let base = detail.summary.vmid_base;
    assert!(
        detail.vms.iter().all(|v| v
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')),
        "{:?}",
        detail.vms
    );

    // Others cannot see or touch the class.
    assert!(matches!(
        classes::detail(&w.services, &other, id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        classes::detail(&w.services, &alice, id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        classes::delete(&w.services, &other, id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        classes::launch(&w.services, &alice, &w.form("x", 1)).await,
        Err(Error::Forbidden)
    ));

    // Invites: join, idempotent join, full class, revoke, regenerate.
    let token = detail.invite_token.clone().unwrap();
    assert_eq!(token.len(), 43);
    let (_, a_vm) = classes::join(&w.services, &alice, &token).await.unwrap();
    assert_eq!(
        classes::join(&w.services, &alice, &token).await.unwrap().1,
        a_vm
    );
    let (_, b_vm) = classes::join(&w.services, &bob, &token).await.unwrap();
    assert_ne!(a_vm, b_vm);
    assert!(matches!(
        classes::join(&w.services, &carol, &token).await,
        Err(Error::Conflict(_))
    ));
    let fresh = classes::regenerate_invite(&w.services, &teacher, id, None)
        .await
        .unwrap();
    assert!(
        classes::join_view(&w.services, &carol, &token)
            .await
            .is_err(),
        "old link dead"
    );
    assert!(
        classes::join_view(&w.services, &carol, &fresh)
            .await
            .is_ok()
    );
    classes::revoke_invite(&w.services, &teacher, id)
        .await
        .unwrap();
    assert!(
        classes::join_view(&w.services, &carol, &fresh)
            .await
            .is_err(),
        "revoked"
    );
    // A student may not reset someone else's VM.
    assert!(matches!(
        classes::request_reset(&w.services, &bob, w.cluster_id, a_vm).await,
        Err(Error::NotFound(_))
    ));

    // Reset: alice's writes are gone afterwards.
    let disk = w.disk(a_vm);
    assert!(qemu_io(&disk, "write -P 0xab 0 1M"));
    assert!(qemu_io(&disk, "read -P 0xab 0 1M"));
    classes::request_reset(&w.services, &alice, w.cluster_id, a_vm)
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    assert!(
        !qemu_io(&disk, "read -P 0xab 0 1M"),
        "reset discards the student's writes"
    );
    assert_eq!(backing_chain(&disk).len(), 3);

    // Publish: the teacher's writes reach every student; the old export is gone.
    assert!(qemu_io(&w.disk(base), "write -P 0xcd 0 1M"));
    classes::publish(&w.services, &teacher, id).await.unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    for v in [a_vm, b_vm] {
        assert!(
            qemu_io(&w.disk(v), "read -P 0xcd 0 1M"),
            "student {v} sees the published content"
        );
        let chain = backing_chain(&w.disk(v));
        assert_eq!(chain.len(), 3, "{chain:?}");
        assert!(chain[2].contains("-v"), "on the new export: {chain:?}");
    }
    assert!(
        !w.root
            .join(format!("var/lib/vz/proxlab/class-{base}/scsi0.qcow2"))
            .exists()
    );

    // Delete: VMs destroyed through the API, files and rows gone.
    classes::delete(&w.services, &teacher, id).await.unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    assert!(
        w.files_of_block(base).is_empty(),
        "{:?}",
        w.files_of_block(base)
    );
    assert!(
        classes::list(&w.services, &teacher)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(w.rows(id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teachers_manage_a_class_after_launch() {
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let co = w.user("co", Role::Teacher).await;
    let admin = w.user("admin", Role::Admin).await;
    let alice = w.user("alice", Role::Student).await;
    let id = classes::launch(&w.services, &teacher, &w.form("Ops", 2))
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let base = classes::detail(&w.services, &teacher, id)
        .await
        .unwrap()
        .summary
        .vmid_base;

    // Co-owners see and manage the class; students cannot be co-owners.
    assert!(classes::detail(&w.services, &co, id).await.is_err());
    classes::add_co_owner(&w.services, &teacher, id, "co")
        .await
        .unwrap();
    assert_eq!(
        classes::detail(&w.services, &co, id)
            .await
            .unwrap()
            .co_owners,
        vec!["co".to_owned()]
    );
    assert!(matches!(
        classes::add_co_owner(&w.services, &teacher, id, "alice").await,
        Err(Error::Invalid(_))
    ));
    classes::remove_co_owner(&w.services, &teacher, id, "co")
        .await
        .unwrap();
    assert!(matches!(
        classes::detail(&w.services, &co, id).await,
        Err(Error::NotFound(_))
    ));

    // More VMs, made by a deploy job like the first ones.
    classes::add_students(&w.services, &teacher, id, 2)
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let d = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert_eq!(d.summary.students, 4);
    assert_eq!(
        d.vms
            .iter()
            .filter(|v| v.role == VmRole::Student && v.step == VmStep::Ready)
            .count(),
        4
    );
    assert_eq!(backing_chain(&w.disk(base + 4)).len(), 3);
    assert!(
        classes::add_students(&w.services, &teacher, id, 95)
            .await
            .is_err(),
        "the block ends at P98"
    );

    // Hand a VM to a student, take it back.
    classes::assign_student(&w.services, &teacher, id, base + 2, "alice")
        .await
        .unwrap();
    let d = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert_eq!(
        d.vms
            .iter()
            .find(|v| v.vmid == base + 2)
            .unwrap()
            .student
            .as_deref(),
        Some("alice")
    );
    assert!(
        classes::assign_student(&w.services, &teacher, id, base + 3, "alice")
            .await
            .is_err(),
        "one VM per student"
    );
    classes::unassign_student(&w.services, &teacher, id, base + 2)
        .await
        .unwrap();

    // Remove one VM: destroyed through the API, its row gone.
    classes::remove_vm(&w.services, &teacher, id, base + 4)
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    assert!(!w.config(base + 4).exists());
    assert!(!w.disk(base + 4).exists());
    assert_eq!(
        classes::detail(&w.services, &teacher, id)
            .await
            .unwrap()
            .summary
            .students,
        3
    );

    // New specs: only cores and memory change in the configs.
    let before = std::fs::read_to_string(w.config(base + 1)).unwrap();
    classes::respec(&w.services, &teacher, id, Some(3), Some(1024))
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let after = std::fs::read_to_string(w.config(base + 1)).unwrap();
    assert!(
        after.contains("cores: 3") && after.contains("memory: 1024"),
        "{after}"
    );
    let unchanged = |t: &str| {
        t.lines()
            .filter(|l| {
                !l.starts_with("cores") && !l.starts_with("memory") && !l.starts_with("digest")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(unchanged(&before), unchanged(&after));

    // Start the whole class.
    let row = clusters::find(&w.services, w.cluster_id).await.unwrap();
    lab::sync::quick::run(&w.services, &row).await.unwrap();
    let asked = classes::power_all(&w.services, &teacher, id, lab::model::VmAction::Start)
        .await
        .unwrap();
    assert_eq!(asked, 3);
    assert!(matches!(
        classes::power_all(&w.services, &alice, id, lab::model::VmAction::Start).await,
        Err(Error::NotFound(_))
    ));

    // Import: forget the class in the portal, then adopt its block again (admins only).
    classes::unassign_student(&w.services, &teacher, id, base + 1)
        .await
        .ok();
    lab::db::entity::class_vm::Entity::delete_many()
        .exec(&w.services.db)
        .await
        .unwrap();
    lab::db::entity::job::Entity::delete_many()
        .exec(&w.services.db)
        .await
        .unwrap();
    lab::db::entity::class::Entity::delete_many()
        .exec(&w.services.db)
        .await
        .unwrap();
    assert!(matches!(
        classes::import(
            &w.services,
            &teacher,
            w.cluster_id,
            base,
            "Again",
            "teacher"
        )
        .await,
        Err(Error::Forbidden)
    ));
    let again = classes::import(&w.services, &admin, w.cluster_id, base, "Again", "teacher")
        .await
        .unwrap();
    let d = classes::detail(&w.services, &teacher, again).await.unwrap();
    assert_eq!(d.vms.len(), 5, "{:?}", d.vms);
    assert_eq!(d.summary.students, 3);
    // An imported class can be reset like any other.
    lab::sync::quick::run(&w.services, &row).await.unwrap();
    classes::request_reset(&w.services, &teacher, w.cluster_id, base + 2)
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    assert_eq!(backing_chain(&w.disk(base + 2)).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_broken_parts_leave_nothing_behind() {
    // A template whose disk is gone: a clear error, no stray files.
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    std::fs::remove_file(w.root.join("var/lib/vz/images/9000/base-9000-disk-0.qcow2")).unwrap();
    let id = classes::launch(&w.services, &teacher, &w.form("No disk", 2))
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let d = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert_eq!(d.summary.state, "failed");
    assert!(
        d.progress
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("could not be exported"),
        "{:?}",
        d.progress
    );
    assert!(
        d.vms
            .iter()
            .all(|v| v.step == VmStep::Failed && v.error.is_some()),
        "{:?}",
        d.vms
    );
    assert!(
        w.files_of_block(d.summary.vmid_base).is_empty(),
        "{:?}",
        w.files_of_block(d.summary.vmid_base)
    );

    // Storage that cannot hold the class: the plan says why, launch refuses.
    let huge = ClassForm {
        name: "Huge".into(),
        cluster_id: w.cluster_id,
        students: "20".into(),
        cores: "2".into(),
        memory_mb: "1024".into(),
        disk_gb: "4096".into(),
        ..ClassForm::default()
    };
    let plan = classes::plan(&w.services, &teacher, &huge).await.unwrap();
    assert!(
        plan.blockers
            .iter()
            .any(|b| b.contains("free") && b.contains("needs")),
        "{:?}",
        plan.blockers
    );
    assert!(matches!(
        classes::launch(&w.services, &teacher, &huge).await,
        Err(Error::Invalid(_))
    ));

    // A hostile class name with a line break is refused before anything happens.
    assert!(matches!(
        classes::launch(&w.services, &teacher, &w.form("a\nb", 1)).await,
        Err(Error::Invalid(_))
    ));
    // An offline template node: the plan says so, launch refuses.
    w.sim
        .control()
        .set_node_state("pve1", pvesim::NodeState::Offline);
    let err = classes::launch(&w.services, &teacher, &w.form("Offline", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unavailable(_) | Error::Invalid(_)),
        "{err:?}"
    );
    assert_eq!(
        classes::list(&w.services, &teacher).await.unwrap().len(),
        1,
        "nothing recorded"
    );

    // A node whose SSH host key is not the pinned one: nothing is made.
    let w = world(true).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let mut row = clusters::find(&w.services, w.cluster_id).await.unwrap();
    let sshd = w._sshd.as_ref().unwrap();
    let mut form =
        ClusterForm::with_token("lab", &w.sim.url(), w.sim.fingerprint(), &w.sim.token()).unwrap();
    form.pve_root = row.pve_root.clone();
    form.storage_paths = row.storage_paths.clone();
    form.ssh_user = sshd.user();
    form.ssh_port = sshd.port().to_string();
    form.ssh_host_keys = sshd.client_key_line(); // a valid key, but not the server's
    form.secret = String::new();
    clusters::update(&w.services, w.cluster_id, &form)
        .await
        .unwrap();
    row = clusters::find(&w.services, w.cluster_id).await.unwrap();
    assert!(row.ssh_key_enc.is_some(), "the stored key is kept");
    let id = classes::launch(&w.services, &teacher, &w.form("Pinned", 2))
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let d = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert_eq!(d.summary.state, "failed");
    let err = d.progress.last_error.clone().unwrap_or_default();
    assert!(err.to_lowercase().contains("host key"), "{err}");
    assert!(w.files_of_block(d.summary.vmid_base).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ssh_settings_the_full_sync_reads_all_configs_in_one_command() {
    let w = world(true).await; // its first quick sync flagged every guest for details
    let row = clusters::find(&w.services, w.cluster_id).await.unwrap();
    w.sim.control().reset_counters();
    let report = lab::sync::full::run(&w.services, &row, None).await.unwrap();
    assert!(report.configs >= 5, "{report:?}");
    assert_eq!(
        w.sim
            .control()
            .count("GET /nodes/{node}/qemu/{vmid}/config"),
        0
    );
    assert_eq!(
        w.sim.control().count("GET /nodes/{node}/lxc/{vmid}/config"),
        0
    );
    let vms = lab::db::entity::vm::Entity::find()
        .all(&w.services.db)
        .await
        .unwrap();
    let tpl = vms.iter().find(|v| v.vmid == 9000).unwrap();
    assert!(
        tpl.macs.is_some() && tpl.config_digest.is_some() && !tpl.needs_detail,
        "{tpl:?}"
    );
    // What the wizard lists about a template, without asking Proxmox.
    assert_eq!(tpl.firmware.as_deref(), Some("BIOS"));
    assert_eq!(tpl.disk_storage.as_deref(), Some("local"));
    let teacher = w.user("teacher", Role::Teacher).await;
    let choices = classes::templates(&w.services, &teacher).await.unwrap();
    let choice = choices.iter().find(|t| t.vmid == 9000).unwrap();
    assert_eq!(choice.storage.as_deref(), Some("local"));
    let file = std::fs::read(w.config(9000)).unwrap();
    let expected: String = <sha1::Sha1 as sha1::Digest>::digest(&file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        tpl.config_digest.as_deref(),
        Some(expected.as_str()),
        "the digest PVE would report"
    );
}

/// After launch the teacher renames the class, changes its description and invite expiry
/// (the link stays); bad input changes nothing. Its student reads the class page with its
/// teachers, their VM and the rules in words; nobody else sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launched_class_is_edited_and_its_students_read_what_applies_to_them() {
    use lab::model::{ClassEdit, PolicyForm, VmFilter};
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let other = w.user("other", Role::Teacher).await;
    let alice = w.user("alice", Role::Student).await;
    let bob = w.user("bob", Role::Student).await;
    let id = classes::launch(&w.services, &teacher, &w.form("Ops", 1))
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let before = classes::detail(&w.services, &teacher, id).await.unwrap();
    let token = before.invite_token.clone().unwrap();
    assert_eq!(before.invite_days_left, Some(7));
    let (cluster_id, vmid) = classes::join(&w.services, &alice, &token).await.unwrap();

    let about = classes::about(&w.services, &alice, id).await.unwrap();
    assert_eq!(about.name, "Ops");
    assert_eq!(about.teachers, ["teacher"]);
    assert_eq!(about.vms.len(), 1);
    assert_eq!((about.vms[0].0, about.vms[0].1), (cluster_id, vmid));
    assert!(!about.manager);
    assert_eq!(
        about.rules,
        ["No automatic shutdowns: your VM runs until you stop it."]
    );
    for who in [&bob, &other] {
        assert!(matches!(
            classes::about(&w.services, who, id).await,
            Err(Error::NotFound(_))
        ));
    }
    assert!(
        classes::about(&w.services, &teacher, id)
            .await
            .unwrap()
            .manager
    );

    // Only its teachers edit it, and bad input changes nothing.
    let edit = |name: &str, days: &str| ClassEdit {
        name: name.into(),
        description: "Bring a USB stick.\nRoom 4.".into(),
        invite_days: days.into(),
    };
    assert!(matches!(
        classes::edit(&w.services, &alice, id, &edit("Mine", "")).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        classes::edit(&w.services, &other, id, &edit("Mine", "")).await,
        Err(Error::NotFound(_))
    ));
    for (name, days) in [("", "3"), ("Ok", "400"), ("Ok", "x"), ("two\nlines", "3")] {
        assert!(
            matches!(
                classes::edit(&w.services, &teacher, id, &edit(name, days)).await,
                Err(Error::Invalid(_))
            ),
            "{name:?} {days:?}"
        );
    }
    let unchanged = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert_eq!(unchanged.summary.name, "Ops");
    assert_eq!(unchanged.summary.description, before.summary.description);
    assert_eq!(unchanged.invite_expires_at, before.invite_expires_at);

    classes::edit(&w.services, &teacher, id, &edit("Ops 2", ""))
        .await
        .unwrap();
    let after = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert_eq!(after.summary.name, "Ops 2");
    assert_eq!(after.summary.description, "Bring a USB stick.\nRoom 4.");
    assert_eq!(after.invite_expires_at, None, "never expires");
    assert_eq!(
        after.invite_token.as_deref(),
        Some(token.as_str()),
        "same link"
    );
    classes::edit(&w.services, &teacher, id, &edit("Ops 2", "30"))
        .await
        .unwrap();
    assert_eq!(
        classes::detail(&w.services, &teacher, id)
            .await
            .unwrap()
            .invite_days_left,
        Some(30)
    );

    // The student's card names the class; their class page states the policies.
    let mut form = PolicyForm::of(&lab::model::ClassPolicy::default());
    form.idle_enabled = "on".into();
    form.quota_hours = "12".into();
    form.timezone = "UTC".into();
    lab::policies::panel::save_class_policy(&w.services, &teacher, id, &form, false)
        .await
        .unwrap();
    let about = classes::about(&w.services, &alice, id).await.unwrap();
    assert_eq!(about.name, "Ops 2");
    assert!(
        about.rules.iter().any(|r| r.contains("after 30 minutes")),
        "{:?}",
        about.rules
    );
    assert!(
        about.rules.iter().any(|r| r.contains("12 hours")),
        "{:?}",
        about.rules
    );
    let cluster = clusters::find(&w.services, w.cluster_id).await.unwrap();
    lab::sync::quick::run(&w.services, &cluster).await.unwrap();
    let dash = lab::inventory::dashboard(&w.services, &alice, &VmFilter::default(), None)
        .await
        .unwrap()
        .unwrap();
    let card = dash.cards.iter().find(|c| c.vmid == vmid).unwrap();
    assert_eq!(card.class, Some((id, "Ops 2".to_string())));
}

/// A full class queues the students who open its invite, in order; a newcomer cannot jump
/// the queue; a VM the teacher takes back goes to the first in line, VMs the teacher adds to
/// the next; leaving the list works; the teacher sees the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_class_has_a_waiting_list_served_in_order() {
    use lab::waitlist;
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let [alice, bob, carol, dave, eve] = [
        w.user("alice", Role::Student).await,
        w.user("bob", Role::Student).await,
        w.user("carol", Role::Student).await,
        w.user("dave", Role::Student).await,
        w.user("eve", Role::Student).await,
    ];
    let id = classes::launch(&w.services, &teacher, &w.form("Queue", 1))
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let token = classes::detail(&w.services, &teacher, id)
        .await
        .unwrap()
        .invite_token
        .unwrap();
    let (_, first_vm) = classes::join(&w.services, &alice, &token).await.unwrap();
    assert!(matches!(
        classes::join(&w.services, &bob, &token).await,
        Err(Error::Conflict(m)) if m.contains("waiting list")
    ));
    let seen = classes::join_view(&w.services, &bob, &token).await.unwrap();
    assert_eq!((seen.free_vms, seen.waiting, seen.place), (0, 0, None));

    assert_eq!(
        classes::wait(&w.services, &bob, &token).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        classes::wait(&w.services, &carol, &token).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        classes::wait(&w.services, &bob, &token).await.unwrap(),
        Some(1),
        "once"
    );
    assert!(matches!(
        classes::wait(&w.services, &alice, &token).await,
        Err(Error::Conflict(_))
    ));
    let seen = classes::join_view(&w.services, &carol, &token)
        .await
        .unwrap();
    assert_eq!((seen.waiting, seen.place), (2, Some(2)));
    let detail = classes::detail(&w.services, &teacher, id).await.unwrap();
    let names: Vec<&str> = detail.waiting.iter().map(|(u, _, _)| u.as_str()).collect();
    assert_eq!(names, ["bob", "carol"]);
    // Dave cannot jump the queue.
    assert!(classes::join(&w.services, &dave, &token).await.is_err());

    // A VM taken back goes to the first in line.
    classes::unassign_student(&w.services, &teacher, id, first_vm)
        .await
        .unwrap();
    assert_eq!(joined(&w, &bob).await, vec![first_vm]);
    assert_eq!(
        waitlist::places(&w.services, carol.id).await.unwrap(),
        [(id, "Queue".to_string(), 1)]
    );
    // Eve waits, then leaves.
    assert_eq!(
        classes::wait(&w.services, &eve, &token).await.unwrap(),
        Some(2)
    );
    waitlist::leave(&w.services, &eve, id).await.unwrap();
    assert!(
        waitlist::places(&w.services, eve.id)
            .await
            .unwrap()
            .is_empty()
    );

    // A VM the teacher adds goes to the next in line when its deploy ends.
    classes::add_students(&w.services, &teacher, id, 1)
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let carols = joined(&w, &carol).await;
    assert_eq!(carols.len(), 1);
    assert_ne!(carols[0], first_vm);
    assert!(
        waitlist::queue(&w.services.db, id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(joined(&w, &dave).await.is_empty() && joined(&w, &eve).await.is_empty());

    // An admin takes a class VM back on the dashboard: it goes to the queue too.
    assert_eq!(
        classes::wait(&w.services, &dave, &token).await.unwrap(),
        Some(1)
    );
    lab::inventory::unassign(&w.services, w.cluster_id, carols[0], "carol")
        .await
        .unwrap();
    assert!(
        joined(&w, &dave).await.is_empty(),
        "not before the queue is served"
    );
    let given = waitlist::vms_freed(&w.services, w.cluster_id, &[carols[0]])
        .await
        .unwrap();
    assert_eq!(given, [(dave.id, carols[0])]);
    assert_eq!(joined(&w, &dave).await, vec![carols[0]]);
}

/// The VMIDs `who` is assigned.
async fn joined(w: &World, who: &user::Model) -> Vec<i32> {
    use lab::db::entity::assignment;
    assignment::Entity::find()
        .filter(assignment::Column::UserId.eq(who.id))
        .all(&w.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.vmid)
        .collect()
}

/// A VMID block that looks like a class but has none here is suggested for import, under a
/// name guessed from its VMs, and is no longer once imported; admins map VMs to users in
/// bulk, all or nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_blocks_are_suggested_for_import_and_vms_are_mapped_in_bulk() {
    use lab::db::entity::{assignment, class};
    use lab::inventory::{BulkOutcome, bulk_assign};
    let w = world(false).await;
    let admin = w.user("admin", Role::Admin).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    w.user("alice", Role::Student).await;
    w.user("bob", Role::Student).await;
    let (id, base) = w.launched(&teacher, "Old Lab", 2).await;
    let cluster = clusters::find(&w.services, w.cluster_id).await.unwrap();
    lab::sync::quick::run(&w.services, &cluster).await.unwrap();
    assert!(
        classes::adoption_candidates(&w.services, &admin)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        classes::adoption_candidates(&w.services, &teacher).await,
        Err(Error::Forbidden)
    ));

    // The portal forgets the class (as if made by the old portal): its block is suggested.
    class_vm::Entity::delete_many()
        .filter(class_vm::Column::ClassId.eq(id))
        .exec(&w.services.db)
        .await
        .unwrap();
    class::Entity::delete_by_id(id)
        .exec(&w.services.db)
        .await
        .unwrap();
    assignment::Entity::delete_many()
        .exec(&w.services.db)
        .await
        .unwrap();
    let found = classes::adoption_candidates(&w.services, &admin)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let c = &found[0];
    assert_eq!((c.vmid_base, c.students, c.teacher_vm), (base, 2, true));
    assert_eq!(c.name_guess, "old-lab");

    // Bulk mapping: a bad line changes nothing; then all at once; again is a no-op.
    let lines = format!("{} alice\n{} bob", base + 1, base + 2);
    for bad in [
        format!("{lines}\n{} nobody", base + 1),
        format!("{lines}\n{} alice", base + 99),
        format!("{lines}\n{} alice", base + 50),
        "1x alice".to_string(),
    ] {
        assert!(
            matches!(
                bulk_assign(&w.services, w.cluster_id, &bad, false).await,
                Err(Error::Invalid(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(
        assignment::Entity::find()
            .all(&w.services.db)
            .await
            .unwrap()
            .len(),
        0
    );
    let done = bulk_assign(&w.services, w.cluster_id, &lines, false)
        .await
        .unwrap();
    assert_eq!(
        done,
        BulkOutcome {
            changed: 2,
            unchanged: 0
        }
    );
    let again = bulk_assign(&w.services, w.cluster_id, &lines, false)
        .await
        .unwrap();
    assert_eq!(
        again,
        BulkOutcome {
            changed: 0,
            unchanged: 2
        }
    );
    let gone = bulk_assign(&w.services, w.cluster_id, &lines, true)
        .await
        .unwrap();
    assert_eq!(gone.changed, 2);
    assert_eq!(
        assignment::Entity::find()
            .all(&w.services.db)
            .await
            .unwrap()
            .len(),
        0
    );

    // Imported, it is a class again and no longer suggested.
    classes::import(
        &w.services,
        &admin,
        w.cluster_id,
        base,
        &c.name_guess,
        "teacher",
    )
    .await
    .unwrap();
    assert!(
        classes::adoption_candidates(&w.services, &admin)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vms_in_a_class_block_that_it_does_not_have_are_adopted() {
    use lab::db::entity::class;
    use sea_orm::{ActiveModelTrait, Set};
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    let other = w.user("other", Role::Teacher).await;
    let alice = w.user("alice", Role::Student).await;
    let id = classes::launch(&w.services, &teacher, &w.form("Strays", 2))
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let cluster = clusters::find(&w.services, w.cluster_id).await.unwrap();
    lab::sync::quick::run(&w.services, &cluster).await.unwrap();
    let detail = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert!(detail.strays.is_empty(), "{:?}", detail.strays);
    let base = detail.summary.vmid_base;

    // The class loses track of its second student VM (as if made by hand in its block).
    let stray = base + 2;
    class_vm::Entity::delete_many()
        .filter(class_vm::Column::ClassId.eq(id))
        .filter(class_vm::Column::Vmid.eq(stray))
        .exec(&w.services.db)
        .await
        .unwrap();
    let mut c: class::ActiveModel = class::Entity::find_by_id(id)
        .one(&w.services.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    c.students = Set(1);
    c.update(&w.services.db).await.unwrap();
    let detail = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert_eq!(
        detail.strays.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        [stray]
    );

    // Only the class's teachers (and admins) adopt, and only VMs of its block.
    assert!(matches!(
        classes::adopt(&w.services, &other, id, stray).await,
        Err(Error::NotFound(_) | Error::Forbidden)
    ));
    assert!(matches!(
        classes::adopt(&w.services, &teacher, id, base + 1).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(w.rows(id).await.len(), 3);

    // Adopted: a ready student VM of the class with its MACs and disks, which the next
    // student to join gets.
    assert_eq!(
        classes::adopt(&w.services, &teacher, id, stray)
            .await
            .unwrap(),
        1
    );
    let row = w
        .rows(id)
        .await
        .into_iter()
        .find(|r| r.vmid == stray)
        .expect("the VM is the class's again");
    assert_eq!((row.role, row.step), (VmRole::Student, VmStep::Ready));
    assert!(!row.macs.is_empty() && !row.disks.is_empty(), "{row:?}");
    let detail = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert!(detail.strays.is_empty());
    assert_eq!(detail.summary.students, 2);
    assert!(matches!(
        classes::adopt(&w.services, &teacher, id, 0).await,
        Err(Error::NotFound(_))
    ));
    let token = detail.invite_token.unwrap();
    let (_, first) = classes::join(&w.services, &alice, &token).await.unwrap();
    assert!([base + 1, stray].contains(&first), "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vms_in_a_class_pool_or_pooled_and_tagged_for_a_user_are_offered() {
    use lab::inventory::suggested_assignments;
    use lab::model::SuggestionReason;
    use reqwest::Method;
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    w.user("alice", Role::Student).await;
    let (id, base) = w.launched(&teacher, "Pooled", 1).await;
    // In Proxmox, by hand: VM 102 (far from the class's block) put into the class's pool,
    // 101 tagged `alice`, 100 moved from pool `lab-a` into a pool `students-alice`.
    // (This class's VMs are overlays, made without a pool: the pool is made by hand too.)
    let pool = lab::model::class_pool(base);
    w.pve_as_root(Method::POST, "pools", &[("poolid", &pool)])
        .await;
    w.pve_as_root(Method::PUT, &format!("pools/{pool}"), &[("vms", "102")])
        .await;
    let cluster = clusters::find(&w.services, w.cluster_id).await.unwrap();
    lab::sync::quick::run(&w.services, &cluster).await.unwrap();
    let node_101 = w.vm_row(101).await.node;
    w.pve_as_root(
        Method::PUT,
        &format!("nodes/{node_101}/qemu/101/config"),
        &[("tags", "lab;alice")],
    )
    .await;
    w.pve_as_root(Method::POST, "pools", &[("poolid", "students-alice")])
        .await;
    w.pve_as_root(
        Method::PUT,
        "pools/students-alice",
        &[("vms", "100"), ("allow-move", "1")],
    )
    .await;
    lab::sync::quick::run(&w.services, &cluster).await.unwrap();

    let detail = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert_eq!(
        detail.strays.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        [102],
        "the VM in the class's pool"
    );
    let found = suggested_assignments(&w.services).await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|s| (s.vmid, s.username.as_str(), s.reason))
            .collect::<Vec<_>>(),
        [
            (100, "alice", SuggestionReason::Pool),
            (101, "alice", SuggestionReason::Tag),
        ],
        "{found:?}"
    );
    // Adopted from its pool, it is the class's, and nobody's suggestion.
    assert_eq!(
        classes::adopt(&w.services, &teacher, id, 102)
            .await
            .unwrap(),
        1
    );
    let detail = classes::detail(&w.services, &teacher, id).await.unwrap();
    assert!(detail.strays.is_empty(), "{:?}", detail.strays);
    assert!(
        w.rows(id)
            .await
            .iter()
            .any(|r| r.vmid == 102 && r.role == VmRole::Student)
    );
    // A tag changed in Proxmox is read again by the next quick sync.
    w.pve_as_root(
        Method::PUT,
        &format!("nodes/{node_101}/qemu/101/config"),
        &[("delete", "tags")],
    )
    .await;
    lab::sync::quick::run(&w.services, &cluster).await.unwrap();
    let found = suggested_assignments(&w.services).await.unwrap();
    assert_eq!(
        found.iter().map(|s| s.vmid).collect::<Vec<_>>(),
        [100],
        "{found:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vms_named_after_users_are_suggested_to_admins() {
    use lab::db::entity::vm;
    use lab::inventory::{bulk_assign, suggested_assignments};
    use sea_orm::{ActiveModelTrait, Set};
    let w = world(false).await;
    let teacher = w.user("teacher", Role::Teacher).await;
    w.user("alice", Role::Student).await;
    w.user("bob", Role::Student).await;
    let id = classes::launch(&w.services, &teacher, &w.form("Named", 1))
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let cluster = clusters::find(&w.services, w.cluster_id).await.unwrap();
    lab::sync::quick::run(&w.services, &cluster).await.unwrap();
    let rename = |vmid: i32, name: &'static str| {
        let w = &w;
        async move {
            let mut row: vm::ActiveModel = w.vm_row(vmid).await.into();
            row.name = Set(name.into());
            row.update(&w.services.db).await.unwrap();
        }
    };
    // Nobody's VM named after alice; one naming two users; a class VM named after bob.
    rename(101, "lab-alice").await;
    rename(102, "alice-bob").await;
    let class_vm = w
        .rows(id)
        .await
        .into_iter()
        .find(|r| r.role == VmRole::Student)
        .unwrap();
    rename(class_vm.vmid, "ws-bob").await;
    let found = suggested_assignments(&w.services).await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|s| (s.vmid, s.username.as_str()))
            .collect::<Vec<_>>(),
        [(101, "alice")],
        "{found:?}"
    );
    // Assigned (through the bulk form's checks), it is no longer suggested.
    bulk_assign(&w.services, w.cluster_id, "101 alice", false)
        .await
        .unwrap();
    assert!(suggested_assignments(&w.services).await.unwrap().is_empty());
}
