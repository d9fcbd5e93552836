//! Opening the domain (database, migrations, secret key, console slots): what every command
//! and the router's `start` need first. Below both, so that neither imports the other for it.

use crate::settings::Settings;
use secrecy::ExposeSecret;

/// Connects and migrates the database and opens the secret key: what every command needs.
pub async fn open_services(settings: &Settings) -> anyhow::Result<lab::Services> {
    let db = lab::db::connect(settings.database_url.expose_secret()).await?;
    lab::db::migrate(&db).await?;
    let mut services = lab::Services::new(db, settings.auth.clone(), settings.secret_box()?);
    services.consoles = lab::console::ConsoleSlots::new(settings.console.clone());
    services.audit_retention_days = settings.audit_retention_days;
    Ok(services)
}
