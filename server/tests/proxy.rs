//! The portal behind a real reverse proxy (Debian's nginx), as the README sets it up:
//!
//! * one instance with `behind_proxy`: a console WebSocket opens and speaks RFB through the
//!   proxy, and the client address the portal uses for sign-in throttling and the audit log
//!   is the proxy's last `X-Forwarded-For` hop (the real client, told apart by its loopback
//!   source address), never an address a client wrote in the header itself;
//! * two instances on one database behind the proxy, with pollers and a class deployment
//!   going on: the one holding the sync lease and the job is SIGKILLed; the other takes over
//!   the sync and finishes the job, the pollers see no error (the proxy sends a refused or
//!   broken request to the other instance), a session works on either, and the class ends with
//!   exactly its VMs (Proxmox's clone API, as on a stock Proxmox). On PostgreSQL when the
//!   test command provides one, else on one SQLite file.

use futures_util::{SinkExt, StreamExt};
use lab::db::entity::{job, worker_lease};
use lab::model::{AuditAction, JobState, Role};
use lab::{Services, auth};
use sea_orm::EntityTrait;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod support {
    pub mod deploy;
    pub mod nginx;
    pub mod portal;
}
#[path = "../lab/tests/support/postgres.rs"]
mod postgres;

use support::deploy::{Storage, assert_exactly_in_proxmox, ready_count, setup};
use support::nginx::Nginx;
use support::portal::{Running, free_port, wait_until_answering};

const PASSWORD: &str = "correct horse battery";
/// The fixture world's running VM that the student's console opens.
const CONSOLE_VM: i32 = 100;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// An HTTP client whose connections come from `source` (a loopback address of its own, so
/// the proxy's last hop tells the clients apart).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip(source))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A `proxlab serve` on `port` behind the proxy at `public`, with quick syncs and short
/// leases so that a takeover shows within seconds.
fn portal(dir: &Path, db_url: &str, port: u16, public: &str) -> Running {
    let listen = format!("127.0.0.1:{port}");
    Running(
        support::portal::serve(dir, db_url, &listen)
            .env("PROXLAB_BEHIND_PROXY", "true")
            .env("PROXLAB_PUBLIC_URL", public)
            .env("PROXLAB_SYNC__QUICK_SECS", "1")
            .env("PROXLAB_SYNC__FULL_SECS", "5")
            .env("PROXLAB_JOBS__PER_NODE", "1")
            .env("PROXLAB_JOBS__LEASE_SECS", "3")
            .env("PROXLAB_AUTH__MAX_FAILURES_PER_ADDR", "3")
            .spawn()
            .unwrap(),
    )
}

async fn add_user(services: &Services, name: &str, role: Role) {
    auth::create_user(
        services,
        auth::NewUser {
            username: name.into(),
            display_name: String::new(),
            email: None,
            role,
            password: PASSWORD.into(),
        },
    )
    .await
    .unwrap();
}

/// Signs in through the proxy; the session cookie, or the refusal's status and text.
async fn sign_in(
    http: &reqwest::Client,
    proxy: &str,
    name: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> Result<String, String> {
    let mut req = http
        .post(format!("{proxy}/api/auth/login"))
        .form(&[("username", name), ("password", password)]);
    if let Some(spoofed) = forwarded_for {
        req = req.header("x-forwarded-for", spoofed);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("proxlab_session=") && !c.starts_with("proxlab_session=;"))
        .map(|c| c.split(';').next().unwrap().to_owned());
    match cookie {
        Some(cookie) if status.is_success() => Ok(cookie),
        _ => Err(format!("{status} {}", res.text().await.unwrap_or_default())),
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Opens the console WebSocket through the proxy from `source`, checks the portal's RFB
/// greeting and closes it.
async fn console_hello(proxy_port: u16, source: &str, cookie: &str, cluster: i32) {
    let mut ws = console_open(proxy_port, source, cookie, cluster).await;
    let _ = ws.close(None).await;
}

/// Opens the console WebSocket at `port` from `source`, reads the portal's RFB greeting,
/// answers it and reads the security types it offers; returns the open socket.
async fn console_open(proxy_port: u16, source: &str, cookie: &str, cluster: i32) -> Socket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(ip(source), 0)).unwrap();
    let stream = socket
        .connect(SocketAddr::new(ip("127.0.0.1"), proxy_port))
        .await
        .unwrap();
    let url = format!("ws://127.0.0.1:{proxy_port}/ws/console/{cluster}/{CONSOLE_VM}");
    let mut request = url.into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("cookie", cookie.parse().unwrap());
    let origin = format!("http://127.0.0.1:{proxy_port}");
    headers.insert("origin", origin.parse().unwrap());
    headers.insert("sec-websocket-protocol", "binary".parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("the console upgrades through the proxy");
    assert_eq!(response.status(), 101);
    let mut read = Vec::new();
    let mut next = async |ws: &mut tokio_tungstenite::WebSocketStream<_>, n: usize| {
        while read.len() < n {
            let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .expect("the console answers within 10 s")
                .expect("the socket stays open")
                .unwrap();
            if let Message::Binary(bytes) = message {
                read.extend_from_slice(&bytes);
            }
        }
        read.drain(..n).collect::<Vec<u8>>()
    };
    assert_eq!(next(&mut ws, 12).await, b"RFB 003.008\n");
    ws.send(Message::binary(b"RFB 003.008\n".to_vec()))
        .await
        .unwrap();
    assert_eq!(next(&mut ws, 2).await, [1, 1], "security type None");
    ws
}

/// Audit lines of `action`: (who, address).
async fn audit_lines(services: &Services, action: AuditAction) -> Vec<(String, Option<String>)> {
    let root = auth::find_user(services, "root").await.unwrap().unwrap();
    lab::audit::page(services, &root, &Default::default(), 365)
        .await
        .unwrap()
        .lines
        .into_iter()
        .filter(|l| l.action == action)
        .map(|l| (l.actor, l.addr))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_and_the_client_address_pass_through_nginx() {
    let world = setup("Proxied", 1, None, Storage::Files).await;
    let services = &world.services;
    for (name, role) in [
        ("root", Role::Admin),
        ("ann", Role::Student),
        ("bob", Role::Student),
    ] {
        add_user(services, name, role).await;
    }
    lab::inventory::assign(services, world.cluster_id, CONSOLE_VM, "ann")
        .await
        .unwrap();
    let port = free_port();
    let proxy = Nginx::start(world.dir.path(), &[port]);
    let _portal = portal(world.dir.path(), &world.db_url, port, &proxy.url());
    wait_until_answering(&proxy.url()).await;

    // Ann, from 127.0.0.3, signs in and opens her console through the proxy.
    let ann = sign_in(
        &client_from("127.0.0.3"),
        &proxy.url(),
        "ann",
        PASSWORD,
        None,
    )
    .await
    .unwrap();
    console_hello(proxy.port, "127.0.0.3", &ann, world.cluster_id).await;

    // Someone at 127.0.0.2 guesses passwords for three accounts, writing a new
    // X-Forwarded-For each time: the portal counts them all against 127.0.0.2.
    let guesser = client_from("127.0.0.2");
    for (i, name) in ["carl", "dora", "emil"].iter().enumerate() {
        let spoofed = format!("10.9.8.{i}");
        let refused = sign_in(
            &guesser,
            &proxy.url(),
            name,
            "a wrong guess",
            Some(&spoofed),
        )
        .await;
        assert!(refused.is_err());
    }
    // The address is now throttled: even Bob's right password is refused from there...
    let throttled = sign_in(&guesser, &proxy.url(), "bob", PASSWORD, Some("10.9.8.9")).await;
    let refusal = throttled.expect_err("throttled by the proxy's last hop");
    assert!(refusal.to_lowercase().contains("too many"), "{refusal}");
    // ...but not from another address.
    sign_in(
        &client_from("127.0.0.4"),
        &proxy.url(),
        "bob",
        PASSWORD,
        None,
    )
    .await
    .expect("another client is not throttled");

    // The audit log has the real addresses, never the ones written in the header.
    let failed = audit_lines(services, AuditAction::SignInFailed).await;
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|(_, addr)| addr.as_deref() == Some("127.0.0.2"))
    );
    let throttled = audit_lines(services, AuditAction::SignInThrottled).await;
    assert_eq!(throttled, vec![("bob".into(), Some("127.0.0.2".into()))]);
    let signed_in = audit_lines(services, AuditAction::SignIn).await;
    assert!(signed_in.contains(&("ann".into(), Some("127.0.0.3".into()))));
    assert!(signed_in.contains(&("bob".into(), Some("127.0.0.4".into()))));
    let consoles = audit_lines(services, AuditAction::ConsoleOpened).await;
    assert_eq!(consoles, vec![("ann".into(), Some("127.0.0.3".into()))]);
}

/// Readers through the proxy until told to stop: `/health` and a signed-in page. Counts the
/// answers, and keeps every error.
struct Pollers {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    tasks: tokio::task::JoinSet<Vec<String>>,
}

impl Pollers {
    fn start(proxy: &str, cookie: &str) -> Pollers {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..4 {
            let (stop, answered) = (stop.clone(), answered.clone());
            let (proxy, cookie) = (proxy.to_owned(), cookie.to_owned());
            tasks.spawn(async move {
                let http = client_from("127.0.0.5");
                let mut errors = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    // One poller reads the teacher's classes page, the others /health.
                    let (path, cookie) = if i == 0 {
                        ("/classes", Some(&cookie))
                    } else {
                        ("/health", None)
                    };
                    let mut req = http.get(format!("{proxy}{path}"));
                    if let Some(c) = cookie {
                        req = req.header("cookie", c.as_str());
                    }
                    match req.send().await {
                        Ok(r) if r.status() == 200 => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => errors.push(format!("{path}: {}", r.status())),
                        Err(e) => errors.push(format!("{path}: {e}")),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                errors
            });
        }
        Pollers {
            stop,
            answered,
            tasks,
        }
    }

    async fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let errors = self.tasks.join_all().await.concat();
        (self.answered.load(Ordering::Relaxed), errors)
    }
}

async fn lease_owner(services: &Services, name: &str) -> Option<String> {
    worker_lease::Entity::find_by_id(name.to_owned())
        .one(&services.db)
        .await
        .unwrap()
        .map(|l| l.owner)
}

async fn the_job(services: &Services) -> job::Model {
    let jobs = job::Entity::find().all(&services.db).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs.into_iter().next().unwrap()
}

/// Whether a lease owner (`worker/<host>:<pid>/…`) is the process `pid`.
fn owned_by(owner: &Option<String>, pid: u32) -> bool {
    owner
        .as_deref()
        .is_some_and(|o| o.contains(&format!(":{pid}/")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_nginx_survive_a_sigkill() {
    const STUDENTS: u32 = 16;
    let db_url = postgres::fresh_database_url().await;
    let on = if db_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let world = setup("Scale-out", STUDENTS, db_url, Storage::Stock).await;
    let (services, dir) = (&world.services, world.dir.path());
    let total = STUDENTS as usize + 2;
    add_user(services, "ann", Role::Student).await;
    lab::inventory::assign(services, world.cluster_id, CONSOLE_VM, "ann")
        .await
        .unwrap();
    // A stock Proxmox: each VM is a clone task of its own (simulated seconds, scaled down),
    // so the deployment lasts long enough for the kill to land in it.
    let (port_a, port_b) = (free_port(), free_port());
    let proxy = Nginx::start(dir, &[port_a, port_b]);
    let sync_lease = lab::sync::lease_name(world.cluster_id);

    // A starts alone: it takes the cluster's sync and the deployment.
    let mut a = portal(dir, &world.db_url, port_a, &proxy.url());
    let pid_a = a.0.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = the_job(services).await;
        if owned_by(&lease_owner(services, &sync_lease).await, pid_a)
            && owned_by(&job.lease_owner, pid_a)
            && ready_count(services, world.class_id).await >= 1
        {
            break;
        }
        assert!(Instant::now() < deadline, "A took the sync and the job");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = portal(dir, &world.db_url, port_b, &proxy.url());
    let pid_b = b.0.id();
    wait_until_answering(&format!("http://127.0.0.1:{port_b}")).await;

    // Sessions are in the database: one sign-in serves on both instances.
    let teacher = sign_in(
        &client_from("127.0.0.5"),
        &proxy.url(),
        "teacher",
        PASSWORD,
        None,
    )
    .await
    .unwrap();
    let ann = sign_in(
        &client_from("127.0.0.6"),
        &proxy.url(),
        "ann",
        PASSWORD,
        None,
    )
    .await
    .unwrap();
    for port in [port_a, port_b] {
        let page = client_from("127.0.0.5")
            .get(format!("http://127.0.0.1:{port}/classes"))
            .header("cookie", &teacher)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "the session works on :{port}");
    }
    let pollers = Pollers::start(&proxy.url(), &teacher);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let made_before = ready_count(services, world.class_id).await;
    assert!(made_before < total, "the kill lands mid-deployment");
    // While A lives, B runs beside it but acts on nothing A holds: one syncer per cluster,
    // one worker per job.
    assert!(
        owned_by(&lease_owner(services, &sync_lease).await, pid_a),
        "A still holds the sync lease with B running"
    );
    assert!(
        owned_by(&the_job(services).await.lease_owner, pid_a),
        "A still holds the job with B running"
    );
    a.0.kill().unwrap(); // SIGKILL
    a.0.wait().unwrap();
    let killed = Instant::now();

    // B takes the sync over once A's lease runs out (3 quick syncs), and the sync goes on.
    let deadline = killed + Duration::from_secs(20);
    while !owned_by(&lease_owner(services, &sync_lease).await, pid_b) {
        assert!(Instant::now() < deadline, "B took the sync over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sync_taken = killed.elapsed();
    let synced_at = |services: &Services| {
        let services = services.clone();
        async move {
            lab::clusters::list(&services).await.unwrap()[0]
                .sync
                .quick_at
                .unwrap_or(0)
        }
    };
    let after_kill = lab::clock::now();
    while synced_at(services).await <= after_kill {
        assert!(
            Instant::now() < deadline + Duration::from_secs(5),
            "B syncs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // B resumes the deployment from its rows once the job's lease runs out, and ends it.
    let deadline = killed + Duration::from_secs(120);
    let mut job_taken = None;
    loop {
        let job = the_job(services).await;
        if job_taken.is_none() && (owned_by(&job.lease_owner, pid_b) || !job.state.is_active()) {
            job_taken = Some(killed.elapsed());
        }
        if !job.state.is_active() {
            assert_eq!(job.state, JobState::Done, "{job:?}");
            break;
        }
        assert!(Instant::now() < deadline, "B finished the job: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finished = killed.elapsed();

    // Consoles work on the instance that is left.
    console_hello(proxy.port, "127.0.0.6", &ann, world.cluster_id).await;
    let (answered, errors) = pollers.stop().await;
    println!(
        "on {on}: SIGKILL with {made_before} of {total} VMs made; sync taken over after {} ms, \
         the job after {} ms, finished after {} ms; {answered} reads through nginx, {} errors",
        sync_taken.as_millis(),
        job_taken.unwrap().as_millis(),
        finished.as_millis(),
        errors.len()
    );
    assert!(errors.is_empty(), "the pollers saw errors: {errors:?}");
    assert!(answered > 100, "the pollers kept reading ({answered})");
    // Within the leases (3 s for both, from a renewal at most a third of that before the
    // kill), and what it takes the survivor to notice (its next tick, its next claim).
    assert!(sync_taken < Duration::from_secs(10), "{sync_taken:?}");
    let job_taken = job_taken.unwrap();
    assert!(job_taken < Duration::from_secs(10), "{job_taken:?}");
    assert_exactly_in_proxmox(services, world.class_id, total).await;
    drop(b);
}

/// A sign-out on one instance ends, at once, a console that another instance relays: the
/// revocation crosses over PostgreSQL's NOTIFY (without it, the relay's 30 s re-check would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_on_one_instance_ends_a_console_on_the_other() {
    let Some(world) = anns_console_world("Bridged").await else {
        return; // the bridge is PostgreSQL's
    };
    let (port_a, port_b) = (free_port(), free_port());
    let (url_a, url_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let dir = world.dir.path();
    let _a = portal(dir, &world.db_url, port_a, &url_a);
    let _b = portal(dir, &world.db_url, port_b, &url_b);
    wait_until_answering(&url_a).await;
    wait_until_answering(&url_b).await;

    let http = client_from("127.0.0.3");
    let ann = sign_in(&http, &url_a, "ann", PASSWORD, None).await.unwrap();
    let mut console = console_open(port_b, "127.0.0.3", &ann, world.cluster_id).await;
    let out = http
        .post(format!("{url_a}/api/auth/logout"))
        .header("cookie", &ann)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success() || out.status().is_redirection());
    assert_revoked_at_once(&mut console, "the sign-out on A").await;
}

/// `proxlab user set-password` is a process of its own: on PostgreSQL it tells the serving
/// instances before it exits, so the account's open console ends at once (without it, at the
/// relay's 30 s re-check).
#[tokio::test]
async fn a_password_set_on_the_command_line_ends_a_console_at_once() {
    let Some(world) = anns_console_world("Commanded").await else {
        return; // the bridge is PostgreSQL's
    };
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = world.dir.path();
    let _portal = portal(dir, &world.db_url, port, &url);
    wait_until_answering(&url).await;
    let ann = sign_in(&client_from("127.0.0.3"), &url, "ann", PASSWORD, None)
        .await
        .unwrap();
    let mut console = console_open(port, "127.0.0.3", &ann, world.cluster_id).await;

    let set_password = ["user", "set-password", "ann", "--password-stdin"];
    let mut child = support::portal::proxlab(dir, &world.db_url, &set_password)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        b"another long enough password\n",
    )
    .unwrap();
    assert!(child.wait().unwrap().success(), "the command worked");
    assert_revoked_at_once(&mut console, "the command's exit").await;
}

/// On PostgreSQL only (`None` without it): a class world where Ann, a student, has the
/// console VM.
async fn anns_console_world(name: &str) -> Option<support::deploy::Setup> {
    let db_url = postgres::fresh_database_url().await?;
    let world = setup(name, 1, Some(db_url), Storage::Files).await;
    add_user(&world.services, "ann", Role::Student).await;
    lab::inventory::assign(&world.services, world.cluster_id, CONSOLE_VM, "ann")
        .await
        .unwrap();
    Some(world)
}

/// The console closes as "access revoked" within 5 s of `after` (just now); prints how soon.
async fn assert_revoked_at_once(console: &mut Socket, after: &str) {
    let since = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match console.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.reason.to_string()),
                Some(Err(e)) => panic!("the console broke instead of closing: {e}"),
                None => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    let reason = ended.unwrap_or_else(|_| panic!("the console is still open 5 s after {after}"));
    assert_eq!(reason.as_deref(), Some("access revoked"));
    println!(
        "{after} to the console's end: {} ms",
        since.elapsed().as_millis()
    );
}
