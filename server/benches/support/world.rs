//! For the server benches: a simulated cluster, a class's worth of people on it, and the
//! memory figures of a process.

use lab::Services;
use lab::model::Role;
use sea_orm::{ActiveValue::Set, EntityTrait};
use std::path::Path;
use std::time::Duration;

/// pvesim with `vms` VMs (4 templates, no containers) under `root`, answering at full speed.
pub fn sim(root: &Path, vms: usize) -> pvesim::Sim {
    pvesim::Sim::start(pvesim::SimConfig {
        root: root.to_path_buf(),
        vms,
        templates: 4,
        containers: 0,
        unauthorized_delay: Duration::ZERO,
        seed_disks: pvesim::SeedDisks::TemplatesOnly,
        ..pvesim::SimConfig::default()
    })
    .unwrap()
}

/// A `/proc/{pid}/status` field in kB (`"VmRSS:"`, `"VmHWM:"`, `"RssAnon:"`…); `pid` may be
/// `"self"`.
#[allow(dead_code)] // not every bench that includes this module needs it
pub fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[allow(dead_code)] // not every bench that includes this module needs it
pub fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// `students` students with two of the cluster's VMs each and one admin, all signed in.
/// Returns their session cookies, the admin's last. Users are inserted directly (one
/// password hash shared), which is much quicker than `create_user` for hundreds.
pub async fn signed_in(services: &Services, cluster_id: i32, students: usize) -> Vec<String> {
    let vmids = lab::inventory::first_vms(services, cluster_id, (2 * students) as u64)
        .await
        .unwrap();
    let hash = lab::auth::hash_password("bench password 1").await.unwrap();
    let mut cookies = Vec::new();
    for i in 0..=students {
        let (name, role) = if i == students {
            ("boss".to_string(), Role::Admin)
        } else {
            (format!("s{i}"), Role::Student)
        };
        let user = lab::db::entity::user::Entity::insert(lab::db::entity::user::ActiveModel {
            username: Set(name.clone()),
            display_name: Set(name.clone()),
            role: Set(role.as_str().into()),
            password_hash: Set(hash.clone()),
            disabled: Set(false),
            created_at: Set(0),
            ..Default::default()
        })
        .exec_with_returning(&services.db)
        .await
        .unwrap();
        if role == Role::Student {
            for vmid in vmids.iter().skip(2 * i).take(2) {
                lab::inventory::assign(services, cluster_id, *vmid, &name)
                    .await
                    .unwrap();
            }
        }
        let session = lab::auth::start_session(services, user.id, None)
            .await
            .unwrap();
        cookies.push(format!("{}={session}", app::session::COOKIE_NAME));
    }
    cookies
}
