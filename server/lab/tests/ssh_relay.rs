//! SSH through the portal against a real OpenSSH server with password authentication (in a
//! private mount namespace, see `support/sshd_password.rs`), the VM rows from pvesim: the
//! relay asks for a login and a password in the terminal, a wrong password gets "Access
//! denied" and another try, the right one a shell (`echo`, a resize seen by `stty size`);
//! three wrong ones close it. Refused before any connection: a class without SSH, another
//! student's VM, a VM without IP, a VM in no class, an address outside the cluster's VM
//! subnets or on this host, a cluster without VM subnets. An open SSH terminal ends within
//! seconds of every way access can go (`support/revoke.rs`).

#[path = "support/revoke.rs"]
mod revoke;
#[path = "support/sshd_password.rs"]
mod sshd_password;

use lab::console::ssh;
use lab::console::{ByteLink, Payload};
use lab::db::entity::{class, class_vm, cluster, user, vm};
use lab::model::Role;
use lab::{Error, classes, inventory};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sshd_password::PasswordSshd;
use std::time::Duration;
use tokio::sync::mpsc;
// The world comes through `revoke` (a file may be a module only once per binary).
use revoke::{SimWorld, make_user, sim_world};

const PASSWORD: &str = "lab-pass-7";

/// The relay's end of an in-memory browser WebSocket that keeps text and binary apart.
struct Pipe {
    rx: mpsc::Receiver<Payload>,
    tx: mpsc::Sender<Vec<u8>>,
}

impl ByteLink for Pipe {
    async fn recv(&mut self) -> lab::Result<Option<Vec<u8>>> {
        unreachable!("the SSH relay reads messages with their kind")
    }
    async fn recv_message(&mut self) -> lab::Result<Option<Payload>> {
        Ok(self.rx.recv().await)
    }
    async fn send(&mut self, bytes: Vec<u8>) -> lab::Result<()> {
        self.tx
            .send(bytes)
            .await
            .map_err(|_| Error::Unavailable("browser gone".into()))
    }
    async fn close(&mut self) {}
}

/// The test's view of the browser: xterm.js's side of the socket.
struct Browser {
    rx: mpsc::Receiver<Vec<u8>>,
    tx: mpsc::Sender<Payload>,
    screen: String,
}

impl Browser {
    /// Reads output until the screen (everything since the last clear) contains `text`.
    async fn until(&mut self, text: &str) {
        while !self.screen.contains(text) {
            let more = tokio::time::timeout(Duration::from_secs(15), self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {text:?} within 15 s; screen: {:?}", self.screen))
                .unwrap_or_else(|| panic!("closed before {text:?}; screen: {:?}", self.screen));
            self.screen.push_str(&String::from_utf8_lossy(&more));
        }
    }
    /// Output until the relay closes.
    async fn rest(&mut self) {
        while let Ok(Some(more)) = tokio::time::timeout(Duration::from_secs(15), self.rx.recv())
            .await
            .map_err(|_| panic!("still open; screen: {:?}", self.screen))
        {
            self.screen.push_str(&String::from_utf8_lossy(&more));
        }
    }
    async fn type_text(&mut self, text: &str) {
        self.tx
            .send(Payload::Binary(text.as_bytes().to_vec()))
            .await
            .unwrap();
    }
    async fn control(&mut self, text: &str) {
        self.tx.send(Payload::Text(text.into())).await.unwrap();
    }
}

fn pipe() -> (Pipe, Browser) {
    let (to_browser, from_relay) = mpsc::channel(1);
    let (to_relay, from_browser) = mpsc::channel(1);
    (
        Pipe {
            rx: from_browser,
            tx: to_browser,
        },
        Browser {
            rx: from_relay,
            tx: to_relay,
            screen: String::new(),
        },
    )
}

struct World {
    w: SimWorld,
    teacher: user::Model,
    ann: user::Model,
    bob: user::Model,
    class_id: i32,
    /// Ann's and Bob's VMs: running, in the class, at the test sshd's address.
    ann_vm: i32,
    bob_vm: i32,
    /// Running, assigned to Ann, in no class.
    loose_vm: i32,
}

/// Three VMs, running as far as the portal knows (the relay never asks Proxmox; the
/// database row is what the checks read).
async fn running_vms(w: &SimWorld) -> Vec<vm::Model> {
    let vms = vm::Entity::find()
        .filter(vm::Column::Kind.eq("qemu"))
        .filter(vm::Column::Template.eq(false))
        .order_by_desc(vm::Column::Status)
        .order_by_asc(vm::Column::Vmid)
        .all(&w.services.db)
        .await
        .unwrap();
    assert!(vms.len() >= 3, "three VMs in the fixture world");
    let mut running = Vec::new();
    for v in vms.into_iter().take(3) {
        let mut row: vm::ActiveModel = v.into();
        row.status = Set("running".into());
        running.push(row.update(&w.services.db).await.unwrap());
    }
    running
}

async fn set_ip(w: &SimWorld, vmid: i32, ip: Option<&str>) {
    let row = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(w.cluster_id))
        .filter(vm::Column::Vmid.eq(vmid))
        .one(&w.services.db)
        .await
        .unwrap()
        .unwrap();
    let mut row: vm::ActiveModel = row.into();
    row.ip = Set(ip.map(str::to_owned));
    row.update(&w.services.db).await.unwrap();
}

/// The cluster's VM subnets (one per line).
async fn set_subnets(services: &lab::Services, cluster_id: i32, subnets: &str) {
    let row = lab::clusters::find(services, cluster_id).await.unwrap();
    let mut row: cluster::ActiveModel = row.into();
    row.vm_subnets = Set(subnets.to_owned());
    row.update(&services.db).await.unwrap();
}

/// Points `vmid` at `sshd`: the VM's IP is sshd's, the cluster's VM subnet sshd's /30.
async fn use_sshd(services: &lab::Services, cluster_id: i32, vmid: i32, sshd: &PasswordSshd) {
    set_subnets(services, cluster_id, sshd.subnet()).await;
    let row = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await
        .unwrap()
        .unwrap();
    let mut row: vm::ActiveModel = row.into();
    row.ip = Set(Some(sshd.ip().to_string()));
    row.update(&services.db).await.unwrap();
}

/// A class (owned by a teacher) holding Ann's and Bob's VMs, SSH enabled, the VMs at
/// `sshd`'s address; a third running VM assigned to Ann outside any class.
async fn world(sshd: &PasswordSshd) -> World {
    let w = sim_world(|_| {}).await;
    let teacher = make_user(&w.services, "tess", Role::Teacher).await;
    let ann = make_user(&w.services, "ann", Role::Student).await;
    let bob = make_user(&w.services, "bob", Role::Student).await;
    let vms = running_vms(&w).await;
    let (ann_vm, bob_vm, loose_vm) = (vms[0].vmid, vms[1].vmid, vms[2].vmid);
    let class = class::ActiveModel {
        name: Set("Networks".into()),
        description: Set(String::new()),
        cluster_id: Set(w.cluster_id),
        owner_id: Set(teacher.id),
        vmid_base: Set(ann_vm - ann_vm.rem_euclid(100)),
        students: Set(2),
        storage: Set("local".into()),
        state: Set("ready".into()),
        export_paths: Set(String::new()),
        created_at: Set(0),
        ..Default::default()
    }
    .insert(&w.services.db)
    .await
    .unwrap();
    for v in &vms[..2] {
        class_vm::ActiveModel {
            class_id: Set(class.id),
            cluster_id: Set(w.cluster_id),
            vmid: Set(v.vmid),
            role: Set(lab::model::VmRole::Student),
            name: Set(v.name.clone()),
            node: Set(v.node.clone()),
            step: Set(lab::model::VmStep::Ready),
            attempts: Set(0),
            macs: Set(String::new()),
            disks: Set(String::new()),
            updated_at: Set(0),
            ..Default::default()
        }
        .insert(&w.services.db)
        .await
        .unwrap();
    }
    assert!(!class.ssh_enabled, "SSH is off by default");
    for (vmid, who) in [(ann_vm, "ann"), (bob_vm, "bob"), (loose_vm, "ann")] {
        inventory::assign(&w.services, w.cluster_id, vmid, who)
            .await
            .unwrap();
        use_sshd(&w.services, w.cluster_id, vmid, sshd).await;
    }
    // Only those who manage the class may turn SSH on.
    let refused = classes::set_ssh(&w.services, &ann, class.id, true).await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
    classes::set_ssh(&w.services, &teacher, class.id, true)
        .await
        .unwrap();
    World {
        w,
        teacher,
        ann,
        bob,
        class_id: class.id,
        ann_vm,
        bob_vm,
        loose_vm,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_asks_for_credentials_and_opens_a_shell() {
    let sshd = PasswordSshd::start(PASSWORD);
    let World { w, ann, ann_vm, .. } = world(&sshd).await;

    // The dashboard offers SSH on the class VM with an IP.
    let dash = inventory::dashboard(&w.services, &ann, &Default::default(), None)
        .await
        .unwrap()
        .unwrap();
    let card = |vmid| dash.cards.iter().find(|c| c.vmid == vmid).unwrap();
    assert!(card(ann_vm).ssh);

    let target = ssh::open_ssh(&w.services, &ann, w.cluster_id, ann_vm)
        .await
        .unwrap();
    assert_eq!(target.addr(), (sshd.ip(), 22).into());
    assert_eq!(w.services.consoles.open(), 1, "SSH takes a console slot");
    let (link, mut b) = pipe();
    let relay = tokio::spawn(ssh::relay(
        link,
        target.on_port(sshd.port()),
        w.services.consoles.idle(),
        watch(&w, &ann, ann_vm).await,
    ));
    b.control("resize:132:43").await;
    b.until("login as: ").await;
    assert_eq!(
        sshd.connections(),
        0,
        "nothing connects before the credentials"
    );
    // Typed login is echoed; backspace erases.
    b.type_text("rooX\x7ft").await;
    b.type_text("\r").await;
    b.until("rooX\x08 \x08t\r\npassword: ").await;
    b.type_text("wrong-one\r").await;
    b.until("Access denied\r\n").await;
    assert!(b.screen.contains("Host key SHA256:"), "{:?}", b.screen);
    assert!(
        !b.screen.contains("wrong-one"),
        "the password is not echoed"
    );
    b.until("Access denied\r\nlogin as: ").await;
    b.screen.clear();
    b.type_text("root\r").await;
    b.until("password: ").await;
    b.type_text(&format!("{PASSWORD}\r")).await;
    b.type_text("echo hello-$((6*7))\r").await;
    b.until("hello-42").await;
    assert!(!b.screen.contains(PASSWORD), "the password is not echoed");
    // The size sent before the login is the pty's; a resize in the shell reaches it too.
    b.type_text("stty size\r").await;
    b.until("43 132").await;
    b.control("resize:100:30").await;
    b.type_text("stty size\r").await;
    b.until("30 100").await;
    b.type_text("exit\r").await;
    b.rest().await;
    let stats = tokio::time::timeout(Duration::from_secs(10), relay)
        .await
        .expect("the relay ends when the shell exits")
        .unwrap()
        .unwrap();
    assert!(!stats.idle_timeout);
    assert_eq!(w.services.consoles.open(), 0, "the slot is freed");
    assert_eq!(sshd.connections(), 2, "one connection per login attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_wrong_passwords_close_the_terminal() {
    let sshd = PasswordSshd::start(PASSWORD);
    let World { w, ann, ann_vm, .. } = world(&sshd).await;
    let target = ssh::open_ssh(&w.services, &ann, w.cluster_id, ann_vm)
        .await
        .unwrap();
    let (link, mut b) = pipe();
    let relay = tokio::spawn(ssh::relay(
        link,
        target.on_port(sshd.port()),
        w.services.consoles.idle(),
        watch(&w, &ann, ann_vm).await,
    ));
    for _ in 0..ssh::MAX_ATTEMPTS {
        b.until("login as: ").await;
        b.type_text("root\r").await;
        b.until("password: ").await;
        b.type_text("not-it\r").await;
        b.until("Access denied\r\n").await;
        b.screen.clear();
    }
    b.rest().await;
    assert!(
        b.screen.contains("Too many failed attempts"),
        "{:?}",
        b.screen
    );
    assert!(!b.screen.contains("login as: "), "{:?}", b.screen);
    tokio::time::timeout(Duration::from_secs(10), relay)
        .await
        .expect("the relay ends")
        .unwrap()
        .unwrap();
    assert_eq!(w.services.consoles.open(), 0);
    assert_eq!(sshd.connections(), ssh::MAX_ATTEMPTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_is_refused_before_any_connection() {
    let sshd = PasswordSshd::start(PASSWORD);
    let World {
        w,
        teacher,
        ann,
        bob,
        class_id,
        ann_vm,
        bob_vm,
        loose_vm,
    } = world(&sshd).await;
    let s = &w.services;
    let c = w.cluster_id;
    let err = |r: lab::Result<ssh::SshTarget>| r.err().expect("refused");

    // Another student's VM: not found, as for consoles.
    assert!(matches!(
        err(ssh::open_ssh(s, &bob, c, ann_vm).await),
        Error::NotFound(_)
    ));
    assert!(matches!(
        err(ssh::open_ssh(s, &ann, c, bob_vm).await),
        Error::NotFound(_)
    ));
    // A VM in no class.
    let e = err(ssh::open_ssh(s, &ann, c, loose_vm).await);
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    // No dashboard link there either.
    let dash = inventory::dashboard(s, &ann, &Default::default(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(!dash.cards.iter().find(|x| x.vmid == loose_vm).unwrap().ssh);
    // A VM without IP.
    set_ip(&w, ann_vm, None).await;
    let e = err(ssh::open_ssh(s, &ann, c, ann_vm).await);
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    assert!(e.to_string().contains("IP"), "{e}");
    let dash = inventory::dashboard(s, &ann, &Default::default(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(!dash.cards.iter().find(|x| x.vmid == ann_vm).unwrap().ssh);
    // An address the guest agent could report, and SSH must not go to.
    for (ip, says) in [
        ("127.0.0.1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("10.249.255.1", "outside the cluster's VM subnets"),
        ("192.168.1.1", "outside the cluster's VM subnets"),
    ] {
        set_ip(&w, ann_vm, Some(ip)).await;
        let e = err(ssh::open_ssh(s, &ann, c, ann_vm).await);
        assert!(matches!(e, Error::Conflict(_)), "{ip}: {e}");
        assert!(e.to_string().contains(says), "{ip}: {e}");
    }
    set_ip(&w, ann_vm, Some(&sshd.ip().to_string())).await;
    // This host's own address, even inside the VM subnets: the host end of the veth pair.
    let host_end = sshd.subnet().replace(".0/30", ".1");
    set_subnets(s, c, &format!("10.249.0.0/16\n{}", sshd.subnet())).await;
    set_ip(&w, ann_vm, Some(&host_end)).await;
    let e = err(ssh::open_ssh(s, &ann, c, ann_vm).await);
    assert!(
        e.to_string().contains("belongs to the portal"),
        "{host_end}: {e}"
    );
    set_ip(&w, ann_vm, Some(&sshd.ip().to_string())).await;
    // No VM subnets set: SSH through the portal is off for the cluster.
    set_subnets(s, c, "").await;
    let e = err(ssh::open_ssh(s, &ann, c, ann_vm).await);
    assert!(e.to_string().contains("off for this cluster"), "{e}");
    set_subnets(s, c, sshd.subnet()).await;
    // The class without SSH.
    classes::set_ssh(s, &teacher, class_id, false)
        .await
        .unwrap();
    let e = err(ssh::open_ssh(s, &ann, c, ann_vm).await);
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    assert!(e.to_string().contains("not enabled"), "{e}");
    let dash = inventory::dashboard(s, &ann, &Default::default(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(!dash.cards.iter().find(|x| x.vmid == ann_vm).unwrap().ssh);

    assert_eq!(s.consoles.open(), 0, "refusals take no slot");
    assert_eq!(sshd.connections(), 0, "no refusal reached the SSH server");
    // The teacher manages the class: with SSH back on, she may open her student's VM.
    classes::set_ssh(s, &teacher, class_id, true).await.unwrap();
    let ok = ssh::open_ssh(s, &teacher, c, ann_vm).await;
    assert!(ok.is_ok(), "{:?}", ok.err());
}

/// The watch the server would give `user`'s relay on `vmid` (in a fresh session).
async fn watch(w: &SimWorld, user: &user::Model, vmid: i32) -> lab::console::AccessWatch {
    let token = lab::auth::start_session(&w.services, user.id, None)
        .await
        .unwrap();
    let session = lab::auth::resolve_session(&w.services, &token)
        .await
        .unwrap()
        .unwrap();
    lab::console::AccessWatch::new(&w.services, &session, w.cluster_id, vmid)
}

/// Opens the scene's SSH terminal as its viewer and logs in to the test sshd; returns the
/// browser and the relay once a command has run.
async fn logged_in(
    scene: &revoke::Scene,
    sshd: &PasswordSshd,
) -> (
    Browser,
    tokio::task::JoinHandle<lab::Result<lab::console::RelayStats>>,
) {
    let s = &scene.w.services;
    use_sshd(s, scene.cluster_id(), scene.vm.vmid, sshd).await;
    let target = ssh::open_ssh(s, &scene.viewer, scene.cluster_id(), scene.vm.vmid)
        .await
        .unwrap();
    let (link, mut b) = pipe();
    let relay = tokio::spawn(ssh::relay(
        link,
        target.on_port(sshd.port()),
        s.consoles.idle(),
        scene.watch(),
    ));
    b.until("login as: ").await;
    b.type_text("root\r").await;
    b.until("password: ").await;
    b.type_text(&format!("{PASSWORD}\r")).await;
    b.type_text("echo still-$((40+2))\r").await;
    b.until("still-42").await;
    (b, relay)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_ssh_terminal_ends_within_seconds_when_access_goes() {
    let sshd = PasswordSshd::start(PASSWORD);
    for cause in revoke::CAUSES {
        let scene = revoke::Scene::new(cause).await;
        let (mut b, relay) = logged_in(&scene, &sshd).await;

        scene.revoke(cause).await;
        revoke::ended(relay, &format!("{cause:?}")).await;
        b.rest().await;
        assert_eq!(
            scene.w.services.consoles.open(),
            0,
            "{cause:?}: the slot is freed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ssh_terminal_outlives_changes_that_leave_its_access() {
    let sshd = PasswordSshd::start(PASSWORD);
    let scene = revoke::Scene::new(revoke::Cause::RosterUnassigned).await;
    let (mut b, relay) = logged_in(&scene, &sshd).await;
    scene.unrelated_changes().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.type_text("echo after-$((1+1))\r").await;
    b.until("after-2").await;
    assert!(!relay.is_finished(), "the SSH terminal still runs");
    scene.revoke(revoke::Cause::RosterUnassigned).await;
    revoke::ended(relay, "ends when the teacher takes the VM back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_at_the_login_prompt_ends_the_ssh_terminal() {
    let sshd = PasswordSshd::start(PASSWORD);
    let scene = revoke::Scene::new(revoke::Cause::Unassigned).await;
    let s = &scene.w.services;
    use_sshd(s, scene.cluster_id(), scene.vm.vmid, &sshd).await;
    let target = ssh::open_ssh(s, &scene.ann, scene.cluster_id(), scene.vm.vmid)
        .await
        .unwrap();
    let (link, mut b) = pipe();
    let relay = tokio::spawn(ssh::relay(
        link,
        target.on_port(sshd.port()),
        s.consoles.idle(),
        scene.watch(),
    ));
    b.until("login as: ").await;
    scene.revoke(revoke::Cause::Unassigned).await;
    revoke::ended(relay, "ends at the prompt").await;
    assert_eq!(sshd.connections(), 0, "no login after the VM went");
}
