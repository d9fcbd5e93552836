//! The axum router: Leptos pages and server functions (with `lab::Services` in their context),
//! `/health`, static files, and the request guards; plus `start`, which connects the
//! database, migrates, prints the first-run setup link and binds the listener.

use crate::guard::{OriginPolicy, check_origin, read_body, server_fn_status};
use crate::headers::CspNonce;
use crate::rate_limit::RateLimits;
use crate::settings::Settings;
use app::session::WebSettings;
use app::{App, shell};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router, middleware};
use lab::Services;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use secrecy::ExposeSecret;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;

/// Form posts are small; anything bigger is refused with 413 (before it is read when it says
/// its length; as soon as it passes the limit when it is chunked).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A bound, migrated portal, ready to serve.
pub struct Portal {
    pub listener: TcpListener,
    pub router: Router,
    pub services: Services,
    /// The one-time first-admin link, when no admin exists yet.
    pub setup_link: Option<String>,
    pub url: String,
    /// How long a shutdown waits for jobs and relays to finish.
    pub grace: std::time::Duration,
    /// Held while the portal runs on a SQLite file, so that `proxlab restore` refuses.
    pub serving: Option<lab::db::backup::ServingLock>,
    /// HTTPS: the certificate files (read again on SIGHUP), and the optional plain-HTTP
    /// listener that redirects to it.
    pub tls: Option<Arc<crate::tls::CertFiles>>,
    pub redirect: Option<(TcpListener, Router)>,
}

/// Connects and migrates the database, issues a setup token if needed, binds the address.
pub async fn start(settings: &Settings, leptos_options: LeptosOptions) -> anyhow::Result<Portal> {
    // Before the database is opened (and migrated): a restore may be putting it back.
    let serving = lab::db::backup::serving_lock(settings.database_url.expose_secret())?;
    // A certificate that does not load stops the start, with the reason.
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(crate::tls::CertFiles::load(cert, key)?)),
        _ => None,
    };
    let services = crate::services::open_services(settings).await?;
    services.bridge_revocations(lab::revocation::Bridge::SendAndHear);
    let addr = settings.listen.unwrap_or(leptos_options.site_addr);
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let url = settings.base_url(bound);
    let redirect = match settings.http_redirect_listen {
        Some(addr) => Some((
            TcpListener::bind(addr).await?,
            crate::tls::redirect_router(settings.public_url.clone(), bound.port()),
        )),
        None => None,
    };
    let setup_link = lab::auth::issue_setup_token(&services)
        .await?
        .map(|token| format!("{url}{}?token={token}", app::ids::ROUTE_SETUP));
    let router = build_router(services.clone(), leptos_options, settings);
    crate::iso_upload::remove_leftovers(&settings.upload_dir);
    lab::sync::spawn_workers(services.clone(), settings.sync.clone());
    // Also resumes jobs a previous run left unfinished (crash, restart).
    let grace = std::time::Duration::from_secs(settings.shutdown_grace_secs);
    lab::jobs::spawn_workers(&services, settings.jobs.clone(), grace);
    lab::policies::spawn_worker(services.clone(), settings.policies.clone());
    lab::audit::spawn_pruner(services.clone(), settings.audit_retention_days);
    Ok(Portal {
        listener,
        router,
        services,
        setup_link,
        url,
        grace,
        serving,
        tls,
        redirect,
    })
}

pub fn build_router(
    services: Services,
    leptos_options: LeptosOptions,
    settings: &Settings,
) -> Router {
    let web = WebSettings {
        https: settings.https(),
        behind_proxy: settings.behind_proxy,
    };
    let origin = Arc::new(OriginPolicy {
        public_origin: settings.public_url.as_deref().and_then(|u| {
            url::Url::parse(u)
                .ok()
                .map(|u| u.origin().ascii_serialization())
        }),
    });
    let routes = generate_route_list(App);
    let context = {
        let services = services.clone();
        move || {
            provide_context(services.clone());
            provide_context(web.clone());
            // The response's CSP nonce (headers.rs), for the inline scripts Leptos writes;
            // it replaces the one leptos_axum made, which the header would not know.
            if let Some(nonce) = use_context::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<CspNonce>().cloned())
            {
                provide_context(leptos::nonce::Nonce::from_value(nonce.0));
            }
        }
    };
    let limits = Arc::new(RateLimits::new(&settings.limits, settings.behind_proxy));
    let consoles = Router::new()
        .route(
            "/ws/console/{cluster}/{vmid}",
            get(crate::console::console_socket),
        )
        .route(
            "/ws/terminal/{cluster}/{vmid}",
            get(crate::terminal::terminal_socket),
        )
        .route("/ws/ssh/{cluster}/{vmid}", get(crate::ssh::ssh_socket))
        .with_state(crate::console::ConsoleState {
            services: services.clone(),
            origin: origin.clone(),
            behind_proxy: settings.behind_proxy,
        });
    let uploads = Router::new()
        .route(
            "/api/isos/upload",
            axum::routing::post(crate::iso_upload::upload_iso),
        )
        .with_state(crate::iso_upload::UploadState {
            services: services.clone(),
            dir: Arc::new(settings.upload_dir.clone()),
        })
        .layer(middleware::from_fn_with_state(
            limits.clone(),
            crate::rate_limit::limit,
        ))
        .layer(middleware::from_fn_with_state(origin.clone(), check_origin))
        .layer(RequestBodyLimitLayer::new(
            usize::try_from(settings.max_upload_gib << 30).unwrap_or(usize::MAX),
        ));
    let health = Router::new()
        .route(
            "/health",
            get({
                let quick_secs = settings.sync.quick_secs;
                move |state, headers| health(state, headers, quick_secs)
            }),
        )
        .route("/vm/{cluster}/{vmid}/rdp", get(crate::rdp::rdp_file))
        .route(
            app::ids::ROUTE_AUDIT_CSV,
            get(crate::audit_export::audit_csv),
        )
        .with_state(services.clone());
    let router = Router::new()
        .leptos_routes_with_context(&leptos_options, routes, context.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        // The 404 page renders the app too (nav, who is signed in): it needs the same context.
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .with_state(leptos_options)
        .merge(health)
        .merge(consoles)
        // Outermost last: body length, cross-site check, rate limits, then the body is read.
        .layer(middleware::from_fn(server_fn_status))
        .layer(middleware::from_fn_with_state(MAX_BODY_BYTES, read_body))
        .layer(middleware::from_fn_with_state(
            limits,
            crate::rate_limit::limit,
        ))
        .layer(middleware::from_fn_with_state(origin, check_origin))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // After the layers above: an upload is streamed, not read whole (its own layers).
        .merge(uploads);
    let router = crate::headers::harden(router, settings.https());
    with_metrics(router, services, &settings.metrics)
}

/// With `[metrics] enabled`: the `/metrics` route, and every request counted.
fn with_metrics(
    router: Router,
    services: Services,
    settings: &crate::metrics::MetricsSettings,
) -> Router {
    if !settings.enabled {
        return router;
    }
    let state = match crate::metrics::MetricsState::new(services, settings) {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(error = %e, "metrics: no recorder; /metrics is off");
            return router;
        }
    };
    let scrape = Router::new()
        .route("/metrics", get(crate::metrics::scrape))
        .with_state(state);
    router
        .merge(scrape)
        .layer(middleware::from_fn(crate::metrics::count_requests))
}

/// `GET /health`: 200 `{"status":"ok","database":"ok"}` when the database answers, else 503.
/// An admin's session gets the full report too (`lab::health`: each cluster's last sync and
/// error, the job queue and stuck jobs; `status` is then `ok` or `degraded`).
async fn health(
    State(services): State<Services>,
    headers: http::HeaderMap,
    quick_secs: u64,
) -> (http::StatusCode, Json<serde_json::Value>) {
    if let Err(e) = services.db.ping().await {
        tracing::warn!(error = %e, "health check: database unreachable");
        return (
            http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "unreachable"})),
        );
    }
    let admin = matches!(
        crate::cookie_session::signed_in_session(&services, &headers).await,
        Ok(Some(session)) if session.role() == lab::model::Role::Admin
    );
    if admin {
        match lab::health::report(&services, quick_secs).await {
            Ok(report) => return (http::StatusCode::OK, Json(json!(report))),
            Err(e) => tracing::warn!(error = %e, "health report failed"),
        }
    }
    (
        http::StatusCode::OK,
        Json(json!({"status": "ok", "database": "ok"})),
    )
}

/// Serves until SIGTERM or Ctrl-C, then shuts down in order: the listener stops taking
/// connections, every long-lived task is told to stop (job workers take no new job and hand
/// back the one they run after its node step; relays send a close frame), and the process
/// waits up to the grace period for open requests and tasks before it returns.
///
/// The grace period bounds the whole shutdown. axum's graceful shutdown on its own waits for
/// every open connection without limit, so one client that never finishes its request (or
/// a response stream that never ends) would keep the process alive until systemd's SIGKILL.
pub async fn serve(portal: Portal) -> anyhow::Result<()> {
    let Portal {
        listener,
        router,
        services,
        grace,
        tls,
        redirect,
        // Kept (not dropped) until the portal stops.
        serving: _serving,
        ..
    } = portal;
    let signalled = services.shutdown.clone();
    if let Some((plain, redirects)) = redirect {
        let stop = signalled.clone();
        services.tasks.spawn(async move {
            let served = axum::serve(plain, redirects)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the HTTP redirect listener stopped");
            }
        });
    }
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(certs) => {
            use axum::serve::ListenerExt;
            crate::tls::reload_on_sighup(certs.clone(), &services.tasks, signalled.clone())?;
            let acceptor = crate::tls::acceptor(certs)?;
            let listener = crate::tls::TlsListener::new(
                listener,
                acceptor,
                &services.tasks,
                signalled.clone(),
            )?
            // `tap_io` makes axum give handlers the peer's address, as for TCP.
            .tap_io(|_| {});
            let server = axum::serve(listener, app)
                .with_graceful_shutdown(signalled.clone().cancelled_owned());
            serve_until_signal(server, &services, grace).await
        }
        None => {
            let server = axum::serve(listener, app)
                .with_graceful_shutdown(signalled.clone().cancelled_owned());
            serve_until_signal(server, &services, grace).await
        }
    }
}

/// The graceful part of [`serve`], whatever the listener: `server` already stops taking
/// connections when `services.shutdown` is cancelled.
async fn serve_until_signal(
    server: impl std::future::IntoFuture<Output = std::io::Result<()>>,
    services: &Services,
    grace: std::time::Duration,
) -> anyhow::Result<()> {
    let signalled = services.shutdown.clone();
    let server = server.into_future();
    let mut server = std::pin::pin!(server);
    crate::systemd::spawn_watchdog(&services.tasks, signalled.clone());
    crate::systemd::ready();
    tokio::select! {
        // Without a signal the server ends only on an error.
        served = &mut server => return Ok(served?),
        () = shutdown_signal() => signalled.cancel(),
    }
    crate::systemd::stopping();
    let started = tokio::time::Instant::now();
    if tokio::time::timeout(grace, server).await.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "open connections did not close within the grace period; dropping them"
        );
    }
    let left = grace.saturating_sub(started.elapsed());
    if services.shut_down(left).await {
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "every task stopped; exiting"
        );
    } else {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "some tasks did not stop within the grace period; exiting anyway"
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
