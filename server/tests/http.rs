//! The server over real HTTP: a real `proxlab` router on a free loopback port with a real
//! SQLite file, driven with reqwest the way a browser or a script would (form posts, cookies).
//! Each test runs on a multi-threaded runtime, as the real server does, and every request has a
//! timeout, so that a stuck request fails the test instead of hanging the suite.

use lab::model::Role;
use leptos::config::LeptosOptions;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, ORIGIN, SET_COOKIE};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use server::Settings;

#[path = "http/audit.rs"]
mod audit;
#[path = "http/class_access.rs"]
mod class_access;
#[path = "http/fuzz_params.rs"]
mod fuzz_params;
#[path = "http/hardening.rs"]
mod hardening;
#[path = "http/jobs.rs"]
mod jobs;
#[path = "http/metrics.rs"]
mod metrics;
mod support {
    pub mod jobs;
}

struct Server {
    url: String,
    setup_link: Option<String>,
    services: lab::Services,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

const PASSWORD: &str = "a long enough password";

async fn start_with(configure: impl FnOnce(&mut Settings)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: format!("sqlite://{}", dir.path().join("p.db").display()).into(),
        secret_key_file: dir.path().join("secret.key"),
        ..Settings::default()
    };
    configure(&mut settings);
    let options = LeptosOptions::builder()
        .output_name("proxlab")
        .site_root("target/site")
        .build();
    let portal = server::start(&settings, options).await.unwrap();
    let url = format!("http://{}", portal.listener.local_addr().unwrap());
    let setup_link = portal.setup_link.clone();
    let services = portal.services.clone();
    tokio::spawn(server::router::serve(portal));
    Server {
        url,
        setup_link,
        services,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            // A fresh connection per request: now and then a kept-alive connection was found
            // closed by the server when reused (see the README's known issues).
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
        _dir: dir,
    }
}

async fn start() -> Server {
    start_with(|_| {}).await
}

/// A response, read whole.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("proxlab_session=") && !c.starts_with("proxlab_session=;"))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }
}

impl Server {
    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Reply {
        let mut req = self.http.post(format!("{}{path}", self.url)).form(form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        read(
            req.send()
                .await
                .unwrap_or_else(|e| panic!("POST {path}: {e}")),
        )
        .await
    }

    /// A page load, as a browser asks for it.
    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = self
            .http
            .get(format!("{}{path}", self.url))
            .header("accept", "text/html,application/xhtml+xml");
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        read(
            req.send()
                .await
                .unwrap_or_else(|e| panic!("GET {path}: {e}")),
        )
        .await
    }

    async fn add_user(&self, name: &str, role: Role) -> i32 {
        lab::auth::create_user(
            &self.services,
            lab::auth::NewUser {
                username: name.into(),
                display_name: String::new(),
                email: None,
                role,
                password: PASSWORD.into(),
            },
        )
        .await
        .unwrap()
        .id
    }

    async fn login(&self, name: &str) -> String {
        let r = self
            .post(
                "/api/auth/login",
                None,
                &[("username", name), ("password", PASSWORD)],
            )
            .await;
        assert!(
            r.status.is_success(),
            "login {name}: {} {}",
            r.status,
            r.body
        );
        r.session_cookie().expect("login sets the session cookie")
    }
}

async fn read(res: reqwest::Response) -> Reply {
    Reply {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

/// Every guarded page's hydration data is what the page rendered. The browser reads a
/// resource's answer by its hydration id; a resource made inside `RequireRole`'s children was
/// made two or three times while the server rendered, and the first id then held a dropped
/// copy's `Err(Internal)` (its request context gone) beside HTML from an `Ok`: hydration
/// panicked. Each page is loaded several times, as the race does not lose every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_pages_hydrate_from_what_they_rendered() {
    let s = start().await;
    s.add_user("root", Role::Admin).await;
    let cookie = s.login("root").await;
    let pages = [
        "/",
        "/classes",
        "/classes/new",
        "/isos",
        "/vms/new",
        "/admin/users",
        "/admin/clusters",
        "/admin/sync",
        "/admin/jobs",
        "/admin/nodes",
        "/admin/policies",
    ];
    for round in 0..4 {
        for page in pages {
            let r = s.get(page, Some(&cookie)).await;
            assert_eq!(r.status, StatusCode::OK, "{page}: {}", r.body);
            let data: Vec<&str> = r
                .body
                .lines()
                .filter(|l| l.contains("__RESOLVED_RESOURCES["))
                .collect();
            assert!(!data.is_empty(), "{page}: no resource data in the page");
            for line in data {
                assert!(
                    !line.contains(r#"\"Err\""#),
                    "{page} (load {round}): the hydration data holds an error the page did not \
                     render: {line}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_database() {
    let s = start().await;
    let r = s.get("/health", None).await;
    assert_eq!(r.status, 200);
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(json, serde_json::json!({"status": "ok", "database": "ok"}));
}

/// An admin's `/health` says more: each cluster's sync and error, the job queue, stuck
/// jobs; anyone else's keeps the short answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_tells_admins_about_clusters_and_jobs() {
    let (s, sim, _dir, _cluster) = start_with_cluster().await;
    s.add_user("root", Role::Admin).await;
    let root = s.login("root").await;
    let ann = s.login("ann").await;
    let short: serde_json::Value =
        serde_json::from_str(&s.get("/health", Some(&ann)).await.body).unwrap();
    assert_eq!(short, serde_json::json!({"status": "ok", "database": "ok"}));
    let full: serde_json::Value =
        serde_json::from_str(&s.get("/health", Some(&root)).await.body).unwrap();
    assert_eq!(full["status"], "ok", "{full}");
    assert_eq!(full["clusters"][0]["name"], "lab");
    assert_eq!(full["clusters"][0]["ok"], true, "{full}");
    assert_eq!(full["jobs"]["stuck"], 0);
    // The workers at work: this portal's sync worker holds the cluster's lease (taken at its
    // next tick, within the 5 s quick-sync period).
    let sync_lease = format!("sync:{}", full_id(&s).await);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let full: serde_json::Value =
            serde_json::from_str(&s.get("/health", Some(&root)).await.body).unwrap();
        let workers = full["workers"].as_array().unwrap();
        let sync = workers.iter().find(|w| w["lease"] == sync_lease.as_str());
        if let Some(sync) = sync {
            let owner = sync["owner"].as_str().unwrap();
            assert!(
                owner.starts_with("sync/") && owner.contains(&format!(":{}/", std::process::id())),
                "{full}"
            );
            assert!(sync["secs_left"].as_i64().unwrap() > 0, "{full}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sync worker: {full}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The cluster stops answering: after the next sync its error shows, and the portal is
    // degraded.
    sim.control().fail_path("/cluster/resources", 10, "boom");
    let cluster = lab::clusters::find(&s.services, full_id(&s).await)
        .await
        .unwrap();
    let _ = lab::sync::quick::run(&s.services, &cluster).await;
    let full: serde_json::Value =
        serde_json::from_str(&s.get("/health", Some(&root)).await.body).unwrap();
    assert_eq!(full["status"], "degraded", "{full}");
    assert_eq!(full["clusters"][0]["ok"], false);
    assert!(
        full["clusters"][0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{full}"
    );
}

async fn full_id(s: &Server) -> i32 {
    lab::clusters::list(&s.services).await.unwrap()[0].id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_setup_link_creates_the_admin_once() {
    let s = start().await;
    let link = s
        .setup_link
        .clone()
        .expect("no admin yet: a setup link is printed");
    let token = link.split("token=").nth(1).unwrap();
    assert!(token.len() >= 43, "≥256-bit token");
    let page = s.get(&format!("/setup?token={token}"), None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Create admin"), "{}", page.body);

    let form = [
        ("token", token),
        ("username", "Root"),
        ("display_name", "The Admin"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    let r = s.post("/api/auth/setup", None, &form).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    let cookie = r.session_cookie().unwrap();
    let set_cookie = r
        .headers
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http: no Secure flag");

    let me = s.post("/api/auth/me", Some(&cookie), &[]).await;
    assert!(me.body.contains("\"role\":\"admin\""), "{}", me.body);
    assert!(me.body.contains("\"username\":\"root\""), "{}", me.body);

    // The link is spent: the page says so and a second post changes nothing.
    let page = s.get(&format!("/setup?token={token}"), None).await;
    assert!(page.body.contains("has been used"), "{}", page.body);
    let mut evil = form;
    evil[1] = ("username", "evil");
    let again = s.post("/api/auth/setup", None, &evil).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(
        lab::auth::find_user(&s.services, "evil")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_logout_and_bad_credentials() {
    let s = start().await;
    s.add_user("alice", Role::Student).await;

    let wrong = s
        .post(
            "/api/auth/login",
            None,
            &[("username", "alice"), ("password", "wrong password!")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("WrongCredentials"), "{}", wrong.body);
    assert!(wrong.session_cookie().is_none());
    let unknown = s
        .post(
            "/api/auth/login",
            None,
            &[("username", "nobody"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!((unknown.status, unknown.body), (wrong.status, wrong.body));
    let empty = s
        .post(
            "/api/auth/login",
            None,
            &[("username", "alice"), ("password", "")],
        )
        .await;
    assert_eq!(empty.status, 401);
    let realm = s
        .post(
            "/api/auth/login",
            None,
            &[("username", "root@pam"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(realm.status, 400);

    let cookie = s.login("alice").await;
    let portal = s.get("/", Some(&cookie)).await;
    assert_eq!(portal.status, 200);
    assert!(portal.body.contains("Welcome, alice"), "{}", portal.body);

    let out = s.post("/api/auth/logout", Some(&cookie), &[]).await;
    assert!(
        out.status.is_success() || out.status.is_redirection(),
        "{}",
        out.status
    );
    let cleared = out.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie is dead on the server, whatever the browser does with it.
    let r = s
        .post(
            "/api/auth/password",
            Some(&cookie),
            &[
                ("current_password", PASSWORD),
                ("new_password", "x"),
                ("new_password_confirm", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    let page = s.get("/", Some(&cookie)).await;
    assert_eq!(page.status, 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_redirect_goes_only_to_local_paths() {
    let s = start().await;
    s.add_user("bo", Role::Student).await;
    let html = |next: &str| {
        let client = s.http.clone();
        let url = format!("{}/api/auth/login", s.url);
        let next = next.to_owned();
        async move {
            client
                .post(url)
                .header("accept", "text/html")
                .header("referer", "http://127.0.0.1/login")
                .form(&[("username", "bo"), ("password", PASSWORD), ("next", &next)])
                .send()
                .await
                .unwrap()
        }
    };
    let r = html("/profile").await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()[LOCATION], "/profile");
    let r = html("https://evil.example/").await;
    assert_eq!(r.headers()[LOCATION], "/");
    let r = html("//evil.example/").await;
    assert_eq!(r.headers()[LOCATION], "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_follows_the_rules_and_the_switch() {
    let s = start().await;
    let form = |name: &'static str, pw: &'static str, confirm: &'static str| {
        [
            ("username", name),
            ("display_name", ""),
            ("password", pw),
            ("password_confirm", confirm),
        ]
    };
    let r = s
        .post(
            "/api/auth/register",
            None,
            &form("Newbie", PASSWORD, PASSWORD),
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    let cookie = r.session_cookie().unwrap();
    let me = s.post("/api/auth/me", Some(&cookie), &[]).await;
    assert!(
        me.body.contains("\"role\":\"student\""),
        "registered users are students: {}",
        me.body
    );

    for (form, status) in [
        (form("newbie", PASSWORD, PASSWORD), 409),
        (form("root@pam", PASSWORD, PASSWORD), 400),
        (form("two words", PASSWORD, PASSWORD), 400),
        (form("shorty", "short", "short"), 400),
        (form("mismatch", PASSWORD, "another long password"), 400),
    ] {
        let r = s.post("/api/auth/register", None, &form).await;
        assert_eq!(r.status, status, "{form:?}: {}", r.body);
    }
    let long = "p".repeat(300);
    let r = s
        .post(
            "/api/auth/register",
            None,
            &[
                ("username", "longpw"),
                ("display_name", ""),
                ("password", &long),
                ("password_confirm", &long),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        lab::auth::list_users(&s.services, "").await.unwrap().len(),
        1
    );

    lab::site::set_registration_open(&s.services, false)
        .await
        .unwrap();
    let r = s
        .post(
            "/api/auth/register",
            None,
            &form("late", PASSWORD, PASSWORD),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(
        s.get("/register", None)
            .await
            .body
            .contains("Self-registration is closed")
    );
}

/// Every admin server function refuses anonymous users (401), students and teachers (403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_functions_are_for_admins_only() {
    let s = start().await;
    s.add_user("admin", Role::Admin).await;
    s.add_user("teach", Role::Teacher).await;
    let victim = s.add_user("stu", Role::Student).await.to_string();
    let admin = s.login("admin").await;
    let teacher = s.login("teach").await;
    let student = s.login("stu").await;

    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/api/admin/users", vec![("search", "")]),
        (
            "/api/admin/users/create",
            vec![
                ("username", "made"),
                ("display_name", ""),
                ("email", ""),
                ("role", "admin"),
                ("password", PASSWORD),
            ],
        ),
        (
            "/api/admin/users/role",
            vec![("user_id", &victim), ("role", "admin")],
        ),
        (
            "/api/admin/users/password",
            vec![("user_id", &victim), ("password", "hijacked password")],
        ),
        (
            "/api/admin/users/disabled",
            vec![("user_id", &victim), ("disabled", "true")],
        ),
        ("/api/admin/registration", vec![("open", "false")]),
        ("/api/admin/users/delete", vec![("user_id", &victim)]),
    ];
    for (path, form) in &calls {
        assert_eq!(
            s.post(path, None, form).await.status,
            401,
            "anonymous {path}"
        );
        assert_eq!(
            s.post(path, Some(&student), form).await.status,
            403,
            "student {path}"
        );
        assert_eq!(
            s.post(path, Some(&teacher), form).await.status,
            403,
            "teacher {path}"
        );
    }
    // Nothing changed…
    let users = lab::auth::list_users(&s.services, "").await.unwrap();
    assert_eq!(users.len(), 3);
    assert!(users.iter().all(|u| !u.disabled && u.username != "made"));
    assert!(lab::site::registration_open(&s.services).await.unwrap());
    // …until an admin does it.
    for (path, form) in &calls {
        let r = s.post(path, Some(&admin), form).await;
        assert!(
            r.status.is_success(),
            "admin {path}: {} {}",
            r.status,
            r.body
        );
    }
    assert!(
        lab::auth::find_user(&s.services, "stu")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        lab::auth::find_user(&s.services, "made")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_with_the_right_status_for_each_role() {
    let s = start().await;
    s.add_user("admin", Role::Admin).await;
    s.add_user("teach", Role::Teacher).await;
    s.add_user("stu", Role::Student).await;
    let admin = s.login("admin").await;
    let teacher = s.login("teach").await;
    let student = s.login("stu").await;

    let anon = s.get("/admin/users", None).await;
    assert_eq!(anon.status, 302);
    assert_eq!(anon.headers[LOCATION], "/login?next=/admin/users");
    for (path, who, status) in [
        ("/admin/users", &admin, 200),
        ("/admin/users", &teacher, 403),
        ("/admin/users", &student, 403),
        ("/classes", &teacher, 200),
        ("/classes", &student, 403),
        ("/profile", &student, 200),
        ("/", &student, 200),
        ("/no/such/page", &student, 404),
    ] {
        assert_eq!(s.get(path, Some(who)).await.status, status, "{path}");
    }
    assert_eq!(s.get("/no/such/page", None).await.status, 404);
    let page = s.get("/admin/users", Some(&admin)).await.body;
    assert!(
        page.contains("teach") && page.contains("stu"),
        "the list is rendered on the server"
    );
    let nav = s.get("/", Some(&teacher)).await.body;
    assert!(nav.contains("href=\"/classes\"") && !nav.contains("href=\"/admin/users\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused_before_anything_happens() {
    let s = start().await;
    s.add_user("admin", Role::Admin).await;
    let victim = s.add_user("stu", Role::Student).await.to_string();
    let admin = s.login("admin").await;
    let res = s
        .http
        .post(format!("{}/api/admin/users/delete", s.url))
        .header("cookie", &admin)
        .header(ORIGIN, "https://evil.example")
        .form(&[("user_id", victim.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        lab::auth::find_user(&s.services, "stu")
            .await
            .unwrap()
            .is_some()
    );
    // The same request from the portal's own origin goes through.
    let res = s
        .http
        .post(format!("{}/api/admin/users/delete", s.url))
        .header("cookie", &admin)
        .header(ORIGIN, &s.url)
        .form(&[("user_id", victim.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_posts_get_clear_errors() {
    let s = start().await;
    let missing = s.post("/api/auth/login", None, &[("username", "x")]).await;
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert!(missing.body.contains("malformed"), "{}", missing.body);
    // The server refuses this body without reading it and drops the connection, so the
    // request goes on a connection of its own (a pooled one would be dead for the next call).
    let big = "x".repeat(200 * 1024);
    let res = reqwest::Client::new()
        .post(format!("{}/api/auth/login", s.url))
        .header("connection", "close")
        .form(&[("username", "x"), ("password", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let r = s
        .post(
            "/api/admin/users/role",
            None,
            &[("user_id", "not-a-number"), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_throttled() {
    let s = start_with(|c| c.auth.max_failures_per_user = 2).await;
    s.add_user("carl", Role::Student).await;
    for _ in 0..2 {
        let r = s
            .post(
                "/api/auth/login",
                None,
                &[("username", "carl"), ("password", "wrong password!")],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = s
        .post(
            "/api/auth/login",
            None,
            &[("username", "carl"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("Try again"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_behind_https() {
    let s = start_with(|c| c.public_url = Some("https://lab.school.example".into())).await;
    s.add_user("dee", Role::Student).await;
    let r = s
        .post(
            "/api/auth/login",
            None,
            &[("username", "dee"), ("password", PASSWORD)],
        )
        .await;
    let set_cookie = r.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_signs_out_other_sessions() {
    let s = start().await;
    s.add_user("eve", Role::Student).await;
    let laptop = s.login("eve").await;
    let phone = s.login("eve").await;
    let bad = s
        .post(
            "/api/auth/password",
            Some(&laptop),
            &[
                ("current_password", PASSWORD),
                ("new_password", "tiny"),
                ("new_password_confirm", "tiny"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    let ok = s
        .post(
            "/api/auth/password",
            Some(&laptop),
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new password"),
                ("new_password_confirm", "a brand new password"),
            ],
        )
        .await;
    assert!(ok.status.is_success(), "{}", ok.body);
    assert_eq!(s.get("/profile", Some(&laptop)).await.status, 200);
    assert_eq!(s.get("/profile", Some(&phone)).await.status, 302);
}

/// A portal with a cluster (pvesim) in its inventory; ann has VM 100.
async fn start_with_cluster() -> (Server, pvesim::Sim, tempfile::TempDir, i32) {
    start_with_cluster_and(|_| {}).await
}

async fn start_with_cluster_and(
    configure: impl FnOnce(&mut Settings),
) -> (Server, pvesim::Sim, tempfile::TempDir, i32) {
    let s = start_with(configure).await;
    let dir = tempfile::tempdir().unwrap();
    let sim = pvesim::Sim::start(pvesim::SimConfig::for_tests(dir.path())).unwrap();
    let cluster = lab::clusters::create(
        &s.services,
        &lab::model::ClusterForm::with_token("lab", &sim.url(), sim.fingerprint(), &sim.token())
            .unwrap(),
    )
    .await
    .unwrap();
    let row = lab::clusters::find(&s.services, cluster.id).await.unwrap();
    lab::sync::quick::run(&s.services, &row).await.unwrap();
    s.add_user("ann", Role::Student).await;
    lab::inventory::assign(&s.services, cluster.id, 100, "ann")
        .await
        .unwrap();
    (s, sim, dir, cluster.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_actions_and_rdp_files_are_for_the_vms_owner_only() {
    let (s, sim, _dir, cluster) = start_with_cluster().await;
    s.add_user("bob", Role::Student).await;
    s.add_user("teach", Role::Teacher).await;
    let ann = s.login("ann").await;
    let bob = s.login("bob").await;
    let teacher = s.login("teach").await;
    let cluster = cluster.to_string();
    sim.control().reset_counters();
    let act = |vmid: &'static str, action: &'static str| {
        vec![
            ("cluster_id", cluster.clone()),
            ("vmid", vmid.to_owned()),
            ("action", action.to_owned()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>, cookie: Option<String>| {
        let form: Vec<(&str, String)> = form;
        let s = &s;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.post("/api/vms/action", cookie.as_deref(), &pairs).await
        }
    };
    // Anonymous, another student, a teacher without the VM, a made-up VMID, an unknown
    // cluster: refused, and Proxmox never hears of it.
    assert_eq!(send(act("100", "start"), None).await.status, 401);
    assert_eq!(
        send(act("100", "start"), Some(bob.clone())).await.status,
        404
    );
    assert_eq!(
        send(act("100", "start"), Some(teacher.clone()))
            .await
            .status,
        404
    );
    assert_eq!(
        send(act("99999", "start"), Some(ann.clone())).await.status,
        404
    );
    let mut unknown_cluster = act("100", "start");
    unknown_cluster[0].1 = "4242".into();
    assert_eq!(send(unknown_cluster, Some(ann.clone())).await.status, 404);
    // Bad input: an unknown action, a VMID that is not a number.
    let bad = send(act("100", "destroy"), Some(ann.clone())).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("not a VM action"), "{}", bad.body);
    assert_eq!(
        send(act("1e9x", "start"), Some(ann.clone())).await.status,
        400
    );
    assert!(
        sim.control()
            .counters()
            .keys()
            .all(|k| !k.starts_with("POST")),
        "{:?}",
        sim.control().counters()
    );
    // RDP: anonymous 401 page, another student's VM 404, own VM without an IP 503.
    assert_eq!(
        s.get(&format!("/vm/{cluster}/100/rdp"), None).await.status,
        401
    );
    assert_eq!(
        s.get(&format!("/vm/{cluster}/100/rdp"), Some(&bob))
            .await
            .status,
        404
    );
    let no_ip = s.get(&format!("/vm/{cluster}/100/rdp"), Some(&ann)).await;
    assert!(
        (no_ip.status == 503 && no_ip.body.contains("no known IP")) || no_ip.status == 200,
        "{} {}",
        no_ip.status,
        no_ip.body
    );
    // The owner's dashboard lists exactly VM 100; bob's lists nothing.
    let mine = s.post("/api/vms", Some(&ann), &[]).await;
    assert!(mine.status.is_success(), "{} {}", mine.status, mine.body);
    assert!(mine.body.contains("\"vmid\":100"), "{}", mine.body);
    let theirs = s.post("/api/vms", Some(&bob), &[]).await;
    assert!(!theirs.body.contains("\"vmid\":100"), "{}", theirs.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_admin_functions_refuse_teachers_and_students() {
    let (s, _sim, _dir, cluster) = start_with_cluster().await;
    s.add_user("teach", Role::Teacher).await;
    s.add_user("admin", Role::Admin).await;
    let student = s.login("ann").await;
    let teacher = s.login("teach").await;
    let admin = s.login("admin").await;
    let id = cluster.to_string();
    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/api/admin/clusters", vec![]),
        ("/api/admin/clusters/test", vec![("id", &id)]),
        (
            "/api/admin/clusters/enabled",
            vec![("id", &id), ("enabled", "false")],
        ),
        (
            "/api/admin/clusters/fingerprint",
            vec![("url", "https://127.0.0.1:1")],
        ),
        ("/api/admin/sync/now", vec![]),
        (
            "/api/admin/vms/assign",
            vec![("cluster_id", &id), ("vmid", "101"), ("username", "ann")],
        ),
        (
            "/api/admin/vms/unassign",
            vec![("cluster_id", &id), ("vmid", "100"), ("username", "ann")],
        ),
        ("/api/admin/vms/missing", vec![]),
        ("/api/admin/clusters/delete", vec![("id", &id)]),
    ];
    for (path, form) in &calls {
        for (who, cookie) in [("student", &student), ("teacher", &teacher)] {
            let r = s.post(path, Some(cookie), form).await;
            assert_eq!(r.status, 403, "{who} {path}: {}", r.body);
        }
    }
    assert_eq!(lab::clusters::list(&s.services).await.unwrap().len(), 1);
    assert!(lab::clusters::list(&s.services).await.unwrap()[0].enabled);
    // The admin's list never carries a secret.
    let list = s.post("/api/admin/clusters", Some(&admin), &[]).await;
    assert!(list.status.is_success());
    assert!(!list.body.contains("3f5c2d1e-8a4b"), "{}", list.body);
    assert!(!list.body.contains("secret"), "{}", list.body);
    let test = s
        .post("/api/admin/clusters/test", Some(&admin), &[("id", &id)])
        .await;
    assert!(test.status.is_success(), "{}", test.body);
    assert!(test.body.contains("\"guests\""), "{}", test.body);
    // Bad input is refused and changes nothing.
    let bad = s
        .post(
            "/api/admin/clusters/save",
            Some(&admin),
            &[
                ("form[name]", "x"),
                ("form[api_urls]", "ftp://nope"),
                ("form[fingerprint]", ""),
                ("form[auth_kind]", "token"),
                ("form[auth_id]", "a@pve!t"),
                ("form[secret]", "s"),
                ("form[admin_group]", ""),
                ("form[ssh_user]", ""),
                ("form[ssh_key]", ""),
                ("form[ssh_host_keys]", ""),
                ("form[pve_root]", ""),
                ("form[storage_paths]", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(lab::clusters::list(&s.services).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_websockets_are_checked_before_any_proxmox_call() {
    websockets_are_checked_before_any_proxmox_call("console", "vncproxy", &["binary"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_websockets_are_checked_before_any_proxmox_call() {
    websockets_are_checked_before_any_proxmox_call("terminal", "termproxy", &[]).await;
}

/// `/ws/ssh/…` refuses what the terminal socket refuses, plus a VM whose class has SSH off,
/// a VM in no class, a VM without IP and an IP outside the cluster's VM subnets, all before
/// the upgrade (so before any SSH connection, which only starts after the credentials are
/// typed); the owner's VM in an SSH class, with an IP in the subnets, upgrades, and Proxmox
/// is asked only for its nodes' addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_websockets_are_checked_before_any_connection() {
    use lab::db::entity::{class, class_vm, vm};
    use sea_orm::{ActiveModelTrait, Set};
    // More socket opens than one person's burst: the rate limit has its own test.
    let (s, sim, _dir, cluster) = start_with_cluster_and(|c| c.limits.sockets_burst = 100).await;
    s.add_user("bob", Role::Student).await;
    s.add_user("teach", Role::Teacher).await;
    let ann = s.login("ann").await;
    let bob = s.login("bob").await;
    let host = s.url.trim_start_matches("http://").to_owned();
    let same_site = s.url.clone();
    let db = &s.services.db;
    let teacher = lab::auth::find_user(&s.services, "teach")
        .await
        .unwrap()
        .unwrap();
    let row = |vmid: i32| async move {
        vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(cluster))
            .filter(vm::Column::Vmid.eq(vmid))
            .one(db)
            .await
            .unwrap()
            .unwrap()
    };
    let set_ip = |vmid: i32, ip: Option<&'static str>| async move {
        let mut r: vm::ActiveModel = row(vmid).await.into();
        r.ip = Set(ip.map(str::to_owned));
        r.update(db).await.unwrap();
    };
    let stopped = vm::Entity::find()
        .filter(vm::Column::Status.eq("stopped"))
        .filter(vm::Column::Template.eq(false))
        .filter(vm::Column::Kind.eq("qemu"))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .vmid;
    lab::inventory::assign(&s.services, cluster, stopped, "ann")
        .await
        .unwrap();
    let upgrade = |vmid: i32, cookie: Option<&str>, origin: Option<&str>| {
        let mut req = s
            .http
            .get(format!("{}/ws/ssh/{cluster}/{vmid}", s.url))
            .header("host", &host)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    set_ip(100, Some("127.0.0.1")).await;
    set_ip(stopped, Some("127.0.0.1")).await;
    sim.control().reset_counters();
    let site = Some(same_site.as_str());
    assert_eq!(upgrade(100, Some(&ann), None).await, 403, "no Origin");
    assert_eq!(
        upgrade(100, Some(&ann), Some("https://evil.example")).await,
        403,
        "cross-site"
    );
    assert_eq!(upgrade(100, None, site).await, 401, "no session");
    assert_eq!(upgrade(100, Some(&bob), site).await, 404, "another's VM");
    assert_eq!(
        upgrade(99999, Some(&ann), site).await,
        404,
        "a made-up VMID"
    );
    assert_eq!(upgrade(stopped, Some(&ann), site).await, 409, "stopped");
    assert_eq!(upgrade(100, Some(&ann), site).await, 409, "in no class");
    // A class holding VM 100, SSH still off.
    let class = class::ActiveModel {
        name: Set("Networks".into()),
        description: Set(String::new()),
        cluster_id: Set(cluster),
        owner_id: Set(teacher.id),
        vmid_base: Set(100),
        students: Set(1),
        storage: Set("local".into()),
        state: Set("ready".into()),
        export_paths: Set(String::new()),
        created_at: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let vm100 = row(100).await;
    class_vm::ActiveModel {
        class_id: Set(class.id),
        cluster_id: Set(cluster),
        vmid: Set(100),
        role: Set(lab::model::VmRole::Student),
        name: Set(vm100.name.clone()),
        node: Set(vm100.node.clone()),
        step: Set(lab::model::VmStep::Ready),
        attempts: Set(0),
        macs: Set(String::new()),
        disks: Set(String::new()),
        updated_at: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    assert_eq!(upgrade(100, Some(&ann), site).await, 409, "SSH off");
    lab::classes::set_ssh(&s.services, &teacher, class.id, true)
        .await
        .unwrap();
    set_ip(100, None).await;
    assert_eq!(upgrade(100, Some(&ann), site).await, 409, "no IP");
    assert_eq!(upgrade(100, Some(&bob), site).await, 404, "another's VM");
    assert_eq!(s.services.consoles.open(), 0, "refusals take no slot");
    // The guest agent's IP is the student's to set: loopback, or outside the cluster's VM
    // subnets, or any address while the cluster has none, is refused.
    set_ip(100, Some("127.0.0.1")).await;
    assert_eq!(upgrade(100, Some(&ann), site).await, 409, "loopback");
    set_ip(100, Some("10.20.0.5")).await;
    assert_eq!(
        upgrade(100, Some(&ann), site).await,
        409,
        "no VM subnets yet"
    );
    let mut c: lab::db::entity::cluster::ActiveModel = lab::clusters::find(&s.services, cluster)
        .await
        .unwrap()
        .into();
    c.vm_subnets = Set("10.30.0.0/16".into());
    c.update(db).await.unwrap();
    assert_eq!(
        upgrade(100, Some(&ann), site).await,
        409,
        "outside the subnets"
    );
    assert_eq!(s.services.consoles.open(), 0, "refusals take no slot");
    sim.control().reset_counters();
    set_ip(100, Some("10.30.0.5")).await;
    assert_eq!(upgrade(100, Some(&ann), site).await, 101);
    // The nodes' addresses come from Proxmox; no VM is touched.
    let calls = sim.control().counters();
    assert!(
        calls.keys().all(|route| route.contains("/cluster/status")),
        "SSH reads only the node list from Proxmox: {calls:?}"
    );
}

/// `/ws/{kind}/…` refuses a missing or foreign Origin, no or a forged session, another
/// student's VM, a made-up VMID and a stopped VM, all before `call` reaches Proxmox; the
/// owner's upgrade from the portal's own page goes through and makes that one call.
async fn websockets_are_checked_before_any_proxmox_call(
    kind: &str,
    call: &str,
    protocols: &[&str],
) {
    let (s, sim, _dir, cluster) = start_with_cluster().await;
    s.add_user("bob", Role::Student).await;
    let ann = s.login("ann").await;
    let bob = s.login("bob").await;
    let host = s.url.trim_start_matches("http://").to_owned();
    let same_site = s.url.clone();
    let stopped = lab::db::entity::vm::Entity::find()
        .filter(lab::db::entity::vm::Column::Status.eq("stopped"))
        .filter(lab::db::entity::vm::Column::Template.eq(false))
        .filter(lab::db::entity::vm::Column::Kind.eq("qemu"))
        .one(&s.services.db)
        .await
        .unwrap()
        .unwrap()
        .vmid;
    lab::inventory::assign(&s.services, cluster, stopped, "ann")
        .await
        .unwrap();
    let upgrade = |vmid: i32, cookie: Option<&str>, origin: Option<&str>| {
        let mut req = s
            .http
            .get(format!("{}/ws/{kind}/{cluster}/{vmid}", s.url))
            .header("host", &host)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if !protocols.is_empty() {
            req = req.header("sec-websocket-protocol", protocols.join(", "));
        }
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let route = format!("POST /nodes/{{node}}/qemu/{{vmid}}/{call}");
    sim.control().reset_counters();
    let site = Some(same_site.as_str());
    assert_eq!(upgrade(100, Some(&ann), None).await, 403, "no Origin");
    assert_eq!(
        upgrade(100, Some(&ann), Some("https://evil.example")).await,
        403,
        "cross-site"
    );
    assert_eq!(upgrade(100, None, site).await, 401, "no session");
    assert_eq!(
        upgrade(100, Some("proxlab_session=forged"), site).await,
        401,
        "unknown session"
    );
    assert_eq!(
        upgrade(100, Some(&bob), site).await,
        404,
        "another student's VM"
    );
    assert_eq!(
        upgrade(99999, Some(&ann), site).await,
        404,
        "a made-up VMID"
    );
    assert_eq!(
        upgrade(stopped, Some(&ann), site).await,
        409,
        "a stopped VM"
    );
    assert_eq!(
        sim.control().count(&route),
        0,
        "{:?}",
        sim.control().counters()
    );
    // The owner, from the portal's own page: the upgrade goes through.
    assert_eq!(upgrade(100, Some(&ann), site).await, 101);
    assert_eq!(sim.control().count(&route), 1);
    // Both are in the audit log, with who, where from, and how it went.
    s.add_user("root", Role::Admin).await;
    let root = lab::auth::find_user(&s.services, "root")
        .await
        .unwrap()
        .unwrap();
    let lines = lab::audit::page(&s.services, &root, &Default::default(), 365)
        .await
        .unwrap()
        .lines;
    let opened: Vec<_> = lines
        .iter()
        .filter(|l| l.action == lab::model::AuditAction::ConsoleOpened)
        .map(|l| (l.actor.as_str(), l.outcome, l.addr.as_deref()))
        .collect();
    assert!(
        opened.contains(&("bob", lab::model::AuditOutcome::Denied, Some("127.0.0.1")))
            && opened.contains(&("ann", lab::model::AuditOutcome::Ok, Some("127.0.0.1"))),
        "{lines:?}"
    );
}

/// `POST /api/isos/upload` over real HTTP to a pvesim cluster: a file larger than the
/// server functions' 64 KiB limit is streamed through to Proxmox and the browser is sent
/// back to the ISO page; refusals come back in the address and leave nothing behind; no
/// session, another site, or a student get nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iso_upload_streams_through_to_proxmox_for_those_allowed() {
    let spool = tempfile::tempdir().unwrap();
    let spool_dir = spool.path().to_path_buf();
    let (s, sim, sim_dir, cluster) =
        start_with_cluster_and(move |settings| settings.upload_dir = spool_dir).await;
    let row = lab::clusters::find(&s.services, cluster).await.unwrap();
    lab::sync::full::run(&s.services, &row, None).await.unwrap();
    s.add_user("root", Role::Admin).await;
    let admin = s.login("root").await;
    let ann = s.login("ann").await;
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let send = |cookie: Option<String>,
                target: String,
                file_name: &'static str,
                origin: Option<&'static str>| {
        let form = reqwest::multipart::Form::new()
            .text("target", target)
            .text("checksum", "")
            .text("name", "")
            .part(
                "file",
                reqwest::multipart::Part::bytes(body.clone()).file_name(file_name),
            );
        let mut req = s
            .http
            .post(format!("{}/api/isos/upload", s.url))
            .multipart(form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        async move { read(req.send().await.unwrap()).await }
    };
    let target = format!("{cluster}/pve1/local");

    let r = send(Some(admin.clone()), target.clone(), "net tools.iso", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers[LOCATION], "/isos");
    let t = lab::db::entity::iso_transfer::Entity::find()
        .one(&s.services.db)
        .await
        .unwrap()
        .expect("the upload is recorded");
    assert_eq!((t.filename.as_str(), t.url.as_str()), ("net_tools.iso", ""));
    let file = sim_dir.path().join("var/lib/vz/template/iso/net_tools.iso");
    for _ in 0..200 {
        if file.exists() && std::fs::metadata(&file).unwrap().len() == body.len() as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(std::fs::read(&file).unwrap(), body);
    // The portal's own copy is gone once Proxmox has the file.
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);

    // Refused with the reason in the address, and nothing recorded: the same name again
    // (Proxmox would overwrite it), a block storage.
    lab::sync::full::run(&s.services, &row, None).await.unwrap();
    for (target, name) in [
        (target.clone(), "net_tools.iso"),
        (format!("{cluster}/pve1/local-lvm"), "x.iso"),
    ] {
        let r = send(Some(admin.clone()), target, name, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(
            r.headers[LOCATION]
                .to_str()
                .unwrap()
                .starts_with("/isos?upload_error="),
            "{:?}",
            r.headers[LOCATION]
        );
    }
    assert_eq!(
        lab::db::entity::iso_transfer::Entity::find()
            .all(&s.services.db)
            .await
            .unwrap()
            .len(),
        1
    );
    // No session; another site's page; a student.
    let r = send(None, target.clone(), "a.iso", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(
        Some(admin.clone()),
        target.clone(),
        "b.iso",
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(Some(ann), target.clone(), "c.iso", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.headers[LOCATION]
            .to_str()
            .unwrap()
            .contains("upload_error")
    );
    for name in ["a.iso", "b.iso", "c.iso"] {
        assert!(
            !sim_dir
                .path()
                .join("var/lib/vz/template/iso")
                .join(name)
                .exists()
        );
    }
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);
    drop(sim);
}
