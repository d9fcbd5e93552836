//! The web terminal against pvesim's termproxy: the portal does the `user:ticket` handshake
//! (the browser side starts at the shell's output), typed text echoes back, a resize reaches
//! the shell (`stty size`), typed framing stays text; others' VMs, made-up VMIDs and stopped
//! VMs are refused before any Proxmox call; terminals share the per-user console slots; an
//! open terminal ends within seconds of every way access can go (`support/revoke.rs`).

#[path = "support/revoke.rs"]
mod revoke;

use lab::console::terminal::{self, TIMING};
use lab::console::{self, ByteLink, Closing, Payload};
use lab::db::entity::vm;
use lab::model::{ClusterForm, Role};
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Error, Services, auth, clusters, inventory};
use pvesim::{Sim, SimConfig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The relay's end of an in-memory browser WebSocket that keeps text and binary apart.
struct Pipe {
    rx: mpsc::Receiver<Payload>,
    tx: mpsc::Sender<Vec<u8>>,
    /// The close frame's reason, when the relay gave one.
    closing: Arc<Mutex<Option<Closing>>>,
}

impl ByteLink for Pipe {
    async fn recv(&mut self) -> lab::Result<Option<Vec<u8>>> {
        unreachable!("the terminal relay reads messages with their kind")
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
    async fn close_because(&mut self, why: Closing) {
        *self.closing.lock().unwrap() = Some(why);
    }
}

/// The test's view of the browser: xterm.js's side of the socket.
struct Browser {
    rx: mpsc::Receiver<Vec<u8>>,
    tx: mpsc::Sender<Payload>,
    screen: String,
    closing: Arc<Mutex<Option<Closing>>>,
}

impl Browser {
    /// Reads output until the screen (everything so far) contains `text`.
    async fn until(&mut self, text: &str) {
        while !self.screen.contains(text) {
            let more = tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {text:?} within 5 s; screen: {:?}", self.screen))
                .unwrap_or_else(|| panic!("closed before {text:?}; screen: {:?}", self.screen));
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
    let closing = Arc::new(Mutex::new(None));
    (
        Pipe {
            rx: from_browser,
            tx: to_browser,
            closing: closing.clone(),
        },
        Browser {
            rx: from_relay,
            tx: to_relay,
            screen: String::new(),
            closing,
        },
    )
}

struct World {
    _dir: tempfile::TempDir,
    sim: Sim,
    services: Services,
    cluster: i32,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(SimConfig::for_tests(dir.path().join("pve"))).unwrap();
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
    let row = clusters::find(&services, view.id).await.unwrap();
    lab::sync::quick::run(&services, &row).await.unwrap();
    World {
        _dir: dir,
        sim,
        services,
        cluster: view.id,
    }
}

impl World {
    async fn user(&self, name: &str) -> lab::db::entity::user::Model {
        auth::create_user(
            &self.services,
            auth::NewUser {
                username: name.into(),
                display_name: String::new(),
                email: None,
                role: Role::Student,
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

    async fn vm_with_status(&self, status: &str) -> vm::Model {
        vm::Entity::find()
            .filter(vm::Column::Status.eq(status))
            .filter(vm::Column::Kind.eq("qemu"))
            .filter(vm::Column::Template.eq(false))
            .one(&self.services.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("a {status} VM in the fixture world"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_echoes_typed_text_and_takes_resizes() {
    let w = world().await;
    let ann = w.user("ann").await;
    let vm = w.vm_with_status("running").await;
    inventory::assign(&w.services, w.cluster, vm.vmid, "ann")
        .await
        .unwrap();
    let clicked = Instant::now();
    let upstream = terminal::open_terminal(&w.services, &ann, w.cluster, vm.vmid)
        .await
        .unwrap();
    let (link, mut browser) = pipe();
    let watch = watch(&w, &ann, vm.vmid).await;
    let relay = tokio::spawn(terminal::relay(link, upstream, TIMING, watch));
    // pvesim's shell prompt is `root@<VM name>:~# `; the `OK` of the handshake never
    // reaches the browser, nor does the ticket.
    let prompt = format!("root@{}:~# ", vm.name);
    browser.until(&prompt).await;
    eprintln!("open to first prompt: {:?}", clicked.elapsed());
    assert!(!browser.screen.starts_with("OK"), "{:?}", browser.screen);
    assert!(!browser.screen.contains("PVEVNC"), "{:?}", browser.screen);

    browser.type_text("echo hello from ann\r").await;
    browser
        .until(&format!(
            "echo hello from ann\r\nhello from ann\r\n{prompt}"
        ))
        .await;
    let typed = w.sim.control().console_input(Some(vm.vmid as u32));
    assert!(typed.contains("echo hello from ann\r"), "typed: {typed:?}");

    // pvesim's shell starts at 80×24; `stty size` prints "ROWS COLS".
    browser.control("resize:132:43").await;
    browser.type_text("stty size\r").await;
    browser.until("stty size\r\n43 132\r\n").await;

    // Typed framing is text for the shell, not a command to termproxy.
    // (Passed through raw, "1:5:5:" would resize the shell to 5×5 and echo nothing.)
    browser.type_text("echo 1:5:5:\r").await;
    browser.until(&format!("\r\n1:5:5:\r\n{prompt}")).await;
    browser.screen.clear();
    browser.type_text("stty size\r").await;
    browser
        .until(&format!("stty size\r\n43 132\r\n{prompt}"))
        .await;

    // `exit` ends the shell; the node closes; the relay ends and frees the slot.
    browser.type_text("exit\r").await;
    let stats = tokio::time::timeout(Duration::from_secs(5), relay)
        .await
        .expect("the relay ends when the node closes")
        .unwrap()
        .unwrap();
    assert!(stats.to_browser > prompt.len(), "{stats:?}");
    assert!(!stats.idle_timeout);
    assert_eq!(w.services.consoles.open(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_are_refused_before_any_proxmox_call() {
    let w = world().await;
    let ann = w.user("ann").await;
    let bob = w.user("bob").await;
    let running = w.vm_with_status("running").await.vmid;
    let stopped = w.vm_with_status("stopped").await.vmid;
    for vmid in [running, stopped] {
        inventory::assign(&w.services, w.cluster, vmid, "ann")
            .await
            .unwrap();
    }
    w.sim.control().reset_counters();
    let err = |r: lab::Result<terminal::Terminal>| r.err().expect("refused");
    let s = &w.services;
    assert!(matches!(
        err(terminal::open_terminal(s, &bob, w.cluster, running).await),
        Error::NotFound(_)
    ));
    assert!(matches!(
        err(terminal::open_terminal(s, &ann, w.cluster, 77777).await),
        Error::NotFound(_)
    ));
    assert!(matches!(
        err(terminal::open_terminal(s, &ann, 4242, running).await),
        Error::NotFound(_)
    ));
    let stopped_err = err(terminal::open_terminal(s, &ann, w.cluster, stopped).await);
    assert!(matches!(stopped_err, Error::Conflict(_)), "{stopped_err}");
    assert!(stopped_err.to_string().contains("stopped"), "{stopped_err}");
    assert_eq!(
        w.sim.control().counters(),
        Default::default(),
        "no call reached Proxmox"
    );
    assert_eq!(w.services.consoles.open(), 0, "refusals take no slot");
    // The same user on her own running VM does reach termproxy (so the zero above counts).
    let ok = terminal::open_terminal(s, &ann, w.cluster, running)
        .await
        .unwrap();
    assert_eq!(
        w.sim
            .control()
            .count("POST /nodes/{node}/qemu/{vmid}/termproxy"),
        1
    );
    drop(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_and_consoles_share_the_per_user_limit() {
    let w = world().await;
    let ann = w.user("ann").await;
    let vmid = w.vm_with_status("running").await.vmid;
    inventory::assign(&w.services, w.cluster, vmid, "ann")
        .await
        .unwrap();
    let half = console::MAX_PER_USER / 2;
    let mut screens = Vec::new();
    for _ in 0..half {
        screens.push(
            console::open(&w.services, &ann, w.cluster, vmid)
                .await
                .unwrap(),
        );
    }
    let mut terminals = Vec::new();
    for _ in half..console::MAX_PER_USER {
        terminals.push(
            terminal::open_terminal(&w.services, &ann, w.cluster, vmid)
                .await
                .unwrap(),
        );
    }
    w.sim.control().reset_counters();
    let extra = terminal::open_terminal(&w.services, &ann, w.cluster, vmid).await;
    assert!(matches!(extra, Err(Error::Conflict(_))));
    let extra = console::open(&w.services, &ann, w.cluster, vmid).await;
    assert!(matches!(extra, Err(Error::Conflict(_))));
    assert_eq!(w.sim.control().counters(), Default::default());
    assert_eq!(w.services.consoles.open(), console::MAX_PER_USER);
    // Closing a terminal makes room for a console.
    terminals.pop();
    assert!(
        console::open(&w.services, &ann, w.cluster, vmid)
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_gets_its_console_as_a_terminal() {
    let w = world().await;
    let ann = w.user("ann").await;
    let ct = vm::Entity::find()
        .filter(vm::Column::Status.eq("running"))
        .filter(vm::Column::Kind.eq("lxc"))
        .one(&w.services.db)
        .await
        .unwrap()
        .expect("a running container in the fixture world");
    inventory::assign(&w.services, w.cluster, ct.vmid, "ann")
        .await
        .unwrap();
    w.sim.control().reset_counters();
    let upstream = terminal::open_terminal(&w.services, &ann, w.cluster, ct.vmid)
        .await
        .unwrap();
    assert_eq!(
        w.sim
            .control()
            .count("POST /nodes/{node}/lxc/{vmid}/termproxy"),
        1,
        "{:?}",
        w.sim.control().counters()
    );
    let (link, mut browser) = pipe();
    let watch = watch(&w, &ann, ct.vmid).await;
    let relay = tokio::spawn(terminal::relay(link, upstream, TIMING, watch));
    browser.until(":~# ").await;
    browser.type_text("whoami\r").await;
    browser.until("whoami\r\nroot\r\n").await;
    drop(browser);
    tokio::time::timeout(Duration::from_secs(5), relay)
        .await
        .expect("the relay ends when the browser leaves")
        .unwrap()
        .unwrap();
    assert_eq!(w.services.consoles.open(), 0);
}

/// The watch the server would give `user`'s relay on `vmid` (in a fresh session).
async fn watch(w: &World, user: &lab::db::entity::user::Model, vmid: i32) -> console::AccessWatch {
    let token = auth::start_session(&w.services, user.id, None)
        .await
        .unwrap();
    let session = auth::resolve_session(&w.services, &token)
        .await
        .unwrap()
        .unwrap();
    console::AccessWatch::new(&w.services, &session, w.cluster, vmid)
}

/// Reads until the relay drops its end (`None`), failing after `within`.
async fn closed(browser: &mut Browser, within: Duration) {
    tokio::time::timeout(within, async { while browser.rx.recv().await.is_some() {} })
        .await
        .expect("the browser's socket is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_terminal_ends_within_seconds_when_access_goes() {
    for cause in revoke::CAUSES {
        let scene = revoke::Scene::new(cause).await;
        let s = &scene.w.services;
        let upstream = terminal::open_terminal(s, &scene.viewer, scene.cluster_id(), scene.vm.vmid)
            .await
            .unwrap();
        let (link, mut browser) = pipe();
        let relay = tokio::spawn(terminal::relay(link, upstream, TIMING, scene.watch()));
        browser.until(":~# ").await;
        browser.type_text("echo still-here\r").await;
        browser.until("\r\nstill-here\r\n").await;

        scene.revoke(cause).await;
        revoke::ended(relay, &format!("{cause:?}")).await;
        closed(&mut browser, Duration::from_secs(1)).await;
        assert_eq!(*browser.closing.lock().unwrap(), Some(Closing::Revoked));
        assert_eq!(s.consoles.open(), 0, "{cause:?}: the slot is freed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_outlives_changes_that_leave_its_access() {
    let scene = revoke::Scene::new(revoke::Cause::Disabled).await;
    let upstream = terminal::open_terminal(
        &scene.w.services,
        &scene.ann,
        scene.cluster_id(),
        scene.vm.vmid,
    )
    .await
    .unwrap();
    let (link, mut browser) = pipe();
    let relay = tokio::spawn(terminal::relay(link, upstream, TIMING, scene.watch()));
    browser.until(":~# ").await;
    scene.unrelated_changes().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    browser.type_text("echo after-the-changes\r").await;
    browser.until("\r\nafter-the-changes\r\n").await;
    assert!(!relay.is_finished(), "the terminal still runs");
    scene.revoke(revoke::Cause::Disabled).await;
    revoke::ended(relay, "ends when Ann is disabled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_closes_an_open_terminal_with_going_away() {
    let scene = revoke::Scene::new(revoke::Cause::Disabled).await;
    let s = &scene.w.services;
    let upstream = terminal::open_terminal(s, &scene.ann, scene.cluster_id(), scene.vm.vmid)
        .await
        .unwrap();
    let (link, mut browser) = pipe();
    // Tracked as the server's WebSocket handlers track their relays.
    let relay = s
        .tasks
        .spawn(terminal::relay(link, upstream, TIMING, scene.watch()));
    browser.until(":~# ").await;
    let started = Instant::now();
    assert!(
        s.shut_down(Duration::from_secs(5)).await,
        "every task ended"
    );
    let stats = relay.await.unwrap().unwrap();
    assert!(!stats.revoked, "not a revocation: {stats:?}");
    closed(&mut browser, Duration::from_secs(1)).await;
    let why = browser.closing.lock().unwrap().expect("a close frame");
    assert_eq!((why, why.code()), (Closing::ShuttingDown, 1001));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.consoles.open(), 0, "the slot is freed");
}
