//! Proxlab's UI: the Leptos app (pages and components, organised by feature) and its server
//! functions. Server functions are thin: find who is asking (`session`), call one `lab`
//! function, map the error to an [`AppError`]. They have stable endpoints under `/api/`.

mod account;
mod admin;
mod audit;
mod audited;
mod auth;
mod classes;
mod console;
mod dashboard;
mod error;
pub mod ids;
mod isos;
mod layout;
mod policies;
#[cfg(feature = "ssr")]
pub mod session;
mod snapshots;
mod vm_actions;
mod waitlist;
pub mod when;

pub use error::AppError;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let hydrate = use_context::<http::request::Parts>().is_none_or(|p| hydrates(p.uri.path()));
    #[cfg(not(feature = "ssr"))]
    let hydrate = true;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                {hydrate.then(|| view! { <HydrationScripts options /> })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Whether the page at `path` loads the app's wasm. The console, terminal and SSH pages do
/// not: their screen is driven by their own script (noVNC, xterm.js) and everything else on
/// them is plain links and forms, which work unhydrated. Not fetching and compiling 1.5 MB of
/// wasm while noVNC connects is what brings the console's first frame under 500 ms.
#[cfg(feature = "ssr")]
fn hydrates(path: &str) -> bool {
    !["/console/", "/terminal/", "/ssh/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// The app: routes inside the shared layout. Every route renders in `Async` mode so that the
/// status code (401 redirect, 403, 404) is known before the first byte is sent.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/proxlab.css" />
        <Title formatter=|title: String| {
            if title.is_empty() { "Proxlab".to_string() } else { format!("{title} · Proxlab") }
        } />
        <Router>
            <auth::AuthProvider>
            <layout::Layout>
                <Routes fallback=layout::NotFoundPage>
                    <Route path=path!("/") view=dashboard::DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=account::LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/register") view=account::RegisterPage ssr=SsrMode::Async />
                    <Route path=path!("/setup") view=account::SetupPage ssr=SsrMode::Async />
                    <Route path=path!("/profile") view=account::ProfilePage ssr=SsrMode::Async />
                    <Route path=path!("/classes") view=classes::ClassesPage ssr=SsrMode::Async />
                    <Route path=path!("/classes/new") view=classes::WizardPage ssr=SsrMode::Async />
                    <Route path=path!("/classes/:id") view=classes::ClassPage ssr=SsrMode::Async />
                    <Route path=path!("/classes/:id/about") view=classes::ClassAboutPage ssr=SsrMode::Async />
                    <Route path=path!("/join/:token") view=classes::JoinPage ssr=SsrMode::Async />
                    <Route path=path!("/console/:cluster/:vmid") view=console::ConsolePage ssr=SsrMode::Async />
                    <Route path=path!("/terminal/:cluster/:vmid") view=console::TerminalPage ssr=SsrMode::Async />
                    <Route path=path!("/ssh/:cluster/:vmid") view=console::SshPage ssr=SsrMode::Async />
                    <Route path=path!("/isos") view=isos::IsosPage ssr=SsrMode::Async />
                    <Route path=path!("/vms/new") view=isos::BuildPage ssr=SsrMode::Async />
                    <Route path=path!("/vms/:cluster/:vmid/hardware") view=isos::HardwarePage ssr=SsrMode::Async />
                    <Route path=path!("/vms/:cluster/:vmid/snapshots") view=snapshots::SnapshotsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/users") view=admin::UsersPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/clusters") view=admin::ClustersPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/sync") view=admin::SyncPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/jobs") view=admin::JobsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/nodes") view=admin::NodesPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/policies") view=policies::SitePoliciesPage ssr=SsrMode::Async />
                    <Route path=path!("/audit") view=audit::AuditPage ssr=SsrMode::Async />
                </Routes>
            </layout::Layout>
            </auth::AuthProvider>
        </Router>
    }
}
