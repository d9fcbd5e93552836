//! The database: connecting (SQLite by default, PostgreSQL to scale out), the SeaORM entities
//! and the migrations, which are code and run on both engines.

pub mod backup;
pub mod entity;
mod migration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

pub use migration::Migrator;

/// Opens the database named by `url` (`sqlite://path?mode=rwc`, `sqlite::memory:`,
/// `postgres://…`). A SQLite file is created on first use and put in WAL mode with a busy
/// timeout, so that the web server and the workers can read while one of them writes.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_named(url, backup::APPLICATION_NAME).await
}

/// [`connect`], with PostgreSQL's `application_name` set to `name`: a restore looks for
/// connections named `proxlab` to know whether a portal runs (`backup`).
pub async fn connect_named(url: &str, name: &str) -> Result<DatabaseConnection, DbErr> {
    create_sqlite_folder(url)?;
    let url = sqlite_create_if_missing(url);
    let mut options = ConnectOptions::new(url.clone());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") && !url.contains(":memory:") {
        // SQLite has one writer; a few readers in WAL mode are what it does well.
        options.max_connections(4).min_connections(1);
    }
    // Per connection, not per pool: every pooled connection waits for the writer instead of
    // failing with SQLITE_BUSY, and enforces foreign keys.
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // SQLite's default page cache is 2 MB per connection, which a sync of 10 000
            // rows fills on each of them; the file is in the OS's page cache anyway, so
            // 512 kB each keeps the portal small at no measurable cost.
            .pragma("cache_size", "-512")
    });
    let name = name.to_owned();
    options.map_sqlx_postgres_opts(move |o| o.application_name(&name));
    let db = Database::connect(options).await?;
    Ok(db)
}

/// Brings the schema up to date. Safe to run at every start.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The file of a SQLite URL (`None`: another engine, or in memory).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|p| !p.starts_with(":memory:"))?;
    Some(path.split('?').next().unwrap_or_default().into())
}

/// SQLite creates the file but not its folder (`data/` on a first run).
fn create_sqlite_folder(url: &str) -> Result<(), DbErr> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

/// `sqlite://file.db` does not create the file unless asked to (`mode=rwc`); a first run
/// should just work, so the flag is added when the URL names a file and sets no mode.
fn sqlite_create_if_missing(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains(":memory:") && !url.contains("mode=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_are_created_on_first_use() {
        assert_eq!(
            sqlite_create_if_missing("sqlite://data/proxlab.db"),
            "sqlite://data/proxlab.db?mode=rwc"
        );
        assert_eq!(
            sqlite_create_if_missing("sqlite://x.db?mode=ro"),
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(
            sqlite_create_if_missing("sqlite::memory:"),
            "sqlite::memory:"
        );
        assert_eq!(
            sqlite_create_if_missing("postgres://u@localhost/db"),
            "postgres://u@localhost/db"
        );
    }
}
