//! `proxlab backup FILE` and `proxlab restore FILE`: the whole database in one file, taken while
//! the portal runs, put back while it does not.
//!
//! * **SQLite.** A backup is `VACUUM INTO`: one read transaction, so the copy is consistent
//!   even while the sync workers and pollers write (WAL mode lets them go on), and compact.
//!   A restore checks the file first (`PRAGMA integrity_check`, Proxlab's migration table,
//!   no migration this binary does not know), moves the current database aside
//!   (`<db>.before-restore-<unix time>`, with its `-wal` and `-shm`), puts the copy in its
//!   place with a rename, and migrates it (a backup from an older version is brought up to
//!   date).
//! * **PostgreSQL.** Debian's `pg_dump` and `pg_restore` do this better than we could; we run
//!   them when they are on `PATH` (the password in their environment, never on their command
//!   line, which other users can read) and otherwise print the command to run.
//!
//! **A restore refuses while a portal runs on the database.** For SQLite every `proxlab serve`
//! holds a shared `flock` on `<db>.lock` for its life ([`ServingLock`]); a restore takes it
//! exclusively or stops. The kernel drops the lock of a process that dies, so a crash leaves
//! nothing stale behind. For PostgreSQL every portal names its connections `proxlab`
//! (`application_name`), and a restore stops if the server lists one (`pg_stat_activity`).

use crate::{Error, Result};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `application_name` of every portal connection to PostgreSQL.
pub const APPLICATION_NAME: &str = "proxlab";

/// Where the database lives, from its URL.
#[derive(Debug, PartialEq)]
pub enum Engine {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Engine {
    pub fn of(url: &str) -> Result<Engine> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Engine::Postgres(url.to_owned()));
        }
        match super::sqlite_path(url) {
            Some(path) => Ok(Engine::Sqlite(path)),
            None => Err(Error::Invalid(format!(
                "Only a SQLite file or a PostgreSQL database can be backed up, not {}.",
                url.split(':').next().unwrap_or_default()
            ))),
        }
    }
}

/// Held by `proxlab serve` while it runs on a SQLite file: a restore cannot start under it.
#[derive(Debug)]
pub struct ServingLock(#[allow(dead_code)] std::fs::File);

/// Takes the shared serving lock of the SQLite database at `url` (none for PostgreSQL or an
/// in-memory database). Fails if a restore is running.
pub fn serving_lock(url: &str) -> Result<Option<ServingLock>> {
    let Ok(Engine::Sqlite(path)) = Engine::of(url) else {
        return Ok(None);
    };
    let file = open_lock(&path)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(ServingLock(file))),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Conflict(format!(
            "A restore is running on {}; start the portal when it has finished.",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&lock_path(&path), e)),
    }
}

/// Writes a backup of the database at `url` to `file` (which must not exist). Returns what
/// was written, in words.
pub async fn backup(url: &str, file: &Path) -> Result<String> {
    if file.exists() {
        return Err(Error::Conflict(format!(
            "{} exists already; choose a new file name.",
            file.display()
        )));
    }
    match Engine::of(url)? {
        Engine::Sqlite(path) => {
            if !path.exists() {
                return Err(Error::NotFound(format!("The database {}", path.display())));
            }
            let db = super::connect(url).await?;
            let target = file.to_str().ok_or_else(|| {
                Error::Invalid(format!("{} is not a UTF-8 path.", file.display()))
            })?;
            // The file name is a bound value: no quoting to get wrong.
            db.execute_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                "VACUUM INTO ?",
                [target.into()],
            ))
            .await?;
            db.close().await?;
            let summary = check_sqlite_file(file).await?;
            let bytes = std::fs::metadata(file).map_err(|e| io(file, e))?.len();
            Ok(format!(
                "Backed up {} to {} ({}, {summary}).",
                path.display(),
                file.display(),
                size(bytes)
            ))
        }
        Engine::Postgres(url) => {
            let target = file.display().to_string();
            run_pg_tool(
                &url,
                "pg_dump",
                &["--format=custom", "--no-owner", "--file", &target],
            )?;
            let bytes = std::fs::metadata(file).map_err(|e| io(file, e))?.len();
            Ok(format!(
                "Backed up the PostgreSQL database to {target} ({}, pg_dump's custom format).",
                size(bytes)
            ))
        }
    }
}

/// Replaces the database at `url` with the backup in `file`, then migrates it. Refuses
/// while a portal runs on it, and changes nothing if `file` is not a Proxlab backup.
pub async fn restore(url: &str, file: &Path) -> Result<String> {
    if !file.is_file() {
        return Err(Error::NotFound(format!("The backup {}", file.display())));
    }
    match Engine::of(url)? {
        Engine::Sqlite(path) => restore_sqlite(url, &path, file).await,
        Engine::Postgres(url) => {
            let others = portal_connections(&url).await?;
            if others > 0 {
                return Err(running(&format!(
                    "this PostgreSQL database ({others} portal connection(s))"
                )));
            }
            let source = file.display().to_string();
            run_pg_tool(
                &url,
                "pg_restore",
                &[
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--exit-on-error",
                    &source,
                ],
            )?;
            let db = super::connect(&url).await?;
            super::migrate(&db).await?;
            db.close().await?;
            Ok(format!(
                "Restored the PostgreSQL database from {source}, and brought its schema up to date."
            ))
        }
    }
}

/// How many portal connections are open on the PostgreSQL database at `url`. A connection
/// that was just closed can linger in `pg_stat_activity` for a moment, so a count above zero
/// is asked again for up to 2 s before it stands.
async fn portal_connections(url: &str) -> Result<i64> {
    let db = super::connect_named(url, "proxlab-restore").await?;
    let mut others = 0;
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        others = db
            .query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = $1 \
                 AND pid <> pg_backend_pid()",
                [APPLICATION_NAME.into()],
            ))
            .await?
            .and_then(|row| row.try_get::<i64>("", "n").ok())
            .unwrap_or(0);
        if others == 0 {
            break;
        }
    }
    db.close().await?;
    Ok(others)
}

async fn restore_sqlite(url: &str, path: &Path, file: &Path) -> Result<String> {
    let lock = open_lock(path)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(running(&path.display().to_string()));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path(path), e)),
    }
    let summary = check_sqlite_file(file).await?;
    // Copied next to the database first, so that the swap is one rename on one file system.
    let incoming = with_suffix(path, ".restoring");
    std::fs::copy(file, &incoming).map_err(|e| io(&incoming, e))?;
    std::fs::File::open(&incoming)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&incoming, e))?;
    let aside = with_suffix(path, &format!(".before-restore-{}", crate::clock::now()));
    if path.exists() {
        // The database with its WAL and shared memory: what it last wrote may be in the WAL.
        for suffix in ["", "-wal", "-shm"] {
            let from = with_suffix(path, suffix);
            if from.exists() {
                let to = with_suffix(&aside, suffix);
                std::fs::rename(&from, &to).map_err(|e| io(&from, e))?;
            }
        }
    }
    std::fs::rename(&incoming, path).map_err(|e| io(path, e))?;
    let db = super::connect(url).await?;
    super::migrate(&db).await?;
    db.close().await?;
    drop(lock);
    let kept = if aside.exists() {
        format!(" The database it replaced is kept as {}.", aside.display())
    } else {
        String::new()
    };
    Ok(format!(
        "Restored {} from {} ({summary}), and brought its schema up to date.{kept}",
        path.display(),
        file.display()
    ))
}

/// Checks that `file` is a sound SQLite database that Proxlab made and this version can run.
/// Returns a summary (accounts, clusters) for the operator.
async fn check_sqlite_file(file: &Path) -> Result<String> {
    let not_ours =
        |why: String| Error::Invalid(format!("{} is not a Proxlab backup: {why}", file.display()));
    // Read-only and immutable: no journal, WAL or lock file is made next to the backup.
    let url = format!("sqlite://{}?mode=ro&immutable=true", file.display());
    let db: DatabaseConnection = Database::connect(url.as_str())
        .await
        .map_err(|e| not_ours(e.to_string()))?;
    let outcome = async {
        let scalar = |sql: &'static str| {
            let db = &db;
            async move {
                db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                    .await
                    .map_err(|e| not_ours(e.to_string()))
            }
        };
        let integrity = scalar("PRAGMA integrity_check")
            .await?
            .and_then(|row| row.try_get_by_index::<String>(0).ok())
            .unwrap_or_default();
        if integrity != "ok" {
            return Err(not_ours(format!(
                "SQLite's integrity check says {integrity:?}"
            )));
        }
        let applied: Vec<String> = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT version FROM seaql_migrations ORDER BY version",
            ))
            .await
            .map_err(|e| not_ours(format!("it has no migration table ({e})")))?
            .into_iter()
            .filter_map(|row| row.try_get_by_index::<String>(0).ok())
            .collect();
        let known: Vec<String> = super::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        if let Some(newer) = applied.iter().find(|v| !known.contains(v)) {
            return Err(Error::Invalid(format!(
                "{} was made by a newer Proxlab (its migration {newer} is unknown here); \
                 restore it with that version.",
                file.display()
            )));
        }
        let count = |table: &'static str| {
            let db = &db;
            async move {
                db.query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT count(*) FROM {table}"),
                ))
                .await
                .map_err(|e| not_ours(e.to_string()))
                .map(|row| {
                    row.and_then(|r| r.try_get_by_index::<i64>(0).ok())
                        .unwrap_or(0)
                })
            }
        };
        Ok(format!(
            "{} account(s), {} cluster(s), {} class(es)",
            count("users").await?,
            count("clusters").await?,
            count("classes").await?
        ))
    }
    .await;
    db.close().await.ok();
    outcome
}

/// Runs `pg_dump`/`pg_restore` on the database at `url`, its password in `PGPASSWORD`.
fn run_pg_tool(url: &str, tool: &str, args: &[&str]) -> Result<()> {
    let mut parsed =
        url::Url::parse(url).map_err(|e| Error::Invalid(format!("The database URL: {e}")))?;
    let password = parsed.password().map(percent_decode);
    parsed
        .set_password(None)
        .map_err(|()| Error::Invalid("The database URL has no host.".into()))?;
    let mut command = Command::new(tool);
    command.args(args).arg("--dbname").arg(parsed.as_str());
    if let Some(password) = &password {
        command.env("PGPASSWORD", password);
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Unavailable(format!(
                "{tool} is not installed (Debian: apt install postgresql-client). Or run it \
                 yourself: PGPASSWORD=… {tool} {} --dbname {}",
                args.join(" "),
                parsed.as_str()
            )));
        }
        Err(e) => return Err(Error::Internal(format!("{tool}: {e}"))),
    };
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        return Err(Error::Unavailable(format!(
            "{tool} failed: {}",
            said.trim()
        )));
    }
    Ok(())
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("p={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn running(what: &str) -> Error {
    Error::Conflict(format!(
        "A Proxlab portal is running on {what}. Stop it first (systemctl stop proxlab), then \
         restore."
    ))
}

fn lock_path(db: &Path) -> PathBuf {
    with_suffix(db, ".lock")
}

fn open_lock(db: &Path) -> Result<std::fs::File> {
    let path = lock_path(db);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io(&path, e))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Unavailable(format!("{}: {e}", path.display()))
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_come_from_the_url() {
        assert_eq!(
            Engine::of("sqlite://data/proxlab.db?mode=rwc").unwrap(),
            Engine::Sqlite("data/proxlab.db".into())
        );
        assert_eq!(
            Engine::of("postgres://u:p@h/db").unwrap(),
            Engine::Postgres("postgres://u:p@h/db".into())
        );
        assert!(Engine::of("sqlite::memory:").is_err());
        assert!(Engine::of("mysql://h/db").is_err());
    }

    #[test]
    fn passwords_are_decoded_for_the_environment() {
        assert_eq!(percent_decode("p%40ss%3Aw"), "p@ss:w");
    }
}
