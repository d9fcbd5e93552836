//! The audit log: who did what to which object, when, from where, and how it went: sign-ins
//! (and failed and throttled ones), account and role changes, clusters, VM power, classes and
//! invites, the policy worker's acts, console sessions with their length.
//!
//! A leaf: the callers that know the whole act record it (the server functions, which know
//! the client's address and the outcome; the console relays, which know how long a session
//! lasted; the policy log; the command line). A failed write is logged and never fails the
//! act it describes: the act has happened either way.
//!
//! Admins read every line; a teacher reads the lines of the classes they manage (a line names
//! its class when it concerns one: a class act, or an act on one of its VMs); students none.
//! Lines older than the retention setting are removed hourly ([`spawn_pruner`]).

use crate::access::managed_ids;
use crate::db::entity::{audit_log, class, class_vm, user, vm};
use crate::model::{
    AUDIT_PAGE, AuditAction, AuditArea, AuditFilter, AuditLine, AuditOutcome, AuditPage, Role,
};
use crate::{Error, Result, Services};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use std::time::Duration;

/// The actor of the policy worker's acts.
pub const POLICY_WORKER: &str = "policy worker";
/// The actor of `proxlab` commands.
pub const COMMAND_LINE: &str = "command line";

/// One act to record. Build it with [`Entry::by`] or [`Entry::by_name`], then say what it
/// touched.
#[derive(Clone, Debug)]
pub struct Entry {
    pub actor_id: Option<i32>,
    pub actor: String,
    pub action: AuditAction,
    pub object: String,
    pub class_id: Option<i32>,
    pub cluster_id: Option<i32>,
    pub vmid: Option<i32>,
    pub addr: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
}

impl Entry {
    /// An act of `user`'s.
    pub fn by(user: &user::Model, action: AuditAction) -> Entry {
        Entry {
            actor_id: Some(user.id),
            ..Entry::by_name(&user.username, action)
        }
    }

    /// An act of someone who is not (or not yet) an account: a failed sign-in's name, the
    /// policy worker, the command line.
    pub fn by_name(actor: &str, action: AuditAction) -> Entry {
        Entry {
            actor_id: None,
            actor: actor.chars().take(100).collect(),
            action,
            object: String::new(),
            class_id: None,
            cluster_id: None,
            vmid: None,
            addr: None,
            outcome: AuditOutcome::Ok,
            detail: None,
        }
    }

    pub fn object(mut self, object: impl Into<String>) -> Entry {
        self.object = object.into();
        self
    }

    /// It concerns VM `vmid` of cluster `cluster_id`; its class, if it has one, is found when
    /// the line is written.
    pub fn vm(mut self, cluster_id: i32, vmid: i32) -> Entry {
        self.cluster_id = Some(cluster_id);
        self.vmid = Some(vmid);
        self
    }

    /// It concerns VM `vmid` of the class (set with [`Entry::class`]).
    pub fn vmid(mut self, vmid: i32) -> Entry {
        self.vmid = Some(vmid);
        self
    }

    /// It concerns class `class_id` (its teachers see the line).
    pub fn class(mut self, class_id: i32) -> Entry {
        self.class_id = Some(class_id);
        self
    }

    pub fn cluster(mut self, cluster_id: i32) -> Entry {
        self.cluster_id = Some(cluster_id);
        self
    }

    pub fn from(mut self, addr: Option<String>) -> Entry {
        self.addr = addr;
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Entry {
        let detail: String = detail.into();
        self.detail = (!detail.is_empty()).then(|| detail.chars().take(500).collect());
        self
    }

    /// The outcome of the act, from its result: refused (not allowed, not found, bad input)
    /// or failed (anything else), with the reason as the detail.
    pub fn outcome<T>(mut self, result: &Result<T>) -> Entry {
        if let Err(e) = result {
            self.outcome = match e {
                Error::Forbidden
                | Error::NotFound(_)
                | Error::Unauthenticated
                | Error::WrongCredentials
                | Error::Throttled { .. }
                | Error::Invalid(_)
                | Error::Conflict(_) => AuditOutcome::Denied,
                _ => AuditOutcome::Failed,
            };
            let reason = e.to_string();
            self = match self.detail.take() {
                Some(d) => self.detail(format!("{d}: {reason}")),
                None => self.detail(reason),
            };
        }
        self
    }
}

/// Writes `entry`, and logs it. Never fails the caller: a write that fails is logged.
pub async fn record(db: &impl ConnectionTrait, at: i64, entry: Entry) {
    if let Err(e) = write(db, at, entry.clone()).await {
        tracing::warn!(error = %e, action = %entry.action, actor = %entry.actor, "audit line not written");
    }
}

/// Fills in what the entry left to the database: a VM's class, a class's cluster, and the
/// object in words (`VM 101 (lab-101)`, `class Networking`, both) when none was given.
async fn write(db: &impl ConnectionTrait, at: i64, mut e: Entry) -> Result<()> {
    if e.class_id.is_none()
        && let (Some(cluster_id), Some(vmid)) = (e.cluster_id, e.vmid)
    {
        e.class_id = class_vm::Entity::find()
            .filter(class_vm::Column::ClusterId.eq(cluster_id))
            .filter(class_vm::Column::Vmid.eq(vmid))
            .one(db)
            .await?
            .map(|row| row.class_id);
    }
    let class = match e.class_id {
        Some(id) => class::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    if e.cluster_id.is_none() {
        e.cluster_id = class.as_ref().map(|c| c.cluster_id);
    }
    if e.object.is_empty() {
        let vm_words = match (e.cluster_id, e.vmid) {
            (Some(cluster_id), Some(vmid)) => Some(
                match vm::Entity::find()
                    .filter(vm::Column::ClusterId.eq(cluster_id))
                    .filter(vm::Column::Vmid.eq(vmid))
                    .one(db)
                    .await?
                {
                    Some(v) => format!("VM {vmid} ({})", v.name),
                    None => format!("VM {vmid}"),
                },
            ),
            _ => None,
        };
        let class_words = match (&class, e.class_id) {
            (Some(c), _) => Some(format!("class {}", c.name)),
            (None, Some(id)) => Some(format!("class #{id}")),
            _ => None,
        };
        e.object = match (vm_words, class_words) {
            (Some(v), Some(c)) => format!("{v} of {c}"),
            (Some(v), None) => v,
            (None, Some(c)) => c,
            (None, None) => "the portal".into(),
        };
    }
    // Logged here, once the object's words are known.
    tracing::info!(actor = %e.actor, action = %e.action, object = %e.object, outcome = %e.outcome, "audit");
    audit_log::ActiveModel {
        at: Set(at),
        actor_id: Set(e.actor_id),
        actor: Set(e.actor),
        action: Set(e.action),
        object: Set(e.object.chars().take(200).collect()),
        class_id: Set(e.class_id),
        cluster_id: Set(e.cluster_id),
        vmid: Set(e.vmid),
        addr: Set(e.addr),
        outcome: Set(e.outcome),
        detail: Set(e.detail),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A page of the lines `viewer` may read that match `filter`, newest first.
pub async fn page(
    services: &Services,
    viewer: &user::Model,
    filter: &AuditFilter,
    retention_days: u32,
) -> Result<AuditPage> {
    let mut lines = query(services, viewer, filter, AUDIT_PAGE as u64 + 1).await?;
    let more = lines.len() > AUDIT_PAGE;
    lines.truncate(AUDIT_PAGE);
    Ok(AuditPage {
        lines,
        more,
        retention_days,
    })
}

/// Every line `viewer` may read that matches `filter` (newest first, at most `limit`), for
/// the CSV export.
pub async fn export(
    services: &Services,
    viewer: &user::Model,
    filter: &AuditFilter,
    limit: u64,
) -> Result<String> {
    let lines = query(services, viewer, filter, limit).await?;
    let mut out = String::from("time_utc,actor,action,object,address,outcome,detail\r\n");
    for l in lines {
        let at = jiff::Timestamp::from_second(l.at)
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let cells = [
            at,
            l.actor,
            l.action.as_str().to_owned(),
            l.object,
            l.addr.unwrap_or_default(),
            l.outcome.as_str().to_owned(),
            l.detail.unwrap_or_default(),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    Ok(out)
}

/// The export's file name: `proxlab-audit-20270115.csv` (the UTC day of `now`).
pub fn export_name(now: i64) -> String {
    let day = jiff::Timestamp::from_second(now)
        .map(|t| t.strftime("%Y%m%d").to_string())
        .unwrap_or_default();
    format!("proxlab-audit-{day}.csv")
}

/// One CSV cell (RFC 4180 quoting). A cell a spreadsheet would run as a formula (`=`, `+`,
/// `-`, `@`, tab, CR first: a username or a VM name is anyone's text) gets a leading `'`.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

async fn query(
    services: &Services,
    viewer: &user::Model,
    filter: &AuditFilter,
    limit: u64,
) -> Result<Vec<AuditLine>> {
    let mut select = audit_log::Entity::find();
    match managed_ids(services, viewer).await? {
        None => {}
        Some(_) if crate::access::role(viewer) == Role::Student => return Err(Error::Forbidden),
        Some(ids) => {
            select = select.filter(audit_log::Column::ClassId.is_in(ids));
        }
    }
    if !filter.area.is_empty() {
        let area = AuditArea::parse(&filter.area).ok_or_else(|| {
            Error::Invalid(format!("{:?} is not a part of the log.", filter.area))
        })?;
        select = select.filter(audit_log::Column::Action.is_in(area.actions()));
    }
    let who = filter.who.trim();
    if !who.is_empty() {
        select = select.filter(audit_log::Column::Actor.contains(who));
    }
    let object = filter.object.trim();
    if !object.is_empty() {
        select = select.filter(
            Condition::any()
                .add(audit_log::Column::Object.contains(object))
                .add(audit_log::Column::Detail.contains(object)),
        );
    }
    if let Some(from) = day_start(&filter.from)? {
        select = select.filter(audit_log::Column::At.gte(from));
    }
    if let Some(to) = day_start(&filter.to)? {
        select = select.filter(audit_log::Column::At.lt(to + 86_400));
    }
    if filter.before > 0 {
        select = select.filter(audit_log::Column::Id.lt(filter.before));
    }
    Ok(select
        .order_by_desc(audit_log::Column::Id)
        .limit(limit)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|r| AuditLine {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            object: r.object,
            addr: r.addr,
            outcome: r.outcome,
            detail: r.detail,
        })
        .collect())
}

/// `YYYY-MM-DD` as the Unix second its day (UTC) starts; empty is `None`.
fn day_start(text: &str) -> Result<Option<i64>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let date: jiff::civil::Date = text
        .parse()
        .map_err(|_| Error::Invalid(format!("\"{text}\" is not a date (YYYY-MM-DD).")))?;
    let start = date
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(Some(start.timestamp().as_second()))
}

/// Removes the lines older than `retention_days` days. Returns how many.
pub async fn prune(services: &Services, retention_days: u32) -> Result<u64> {
    let before = services.clock.now() - i64::from(retention_days) * 86_400;
    Ok(audit_log::Entity::delete_many()
        .filter(audit_log::Column::At.lt(before))
        .exec(&services.db)
        .await?
        .rows_affected)
}

/// Prunes at start and then hourly, until shutdown. Several instances pruning at once is
/// harmless: each deletes what the others have not.
pub fn spawn_pruner(services: Services, retention_days: u32) {
    let tasks = services.tasks.clone();
    tasks.spawn(async move {
        let mut hourly = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = hourly.tick() => {}
                () = services.shutdown.cancelled() => break,
            }
            match prune(&services, retention_days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(lines = n, retention_days, "old audit lines removed"),
                Err(e) => tracing::warn!(error = %e, "audit pruning failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("alice"), "alice");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn days_are_utc_and_bad_dates_refused() {
        assert_eq!(day_start("1970-01-02").unwrap(), Some(86_400));
        assert_eq!(day_start(" ").unwrap(), None);
        assert!(matches!(day_start("02/01/1970"), Err(Error::Invalid(_))));
    }

    #[test]
    fn outcomes_come_from_results() {
        let e = Entry::by_name("x", AuditAction::VmPower).detail("start");
        assert_eq!(
            e.clone().outcome(&Ok::<(), Error>(())).outcome,
            AuditOutcome::Ok
        );
        let refused = e.clone().outcome(&Err::<(), _>(Error::Forbidden));
        assert_eq!(refused.outcome, AuditOutcome::Denied);
        assert_eq!(
            refused.detail.as_deref(),
            Some("start: You are not allowed to do that.")
        );
        let failed = e.outcome(&Err::<(), _>(Error::Proxmox("boom".into())));
        assert_eq!(failed.outcome, AuditOutcome::Failed);
    }
}
