//! The dashboard page. It renders on the server (usable without wasm) and, once hydrated,
//! polls cheaply: the request carries the change counter it last saw and gets `None` when
//! nothing changed, or the new dashboard, which is shown as it came (one request per change,
//! not a second one to fetch it). Every 2 s while a card is in transition, every 14 s
//! otherwise, and not at all while the tab is hidden.

use super::BulkAssign;
use super::vm_card::{CardActions, VmCardView};
use super::{
    AssignVm, MissingAssignment, UnassignVm, assignment_suggestions, load_dashboard,
    missing_assignments,
};
use crate::AppError;
use crate::auth::use_auth;
use crate::ids;
use crate::layout::{FormError, RequireRole, action_error};
use crate::vm_actions::{PowerVm, ResetVm};
use crate::waitlist::{LeaveWaitlist, WaitingLists, my_waiting};
use lab::model::{AssignmentSuggestion, Dashboard, Role, VmFilter};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Poll period while something is changing, and the multiple of it when all is quiet.
const FAST_POLL_MS: u64 = 2000;
const QUIET_TICKS: u32 = 7;
/// A full load every 5 minutes (in ticks of `FAST_POLL_MS`), for the hours on class VMs.
const FULL_RELOAD_TICKS: u32 = 150;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let actions = CardActions {
        power: ServerAction::<PowerVm>::new(),
        assign: ServerAction::<AssignVm>::new(),
        unassign: ServerAction::<UnassignVm>::new(),
        reset: ServerAction::<ResetVm>::new(),
        still_here: ServerAction::new(),
        bulk: ServerAction::new(),
    };
    let filter = filter_from_query();
    // Bumped by the poller when the server says something changed.
    let refresh = RwSignal::new(0u32);
    let acted = move || {
        (
            actions.power.version().get(),
            actions.assign.version().get() + actions.bulk.version().get(),
            actions.unassign.version().get(),
            actions.reset.version().get(),
            actions.still_here.version().get(),
        )
    };
    let changes = move || {
        let (power, assign, unassign, reset, still_here) = acted();
        (refresh.get(), power, assign, unassign, reset, still_here)
    };
    // The poller's own reply is the new dashboard: it is put in place as it is (not fetched
    // again), so the filter and the actions are all that make this load.
    let data = Resource::new(
        move || (filter.get(), acted()),
        |(f, _)| load_dashboard(f, None),
    );
    let latest: RwSignal<Option<(i64, bool)>> = RwSignal::new(None);
    start_polling(filter, latest, refresh, data);
    let auth = use_auth();
    // Admins' list of assignments whose VM is gone (nobody else asks the server).
    let missing = Resource::new(changes, move |_| async move {
        match auth.me.await {
            Ok(Some(me)) if me.role == Role::Admin => missing_assignments().await,
            _ => Ok(Vec::new()),
        }
    });
    // Re-read after assignments, not on every change the poller sees (it reads every VM).
    let suggested = Resource::new(
        move || {
            actions.assign.version().get()
                + actions.bulk.version().get()
                + actions.unassign.version().get()
        },
        move |_| async move {
            match auth.me.await {
                Ok(Some(me)) if me.role == Role::Admin => assignment_suggestions().await,
                _ => Ok(Vec::new()),
            }
        },
    );
    let leave_waitlist = ServerAction::<LeaveWaitlist>::new();
    let waiting = Resource::new(
        move || (refresh.get(), leave_waitlist.version().get()),
        |_| my_waiting(),
    );
    let error = Signal::derive({
        let errors = [
            action_error(actions.power),
            action_error(actions.assign),
            action_error(actions.unassign),
            action_error(actions.reset),
            action_error(actions.still_here),
            action_error(actions.bulk),
        ];
        move || errors.iter().find_map(|e| e.get())
    });
    view! {
        <Title text="My VMs" />
        <RequireRole role=Role::Student>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let me = auth.me.await.ok().flatten();
                    let name = me.as_ref().map(|m| m.display_name.clone()).unwrap_or_default();
                    let admin = me.is_some_and(|m| m.role == Role::Admin);
                    view! {
                        <h1>{format!("Welcome, {name}")}</h1>
                        {admin.then(|| view! { <MissingAssignments missing actions /> <Suggestions suggested action=actions.bulk /> })}
                    }
                })}
            </Suspense>
            <FormError message=error />
            <WaitingLists lists=waiting leave=leave_waitlist />
            <Transition fallback=|| view! { <p class="loading">"Loading your VMs…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(Some(d)) => {
                            latest.try_set(Some((d.counter, d.in_transition())));
                            view! { <DashboardBody d filter=filter.get_untracked() actions /> }.into_any()
                        }
                        Ok(None) => view! { <p class="loading">"Loading…"</p> }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </RequireRole>
    }
}

fn filter_from_query() -> Memo<VmFilter> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.with(|q| {
            let text = |k: &str| q.get(k).filter(|v| !v.trim().is_empty());
            VmFilter {
                cluster: text("cluster").and_then(|c| c.parse().ok()),
                node: text("node"),
                status: text("status"),
                owner: text("owner"),
                q: text("q"),
                page: text("page").and_then(|p| p.parse().ok()).unwrap_or(0),
            }
        })
    })
}

/// Hydrated only: a 2 s ticker that asks for changes, less often when all is quiet.
fn start_polling(
    filter: Memo<VmFilter>,
    latest: RwSignal<Option<(i64, bool)>>,
    refresh: RwSignal<u32>,
    data: Resource<Result<Option<Dashboard>, crate::error::AppError>>,
) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let handle = set_interval_with_handle(
            move || {
                // `try_`: the page may be gone (navigation) while a tick or a reply is due.
                let hidden = document().hidden();
                let Some((counter, busy)) = latest.try_get_untracked().flatten() else {
                    return;
                };
                ticks.set(ticks.get() + 1);
                // Every few minutes the whole page, even with nothing new: the hours of a
                // running class VM move without any change to announce.
                let full = ticks.get().is_multiple_of(FULL_RELOAD_TICKS);
                if hidden || !(busy || full || ticks.get().is_multiple_of(QUIET_TICKS)) {
                    return;
                }
                let Some(filter) = filter.try_get_untracked() else {
                    return;
                };
                leptos::task::spawn_local(async move {
                    let since = (!full).then_some(counter);
                    if let Ok(Some(d)) = load_dashboard(filter, since).await {
                        data.try_set(Some(Ok(Some(d))));
                        refresh.try_update(|r| *r += 1);
                    }
                });
            },
            std::time::Duration::from_millis(FAST_POLL_MS),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (
        filter,
        latest,
        refresh,
        data,
        FAST_POLL_MS,
        QUIET_TICKS,
        FULL_RELOAD_TICKS,
    );
}

#[component]
fn DashboardBody(d: Dashboard, filter: VmFilter, actions: CardActions) -> impl IntoView {
    let now = d.now;
    let admin = d.all_vms;
    let empty = d.cards.is_empty();
    let pages = d.total.div_ceil(d.per_page).max(1);
    let cards = d
        .cards
        .into_iter()
        .map(|card| view! { <VmCardView card now admin actions /> })
        .collect_view();
    view! {
        <h2>{if admin { "All virtual machines" } else { "Your virtual machines" }}</h2>
        {admin.then(|| view! {
            <Filters filter=filter.clone() clusters=d.clusters.clone() total=d.total />
            <BulkForm clusters=d.clusters.clone() action=actions.bulk />
        })}
        {(empty && !admin).then(|| view! {
            <section class="card">
                <p class="empty">"You have no VMs yet. When your teacher shares an invite link, open it while signed in to join the class and get your own VM."</p>
            </section>
        })}
        {(empty && admin).then(|| view! { <p class="empty">"No VM matches. Connect a cluster under Clusters, or change the filters."</p> })}
        <div class="vm-grid" id=ids::VM_GRID>{cards}</div>
        {(admin && pages > 1).then(|| view! { <Pager filter page=d.page pages /> })}
    }
}

#[component]
fn Filters(filter: VmFilter, clusters: Vec<(i32, String)>, total: u64) -> impl IntoView {
    let status = filter.status.clone().unwrap_or_default();
    let options = [
        ("", "Any state"),
        ("running", "Running"),
        ("stopped", "Stopped"),
        ("unknown", "Unknown"),
        ("template", "Templates"),
    ]
    .into_iter()
    .map(|(v, label)| view! { <option value=v selected=status == v>{label}</option> })
    .collect_view();
    let cluster_options = clusters
        .into_iter()
        .map(|(id, name)| view! { <option value=id selected=filter.cluster == Some(id)>{name}</option> })
        .collect_view();
    view! {
        <form method="get" class="search filters" role="search">
            <label>"Search" <input name="q" type="search" placeholder="name or VMID" value=filter.q.clone().unwrap_or_default() /></label>
            <label>"Cluster" <select name="cluster"><option value="">"All"</option>{cluster_options}</select></label>
            <label>"Node" <input name="node" size="8" value=filter.node.clone().unwrap_or_default() /></label>
            <label>"State" <select name="status">{options}</select></label>
            <label>"Owner" <input name="owner" size="10" value=filter.owner.clone().unwrap_or_default() /></label>
            <button type="submit">"Filter"</button>
            <span class="count">{format!("{total} VMs")}</span>
        </form>
    }
}

/// Admins: assign or take back many VMs at once from `VMID username` lines.
#[component]
fn BulkForm(clusters: Vec<(i32, String)>, action: ServerAction<BulkAssign>) -> impl IntoView {
    let done = move || action.value().get().and_then(Result::ok);
    view! {
        <details class="bulk" id="bulk-assign">
            <summary>"Assign or take back in bulk…"</summary>
            <ActionForm action attr:class="stacked">
                <label>"Cluster" <select name="cluster_id">
                    {clusters.into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
                </select></label>
                <label>"One \"VMID username\" per line"
                    <textarea name="lines" rows="5" required placeholder="1201 alice\n1202 bob"></textarea>
                </label>
                <label><input type="checkbox" name="unassign" />" Take these back instead"</label>
                <p class="muted">"Every line is checked first; one bad line changes nothing."</p>
                <button type="submit" id="bulk-assign-submit">"Apply"</button>
                {move || done().map(|text| view! { <p role="status" id="bulk-assign-done">{text}</p> })}
            </ActionForm>
        </details>
    }
}

#[component]
fn Pager(filter: VmFilter, page: u64, pages: u64) -> impl IntoView {
    let link = move |p: u64| {
        let mut parts = vec![format!("page={p}")];
        let mut add = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        };
        add("q", &filter.q);
        add("node", &filter.node);
        add("status", &filter.status);
        add("owner", &filter.owner);
        add("cluster", &filter.cluster.map(|c| c.to_string()));
        format!("?{}", parts.join("&"))
    };
    view! {
        <nav class="pager" aria-label="Pages">
            {(page > 0).then(|| view! { <a href=link(page - 1) rel="prev">"← Previous"</a> })}
            <span>{format!("Page {} of {pages}", page + 1)}</span>
            {(page + 1 < pages).then(|| view! { <a href=link(page + 1) rel="next">"Next →"</a> })}
        </nav>
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn MissingAssignments(
    missing: Resource<Result<Vec<MissingAssignment>, AppError>>,
    actions: CardActions,
) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let list = missing.await.unwrap_or_default();
                (!list.is_empty()).then(|| {
                    let rows = list
                        .into_iter()
                        .map(|(user, cluster_id, cluster, vmid)| view! {
                            <li>
                                {format!("{user}: VM {vmid} on {cluster} is gone from Proxmox.")}
                                <ActionForm action=actions.unassign attr:class="inline">
                                    <input type="hidden" name="cluster_id" value=cluster_id />
                                    <input type="hidden" name="vmid" value=vmid />
                                    <input type="hidden" name="username" value=user.clone() />
                                    <button type="submit">"Remove assignment"</button>
                                </ActionForm>
                            </li>
                        })
                        .collect_view();
                    view! { <section class="card warning"><h2>"Missing VMs"</h2><ul>{rows}</ul></section> }
                })
            })}
        </Transition>
    }
}

/// Admins: VMs nobody has whose names, tags or pools name a user, per cluster, assigned in one go through
/// the bulk form's action (which checks every line again).
#[component]
fn Suggestions(
    suggested: Resource<Result<Vec<AssignmentSuggestion>, AppError>>,
    action: ServerAction<BulkAssign>,
) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let list = suggested.await.unwrap_or_default();
                if list.is_empty() {
                    return ().into_any();
                }
                let mut by_cluster: Vec<(i32, String, Vec<AssignmentSuggestion>)> = Vec::new();
                for s in list {
                    match by_cluster.last_mut() {
                        Some((id, _, items)) if *id == s.cluster_id => items.push(s),
                        _ => by_cluster.push((s.cluster_id, s.cluster.clone(), vec![s])),
                    }
                }
                let groups = by_cluster
                    .into_iter()
                    .map(|(cluster_id, cluster, items)| {
                        let lines = items
                            .iter()
                            .map(|s| format!("{} {}", s.vmid, s.username))
                            .collect::<Vec<_>>()
                            .join("\n");
                        let count = items.len();
                        let rows = items
                            .into_iter()
                            .map(|s| view! { <li>{format!("{} {} → {} ({})", s.vmid, s.vm_name, s.username, s.reason.label())}</li> })
                            .collect_view();
                        view! {
                            <div class="suggested" data-cluster=cluster_id>
                                <p class="muted">{cluster}</p>
                                <ul>{rows}</ul>
                                <ActionForm action attr:class="inline">
                                    <input type="hidden" name="cluster_id" value=cluster_id />
                                    <textarea name="lines" hidden>{lines}</textarea>
                                    <button type="submit" class="small" id=format!("assign-suggested-{cluster_id}")>
                                        {if count == 1 { "Assign it".to_string() } else { format!("Assign these {count}") }}
                                    </button>
                                </ActionForm>
                            </div>
                        }
                    })
                    .collect_view();
                view! {
                    <details class="card" id="suggested-assignments">
                        <summary>"VMs nobody has that name a user"</summary>
                        <p class="muted">"A VM outside every class, with no one assigned, whose name has a username as one of its parts (lab-alice), one of whose Proxmox tags is a username, or whose pool has one as a part (students-alice). Check the list, then assign them in one go."</p>
                        {groups}
                    </details>
                }
                .into_any()
            })}
        </Transition>
    }
}
