//! Classes made by Proxmox's own clone API, on every storage kind pvesim models, with an API
//! token and no SSH settings or storage paths (a stock Proxmox as a school has it).
//!
//! Asserted per storage: the review step picks the clone path and says why; deploy makes a
//! full-copy base (a template) and linked clones of it with the rows' MACs and our tags;
//! reset keeps the MACs; publish, add, remove, respec and delete work; afterwards the
//! block has exactly the rows' VMs and no storage holds a volume of the block that no row
//! names. On node-local storage a class may have a copy of its base on each node it uses
//! (cloned beside the template, migrated offline). A runner killed at every crash point of
//! a deployment, with and without such copies, resumes to exactly the requested VMs and no
//! orphan volume.

#[path = "support/world.rs"]
mod world;

use lab::db::entity::{class, class_vm};
use lab::jobs::{
    FaultAction, FaultPoint, Faults, JobSettings, run_until_idle, run_until_idle_with,
};
use lab::model::{ClassForm, DeployMethod, Role, VmRole, VmStep};
use lab::{Services, classes};
use pvesim::ExtraStorage;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use world::{SimWorld, crash_runner_at, make_user, sim_world_with};

fn settings() -> JobSettings {
    world::job_settings()
}

/// A stock-looking cluster: the template 9000 on `template_storage`, and a portal that is
/// not on a node and has no SSH settings (pmxcfs is not mounted where it looks).
async fn stock_world(extra: Vec<ExtraStorage>, template_storage: &str) -> SimWorld {
    let ts = template_storage.to_owned();
    sim_world_with(
        None,
        move |c| {
            c.extra_storages = extra;
            c.template_storage = ts;
        },
        |form| form.pve_root = "/nonexistent/etc/pve".into(),
    )
    .await
}

fn form(w: &SimWorld, name: &str, students: u32) -> ClassForm {
    ClassForm {
        name: name.into(),
        cluster_id: w.cluster_id,
        template_vmid: "9000".into(),
        students: students.to_string(),
        invite_days: "7".into(),
        ..ClassForm::default()
    }
}

async fn rows(services: &Services, class_id: i32) -> Vec<class_vm::Model> {
    class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .order_by_asc(class_vm::Column::Vmid)
        .all(&services.db)
        .await
        .unwrap()
}

async fn config(w: &SimWorld, node: &str, vmid: i32) -> serde_json::Value {
    w.pve_as_root(
        Method::GET,
        &format!("nodes/{node}/qemu/{vmid}/config"),
        &[],
    )
    .await["data"]
        .clone()
}

/// VMIDs of the block Proxmox has, and every volume of the block on any online node's
/// storages.
async fn block_in_proxmox(w: &SimWorld, base: i32) -> (BTreeSet<i32>, BTreeSet<String>) {
    let in_block = |v: i64| (i64::from(base)..i64::from(base) + 100).contains(&v);
    let res = w
        .pve_as_root(Method::GET, "cluster/resources?type=vm", &[])
        .await;
    let vms = res["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["vmid"].as_i64())
        .filter(|v| in_block(*v))
        .map(|v| v as i32)
        .collect();
    let mut volumes = BTreeSet::new();
    let nodes = w.pve_as_root(Method::GET, "nodes", &[]).await;
    let online: Vec<&str> = nodes["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["status"] == "online")
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    for node in online {
        let list = w
            .pve_as_root(Method::GET, &format!("nodes/{node}/storage"), &[])
            .await;
        for s in list["data"].as_array().unwrap() {
            let sid = s["storage"].as_str().unwrap();
            let content = w
                .pve_as_root(
                    Method::GET,
                    &format!("nodes/{node}/storage/{sid}/content?content=images"),
                    &[],
                )
                .await;
            for c in content["data"].as_array().unwrap() {
                if c["vmid"].as_i64().is_some_and(in_block) {
                    volumes.insert(c["volid"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    (vms, volumes)
}

/// Exactly the rows' VMs, every row ready, and every volume of the block named by a row.
async fn assert_exactly(w: &SimWorld, class_id: i32, vms: usize) {
    let c = class::Entity::find_by_id(class_id)
        .one(&w.services.db)
        .await
        .unwrap()
        .unwrap();
    let rs = rows(&w.services, class_id).await;
    assert_eq!(rs.len(), vms);
    assert_eq!(c.state, "ready", "{c:?} {rs:?}");
    let (in_pve, volumes) = block_in_proxmox(w, c.vmid_base).await;
    let on_record: BTreeSet<i32> = rs.iter().map(|r| r.vmid).collect();
    assert_eq!(in_pve, on_record, "the block's VMs in Proxmox");
    let named: BTreeSet<String> = rs
        .iter()
        .flat_map(|r| r.disks.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|p| p.split_once('=').map(|(_, v)| v.to_owned()))
        .collect();
    for r in &rs {
        assert_eq!(r.step, VmStep::Ready, "{r:?}");
        assert!(!r.disks.is_empty(), "{r:?}");
    }
    for v in &volumes {
        // A linked clone's volid names its base: `ceph:base-1099-disk-0/vm-1001-disk-0`
        // in the config, `ceph:vm-1001-disk-0` in the content list.
        assert!(
            named
                .iter()
                .any(|n| n == v || n.ends_with(v.split(':').nth(1).unwrap())),
            "volume {v} is on a storage but no row names it ({named:?})"
        );
    }
}

/// How a class is laid out over the nodes.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// Every VM on the template's node (node-local storage).
    OneNode,
    /// Spread freely (shared storage).
    Shared,
    /// Spread, with a copy of the base on each node that has students (node-local storage).
    BasePerNode,
}

async fn whole_life(extra: Vec<ExtraStorage>, storage: &str, plugin_word: &str, layout: Layout) {
    let w = stock_world(extra, storage).await;
    whole_life_of(&w, "9000", storage, plugin_word, layout).await;
}

/// Deploy, reset (and start), publish, add, remove, respec and delete a class of `template`.
async fn whole_life_of(
    w: &SimWorld,
    template: &str,
    storage: &str,
    plugin_word: &str,
    layout: Layout,
) {
    let teacher = make_user(&w.services, "teacher", Role::Teacher).await;
    let mut f = form(w, "Networks", 3);
    f.template_vmid = template.into();
    let plan = classes::plan(&w.services, &teacher, &f).await.unwrap();
    assert_eq!(
        plan.spread.is_some(),
        layout != Layout::Shared,
        "node-local storage offers a base per node: {plan:?}"
    );
    if layout == Layout::BasePerNode {
        f.base_per_node = "on".into();
    }
    let plan = classes::plan(&w.services, &teacher, &f).await.unwrap();
    assert!(plan.blockers.is_empty(), "{plan:?}");
    let copies = plan.base_copies.len();
    assert_eq!(copies > 0, layout == Layout::BasePerNode, "{plan:?}");
    assert_eq!(plan.method, Some(DeployMethod::LinkedClone), "{plan:?}");
    assert!(
        plan.method_reason.contains(plugin_word),
        "{}",
        plan.method_reason
    );
    let id = classes::launch(&w.services, &teacher, &f).await.unwrap();
    assert_eq!(run_until_idle(&w.services, &settings()).await.unwrap(), 1);
    assert_exactly(w, id, 5 + copies).await;
    let rs = rows(&w.services, id).await;
    let nodes: BTreeSet<&str> = rs.iter().map(|r| r.node.as_str()).collect();
    assert_eq!(
        nodes.len() > 1,
        layout != Layout::OneNode,
        "placement over nodes: {nodes:?}"
    );
    // Every base (the class's own and its copies) is a template on its node, and every
    // node with a student has one.
    let bases: Vec<&class_vm::Model> = rs.iter().filter(|r| r.role == VmRole::Base).collect();
    assert_eq!(bases.len(), 1 + copies);
    for b in &bases {
        let bc = config(w, &b.node, b.vmid).await;
        assert_eq!(bc["template"].as_i64(), Some(1), "{bc}");
    }
    // The class's VMs, and only they, are in its Proxmox pool.
    let pool = w
        .pve_as_root(
            Method::GET,
            &format!("pools/proxlab-class-{}", plan.vmid_base),
            &[],
        )
        .await;
    let members: BTreeSet<i64> = pool["data"]["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no pool: {pool}"))
        .iter()
        .filter_map(|m| m["vmid"].as_i64())
        .collect();
    let ours: BTreeSet<i64> = rs.iter().map(|r| i64::from(r.vmid)).collect();
    assert_eq!(members, ours, "pool members");
    if layout == Layout::BasePerNode {
        for r in rs.iter().filter(|r| r.role == VmRole::Student) {
            assert!(
                bases.iter().any(|b| b.node == r.node),
                "{r:?} has no base on its node"
            );
        }
    }
    // A student away from the template's node where there is one.
    let student = rs
        .iter()
        .filter(|r| r.role == VmRole::Student)
        .max_by_key(|r| r.node != bases[bases.len() - 1].node || bases.len() == 1)
        .unwrap()
        .clone();
    let base = bases
        .iter()
        .find(|b| b.node == student.node)
        .copied()
        .unwrap_or(bases[bases.len() - 1]);
    let sc = config(w, &student.node, student.vmid).await;
    let net0 = sc["net0"].as_str().unwrap().to_ascii_uppercase();
    assert!(
        net0.contains(&student.macs.to_ascii_uppercase()),
        "{net0} / {}",
        student.macs
    );
    assert!(sc["tags"].as_str().unwrap().contains("proxlab"), "{sc}");
    assert!(
        sc["scsi0"]
            .as_str()
            .unwrap()
            .contains(&format!("base-{}-disk", base.vmid))
            || storage.starts_with("local-lvm"),
        "a linked clone names its base: {sc}"
    );

    // Reset: the same MACs, a fresh disk from the base.
    let owner = lab::auth::find_user(&w.services, "teacher")
        .await
        .unwrap()
        .unwrap();
    classes::request_reset(&w.services, &owner, w.cluster_id, student.vmid)
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let after = config(w, &student.node, student.vmid).await;
    assert_eq!(after["net0"], sc["net0"], "reset keeps the MAC");
    // The fresh clone boots.
    let upid = w
        .pve_as_root(
            Method::POST,
            &format!("nodes/{}/qemu/{}/status/start", student.node, student.vmid),
            &[],
        )
        .await["data"]
        .as_str()
        .unwrap()
        .to_owned();
    w.wait_task(&upid).await;
    assert_exactly(w, id, 5 + copies).await;

    // Publish: the teacher's VM becomes the base; students cloned from it again.
    classes::publish(&w.services, &owner, id).await.unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    assert_exactly(w, id, 5 + copies).await;

    // Add one, remove one, new CPU count.
    classes::add_students(&w.services, &owner, id, 1)
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    assert_exactly(w, id, 6 + copies).await;
    classes::remove_vm(&w.services, &owner, id, student.vmid)
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    assert_exactly(w, id, 5 + copies).await;
    classes::respec(&w.services, &owner, id, Some(3), None)
        .await
        .unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    for r in rows(&w.services, id).await {
        assert_eq!(config(w, &r.node, r.vmid).await["cores"].as_i64(), Some(3));
    }

    // Delete: nothing of the block is left anywhere.
    let vmid_base = plan.vmid_base;
    classes::delete(&w.services, &owner, id).await.unwrap();
    run_until_idle(&w.services, &settings()).await.unwrap();
    let (vms, volumes) = block_in_proxmox(w, vmid_base).await;
    assert!(vms.is_empty() && volumes.is_empty(), "{vms:?} {volumes:?}");
    let pools = w.pve_as_root(Method::GET, "pools", &[]).await;
    assert!(
        !pools
            .to_string()
            .contains(&format!("proxlab-class-{vmid_base}")),
        "the class's pool goes with it: {pools}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_lvm_thin_a_class_lives_its_whole_life_through_the_api() {
    whole_life(vec![], "local-lvm", "LVM-Thin", Layout::OneNode).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_lvm_thin_a_base_on_each_node_spreads_the_class() {
    whole_life(vec![], "local-lvm", "LVM-Thin", Layout::BasePerNode).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_zfs_a_class_with_a_base_on_each_node_lives_its_whole_life() {
    whole_life(
        vec![ExtraStorage::LocalZfs],
        "local-zfs",
        "ZFS",
        Layout::BasePerNode,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_ceph_rbd_a_class_spreads_over_nodes_and_lives_its_whole_life() {
    whole_life(vec![ExtraStorage::Ceph], "ceph", "Ceph RBD", Layout::Shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_directory_without_a_path_a_class_is_cloned_through_the_api() {
    whole_life(vec![], "local", "Directory", Layout::OneNode).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_directory_a_raw_template_is_cloned_through_the_api() {
    let w = stock_world(vec![], "local").await;
    // A VM with a raw disk on `local`, made a template: `base-9100-disk-0.raw`; its linked
    // clones are qcow2 files backed by it (`Plugin.pm` `clone_image`).
    let made = w
        .pve_as_root(
            Method::POST,
            "nodes/pve1/qemu",
            &[
                ("vmid", "9100"),
                ("name", "raw-template"),
                ("scsi0", "local:4,format=raw"),
                ("net0", "virtio,bridge=vmbr0"),
                ("memory", "1024"),
            ],
        )
        .await;
    w.wait_task(made["data"].as_str().unwrap()).await;
    let made = w
        .pve_as_root(Method::POST, "nodes/pve1/qemu/9100/template", &[])
        .await;
    w.wait_task(made["data"].as_str().unwrap()).await;
    let tc = config(&w, "pve1", 9100).await;
    assert!(
        tc["scsi0"]
            .as_str()
            .unwrap()
            .contains("base-9100-disk-0.raw"),
        "{tc}"
    );
    lab::sync::quick::run(
        &w.services,
        &lab::clusters::find(&w.services, w.cluster_id)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    whole_life_of(&w, "9100", "local", "Directory", Layout::OneNode).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_at_every_crash_point_leaves_exactly_the_requested_vms() {
    crash_everywhere(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_while_copying_the_base_to_other_nodes_leaves_exactly_the_requested_vms() {
    crash_everywhere(true).await;
}

/// A one-student class on LVM-thin (with a base per node: the student goes to another
/// node, so the deployment also copies and migrates the base) is deployed once to count
/// the crash points, then once more per point with the runner killed there.
async fn crash_everywhere(base_per_node: bool) {
    let w = stock_world(vec![], "local-lvm").await;
    let teacher = make_user(&w.services, "teacher", Role::Teacher).await;
    let class_form = |name: &str| {
        let mut f = form(&w, name, 1);
        if base_per_node {
            f.base_per_node = "on".into();
        }
        f
    };
    let points: Arc<Mutex<Vec<FaultPoint>>> = Arc::default();
    let seen = points.clone();
    let clean = classes::launch(&w.services, &teacher, &class_form("Clean"))
        .await
        .unwrap();
    let vms = if base_per_node { 4 } else { 3 };
    let faults = Faults::new(move |p| {
        seen.lock().unwrap().push(p.clone());
        FaultAction::Go
    });
    run_until_idle_with(&w.services, &settings(), faults)
        .await
        .unwrap();
    assert_exactly(&w, clean, vms).await;
    let total = points.lock().unwrap().len();
    println!("{total} crash points in a {vms}-VM clone deployment");
    assert!(total >= 3 * 5, "{:?}", points.lock().unwrap());
    if base_per_node {
        let migrations = points
            .lock()
            .unwrap()
            .iter()
            .filter(|p| format!("{p:?}").contains("migrate vm"))
            .count();
        assert_eq!(migrations, 1, "{:?}", points.lock().unwrap());
    }
    for k in 0..total {
        let id = classes::launch(&w.services, &teacher, &class_form(&format!("Crash {k}")))
            .await
            .unwrap();
        let at = crash_runner_at(&w, k, &settings()).await;
        lab::db::entity::job::Entity::update_many()
            .col_expr(lab::db::entity::job::Column::LeaseUntil, Expr::value(0i64))
            .filter(lab::db::entity::job::Column::LeaseUntil.is_not_null())
            .exec(&w.services.db)
            .await
            .unwrap();
        assert_eq!(
            run_until_idle(&w.services, &settings()).await.unwrap(),
            1,
            "resumed after a crash at {at:?}"
        );
        assert_exactly(&w, id, vms).await;
    }
}
