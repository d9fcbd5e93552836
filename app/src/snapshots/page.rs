//! `/vms/:cluster/:vmid/snapshots`: a VM's snapshots (from the database), the form to take
//! one, roll back and delete behind a confirmation, and the VM's recent snapshot jobs as
//! progress. Links and `ActionForm`s, so it works before the wasm loads; hydrated, it re-reads
//! the page every 2 s while a job of the VM is unfinished.

use super::{
    DeleteSnapshot, RefreshSnapshots, RollbackSnapshot, TakeSnapshot, load_snapshots, snapshots_url,
};
use crate::ids;
use crate::layout::{
    FormError, RefreshIcon, RequireRole, action_error, poll_while_active, vm_page_refused, vm_route,
};
use crate::when::{ago, format_time};
use lab::model::{JobState, Role, SnapshotJobView, SnapshotPage, SnapshotView};
use leptos::prelude::*;
use leptos_meta::Title;

#[derive(Clone, Copy)]
struct Actions {
    take: ServerAction<TakeSnapshot>,
    rollback: ServerAction<RollbackSnapshot>,
    delete: ServerAction<DeleteSnapshot>,
    refresh: ServerAction<RefreshSnapshots>,
}

#[component]
pub fn SnapshotsPage() -> impl IntoView {
    let ids = vm_route();
    let a = Actions {
        take: ServerAction::new(),
        rollback: ServerAction::new(),
        delete: ServerAction::new(),
        refresh: ServerAction::new(),
    };
    let tick = RwSignal::new(0u32);
    let changes = move || {
        (
            tick.get(),
            a.take.version().get(),
            a.rollback.version().get(),
            a.delete.version().get(),
            a.refresh.version().get(),
        )
    };
    let page = Resource::new(
        move || (ids(), changes()),
        |((cluster, vmid), _)| async move {
            match (cluster, vmid) {
                (Some(c), Some(v)) => load_snapshots(c, v).await,
                _ => Err(crate::AppError::NotFound("That VM".into())),
            }
        },
    );
    let active = RwSignal::new(false);
    poll_while_active(active, tick, std::time::Duration::from_secs(2));
    // A snapshot asked for: the form empties for the next one.
    let take_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if matches!(a.take.value().get(), Some(Ok(())))
            && let Some(form) = take_form.get_untracked()
        {
            form.reset();
        }
    });
    let error = Signal::derive({
        let errors = [
            action_error(a.take),
            action_error(a.rollback),
            action_error(a.delete),
            action_error(a.refresh),
        ];
        move || errors.iter().find_map(|e| e.get())
    });
    view! {
        <Title text="Snapshots" />
        <RequireRole role=Role::Student>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) => {
                            active.try_set(p.busy());
                            view! { <Body p a error take_form /> }.into_any()
                        }
                        Err(e) => vm_page_refused(e, "snapshots-refused", "No snapshots",
                            "You do not have access to this VM's snapshots, or it does not exist."),
                    }
                })}
            </Transition>
        </RequireRole>
    }
}

#[component]
fn Body(
    p: SnapshotPage,
    a: Actions,
    error: Signal<Option<String>>,
    take_form: NodeRef<leptos::html::Form>,
) -> impl IntoView {
    let busy = p.busy();
    let blocked = p.take_blocked();
    let who = if p.manager {
        format!(
            "Class {}. As its teacher you are not limited; each student may keep {}.",
            p.class_name,
            match p.student_limit {
                0 => "none".to_string(),
                n => n.to_string(),
            }
        )
    } else if p.may_change {
        format!(
            "Class {}. You may keep up to {} snapshots of this VM.",
            p.class_name, p.student_limit
        )
    } else {
        format!(
            "Class {}. Your teacher has not allowed snapshots in this class.",
            p.class_name
        )
    };
    let (cluster_id, vmid) = (p.cluster_id, p.vmid);
    let ram_option = p.qemu && p.running;
    let take = p.may_change.then(|| {
        view! {
            <section class="card" id="snapshot-take">
                <h2>"Take a snapshot"</h2>
                {blocked.clone().map(|why| view! { <p class="muted" id="snapshot-blocked">{why}</p> })}
                <ActionForm action=a.take node_ref=take_form attr:class="stacked">
                    <input type="hidden" name="cluster_id" value=cluster_id />
                    <input type="hidden" name="vmid" value=vmid />
                    <label>"Name"
                        <input name="name" required minlength="2" maxlength="40" pattern="[A-Za-z][A-Za-z0-9_\\-]+"
                            placeholder="before-lab-3" title="Letters, digits, - and _, starting with a letter" />
                    </label>
                    <label>"Description (optional)"
                        <input name="description" maxlength="200" placeholder="What state is this?" />
                    </label>
                    {ram_option.then(|| view! {
                        <label><input type="checkbox" name="vmstate" />" Include memory (RAM): going back resumes the VM exactly where it was. Takes longer and uses more space."</label>
                    })}
                    <button type="submit" id="snapshot-take-button" disabled=busy || blocked.is_some()>"Take snapshot"</button>
                </ActionForm>
            </section>
        }
    });
    let list = if p.snapshots.is_empty() {
        view! { <p class="empty" id="snapshots-empty">"No snapshots yet."</p> }.into_any()
    } else {
        let may_change = p.may_change;
        let now = p.now;
        view! {
            <ul class="snapshots" id="snapshot-list">
                {p.snapshots.iter().rev().cloned().map(|s| view! {
                    <SnapshotItem s now cluster_id vmid may_change busy a />
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let jobs = (!p.jobs.is_empty()).then(|| {
        let now = p.now;
        view! {
            <section class="card" id="snapshot-jobs">
                <h2>"Recent changes"</h2>
                <ul class="snapshot-jobs">
                    {p.jobs.iter().cloned().map(|j| view! { <JobLine j now /> }).collect_view()}
                </ul>
            </section>
        }
    });
    view! {
        <div class="page-head">
            <h1>{format!("Snapshots of {}", p.vm_name)}</h1>
            <ActionForm action=a.refresh attr:class="inline">
                <input type="hidden" name="cluster_id" value=cluster_id />
                <input type="hidden" name="vmid" value=vmid />
                <button type="submit" class="small" id="snapshots-refresh" disabled=busy
                    title="Read the list from Proxmox again (snapshots made outside the portal)">
                    <RefreshIcon />" Refresh"
                </button>
            </ActionForm>
        </div>
        <p class="muted">{who}" "<a href=ids::ROUTE_HOME>"Back to your VMs"</a></p>
        <FormError message=error />
        {take}
        <section class="card" id="snapshots" data-busy=busy.to_string() data-url=snapshots_url(cluster_id, vmid)>
            <h2>"Snapshots"</h2>
            {list}
        </section>
        {jobs}
    }
}

#[component]
fn SnapshotItem(
    s: SnapshotView,
    now: i64,
    cluster_id: i32,
    vmid: i32,
    may_change: bool,
    busy: bool,
    a: Actions,
) -> impl IntoView {
    let name = s.name.clone();
    let taken = format!(
        "{} ({}){}",
        format_time(s.taken_at),
        ago(now, s.taken_at),
        s.taken_by
            .as_deref()
            .map(|u| format!(" by {u}"))
            .unwrap_or_default()
    );
    let rollback_text = if s.vmstate {
        "The VM goes back to this snapshot, running, with its memory as it was. Everything since is lost."
    } else {
        "The VM goes back to this snapshot and is stopped (start it again afterwards). Everything since is lost."
    };
    let buttons = may_change.then(|| {
        let (n1, n2, n3, n4) = (name.clone(), name.clone(), name.clone(), name.clone());
        let rollback_label = format!("Roll back to {name}");
        let delete_label = format!("Delete {name}");
        view! {
            <div class="actions">
                <details class="confirm">
                    <summary>"Roll back…"</summary>
                    <p>{rollback_text}</p>
                    <ActionForm action=a.rollback attr:class="inline">
                        <input type="hidden" name="cluster_id" value=cluster_id />
                        <input type="hidden" name="vmid" value=vmid />
                        <input type="hidden" name="name" value=n1 />
                        <button type="submit" class="danger" data-rollback=n2 disabled=busy>{rollback_label}</button>
                    </ActionForm>
                </details>
                <details class="confirm">
                    <summary>"Delete…"</summary>
                    <p>"The snapshot is removed; the VM as it is now stays."</p>
                    <ActionForm action=a.delete attr:class="inline">
                        <input type="hidden" name="cluster_id" value=cluster_id />
                        <input type="hidden" name="vmid" value=vmid />
                        <input type="hidden" name="name" value=n3 />
                        <button type="submit" class="danger" data-delete=n4 disabled=busy>{delete_label}</button>
                    </ActionForm>
                </details>
            </div>
        }
    });
    view! {
        <li class="snapshot" data-name=s.name.clone() data-current=s.current.to_string()>
            <div class="snapshot-head">
                <SnapshotIcon />
                <strong>{s.name.clone()}</strong>
                {s.current.then(|| view! { <span class="badge running" title="The VM's present state descends from this snapshot">"You are here"</span> })}
                {s.vmstate.then(|| view! { <span class="badge">"with memory"</span> })}
            </div>
            <p class="muted">{taken}</p>
            {(!s.description.is_empty()).then(|| view! { <p>{s.description.clone()}</p> })}
            {buttons}
        </li>
    }
}

#[component]
fn JobLine(j: SnapshotJobView, now: i64) -> impl IntoView {
    let what = if j.name.is_empty() {
        j.op.label().to_string()
    } else {
        format!("{} {}", j.op.label(), j.name)
    };
    let state = match j.state {
        JobState::Queued => "Waiting…",
        JobState::Running => "In progress…",
        JobState::Cancelling => "Stopping…",
        JobState::Done => "Done",
        JobState::Failed => "Failed",
        JobState::Cancelled => "Cancelled",
    };
    let when = ago(now, j.finished_at.unwrap_or(j.created_at));
    view! {
        <li data-job=j.id data-state=j.state.as_str()>
            <span>{what}</span>" · "
            <span class=format!("badge {}", j.state.as_str())>{state}</span>" · "
            <span class="muted">{when}</span>
            {j.error.map(|e| view! { <p class="form-error">{e}</p> })}
        </li>
    }
}

/// A camera shutter, for a snapshot.
#[component]
fn SnapshotIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" fill="none"
            stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
            <path d="M4 8h3l2-3h6l2 3h3v11H4z" />
            <circle cx="12" cy="13" r="3.5" />
        </svg>
    }
}
