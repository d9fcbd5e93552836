//! `proxlab jobs list|show|cancel`: the admin's Jobs page on the command line, as the
//! operator (`Caller::Operator`: whoever runs this has the database and the settings anyway).
//! A cancel only marks the job; the portal's runner stops it at its next step.

use crate::cli::JobsCommand;
use crate::settings::Settings;
use app::when::{ago, format_time};
use lab::jobs::admin::{self, Caller};
use lab::model::{JobFilter, JobView};

pub async fn jobs(settings: Settings, command: JobsCommand) -> anyhow::Result<()> {
    let services = crate::services::open_services(&settings).await?;
    let now = lab::clock::now();
    match command {
        JobsCommand::List { state } => {
            let jobs = admin::list(&services, Caller::Operator, state).await?;
            print!("{}", table(&jobs, state, now));
        }
        JobsCommand::Show { id } => {
            let job = admin::show(&services, Caller::Operator, id).await?;
            print!("{}", details(&job, now));
        }
        JobsCommand::Cancel { id } => {
            admin::cancel(&services, Caller::Operator, id).await?;
            println!("Job {id}: cancel requested; the portal's runner stops it at its next step.");
        }
    }
    Ok(())
}

const DASH: &str = "-";

fn class(j: &JobView) -> String {
    match &j.class_name {
        Some(name) => name.clone(),
        None => format!("deleted (id {})", j.class_id),
    }
}

fn lease(j: &JobView, now: i64) -> Option<String> {
    let owner = j.lease_owner.as_deref()?;
    Some(match j.lease_left(now) {
        Some(left) => format!("{owner}, {left}"),
        None => owner.to_owned(),
    })
}

/// One line per job under a header, columns padded to their widest cell.
fn table(jobs: &[JobView], filter: JobFilter, now: i64) -> String {
    if jobs.is_empty() {
        return match filter {
            JobFilter::Active => "No unfinished jobs.\n",
            JobFilter::Failed => "No failed jobs.\n",
            JobFilter::All => "No jobs yet.\n",
        }
        .to_owned();
    }
    let header = [
        "ID", "KIND", "STATE", "CLASS", "VM", "PROGRESS", "ATTEMPTS", "LEASE", "BY", "CREATED",
        "ERROR",
    ];
    let rows: Vec<[String; 11]> = jobs
        .iter()
        .map(|j| {
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| DASH.into());
            [
                j.id.to_string(),
                j.kind.label().to_owned(),
                j.state.label().to_owned(),
                class(j),
                or_dash(j.vmid.map(|v| v.to_string())),
                or_dash(j.progress()),
                j.attempts.to_string(),
                or_dash(lease(j, now)),
                or_dash(j.requested_by.clone()),
                ago(now, j.created_at),
                or_dash(j.error.as_deref().map(|e| shorten(e, 60))),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&header);
    for row in &rows {
        out += &line(&row.each_ref().map(String::as_str));
    }
    if jobs.len() as u64 >= admin::PAGE {
        out += &format!("(the newest {} jobs)\n", jobs.len());
    }
    out
}

fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max && !text.contains('\n') {
        return line.to_owned();
    }
    let cut: String = line.chars().take(max - 1).collect();
    format!("{cut}…")
}

/// `key: value` lines, every field of the job.
fn details(j: &JobView, now: i64) -> String {
    let when = |t: Option<i64>| match t {
        Some(t) => format!("{} ({})", format_time(t), ago(now, t)),
        None => DASH.into(),
    };
    let fields = [
        ("Job", j.id.to_string()),
        ("Kind", format!("{} ({})", j.kind.label(), j.kind.as_str())),
        ("State", j.state.label().to_owned()),
        (
            "Class",
            format!(
                "{} (id {})",
                j.class_name.as_deref().unwrap_or("deleted"),
                j.class_id
            ),
        ),
        ("VM", j.vmid.map_or_else(|| DASH.into(), |v| v.to_string())),
        (
            "Progress",
            j.progress()
                .map_or_else(|| DASH.into(), |p| format!("{p} VMs done")),
        ),
        ("Attempts", j.attempts.to_string()),
        ("Lease", lease(j, now).unwrap_or_else(|| DASH.into())),
        (
            "Requested by",
            j.requested_by.clone().unwrap_or_else(|| DASH.into()),
        ),
        ("Created", when(Some(j.created_at))),
        ("Started", when(j.started_at)),
        ("Finished", when(j.finished_at)),
        ("Node commands", j.commands.to_string()),
        ("Last error", j.error.clone().unwrap_or_else(|| DASH.into())),
        (
            "Cancellable",
            if j.kind.cancellable(j.state) {
                "yes"
            } else {
                "no"
            }
            .into(),
        ),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("{:<14} {v}\n", format!("{k}:")))
        .collect()
}
