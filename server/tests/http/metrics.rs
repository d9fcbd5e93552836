//! `/metrics` over real HTTP: off unless enabled, closed without the bearer token, and with it
//! the counters of what this portal did (pages by route, Proxmox calls by cluster and route,
//! sync runs) beside the gauges read from its database (VMs by state, jobs, the pool).
//!
//! The recorder is one per process and these tests share a process: the assertions are about
//! series this test's own requests made, or gauges only a scrape sets.

use super::*;

const TOKEN: &str = "a-scrape-token-of-32-characters!";

/// The value of the first line of `metric` whose labels include every one of `labels`.
fn value(body: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    body.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(s: &Server, token: Option<&str>) -> Reply {
    let mut req = s.http.get(format!("{}/metrics", s.url));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    read(req.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_unless_enabled() {
    let s = start().await;
    assert_eq!(scrape(&s, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_proxmox_calls_and_read_the_database() {
    let (s, _sim, _dir, _cluster) = start_with_cluster_and(|settings| {
        settings.metrics.enabled = true;
        settings.metrics.token = Some(TOKEN.into());
        settings.sync.quick_secs = 1;
        settings.sync.full_secs = 1;
    })
    .await;
    // Without the token, or with another one: nothing.
    assert_eq!(scrape(&s, None).await.status, StatusCode::UNAUTHORIZED);
    let wrong = scrape(&s, Some("a-scrape-token-of-32-characters?")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(!wrong.body.contains("proxlab_"), "{}", wrong.body);

    assert_eq!(s.get("/login", None).await.status, 200);
    assert_eq!(s.get("/no/such/page", None).await.status, 404);
    s.login("ann").await;
    // The sync worker (every second) runs a quick and a full sync.
    let mut body = String::new();
    for _ in 0..100 {
        let reply = scrape(&s, Some(TOKEN)).await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        body = reply.body;
        let full = r#"kind="full""#;
        if value(
            &body,
            "proxlab_sync_duration_seconds_count",
            &[r#"cluster="lab""#, full],
        )
        .is_some()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let login = [r#"route="/login""#, r#"method="GET""#, r#"status="200""#];
    assert!(
        value(&body, "proxlab_http_requests_total", &login).unwrap() >= 1.0,
        "{body}"
    );
    let sign_in = [
        r#"route="/api/auth/login""#,
        r#"method="POST""#,
        r#"status="200""#,
    ];
    assert!(
        value(&body, "proxlab_http_requests_total", &sign_in).unwrap() >= 1.0,
        "{body}"
    );
    let unmatched = [r#"route="unmatched""#, r#"status="404""#];
    assert!(value(&body, "proxlab_http_requests_total", &unmatched).unwrap() >= 1.0);
    let bucket = [r#"route="/login""#, r#"le="+Inf""#];
    assert!(
        value(
            &body,
            "proxlab_http_request_duration_seconds_bucket",
            &bucket
        )
        .unwrap()
            >= 1.0
    );
    // The Proxmox calls, by route with the variable parts named.
    let resources = [
        r#"cluster="lab""#,
        r#"route="cluster/resources""#,
        r#"outcome="ok""#,
    ];
    assert!(value(&body, "proxlab_proxmox_requests_total", &resources).unwrap() >= 1.0);
    let config = [r#"route="nodes/{node}/qemu/{vmid}/config""#];
    assert!(
        value(&body, "proxlab_proxmox_requests_total", &config).is_some(),
        "the full sync reads configs: {body}"
    );
    for kind in ["quick", "full"] {
        let labels = [
            r#"cluster="lab""#,
            &format!(r#"kind="{kind}""#),
            r#"outcome="ok""#,
        ];
        assert!(
            value(&body, "proxlab_sync_duration_seconds_count", &labels).unwrap() >= 1.0,
            "{kind}: {body}"
        );
    }
    // The gauges are the database's: VMs by state as the inventory has them.
    let rows = lab::db::entity::vm::Entity::find()
        .filter(lab::db::entity::vm::Column::Status.eq("running"))
        .all(&s.services.db)
        .await
        .unwrap()
        .len();
    assert!(rows > 0);
    let running = value(&body, "proxlab_vms", &[r#"state="running""#]).unwrap();
    assert_eq!(running, rows as f64, "{body}");
    let queued = [r#"kind="deploy""#, r#"state="queued""#];
    assert_eq!(value(&body, "proxlab_jobs", &queued), Some(0.0));
    assert!(
        value(
            &body,
            "proxlab_sync_last_success_timestamp_seconds",
            &[r#"cluster="lab""#]
        )
        .unwrap()
            > 1.7e9
    );
    assert!(value(&body, "proxlab_db_pool_max_connections", &[]).unwrap() >= 1.0);
    assert!(value(&body, "proxlab_db_pool_connections", &[r#"state="idle""#]).is_some());
    assert!(value(&body, "proxlab_db_acquire_seconds", &[]).is_some());
    assert_eq!(
        value(&body, "proxlab_build_info", &[r#"version="0.1.0""#]),
        Some(1.0)
    );
    // Nothing secret: not the cluster's token, not the scrape token.
    assert!(!body.contains(TOKEN));
    assert!(!body.contains("PVEAPIToken"));
}
