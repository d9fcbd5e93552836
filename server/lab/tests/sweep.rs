//! The nmap subnet sweep against a network namespace this test creates (a veth pair with a
//! /30 on each side; the namespace end carries a VM's MAC): the sweep finds the address by
//! MAC. Nothing else is probed: the only subnet given is the test's own /30.

#[path = "support/netns.rs"]
mod netns;
#[path = "support/world.rs"]
mod world;

use lab::db::entity::vm;
use lab::{clusters, sync};
use netns::Netns;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use world::sim_world;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_finds_a_vm_by_mac_in_the_given_subnet_only() {
    let w = sim_world(|_| {}).await;
    let services = &w.services;
    let row = clusters::find(services, w.cluster_id).await.unwrap();
    sync::full::run(services, &row, None).await.unwrap();

    // Nothing lacks an IP yet: no sweep at all.
    let running: Vec<vm::Model> = vm::Entity::find()
        .filter(vm::Column::Status.eq("running"))
        .filter(vm::Column::Kind.eq("qemu"))
        .filter(vm::Column::Macs.is_not_null())
        .all(&services.db)
        .await
        .unwrap();
    let target = running.first().expect("a running VM with a MAC").clone();
    for r in &running {
        let mut a: vm::ActiveModel = r.clone().into();
        a.ip = Set(Some("192.0.2.1".into()));
        a.update(&services.db).await.unwrap();
    }
    let subnet = vec!["10.249.77.0/30".to_owned()];
    assert_eq!(
        sync::sweep::run(services, w.cluster_id, &subnet)
            .await
            .unwrap(),
        None
    );

    // One VM without an IP, whose MAC answers in the namespace.
    let mac = target
        .macs
        .clone()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let mut a: vm::ActiveModel = target.clone().into();
    a.ip = Set(None);
    a.update(&services.db).await.unwrap();
    let _ns = Netns::new(77, Some(&mac));
    assert_eq!(
        sync::sweep::run(services, w.cluster_id, &subnet)
            .await
            .unwrap(),
        Some(1)
    );
    let after = vm::Entity::find_by_id(target.id)
        .one(&services.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.ip.as_deref(), Some("10.249.77.2"));
    assert_eq!(after.ip_source.as_deref(), Some("sweep"));

    // An unsafe list is refused before nmap runs.
    let mut b: vm::ActiveModel = after.into();
    b.ip = Set(None);
    b.update(&services.db).await.unwrap();
    assert!(
        sync::sweep::run(services, w.cluster_id, &["10.0.0.0/8".to_owned()])
            .await
            .is_err()
    );
}
