//! Login throttling: failed logins are counted per username and per client address in a fixed
//! window; past the limit, logins for that key are refused until the window ends, even with the
//! right password. Counts live in the database, so a restart or a second instance does not
//! reset them.

use super::now;
use crate::db::entity::login_failure;
use crate::{Error, Result, Services};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

/// What is counted for one login attempt.
pub(super) struct Keys {
    user: String,
    addr: Option<String>,
}

impl Keys {
    pub(super) fn new(username: &str, addr: Option<&str>) -> Self {
        Self {
            user: format!("user:{username}"),
            addr: addr.map(|a| format!("addr:{a}")),
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

fn window_secs(services: &Services) -> i64 {
    services.policy.throttle_window_minutes * 60
}

/// Refuses with `Throttled` if any key is over its limit in the current window.
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

/// Counts one failure against every key (a new window starts when the old one has ended).
pub(super) async fn record_failure(services: &Services, keys: &Keys) -> Result<()> {
    let t = now();
    for (key, _) in keys.with_limits(services) {
        match login_failure::Entity::find_by_id(key)
            .one(&services.db)
            .await?
        {
            Some(row) if row.window_start + window_secs(services) > t => {
                let failures = row.failures + 1;
                let mut active: login_failure::ActiveModel = row.into();
                active.failures = Set(failures);
                active.update(&services.db).await?;
            }
            Some(row) => {
                let mut active: login_failure::ActiveModel = row.into();
                active.window_start = Set(t);
                active.failures = Set(1);
                active.update(&services.db).await?;
            }
            None => {
                login_failure::ActiveModel {
                    key: Set(key.to_owned()),
                    window_start: Set(t),
                    failures: Set(1),
                }
                .insert(&services.db)
                .await?;
            }
        }
    }
    Ok(())
}

/// A successful login clears the username's count (not the address's: one good password
/// must not reset a sweep across many accounts from one address).
pub(super) async fn clear_user(services: &Services, keys: &Keys) -> Result<()> {
    login_failure::Entity::delete_by_id(keys.user.as_str())
        .exec(&services.db)
        .await?;
    Ok(())
}
