//! Hardening over real HTTP: the security headers and the CSP nonce, chunked bodies over the
//! limit, another teacher's class page, the current-password throttle and the per-session
//! rate limits.

use super::*;
use reqwest::header::RETRY_AFTER;
use std::collections::HashSet;

/// The value of `name` in `reply`, or "".
fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The `nonce` of every inline `<script>` of a page (`None` for one without).
fn inline_script_nonces(html: &str) -> Vec<Option<String>> {
    html.split("<script")
        .skip(1)
        .filter_map(|tag| tag.split_once('>').map(|(attrs, _)| attrs))
        .filter(|attrs| !attrs.contains("src="))
        .map(|attrs| {
            attrs
                .split("nonce=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_hardening_headers() {
    let s = start().await;
    s.add_user("ada", Role::Admin).await;
    let admin = s.login("ada").await;
    let page = s.get("/admin/users", Some(&admin)).await;
    assert_eq!(page.status, 200);
    let csp = header(&page, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "connect-src 'self'",
        "'wasm-unsafe-eval'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    // Inline scripts run only with this response's nonce, and every inline script Leptos
    // wrote (the hydration loader, the resolved resources) carries it.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce in script-src");
    assert!(nonce.len() >= 22, "{nonce}");
    let script_src = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap();
    assert!(!script_src.contains("'unsafe-inline'"), "{script_src}");
    let scripts = inline_script_nonces(&page.body);
    assert!(!scripts.is_empty(), "the page has its hydration script");
    for found in &scripts {
        assert_eq!(found.as_deref(), Some(nonce), "{}", page.body);
    }
    let again = s.get("/admin/users", Some(&admin)).await;
    assert_ne!(
        header(&again, "content-security-policy"),
        csp,
        "a new nonce per response"
    );
    // The same headers on pages, errors, redirects, server functions and plain routes; a
    // page of this site cannot be framed, by other sites or by itself.
    let replies = [
        page,
        s.get("/no/such/page", None).await,
        s.get("/admin/users", None).await,
        s.get("/health", None).await,
        s.post("/api/auth/login", None, &[("username", "x")]).await,
    ];
    for r in &replies {
        assert_eq!(header(r, "x-frame-options"), "DENY", "{}", r.status);
        assert_eq!(header(r, "x-content-type-options"), "nosniff");
        assert_eq!(header(r, "referrer-policy"), "same-origin");
        let permissions = header(r, "permissions-policy");
        assert!(
            permissions.contains("camera=()") && permissions.contains("microphone=()"),
            "{permissions}"
        );
        assert!(permissions.contains("fullscreen=(self)"), "{permissions}");
        assert!(
            header(r, "content-security-policy").contains("frame-ancestors 'none'"),
            "{}",
            r.status
        );
        assert!(
            r.headers.get("strict-transport-security").is_none(),
            "no HSTS over plain http"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_is_sent_when_the_portal_is_served_over_https() {
    let s = start_with(|c| c.public_url = Some("https://lab.school.example".into())).await;
    let r = s.get("/login", None).await;
    assert_eq!(header(&r, "strict-transport-security"), "max-age=31536000");
}

/// A request body sent in chunks, without `Content-Length`, as `size` bytes of a form field.
fn chunked_form(size: usize) -> reqwest::Body {
    let mut body = b"username=x&password=".to_vec();
    body.resize(size, b'a');
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(8 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_gets_413() {
    let s = start().await;
    let send = |size: usize| {
        let url = format!("{}/api/auth/login", s.url);
        async move {
            // A connection of its own: the server stops reading a body over the limit.
            reqwest::Client::new()
                .post(url)
                .header("connection", "close")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(chunked_form(size))
                .send()
                .await
                .unwrap()
        }
    };
    // Just over 64 KiB, so the whole body is on the wire before the answer.
    let over = send(80 * 1024).await;
    assert_eq!(over.status(), 413, "{}", over.text().await.unwrap());
    // Under the limit, a chunked body is read as usual (a wrong login, not 413 or 500).
    let under = send(1024).await;
    assert_eq!(under.status(), 401, "{}", under.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_teachers_class_page_is_404() {
    use lab::db::entity::class;
    use sea_orm::{ActiveModelTrait, Set};
    let (s, _sim, _dir, cluster) = start_with_cluster().await;
    let owner = s.add_user("owner", Role::Teacher).await;
    s.add_user("other", Role::Teacher).await;
    let class = class::ActiveModel {
        name: Set("Networks".into()),
        description: Set(String::new()),
        cluster_id: Set(cluster),
        owner_id: Set(owner),
        vmid_base: Set(300),
        students: Set(1),
        storage: Set("local".into()),
        state: Set("ready".into()),
        export_paths: Set(String::new()),
        created_at: Set(0),
        ..Default::default()
    }
    .insert(&s.services.db)
    .await
    .unwrap();
    let path = format!("/classes/{}", class.id);
    let mine = s.get(&path, Some(&s.login("owner").await)).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(mine.body.contains("Networks"));
    let theirs = s.get(&path, Some(&s.login("other").await)).await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    assert!(!theirs.body.contains("Networks"));
    let none = s
        .get("/classes/999999", Some(&s.login("other").await))
        .await;
    assert_eq!(none.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_password_guesses_are_throttled() {
    let s = start().await;
    s.add_user("gus", Role::Student).await;
    let cookie = s.login("gus").await;
    async fn change(s: &Server, cookie: &str, current: &str) -> Reply {
        let form = [
            ("current_password", current),
            ("new_password", "a brand new password"),
            ("new_password_confirm", "a brand new password"),
        ];
        s.post("/api/auth/password", Some(cookie), &form).await
    }
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            change(&s, &cookie, "a wrong password")
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses[..5], [400; 5], "{statuses:?}");
    assert_eq!(statuses[5..], [429; 7], "{statuses:?}");
    let right = change(&s, &cookie, PASSWORD).await;
    assert_eq!(
        right.status, 429,
        "past the limit even the right one: {}",
        right.body
    );
    assert!(right.body.contains("Try again"), "{}", right.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_functions_are_rate_limited_per_session() {
    let s = start_with(|c| {
        c.limits.api_per_second = 1;
        c.limits.api_burst = 5;
    })
    .await;
    s.add_user("hal", Role::Student).await;
    s.add_user("ivy", Role::Student).await;
    let hal = s.login("hal").await;
    let ivy = s.login("ivy").await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (http, url, cookie) = (
            s.http.clone(),
            format!("{}/api/auth/me", s.url),
            hal.clone(),
        );
        tasks.spawn(async move {
            read(
                http.post(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        });
    }
    let mut limited = 0;
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        if r.status == 429 {
            limited += 1;
            let wait: u64 = header(&r, "retry-after").parse().unwrap();
            assert!((1..=2).contains(&wait), "Retry-After {wait}");
        } else {
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    assert!(limited >= 10, "{limited} of 20 were limited");
    // Another session is not affected; pages are not limited.
    assert_eq!(s.post("/api/auth/me", Some(&ivy), &[]).await.status, 200);
    assert_eq!(s.get("/profile", Some(&hal)).await.status, 200);
    let r = s.post("/api/auth/me", Some(&hal), &[]).await;
    assert_eq!(r.status, 429);
    assert!(r.headers.get(RETRY_AFTER).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_limits_let_a_busy_page_through() {
    let s = start().await;
    s.add_user("jo", Role::Student).await;
    let jo = s.login("jo").await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let (http, url, cookie) = (s.http.clone(), format!("{}/api/auth/me", s.url), jo.clone());
        tasks.spawn(async move {
            http.post(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let mut statuses = HashSet::new();
    while let Some(status) = tasks.join_next().await {
        statuses.insert(status.unwrap().as_u16());
    }
    assert_eq!(statuses, HashSet::from([200]), "a burst of 60 calls passes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_opens_are_rate_limited_per_session() {
    let s = start_with(|c| {
        c.limits.sockets_per_minute = 1;
        c.limits.sockets_burst = 3;
    })
    .await;
    s.add_user("kay", Role::Student).await;
    s.add_user("lou", Role::Student).await;
    let kay = s.login("kay").await;
    let lou = s.login("lou").await;
    let open = |cookie: &str| {
        s.http
            .get(format!("{}/ws/console/1/100", s.url))
            .header("origin", &s.url)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("cookie", cookie)
            .send()
    };
    for _ in 0..3 {
        let status = open(&kay).await.unwrap().status();
        assert_eq!(status, 404, "no such VM, but checked");
    }
    let limited = open(&kay).await.unwrap();
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=60).contains(&wait), "one open a minute: {wait}");
    assert_eq!(open(&lou).await.unwrap().status(), 404, "another session");
}
