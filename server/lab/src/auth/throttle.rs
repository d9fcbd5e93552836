//! Login throttling: failed logins are counted per username and per client address in a fixed
//! window; past the limit, logins for that key are refused until the window ends, even with the
//! right password. Counts live in the database, so a restart or a second instance does not
//! reset them.
//!
//! **Reserve, then verify.** An attempt is counted *before* its password is checked, with one
//! atomic upsert per key (`INSERT … ON CONFLICT DO UPDATE … RETURNING`, SQLite ≥ 3.35 and
//! PostgreSQL alike) that returns the count including this attempt. Only an attempt whose
//! count is within every limit goes on to the password check, so a burst of parallel guesses
//! is held to the limit however it interleaves: the database serialises the upserts on the
//! row, and no two attempts can read the same "under the limit" count. A wrong password keeps
//! its reservation (that is the failure); anything that is not a failed password gives it
//! back ([`give_back`]), and a success clears the user's key ([`succeeded`]).

use super::now;
use crate::db::entity::login_failure;
use crate::{Error, Result, Services};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement};

/// What is counted for one attempt: the account (or another per-user secret such as the
/// current password on the password form) and, for sign-ins, the client's address.
pub(super) struct Keys {
    user: String,
    addr: Option<String>,
}

impl Keys {
    /// A sign-in: `user:NAME` and `addr:IP`.
    pub(super) fn new(username: &str, addr: Option<&str>) -> Self {
        Self {
            user: format!("user:{username}"),
            addr: addr.map(|a| format!("addr:{a}")),
        }
    }

    /// Guesses of the current password on the password form: its own key per account
    /// (`password:ID`), with the per-user limit. Apart from sign-in's key, so a locked sign-in
    /// does not lock a signed-in user out of changing their password, and the reverse.
    pub(super) fn password_change(user_id: i32) -> Self {
        Self {
            user: format!("password:{user_id}"),
            addr: None,
        }
    }

    fn with_limits(&self, services: &Services) -> Vec<(&str, i32)> {
        let mut keys = vec![(self.user.as_str(), services.policy.max_failures_per_user)];
        if let Some(addr) = &self.addr {
            keys.push((addr.as_str(), services.policy.max_failures_per_addr));
        }
        keys
    }
}

/// One attempt, counted in advance against each key; `window_start` tells which window it
/// was counted in, so that giving it back never touches a later window.
#[must_use = "a reservation is a counted failure until it is given back or the login succeeds"]
pub(super) struct Reservation {
    counted: Vec<(String, i64)>,
}

fn window_secs(services: &Services) -> i64 {
    services.policy.throttle_window_minutes * 60
}

/// Counts this attempt against every key and refuses with `Throttled` when any key is then
/// over its limit. A refused attempt gives back its count on the keys that were still within
/// their limit (a user locked out must not also lock out their school's shared address); the
/// keys over the limit keep it, which only means "still throttled" until the window ends.
pub(super) async fn reserve(services: &Services, keys: &Keys) -> Result<Reservation> {
    let t = now();
    let mut counted = Vec::new();
    let mut retry_after = None;
    for (key, limit) in keys.with_limits(services) {
        let (failures, window_start) = count_one(services, key, t).await?;
        if failures > limit {
            let wait = (window_start + window_secs(services) - t).max(1);
            retry_after = Some(retry_after.unwrap_or(0).max(wait));
        } else {
            counted.push((key.to_owned(), window_start));
        }
    }
    let reservation = Reservation { counted };
    match retry_after {
        Some(retry_after_secs) => {
            give_back(services, reservation).await?;
            Err(Error::Throttled { retry_after_secs })
        }
        None => Ok(reservation),
    }
}

/// Undoes a reservation: the attempt did not fail on its password (a success on the
/// address's key, an unreachable Proxmox, a disabled account, a refusal).
pub(super) async fn give_back(services: &Services, reservation: Reservation) -> Result<()> {
    let backend = services.db.get_database_backend();
    for (key, window_start) in reservation.counted {
        let sql = format!(
            r#"UPDATE login_failures SET failures = failures - 1
               WHERE "key" = {} AND window_start = {} AND failures > 0"#,
            param(backend, 1),
            param(backend, 2),
        );
        let statement =
            Statement::from_sql_and_values(backend, sql, [key.into(), window_start.into()]);
        services.db.execute_raw(statement).await?;
    }
    Ok(())
}

/// The end of a successful attempt: the user's key is cleared, the address's reservation
/// is given back (one good password must not reset a sweep across many accounts from one
/// address, nor count against it).
pub(super) async fn succeeded(
    services: &Services,
    keys: &Keys,
    reservation: Reservation,
) -> Result<()> {
    clear_user(services, keys).await?;
    let rest = Reservation {
        counted: reservation
            .counted
            .into_iter()
            .filter(|(key, _)| *key != keys.user)
            .collect(),
    };
    give_back(services, rest).await
}

/// Adds one to `key`'s count (a new window starts when the old one has ended) and returns
/// the count and the start of its window. One statement: concurrent attempts on the same key
/// are serialised by the database, each sees its own count, and a first attempt on a new key
/// cannot fail on the primary key (the conflict is the update).
async fn count_one(services: &Services, key: &str, t: i64) -> Result<(i32, i64)> {
    let backend = services.db.get_database_backend();
    let p = |n| param(backend, n);
    // In both engines the SET expressions read the row as it was before the update.
    let sql = format!(
        r#"INSERT INTO login_failures ("key", window_start, failures) VALUES ({}, {}, 1)
           ON CONFLICT ("key") DO UPDATE SET
             failures = CASE WHEN login_failures.window_start > {} THEN login_failures.failures + 1 ELSE 1 END,
             window_start = CASE WHEN login_failures.window_start > {} THEN login_failures.window_start ELSE {} END
           RETURNING failures, window_start"#,
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
    );
    let open_after = t - window_secs(services);
    let statement = Statement::from_sql_and_values(
        backend,
        sql,
        [
            key.into(),
            t.into(),
            open_after.into(),
            open_after.into(),
            t.into(),
        ],
    );
    let row = services
        .db
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| Error::Internal("login_failures upsert returned no row".into()))?;
    Ok((
        row.try_get::<i32>("", "failures")?,
        row.try_get::<i64>("", "window_start")?,
    ))
}

/// The `n`th bind parameter in the engine's syntax.
fn param(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// Refuses with `Throttled` if any key is over its limit in the current window, without
/// counting anything. For the realm sign-in until it reserves too: check, then
/// [`record_failure`], is not atomic (parallel attempts may all pass the check).
pub(super) async fn check(services: &Services, keys: &Keys) -> Result<()> {
    let t = now();
    for (key, limit) in keys.with_limits(services) {
        if let Some(row) = login_failure::Entity::find_by_id(key)
            .one(&services.db)
            .await?
        {
            let ends = row.window_start + window_secs(services);
            if row.failures >= limit && ends > t {
                return Err(Error::Throttled {
                    retry_after_secs: ends - t,
                });
            }
        }
    }
    Ok(())
}

/// Counts one failure against every key, after the fact (see [`check`]).
pub(super) async fn record_failure(services: &Services, keys: &Keys) -> Result<()> {
    let t = now();
    for (key, _) in keys.with_limits(services) {
        count_one(services, key, t).await?;
    }
    Ok(())
}

/// Clears the user's key (not the address's).
pub(super) async fn clear_user(services: &Services, keys: &Keys) -> Result<()> {
    login_failure::Entity::delete_by_id(keys.user.as_str())
        .exec(&services.db)
        .await?;
    Ok(())
}
