//! The "Audit" page (`/audit`): the audit log, newest first, 100 lines a page, filtered by
//! part (sign-in, accounts, …), who, object and days, all in the address (`?area=vms&who=alice`)
//! so a filtered view can be bookmarked or sent. A plain GET form and links: it works before
//! the wasm loads. "Download CSV" exports what the filter shows, up to 200 000 lines.
//! Admins see every line; teachers the lines of the classes they manage.

use super::load_audit;
use crate::ids;
use crate::layout::{RequireRole, load_failed};
use crate::when::format_time;
use lab::model::{AuditArea, AuditFilter, AuditLine, AuditOutcome, AuditPage as Page, Role};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| {
            let text = |k: &str| q.get_str(k).unwrap_or_default().to_owned();
            AuditFilter {
                area: text("area"),
                who: text("who"),
                object: text("object"),
                from: text("from"),
                to: text("to"),
                before: q
                    .get_str("before")
                    .and_then(|b| b.parse().ok())
                    .unwrap_or(0),
            }
        })
    });
    let lines = Resource::new(move || filter.get(), load_audit);
    view! {
        <Title text="Audit" />
        <RequireRole role=Role::Teacher>
            <div class="page-head">
                <h1>"Audit log"</h1>
                <a class="button small" id="audit-csv" download=""
                    href=move || url(ids::ROUTE_AUDIT_CSV, &filter.get())>
                    "Download CSV"
                </a>
            </div>
            <FilterForm filter />
            <section class="card">
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match lines.await {
                            Ok(page) => view! { <AuditTable page filter=filter.get_untracked() /> }.into_any(),
                            Err(e) => load_failed(e),
                        }
                    })}
                </Transition>
            </section>
        </RequireRole>
    }
}

/// `route` with the filter's query (and its `before` for the page, not for the export).
fn url(route: &str, filter: &AuditFilter) -> String {
    match filter.query(route == ids::ROUTE_AUDIT) {
        q if q.is_empty() => route.to_owned(),
        q => format!("{route}?{q}"),
    }
}

#[component]
fn FilterForm(filter: Memo<AuditFilter>) -> impl IntoView {
    let f = filter.get_untracked();
    let areas = AuditArea::ALL
        .into_iter()
        .map(|a| {
            view! { <option value=a.as_str() selected=f.area == a.as_str()>{a.label()}</option> }
        })
        .collect_view();
    view! {
        <form class="filters card" method="get" action=ids::ROUTE_AUDIT id="audit-filter">
            <label>"What"
                <select name="area">
                    <option value="" selected=f.area.is_empty()>"Everything"</option>
                    {areas}
                </select>
            </label>
            <label>"Who"<input name="who" value=f.who.clone() placeholder="username" /></label>
            <label>"Object"<input name="object" value=f.object.clone() placeholder="VM, class, account…" /></label>
            <label>"From"<input type="date" name="from" value=f.from.clone() /></label>
            <label>"To"<input type="date" name="to" value=f.to.clone() /></label>
            <button type="submit">"Show"</button>
            <a href=ids::ROUTE_AUDIT class="button small">"Clear"</a>
        </form>
    }
}

#[component]
fn AuditTable(page: Page, filter: AuditFilter) -> impl IntoView {
    let kept = view! {
        <p class="muted">{format!("Lines are kept {} days. Times are UTC.", page.retention_days)}</p>
    };
    if page.lines.is_empty() {
        return view! { <p class="empty" id="audit-empty">"Nothing recorded matches."</p> {kept} }
            .into_any();
    }
    let older = page.more.then(|| {
        let last = page.lines.last().map_or(0, |l| l.id);
        let next = AuditFilter {
            before: last,
            ..filter.clone()
        };
        view! { <a class="button small" id="audit-older" href=url(ids::ROUTE_AUDIT, &next)>"Older"</a> }
    });
    let newest = (filter.before > 0).then(|| {
        let first = AuditFilter {
            before: 0,
            ..filter.clone()
        };
        view! { <a class="button small" href=url(ids::ROUTE_AUDIT, &first)>"Newest"</a> }
    });
    let rows = page
        .lines
        .into_iter()
        .map(|line| view! { <AuditRow line /> })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id=ids::AUDIT_TABLE class="audit">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Who"</th>
                        <th scope="col">"What"</th>
                        <th scope="col">"Object"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Detail"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <nav class="pager">{newest}{older}</nav>
        {kept}
    }
    .into_any()
}

#[component]
fn AuditRow(line: AuditLine) -> impl IntoView {
    let outcome = match line.outcome {
        AuditOutcome::Ok => "ok",
        AuditOutcome::Denied => "denied",
        AuditOutcome::Failed => "failed",
    };
    view! {
        <tr data-action=line.action.as_str() data-outcome=outcome>
            <td data-label="When"><time>{format_time(line.at)}</time></td>
            <td data-label="Who">{line.actor}</td>
            <td data-label="What">{line.action.label()}</td>
            <td data-label="Object">{line.object}</td>
            <td data-label="Address" class="mono">{line.addr.unwrap_or_default()}</td>
            <td data-label="Outcome"><span class=format!("badge outcome-{outcome}")>{line.outcome.label()}</span></td>
            <td data-label="Detail" class="detail">{line.detail.unwrap_or_default()}</td>
        </tr>
    }
}
