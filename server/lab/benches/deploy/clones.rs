//! 4. The Proxmox-clone path (no node shell) with pvesim's modelled task times (scale 1.0:
//!    a full copy 1 s + 400 MiB/s of used data, a linked clone 1 s + 0.5 s per disk), on
//!    LVM-thin (node-local) and Ceph RBD (shared), 30 and 98 students. Printed:
//!    - the first student VM ready after Launch;
//!    - the whole class, against Proxmox alone: the same tasks started by hand as parallel
//!      as Proxmox allows (base full copy, template, then every linked clone at once);
//!    - the portal's overhead: wall time minus the Proxmox task time on its critical path
//!      (base copy + template + one linked clone per round of the job's fan-out).
//! 5. The same on LVM-thin with a copy of the class base on each node (3 nodes): the first
//!    student VM and the whole class, and how much the copies (full copy, offline migration
//!    at pvesim's 110 MiB/s, template) add to the class's time.
//! 6. A student's reset both ways: destroy and clone again (what the reset job does) against
//!    a `baseline` snapshot rolled back.

use super::world::{SimWorld, make_user, sim_world_with};
use lab::db::entity::class_vm;
use lab::jobs::{JobSettings, spawn_workers};
use lab::model::{ClassForm, Role, VmRole, VmStep};
use pvesim::ExtraStorage;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::{Duration, Instant};

async fn world(storage: &str) -> SimWorld {
    let ts = storage.to_owned();
    sim_world_with(
        None,
        move |c| {
            c.task_time_scale = 1.0;
            c.extra_storages = if ts == "ceph" {
                vec![ExtraStorage::Ceph]
            } else {
                Vec::new()
            };
            c.template_storage = ts;
        },
        |form| form.pve_root = "/nonexistent/etc/pve".into(),
    )
    .await
}

async fn post(w: &SimWorld, path: &str, form: &[(&str, &str)]) -> String {
    w.pve_as_root(Method::POST, path, form).await["data"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Proxmox alone: (full copy, template, one linked clone, all of it with every linked clone
/// at once), in seconds, on VMIDs 8000..=8099.
async fn proxmox_alone(w: &SimWorld, storage: &str, students: u32) -> (f64, f64, f64, f64) {
    let started = Instant::now();
    let upid = post(
        w,
        "nodes/pve1/qemu/9000/clone",
        &[
            ("newid", "8099"),
            ("full", "1"),
            ("storage", storage),
            ("name", "b"),
        ],
    )
    .await;
    w.wait_task(&upid).await;
    let full = started.elapsed().as_secs_f64();
    let t = Instant::now();
    let upid = post(w, "nodes/pve1/qemu/8099/template", &[]).await;
    w.wait_task(&upid).await;
    let template = t.elapsed().as_secs_f64();
    let mut upids = Vec::new();
    for i in 0..students {
        let newid = (8000 + i).to_string();
        upids.push(
            post(
                w,
                "nodes/pve1/qemu/8099/clone",
                &[("newid", &newid), ("full", "0"), ("name", "s")],
            )
            .await,
        );
    }
    for u in &upids {
        w.wait_task(u).await;
    }
    let one = {
        let t = Instant::now();
        let upid = post(
            w,
            "nodes/pve1/qemu/8099/clone",
            &[("newid", "8098"), ("full", "0"), ("name", "s")],
        )
        .await;
        w.wait_task(&upid).await;
        t.elapsed().as_secs_f64()
    };
    (full, template, one, started.elapsed().as_secs_f64() - one)
}

/// Launches a class of `students` and waits for every VM; (first student VM ready, whole
/// class), in seconds after Launch, the number of base copies and the class. The job
/// workers keep running (the caller shuts them down).
async fn deploy(w: &SimWorld, students: u32, base_per_node: bool) -> (f64, f64, usize, i32) {
    let services = &w.services;
    let teacher = make_user(services, "teacher", Role::Teacher).await;
    let form = ClassForm {
        name: "Bench".into(),
        cluster_id: w.cluster_id,
        template_vmid: "9000".into(),
        students: students.to_string(),
        base_per_node: if base_per_node {
            "on".into()
        } else {
            String::new()
        },
        ..ClassForm::default()
    };
    let settings = JobSettings::default();
    let started = Instant::now();
    let id = lab::classes::launch(services, &teacher, &form)
        .await
        .unwrap();
    spawn_workers(services, settings.clone(), Duration::from_secs(20));
    let mut first = None;
    let wall = loop {
        let rows = class_vm::Entity::find()
            .filter(class_vm::Column::ClassId.eq(id))
            .all(&services.db)
            .await
            .unwrap();
        if first.is_none()
            && rows
                .iter()
                .any(|r| r.role == VmRole::Student && r.step == VmStep::Ready)
        {
            first = Some(started.elapsed().as_secs_f64());
        }
        if rows.iter().all(|r| r.step == VmStep::Ready) {
            break started.elapsed().as_secs_f64();
        }
        assert!(rows.iter().all(|r| r.step != VmStep::Failed), "{rows:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let copies = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(id))
        .filter(class_vm::Column::Role.eq(VmRole::Base))
        .all(&services.db)
        .await
        .unwrap()
        .len()
        - 1;
    (first.unwrap_or(wall), wall, copies, id)
}

pub async fn clone_class(students: u32, storage: &str) {
    let w = world(storage).await;
    let settings = JobSettings::default();
    let (first, wall, _, _) = deploy(&w, students, false).await;
    w.services.shut_down(Duration::from_secs(20)).await;
    let (full, template, one, alone) = proxmox_alone(&w, storage, students).await;
    // The job clones `per_node * 4` students at a time (its fan-out).
    let rounds = students.div_ceil((settings.per_node * 4) as u32);
    let critical = full + template + f64::from(rounds) * one;
    println!(
        "clones {storage:<9} {students:>2} students: first student VM {:>5.2} s after Launch; class {:>6.2} s, \
         Proxmox alone {:>5.2} s ({:.2}x); overhead {:>4.1} % (critical path {:.2} s: copy {:.2} + template {:.2} + {rounds} x clone {:.2})",
        first,
        wall,
        alone,
        wall / alone,
        (wall - critical) / wall * 100.0,
        critical,
        full,
        template,
        one
    );
}

pub async fn clone_class_base_per_node(students: u32) {
    let mut runs = Vec::new();
    for base_per_node in [false, true] {
        let w = world("local-lvm").await;
        runs.push(deploy(&w, students, base_per_node).await);
        w.services.shut_down(Duration::from_secs(20)).await;
    }
    let [(first_one, wall_one, _, _), (first, wall, copies, _)] = runs[..] else {
        unreachable!("two runs")
    };
    println!(
        "clones local-lvm {students:>2} students, a base on each node ({copies} copies): first student VM {first:>5.2} s after Launch; \
         class {wall:>6.2} s; on one node: first {first_one:>5.2} s, class {wall_one:>6.2} s"
    );
}

/// Reset, the two ways the issue names, on pvesim's modelled task times (LVM-thin, a stopped
/// one-student class): the portal's way (destroy, then a linked clone of the class base
/// again, with its config step) against rolling back a `baseline` snapshot taken right after
/// the clone (`POST …/snapshot/baseline/rollback`, by hand). pvesim gives a rollback a flat
/// 1 s and does not model the volume's own rollback, so the comparison is only as good as
/// that model.
pub async fn reset_two_ways() {
    let w = world("local-lvm").await;
    let (_, _, _, id) = deploy(&w, 1, false).await;
    let mut reclone = Vec::new();
    for _ in 0..3 {
        reclone.push(super::timed_reset(&w.services, id).await);
    }
    w.services.shut_down(Duration::from_secs(20)).await;
    let student = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(id))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .one(&w.services.db)
        .await
        .unwrap()
        .unwrap();
    let vm = format!("nodes/{}/qemu/{}", student.node, student.vmid);
    let upid = post(&w, &format!("{vm}/snapshot"), &[("snapname", "baseline")]).await;
    w.wait_task(&upid).await;
    let mut rollback = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let upid = post(&w, &format!("{vm}/snapshot/baseline/rollback"), &[]).await;
        w.wait_task(&upid).await;
        rollback.push(t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "reset (LVM-thin, stopped VM, median of 3): destroy + linked clone through the job {:.2} s; \
         baseline snapshot rollback by hand {:.2} s",
        median(&mut reclone),
        median(&mut rollback)
    );
}
