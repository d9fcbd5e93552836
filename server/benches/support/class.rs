//! For the server benches: a class's worth of people on a synced cluster.

use lab::Services;
use lab::model::Role;
use sea_orm::{ActiveValue::Set, EntityTrait};

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
