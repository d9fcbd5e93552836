//! The admin "Jobs" page: the job engine's jobs (unfinished, failed or all, from `?state=`),
//! each with its class, VM, state, progress, runner and lease, times, node commands and last
//! error, and "Cancel" (next to the state) where the engine allows it. Links and an `ActionForm`, so it works
//! before the wasm loads; hydrated, it re-reads the list every 5 s while a job is unfinished.

use super::{CancelJob, JobList, list_jobs};
use crate::ids;
use crate::layout::{FormError, RefreshIcon, RequireRole, action_error, poll_while_active};
use crate::when::{ago, format_time};
use lab::model::{JobFilter, JobState, JobView, Role};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn JobsPage() -> impl IntoView {
    let cancel = ServerAction::<CancelJob>::new();
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| {
            q.get_str("state")
                .and_then(JobFilter::parse)
                .unwrap_or_default()
        })
    });
    let tick = RwSignal::new(0u32);
    let jobs = Resource::new(
        move || (filter.get(), tick.get(), cancel.version().get()),
        |(f, _, _)| list_jobs(f),
    );
    let active = RwSignal::new(false);
    poll_while_active(active, tick, std::time::Duration::from_secs(5));
    let error = action_error(cancel);
    view! {
        <Title text="Jobs" />
        <RequireRole role=Role::Admin>
            <div class="page-head">
                <h1>"Jobs"</h1>
                <a class="button small" id="jobs-refresh" href=move || filter_url(filter.get())
                    on:click=move |ev| {
                        ev.prevent_default();
                        tick.update(|t| *t += 1);
                    }>
                    <RefreshIcon />" Refresh"
                </a>
            </div>
            <p class="muted">"Everything slow runs as a job: deploying a class, resets, publishing, CPU/RAM changes, removing VMs, deleting classes. A runner holds a job's lease while it works; a job whose runner died is taken over when the lease runs out."</p>
            <nav class="job-filters" aria-label="Which jobs">
                {JobFilter::ALL.into_iter().map(|f| view! {
                    <a class="button small" href=filter_url(f) data-filter=f.as_str()
                        aria-current=move || (filter.get() == f).then_some("page")>
                        {f.label()}
                    </a>
                }).collect_view()}
            </nav>
            <FormError message=error />
            <section class="card">
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match jobs.await {
                            Ok(list) => {
                                active.try_set(list.jobs.iter().any(|j| j.state.is_active()));
                                view! { <JobTable list filter=filter.get_untracked() cancel /> }.into_any()
                            }
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </RequireRole>
    }
}

fn filter_url(f: JobFilter) -> String {
    format!("{}?state={}", ids::ROUTE_ADMIN_JOBS, f.as_str())
}

#[component]
fn JobTable(list: JobList, filter: JobFilter, cancel: ServerAction<CancelJob>) -> impl IntoView {
    if list.jobs.is_empty() {
        let none = match filter {
            JobFilter::Active => "No unfinished jobs: nothing is queued or running.",
            JobFilter::Failed => "No failed jobs.",
            JobFilter::All => "No jobs yet.",
        };
        return view! { <p class="empty" id="jobs-empty">{none}</p> }.into_any();
    }
    let now = list.now;
    let capped = list.capped.then(|| {
        view! { <p class="muted">{format!("The newest {} jobs.", list.jobs.len())}</p> }
    });
    let rows = list
        .jobs
        .into_iter()
        .map(|job| view! { <JobRow job now cancel /> }.into_any())
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id=ids::JOBS_TABLE class="jobs">
                <thead>
                    <tr>
                        <th scope="col">"Job"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Class"</th>
                        <th scope="col">"VM"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Progress"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col">"Lease"</th>
                        <th scope="col">"Requested by"</th>
                        <th scope="col">"Times"</th>
                        <th scope="col">"Node commands"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {capped}
    }
    .into_any()
}

const DASH: &str = "—";

#[component]
fn JobRow(job: JobView, now: i64, cancel: ServerAction<CancelJob>) -> impl IntoView {
    let id = job.id;
    let class = match job.class_name.clone() {
        Some(name) => view! { <a href=format!("/classes/{}", job.class_id)>{name}</a> }.into_any(),
        None => {
            view! { <span class="muted" title=format!("class {}", job.class_id)>"deleted"</span> }
                .into_any()
        }
    };
    let progress = job.progress();
    let lease = job.lease_owner.clone().map(|owner| {
        let left = job.lease_left(now);
        view! { <span class="mono">{owner}</span>{left.map(|l| view! { <br /><span class="muted">{l}</span> })} }
    });
    let time = |label: &'static str, t: Option<i64>| {
        t.map(|t| view! { <span class="when">{label}" "<time title=format_time(t)>{ago(now, t)}</time></span> })
    };
    let cancellable = job.kind.cancellable(job.state);
    // The last error gets a row of its own below the job's, as wide as the table: it can be
    // a long message, and a column for it would push the table past a laptop's width.
    let error = job.error.clone().map(|e| {
        view! {
            <tr class="job-error" data-job=id>
                <td colspan="11"><strong>"Last error: "</strong>{e}</td>
            </tr>
        }
    });
    // Each cell's content is type-erased (`into_any`): a row's full view type is too deep
    // for the release wasm build otherwise ("queries overflow the depth limit").
    let state = view! {
        <span class=format!("badge job-state state-{}", job.state.as_str())>{job.state.label()}</span>
        {cancellable.then(|| view! {
            <ActionForm action=cancel attr:class="inline job-cancel">
                <input type="hidden" name="id" value=id />
                <button type="submit" class="small danger" aria-label=format!("Cancel job {id}")>
                    <CancelIcon />" Cancel"
                </button>
            </ActionForm>
        })}
        {(job.state == JobState::Cancelling).then(|| view! { <span class="muted job-cancel">"stops at its next step"</span> })}
    }
    .into_any();
    let times = view! {
        {time("created", Some(job.created_at))}
        {time("started", job.started_at)}
        {time("finished", job.finished_at)}
    }
    .into_any();
    view! {
        <tr id=format!("job-{id}") data-state=job.state.as_str() data-kind=job.kind.as_str()
            class:has-error=job.error.is_some()>
            <td data-label="Job">{id}</td>
            <td data-label="Kind">{job.kind.label()}</td>
            <td data-label="Class">{class}</td>
            <td data-label="VM">{job.vmid.map_or_else(|| DASH.to_owned(), |v| v.to_string())}</td>
            <td data-label="State">{state}</td>
            <td data-label="Progress">{progress.unwrap_or_else(|| DASH.into())}</td>
            <td data-label="Attempts">{job.attempts}</td>
            <td data-label="Lease">{lease.map_or_else(|| DASH.into_any(), |l| l.into_any())}</td>
            <td data-label="Requested by">{job.requested_by.clone().unwrap_or_else(|| DASH.into())}</td>
            <td data-label="Times" class="times">{times}</td>
            <td data-label="Node commands">{job.commands}</td>
        </tr>
        {error}
    }
    .into_any()
}

#[component]
fn CancelIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="14" height="14" aria-hidden="true" fill="none"
            stroke="currentColor" stroke-width="2.5" stroke-linecap="round">
            <path d="M6 6l12 12M18 6L6 18" />
        </svg>
    }
}
