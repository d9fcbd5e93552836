//! Jobs in the states an admin meets, written straight into the tables as the engine would
//! have left them, for the `proxlab jobs` and Jobs-page tests. A portal's workers leave them
//! alone: the running ones hold an hour-long lease of a runner that is not there, and the
//! queued one waits behind them (jobs of a class run in order).

use lab::db::entity::{class, class_vm, cluster, job};
use lab::model::{JobKind, JobState, Role, VmRole, VmStep};
use sea_orm::{ActiveModelTrait, Set};

pub const CLASS: &str = "Routing 301";
pub const RUNNER: &str = "elsewhere/0";
pub const ERROR: &str = "pve1: ssh: connection refused";
/// The id of the class a failed delete job was about (the class is gone).
pub const GONE: i32 = 9999;

pub struct Seeded {
    pub class_id: i32,
    /// Running, 1 of 2 VMs made; cancellable.
    pub deploy: i32,
    /// Queued reset of VM 101; cancellable.
    pub reset: i32,
    /// Running publish; not cancellable.
    pub publish: i32,
    /// A finished CPU/RAM change.
    pub respec: i32,
    /// A failed delete of a class that is gone.
    pub delete: i32,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A teacher `owner` with a class on a (disabled, unreachable) cluster, and its jobs.
pub async fn seed(services: &lab::Services) -> Seeded {
    let db = &services.db;
    let now = now();
    let owner = lab::auth::create_user(
        services,
        lab::auth::NewUser {
            username: "owner".into(),
            display_name: String::new(),
            email: None,
            role: Role::Teacher,
            password: "a long enough password".into(),
        },
    )
    .await
    .unwrap();
    let cluster = cluster::ActiveModel {
        name: Set("jobs-lab".into()),
        api_urls: Set("https://127.0.0.1:9".into()),
        auth_kind: Set("token".into()),
        auth_id: Set("root@pam!t".into()),
        secret_enc: Set(String::new()),
        vm_subnets: Set(String::new()),
        pve_root: Set(String::new()),
        storage_paths: Set(String::new()),
        ssh_port: Set(22),
        enabled: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let class = class::ActiveModel {
        name: Set(CLASS.into()),
        description: Set(String::new()),
        cluster_id: Set(cluster.id),
        owner_id: Set(owner.id),
        vmid_base: Set(100),
        students: Set(1),
        storage: Set("local".into()),
        state: Set("deploying".into()),
        export_paths: Set(String::new()),
        created_at: Set(now - 600),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    for (vmid, role, step) in [
        (100, VmRole::Teacher, VmStep::Ready),
        (101, VmRole::Student, VmStep::Creating),
    ] {
        class_vm::ActiveModel {
            class_id: Set(class.id),
            cluster_id: Set(cluster.id),
            vmid: Set(vmid),
            role: Set(role),
            name: Set(format!("vm-{vmid}")),
            node: Set("pve1".into()),
            step: Set(step),
            attempts: Set(0),
            macs: Set(String::new()),
            disks: Set(String::new()),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    let add = |class_id: i32, kind: JobKind, state: JobState, vmid: Option<i32>| {
        let running = state == JobState::Running;
        let finished = matches!(state, JobState::Done | JobState::Failed);
        job::ActiveModel {
            class_id: Set(class_id),
            kind: Set(kind),
            vmid: Set(vmid),
            state: Set(state),
            error: Set((state == JobState::Failed).then(|| ERROR.to_owned())),
            lease_owner: Set(running.then(|| RUNNER.to_owned())),
            lease_until: Set(running.then_some(now + 3600)),
            fence: Set(i64::from(running)),
            priority: Set(kind.priority()),
            attempts: Set(i32::from(running || finished)),
            requested_by: Set(Some(owner.id)),
            commands: Set(if finished { 4 } else { 0 }),
            created_at: Set(now - 300),
            started_at: Set((running || finished).then_some(now - 240)),
            finished_at: Set(finished.then_some(now - 60)),
            ..Default::default()
        }
        .insert(db)
    };
    let respec = add(class.id, JobKind::Respec, JobState::Done, None)
        .await
        .unwrap();
    let delete = add(GONE, JobKind::Delete, JobState::Failed, None)
        .await
        .unwrap();
    let deploy = add(class.id, JobKind::Deploy, JobState::Running, None)
        .await
        .unwrap();
    let publish = add(class.id, JobKind::Publish, JobState::Running, None)
        .await
        .unwrap();
    let reset = add(class.id, JobKind::Reset, JobState::Queued, Some(101))
        .await
        .unwrap();
    Seeded {
        class_id: class.id,
        deploy: deploy.id,
        reset: reset.id,
        publish: publish.id,
        respec: respec.id,
        delete: delete.id,
    }
}

/// A job's state now.
pub async fn state(services: &lab::Services, id: i32) -> JobState {
    use sea_orm::EntityTrait;
    job::Entity::find_by_id(id)
        .one(&services.db)
        .await
        .unwrap()
        .unwrap()
        .state
}
