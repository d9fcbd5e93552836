//! What each subcommand does. `serve` reads as the start-up story: settings, database and
//! migrations, the setup link, then serve until a shutdown signal.

mod cluster;
mod demo;
mod jobs;
mod user;

pub use cluster::cluster;
pub use demo::demo;
pub use jobs::jobs;
pub use user::user;

use crate::router::{self, start};
use crate::settings::Settings;
use leptos::config::LeptosOptions;
use secrecy::ExposeSecret;

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let portal = start(&settings, leptos_options()?).await?;
    println!("Proxlab is running at {}/", portal.url);
    if let Some(link) = &portal.setup_link {
        println!("No admin account exists yet. Create the first one with this one-time link:");
        println!("  {link}");
        println!("(or run: proxlab user add NAME --role admin)");
    }
    tracing::info!(url = %portal.url, "serving");
    router::serve(portal).await
}

/// A fresh first-admin link for a running (or not yet started) portal, whose start-up
/// output the admin did not see (a service's journal). The address is the one `serve` would
/// print: `public_url`, else the listen address.
pub async fn setup_link(settings: Settings) -> anyhow::Result<()> {
    let services = crate::services::open_services(&settings).await?;
    let Some(token) = lab::auth::issue_setup_token(&services).await? else {
        anyhow::bail!(
            "an admin account exists already: sign in, or add one with: proxlab user add NAME --role admin"
        );
    };
    let url = settings.base_url(settings.listen.unwrap_or(leptos_options()?.site_addr));
    println!("Create the first admin with this one-time link (earlier links no longer work):");
    println!("  {url}{}?token={token}", app::ids::ROUTE_SETUP);
    Ok(())
}

pub async fn backup(settings: Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let said = lab::db::backup::backup(settings.database_url.expose_secret(), file).await?;
    println!("{said}");
    Ok(())
}

pub async fn restore(settings: Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let said = lab::db::backup::restore(settings.database_url.expose_secret(), file).await?;
    println!("{said}");
    Ok(())
}

pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let db = lab::db::connect(settings.database_url.expose_secret()).await?;
    lab::db::migrate(&db).await?;
    println!("The database schema is up to date.");
    Ok(())
}

/// An act of a `proxlab` command in the audit log (no client address: it ran on the server).
async fn audit_cli(services: &lab::Services, entry: lab::audit::Entry) {
    lab::audit::record(&services.db, lab::clock::now(), entry).await;
}

/// The site layout `scripts/site.sh` builds is Leptos's default; `LEPTOS_*` variables (as
/// cargo-leptos sets them) override it.
pub fn leptos_options() -> anyhow::Result<LeptosOptions> {
    let mut options = leptos::config::get_configuration(None)?.leptos_options;
    if options.output_name.is_empty() {
        options.output_name = "proxlab".into();
    }
    Ok(options)
}
