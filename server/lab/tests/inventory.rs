//! The inventory against pvesim: quick and full sync follow what happens in Proxmox (new,
//! deleted, renamed, moved, started guests; an offline node), with the number of Proxmox
//! calls per cycle asserted; dashboards show each user only their VMs; power actions are
//! refused for others' VMs before any Proxmox call, and a double click sends one request.

use lab::db::entity::vm;
use lab::model::{ClusterForm, Role, VmAction, VmFilter, VmState};
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Error, Services, auth, clusters, inventory, sync};
use pvesim::{NodeState, Sim, SimConfig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::path::PathBuf;
use std::time::Duration;

struct World {
    _dir: tempfile::TempDir,
    sim: Sim,
    services: Services,
    cluster: lab::db::entity::cluster::Model,
    root: PathBuf,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pve");
    let sim = Sim::start(SimConfig::for_tests(&root)).unwrap();
    let db = lab::db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    lab::db::migrate(&db).await.unwrap();
    let services = Services::new(db, AuthPolicy::default(), SecretBox::ephemeral());
    let view = clusters::create(
        &services,
        &ClusterForm::with_token("lab", &sim.url(), sim.fingerprint(), &sim.token()).unwrap(),
    )
    .await
    .unwrap();
    let cluster = clusters::find(&services, view.id).await.unwrap();
    World {
        _dir: dir,
        sim,
        services,
        cluster,
        root,
    }
}

impl World {
    async fn quick(&self) -> sync::quick::QuickReport {
        sync::quick::run(&self.services, &self.cluster)
            .await
            .unwrap()
    }

    async fn full(&self) -> sync::full::FullReport {
        sync::full::run(&self.services, &self.cluster, None)
            .await
            .unwrap()
    }

    async fn row(&self, vmid: i32) -> Option<vm::Model> {
        vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(self.cluster.id))
            .filter(vm::Column::Vmid.eq(vmid))
            .one(&self.services.db)
            .await
            .unwrap()
    }

    fn config_path(&self, node: &str, vmid: i32) -> PathBuf {
        self.root
            .join(format!("etc/pve/nodes/{node}/qemu-server/{vmid}.conf"))
    }

    async fn user(&self, name: &str, role: Role) -> lab::db::entity::user::Model {
        auth::create_user(
            &self.services,
            auth::NewUser {
                username: name.into(),
                display_name: String::new(),
                email: None,
                role,
                password: "correct horse battery".into(),
            },
        )
        .await
        .unwrap();
        auth::find_user(&self.services, name)
            .await
            .unwrap()
            .unwrap()
    }
}

/// Waits (up to 10 s) for `check` on VM `vmid` to hold, running quick+full syncs meanwhile.
async fn until(w: &World, vmid: i32, check: impl Fn(&vm::Model) -> bool) -> vm::Model {
    for _ in 0..100 {
        w.quick().await;
        w.full().await;
        if let Some(row) = w.row(vmid).await.filter(|r| check(r)) {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "VM {vmid} never reached the expected state: {:?}",
        w.row(vmid).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_sync_reads_everything_and_the_next_ones_almost_nothing() {
    let w = world().await;
    w.sim.control().reset_counters();
    let first = w.quick().await;
    assert_eq!(first.added, first.guests);
    assert!(first.guests >= 7, "{first:?}");
    assert_eq!(w.sim.control().count("GET /cluster/resources"), 1);
    let full = w.full().await;
    assert!(full.configs >= 5, "configs read for new guests: {full:?}");
    let nodes = w.sim.control().count("GET /nodes/{node}/status");
    assert!(nodes >= 1, "each online node's version is read once");
    // Nothing changed since: a quick sync writes nothing, a full sync costs only `/nodes`
    // and the storages' use (plus IP lookups of guests still booting, of which the fixture
    // world has none); the versions are not read again within the hour.
    let again = w.quick().await;
    assert_eq!((again.added, again.changed, again.removed), (0, 0, 0));
    w.sim.control().reset_counters();
    let idle = w.full().await;
    assert_eq!(idle.configs, 0);
    assert_eq!(idle.calls, 2, "{:?}", w.sim.control().counters());
    assert_eq!(w.sim.control().count("GET /nodes/{node}/status"), 0);
    let template = w.row(9000).await.unwrap();
    assert!(template.template);
    let vm100 = w.row(100).await.unwrap();
    assert!(
        vm100.macs.as_deref().is_some_and(|m| m.contains(':')),
        "{vm100:?}"
    );
    assert!(!vm100.needs_detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_follows_create_rename_move_and_delete() {
    let w = world().await;
    w.quick().await;
    w.full().await;
    let source = std::fs::read_to_string(w.config_path("pve1", 100)).unwrap();
    // Create: a config file appears (as pmxcfs would show it).
    let created = source.replace("name: ", "name: made-by-hand-");
    std::fs::write(w.config_path("pve1", 4242), &created).unwrap();
    let report = w.quick().await;
    assert_eq!(report.added, 1);
    let row = w.row(4242).await.unwrap();
    assert!(row.name.starts_with("made-by-hand-") && row.needs_detail);
    // Rename.
    std::fs::write(
        w.config_path("pve1", 4242),
        created.replace("made-by-hand-", "renamed-"),
    )
    .unwrap();
    assert_eq!(w.quick().await.changed, 1);
    assert!(w.row(4242).await.unwrap().name.starts_with("renamed-"));
    // Move to another node (a migration, as pmxcfs shows it).
    std::fs::rename(w.config_path("pve1", 4242), w.config_path("pve2", 4242)).unwrap();
    w.quick().await;
    assert_eq!(w.row(4242).await.unwrap().node, "pve2");
    // Delete: the row goes, an assignment stays and shows as missing.
    let student = w.user("sam", Role::Student).await;
    inventory::assign(&w.services, w.cluster.id, 4242, "sam")
        .await
        .unwrap();
    std::fs::remove_file(w.config_path("pve2", 4242)).unwrap();
    assert_eq!(w.quick().await.removed, 1);
    assert!(w.row(4242).await.is_none());
    let page = inventory::dashboard(&w.services, &student, &VmFilter::default(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.cards.len(), 1);
    assert_eq!(page.cards[0].state, VmState::Missing);
    let missing = inventory::missing_assignments(&w.services).await.unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].0, "sam");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_node_keeps_its_rows_as_unknown_and_an_unreachable_cluster_too() {
    let w = world().await;
    w.quick().await;
    let before = w.row(100).await.unwrap();
    let node = before.node.clone();
    w.sim.control().set_node_state(&node, NodeState::Offline);
    w.quick().await;
    let after = w.row(100).await.unwrap();
    assert_eq!(after.status, "unknown");
    assert_eq!(after.name, before.name);
    assert_eq!(after.cpus, before.cpus);
    // The whole API unreachable: every row stays, as unknown.
    let count = vm::Entity::find().all(&w.services.db).await.unwrap().len();
    w.sim.control().fail_path("/cluster/resources", 1, "boom");
    assert!(sync::quick::run(&w.services, &w.cluster).await.is_err());
    let rows = vm::Entity::find().all(&w.services.db).await.unwrap();
    assert_eq!(rows.len(), count);
    assert!(rows.iter().all(|r| r.status == "unknown"));
    let status = clusters::list(&w.services).await.unwrap();
    assert!(
        status[0]
            .sync
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("boom"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn students_see_and_touch_only_their_own_vms() {
    let w = world().await;
    w.quick().await;
    let ann = w.user("ann", Role::Student).await;
    let bob = w.user("bob", Role::Student).await;
    let admin = w.user("root-admin", Role::Admin).await;
    inventory::assign(&w.services, w.cluster.id, 100, "ann")
        .await
        .unwrap();
    let page = |u: lab::db::entity::user::Model| {
        let services = w.services.clone();
        async move {
            inventory::dashboard(&services, &u, &VmFilter::default(), None)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let ann_page = page(ann.clone()).await;
    assert_eq!(
        ann_page.cards.iter().map(|c| c.vmid).collect::<Vec<_>>(),
        [100]
    );
    assert!(page(bob.clone()).await.cards.is_empty());
    assert!(page(admin.clone()).await.cards.len() >= 6);
    // A poll with the current counter: nothing new, no body.
    let none = inventory::dashboard(
        &w.services,
        &ann,
        &VmFilter::default(),
        Some(ann_page.counter),
    )
    .await
    .unwrap();
    assert!(none.is_none());
    // Bob acting on Ann's VM, or on a made-up VMID: not found, and Proxmox never hears of it.
    w.sim.control().reset_counters();
    for vmid in [100, 77777] {
        let err = lab::actions::power(&w.services, &bob, w.cluster.id, vmid, VmAction::Start)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    }
    assert!(
        w.sim
            .control()
            .counters()
            .keys()
            .all(|k| !k.starts_with("POST")),
        "{:?}",
        w.sim.control().counters()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_shows_starting_then_running_and_a_double_click_sends_one_request() {
    let w = world().await;
    w.quick().await;
    w.full().await;
    let ann = w.user("ann", Role::Student).await;
    // The first stopped ordinary VM on an online node.
    let target = vm::Entity::find()
        .filter(vm::Column::Status.eq("stopped"))
        .filter(vm::Column::Template.eq(false))
        .filter(vm::Column::Kind.eq("qemu"))
        .one(&w.services.db)
        .await
        .unwrap()
        .expect("a stopped VM in the fixture world");
    inventory::assign(&w.services, w.cluster.id, target.vmid, "ann")
        .await
        .unwrap();
    w.sim.control().reset_counters();
    let first = lab::actions::power(
        &w.services,
        &ann,
        w.cluster.id,
        target.vmid,
        VmAction::Start,
    );
    let second = lab::actions::power(
        &w.services,
        &ann,
        w.cluster.id,
        target.vmid,
        VmAction::Start,
    );
    let (a, b) = tokio::join!(first, second);
    let outcomes = [a, b];
    let started = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(lab::actions::Outcome::Started(_))))
        .count();
    assert_eq!(started, 1, "{outcomes:?}");
    assert_eq!(
        w.sim
            .control()
            .count("POST /nodes/{node}/qemu/{vmid}/status/start"),
        1
    );
    let card = |services: Services, user| async move {
        inventory::dashboard(&services, &user, &VmFilter::default(), None)
            .await
            .unwrap()
            .unwrap()
            .cards[0]
            .clone()
    };
    assert_eq!(
        card(w.services.clone(), ann.clone()).await.state,
        VmState::Starting
    );
    let running = until(&w, target.vmid, |r| r.status == "running" && r.ip.is_some()).await;
    assert_eq!(running.pending_action, None);
    assert_eq!(running.ip_source.as_deref(), Some("agent"));
    let shown = card(w.services.clone(), ann.clone()).await;
    assert_eq!(shown.state, VmState::Running);
    assert_eq!(shown.ip, running.ip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_leaves_proxmox_message_on_the_card() {
    let w = world().await;
    w.quick().await;
    let ann = w.user("ann", Role::Student).await;
    let target = vm::Entity::find()
        .filter(vm::Column::Status.eq("stopped"))
        .filter(vm::Column::Template.eq(false))
        .filter(vm::Column::Kind.eq("qemu"))
        .one(&w.services.db)
        .await
        .unwrap()
        .unwrap();
    inventory::assign(&w.services, w.cluster.id, target.vmid, "ann")
        .await
        .unwrap();
    w.sim.control().fail_tasks(
        Some("qmstart"),
        Some(target.vmid as u32),
        1,
        "start failed: no space left on device",
    );
    lab::actions::power(
        &w.services,
        &ann,
        w.cluster.id,
        target.vmid,
        VmAction::Start,
    )
    .await
    .unwrap();
    for _ in 0..100 {
        if w.row(target.vmid).await.unwrap().task_error.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let row = w.row(target.vmid).await.unwrap();
    assert!(
        row.task_error
            .as_deref()
            .is_some_and(|e| e.contains("no space left")),
        "{row:?}"
    );
    assert_eq!(row.pending_action, None);
    // Starting a VM that is not stopped is refused before Proxmox.
    let err = lab::actions::power(
        &w.services,
        &ann,
        w.cluster.id,
        target.vmid,
        VmAction::Shutdown,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_secrets_are_sealed_and_a_realm_login_makes_an_admin() {
    let w = world().await;
    let stored = lab::db::entity::cluster::Entity::find_by_id(w.cluster.id)
        .one(&w.services.db)
        .await
        .unwrap()
        .unwrap();
    let secret = w.sim.token().rsplit_once('=').unwrap().1.to_owned();
    assert!(!stored.secret_enc.contains(&secret));
    let view = &clusters::list(&w.services).await.unwrap()[0];
    assert!(!format!("{view:?}").contains(&secret));
    // root@pam through Proxmox: an admin account, with no usable local password.
    let (user, _token) = auth::login(
        &w.services,
        auth::LoginAttempt {
            username: "root@pam",
            password: "secret",
            client_addr: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(user.username, "root@pam");
    assert_eq!(user.role, "admin");
    let wrong = auth::login(
        &w.services,
        auth::LoginAttempt {
            username: "root@pam",
            password: "nope",
            client_addr: None,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(wrong, Error::WrongCredentials), "{wrong:?}");
    // With an admin group named, members only: student1@pve is not in `admin`, and no other
    // group is mapped, so it is refused (with its reason: the password was right).
    let mut form = ClusterForm {
        name: "lab".into(),
        api_urls: w.sim.url(),
        fingerprint: w.sim.fingerprint().into(),
        auth_kind: "token".into(),
        auth_id: w.sim.token().rsplit_once('=').unwrap().0.into(),
        admin_group: "admin".into(),
        ..Default::default()
    };
    clusters::update(&w.services, w.cluster.id, &form)
        .await
        .unwrap();
    let refused = auth::login(
        &w.services,
        auth::LoginAttempt {
            username: "student1@pve",
            password: "secret",
            client_addr: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&refused, Error::Invalid(m) if m.contains("not in a Proxmox group")),
        "{refused:?}"
    );
    let (portal, _) = auth::login(
        &w.services,
        auth::LoginAttempt {
            username: "portal@pve",
            password: "secret",
            client_addr: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(portal.role, "admin");
    // Bad input changes nothing.
    form.api_urls = "http://insecure:8006".into();
    assert!(
        clusters::update(&w.services, w.cluster.id, &form)
            .await
            .is_err()
    );
    assert_eq!(
        clusters::list(&w.services).await.unwrap()[0].api_urls,
        [w.sim.url()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rdp_check_contacts_only_known_addresses_and_records_the_answer() {
    use sea_orm::sea_query::Expr;
    let w = world().await;
    w.quick().await;
    // Two running VMs whose IPs are loopback (the test's own machine): one port answers.
    let running: Vec<vm::Model> = vm::Entity::find()
        .filter(vm::Column::Status.eq("running"))
        .all(&w.services.db)
        .await
        .unwrap();
    assert!(running.len() >= 2, "{running:?}");
    for (row, ip) in running.iter().zip(["127.0.0.1", "127.0.0.2"]) {
        vm::Entity::update_many()
            .col_expr(vm::Column::Ip, Expr::value(ip))
            .filter(vm::Column::Id.eq(row.id))
            .exec(&w.services.db)
            .await
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let checked = sync::rdp_check::run_on_port(&w.services, w.cluster.id, port)
        .await
        .unwrap();
    assert_eq!(checked, 2);
    assert_eq!(w.row(running[0].vmid).await.unwrap().rdp_open, Some(true));
    assert_eq!(w.row(running[1].vmid).await.unwrap().rdp_open, Some(false));
    // Checked addresses are not contacted again.
    let again = sync::rdp_check::run_on_port(&w.services, w.cluster.id, port)
        .await
        .unwrap();
    assert_eq!(again, 0);
}

/// Proxmox refusing the portal's own token: the sync fails, and the Sync page's last error
/// says so and when the next try is; the runs during the pause never reach Proxmox (each
/// would be an authentication failure in the node's log, which fail2ban may watch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_show_the_backoff_on_the_sync_page() {
    let w = world().await;
    let token = w.sim.token();
    let (id, _) = token.rsplit_once('=').unwrap();
    let mut form = ClusterForm::with_token(
        "lab",
        &w.sim.url(),
        w.sim.fingerprint(),
        &format!("{id}=wrong"),
    )
    .unwrap();
    form.ssh_user.clear();
    clusters::update(&w.services, w.cluster.id, &form)
        .await
        .unwrap();
    let cluster = clusters::find(&w.services, w.cluster.id).await.unwrap();
    w.sim.control().reset_counters();
    for _ in 0..5 {
        assert!(sync::quick::run(&w.services, &cluster).await.is_err());
    }
    let calls: u64 = w.sim.control().counters().values().sum();
    assert_eq!(calls, 1, "one refused call, then the pause");
    let status = clusters::list(&w.services).await.unwrap();
    let error = status[0].sync.last_error.clone().unwrap_or_default();
    assert!(error.contains("tries again in"), "{error}");
    assert!(error.contains("refused 1 time(s)"), "{error}");
}

/// The admin's Nodes page from what the full sync wrote: each node with its version, VMs
/// (templates not counted) and own storages, shared storage once; an offline node says so;
/// a failed storage call keeps the last figures; teachers are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_page_shows_what_the_full_sync_read_for_admins_only() {
    use lab::capacity;
    let w = world().await;
    let admin = w.user("root", Role::Admin).await;
    let teacher = w.user("teach", Role::Teacher).await;
    let empty = capacity::overview(&w.services, &admin).await.unwrap();
    assert_eq!(empty.clusters.len(), 1);
    assert!(empty.clusters[0].nodes.is_empty() && empty.clusters[0].read_at.is_none());
    w.quick().await;
    w.full().await;
    let page = capacity::overview(&w.services, &admin).await.unwrap();
    let c = &page.clusters[0];
    assert!(c.read_at.is_some());
    let rows = vm::Entity::find().all(&w.services.db).await.unwrap();
    for n in &c.nodes {
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r.node == n.node && !r.template)
            .collect();
        assert_eq!(n.vms, mine.len() as i64, "{}", n.node);
        let running = mine.iter().filter(|r| r.status == "running").count();
        assert_eq!(n.running, running as i64, "{}", n.node);
        if n.online {
            assert!(
                n.version
                    .as_deref()
                    .is_some_and(|v| v.starts_with(['8', '9'])),
                "{n:?}"
            );
            assert!(n.maxmem > 0 && n.maxcpu > 0 && n.mem <= n.maxmem, "{n:?}");
            assert!(n.storages.iter().all(|s| !s.shared), "{n:?}");
        }
    }
    assert!(c.nodes.iter().map(|n| n.vms).sum::<i64>() > 0);
    // The groups for the cluster form's pickers: what Proxmox lists to the portal's token.
    let client = clusters::client(&w.services, &w.cluster).unwrap();
    let listed = client.groups().await.unwrap();
    assert!(!listed.is_empty(), "the test world has groups");
    let mut want: Vec<String> = listed.into_iter().map(|(g, _)| g).collect();
    want.sort();
    let got = clusters::list(&w.services).await.unwrap()[0].groups.clone();
    assert_eq!(got, want);
    let shared: Vec<&str> = c.shared.iter().map(|s| s.storage.as_str()).collect();
    let mut unique = shared.clone();
    unique.dedup();
    assert_eq!(shared, unique, "each shared storage once");
    let local = c.nodes.iter().flat_map(|n| &n.storages).count();
    assert!(local + shared.len() > 0, "{c:?}");

    // A node goes down: the next full sync says so.
    let node = c.nodes.iter().find(|n| n.online).unwrap().node.clone();
    assert!(w.sim.control().set_node_state(&node, NodeState::Offline));
    w.sim
        .control()
        .fail_path("/cluster/resources", 1, "storage status unavailable");
    w.full().await;
    let after = capacity::overview(&w.services, &admin).await.unwrap();
    let down = after.clusters[0]
        .nodes
        .iter()
        .find(|n| n.node == node)
        .unwrap();
    assert!(!down.online);
    // The storage call failed: the last figures stay (the node's storages still active) ...
    let before = c.nodes.iter().find(|n| n.node == node).unwrap();
    assert!(before.storages.iter().any(|s| s.active), "{before:?}");
    assert_eq!(down.storages, before.storages);
    assert_eq!(after.clusters[0].shared, c.shared);
    // ... until a storage call answers: the offline node's storages are not active.
    w.full().await;
    let later = capacity::overview(&w.services, &admin).await.unwrap();
    let down = later.clusters[0]
        .nodes
        .iter()
        .find(|n| n.node == node)
        .unwrap();
    assert!(down.storages.iter().all(|s| !s.active), "{down:?}");

    assert!(matches!(
        capacity::overview(&w.services, &teacher).await,
        Err(Error::Forbidden)
    ));
}
