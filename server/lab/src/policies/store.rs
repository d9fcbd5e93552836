//! Where policies live: a class's own (`classes.policy`, JSON) or the site's defaults (a site
//! setting an admin edits), and which time zone applies.

use super::calendar;
use crate::db::entity::class;
use crate::model::ClassPolicy;
use crate::{Error, Result, Services, site};
use jiff::tz::TimeZone;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const DEFAULTS: &str = "policy_defaults";

/// The site's defaults: what classes without a policy of their own follow.
pub async fn site_defaults(services: &Services) -> Result<ClassPolicy> {
    Ok(site::get(services, DEFAULTS)
        .await?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}

/// Checks and stores the site's defaults (admins).
pub async fn set_site_defaults(services: &Services, policy: &ClassPolicy) -> Result<()> {
    check(policy)?;
    let text = serde_json::to_string(policy).map_err(|e| Error::Internal(e.to_string()))?;
    site::set(services, DEFAULTS, &text).await
}

/// The class's own policy, or the defaults.
pub fn effective(class: &class::Model, defaults: &ClassPolicy) -> ClassPolicy {
    class
        .policy
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_else(|| defaults.clone())
}

/// Stores a class's own policy (`None`: follow the site's defaults again).
pub async fn set_class_policy(
    services: &Services,
    class_id: i32,
    policy: Option<&ClassPolicy>,
) -> Result<()> {
    let text = match policy {
        Some(p) => {
            check(p)?;
            Some(serde_json::to_string(p).map_err(|e| Error::Internal(e.to_string()))?)
        }
        None => None,
    };
    class::Entity::update_many()
        .col_expr(class::Column::Policy, Expr::value(text))
        .filter(class::Column::Id.eq(class_id))
        .exec(&services.db)
        .await?;
    Ok(())
}

/// Every rule, the zone's name included.
pub fn check(policy: &ClassPolicy) -> Result<()> {
    policy.check().map_err(Error::Invalid)?;
    if !policy.timezone.is_empty() {
        calendar::zone(&policy.timezone)?;
    }
    Ok(())
}

/// The zone in force: the class's, else the site's default, else this machine's.
pub fn zone_name(policy: &ClassPolicy, defaults: &ClassPolicy) -> String {
    [&policy.timezone, &defaults.timezone]
        .into_iter()
        .find(|z| !z.is_empty())
        .cloned()
        .unwrap_or_else(calendar::system_zone_name)
}

pub fn zone(policy: &ClassPolicy, defaults: &ClassPolicy) -> TimeZone {
    calendar::zone(&zone_name(policy, defaults)).unwrap_or(TimeZone::UTC)
}
