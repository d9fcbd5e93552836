//! The audit page's server function, under `/api/audit`: admins read every line, teachers
//! their classes' lines (`lab::audit` decides), students nothing.

use crate::AppError;
use lab::model::{AuditFilter, AuditPage};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::session::{require, services};
#[cfg(feature = "ssr")]
use lab::model::Role;

#[server(endpoint = "audit")]
pub async fn load_audit(filter: AuditFilter) -> Result<AuditPage, AppError> {
    let s = require(Role::Teacher).await?;
    let services = services()?;
    Ok(lab::audit::page(&services, &s.user, &filter, services.audit_retention_days).await?)
}
