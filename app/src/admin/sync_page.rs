//! The admin "Sync" page: per cluster, when the quick and full syncs last ran, how long they
//! took, how many Proxmox calls they made, and the last error; plus "Sync now".

use super::{SyncNow, list_clusters};
use crate::layout::{FormError, RequireRole, action_error};
use lab::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SyncPage() -> impl IntoView {
    let sync = ServerAction::<SyncNow>::new();
    let clusters = Resource::new(move || sync.version().get(), |_| list_clusters());
    let error = action_error(sync);
    view! {
        <Title text="Sync" />
        <RequireRole role=Role::Admin>
            <h1>"Sync"</h1>
            <p>"Workers read every cluster's VM list every few seconds and the details (configs, IPs) only where something changed. Pages never wait for Proxmox."</p>
            <ActionForm action=sync>
                <button type="submit">"Sync now"</button>
            </ActionForm>
            <FormError message=error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let list = match clusters.await {
                        Ok(list) => list,
                        Err(e) => return view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    };
                    if list.is_empty() {
                        return view! { <p class="empty">"No cluster is connected yet."</p> }.into_any();
                    }
                    let rows = list.into_iter().map(|c| {
                        let s = c.sync;
                        view! {
                            <tr>
                                <td>{c.name}{(!c.enabled).then_some(" (disabled)")}</td>
                                <td>{s.guests}</td>
                                <td>{format!("{} ({} ms)", at(s.quick_at), s.quick_ms)}</td>
                                <td>{format!("{} ({} ms, {} calls)", at(s.full_at), s.full_ms, s.full_calls)}</td>
                                <td>{s.calls_total}</td>
                                <td class="error-cell">{s.last_error.unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        }
                    }).collect_view();
                    view! {
                        <table class="data" id="sync-table">
                            <thead><tr><th>"Cluster"</th><th>"Guests"</th><th>"Quick sync"</th><th>"Full sync"</th><th>"Calls since start"</th><th>"Last error"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }.into_any()
                })}
            </Transition>
        </RequireRole>
    }
}

/// A time of day in UTC (`14:05:09 UTC`), or "never".
fn at(t: Option<i64>) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let s = t.rem_euclid(86_400);
            format!("{:02}:{:02}:{:02} UTC", s / 3600, s % 3600 / 60, s % 60)
        }
    }
}
