//! A pvesim cluster of `vms` guests (no disks but the templates', no added latency) added to
//! a fresh SQLite file, for the benchmarks that need a big inventory.

use lab::db::entity::cluster;
use lab::model::ClusterForm;
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Services, clusters};
use pvesim::{SeedDisks, Sim, SimConfig};
use std::time::Duration;

pub struct BigCluster {
    pub dir: tempfile::TempDir,
    pub sim: Sim,
    pub services: Services,
    pub cluster: cluster::Model,
}

pub async fn big_cluster(vms: usize) -> BigCluster {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(SimConfig {
        root: dir.path().join("pve"),
        vms,
        templates: 4,
        containers: 0,
        unauthorized_delay: Duration::ZERO,
        seed_disks: SeedDisks::TemplatesOnly,
        ..SimConfig::default()
    })
    .unwrap();
    let db = lab::db::connect(&format!("sqlite://{}", dir.path().join("b.db").display()))
        .await
        .unwrap();
    lab::db::migrate(&db).await.unwrap();
    let services = Services::new(db, AuthPolicy::default(), SecretBox::ephemeral());
    let view = clusters::create(
        &services,
        &ClusterForm::with_token("bench", &sim.url(), sim.fingerprint(), &sim.token()).unwrap(),
    )
    .await
    .unwrap();
    let cluster = clusters::find(&services, view.id).await.unwrap();
    BigCluster {
        dir,
        sim,
        services,
        cluster,
    }
}
