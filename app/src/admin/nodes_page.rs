//! The admin "Nodes" page: per cluster, each node's state, CPU, memory, its own storages
//! (bars), VMs running of all, Proxmox version, and the cluster's shared storages once; a
//! node's VM count links to the dashboard filtered to that node. Everything comes from the
//! database (the full sync writes it); hydrated, it re-reads every 30 s.

use super::load_nodes;
use crate::ids;
use crate::layout::{RequireRole, poll_while_active};
use crate::when::ago;
use lab::model::{ClusterNodes, NodeView, Role, StorageUse, format_bytes, format_uptime, percent};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NodesPage() -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let page = Resource::new(move || tick.get(), |_| load_nodes());
    let active = RwSignal::new(true);
    poll_while_active(active, tick, std::time::Duration::from_secs(30));
    view! {
        <Title text="Nodes" />
        <RequireRole role=Role::Admin>
            <div class="page-head"><h1>"Nodes"</h1></div>
            <p class="muted">"What each node has and uses, as the last full sync read it (every minute). Shared storages are shown once per cluster."</p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) if p.clusters.is_empty() => view! {
                            <p class="empty">"No clusters yet. "<a href=ids::ROUTE_ADMIN_CLUSTERS>"Add one"</a>"."</p>
                        }.into_any(),
                        Ok(p) => {
                            let now = p.now;
                            p.clusters.into_iter().map(|c| view! { <ClusterSection c now /> }).collect_view().into_any()
                        }
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </RequireRole>
    }
}

#[component]
fn ClusterSection(c: ClusterNodes, now: i64) -> impl IntoView {
    let read = match c.read_at {
        Some(t) => format!("Read {}.", ago(now, t)),
        None => "Not read yet: the first full sync is under way.".to_string(),
    };
    let cluster_id = c.cluster_id;
    view! {
        <section class="card nodes-cluster" data-cluster=c.cluster_id>
            <h2>{c.cluster.clone()}</h2>
            <p class="muted">{read}</p>
            <div class="node-grid">
                {c.nodes.into_iter().map(|n| view! { <NodeCard n cluster_id /> }).collect_view()}
            </div>
            {(!c.shared.is_empty()).then(|| view! {
                <h3>"Shared storage"</h3>
                <ul class="storage-list">
                    {c.shared.into_iter().map(|s| view! { <StorageLine s /> }).collect_view()}
                </ul>
            })}
        </section>
    }
}

#[component]
fn NodeCard(n: NodeView, cluster_id: i32) -> impl IntoView {
    let cpu = (n.cpu * 100.0).round() as i64;
    let mem = percent(n.mem, n.maxmem);
    let vms_href = format!("/?cluster={cluster_id}&node={}", n.node);
    view! {
        <article class=format!("node-card {}", if n.online { "online" } else { "offline" }) data-node=n.node.clone()>
            <header>
                <h3>{n.node.clone()}</h3>
                <span class=format!("badge {}", if n.online { "running" } else { "unknown" })>{if n.online { "Online" } else { "Offline" }}</span>
            </header>
            <dl class="specs">
                <dt>"Proxmox"</dt><dd>{n.version.clone().map(|v| format!("VE {v}")).unwrap_or_else(|| "—".into())}</dd>
                {n.online.then(|| view! { <dt>"Uptime"</dt><dd>{format_uptime(n.uptime)}</dd> })}
                <dt>"VMs"</dt>
                <dd><a href=vms_href data-vms=n.node.clone()>{format!("{} running of {}", n.running, n.vms)}</a></dd>
            </dl>
            {n.online.then(|| view! {
                <Bar label=format!("CPU {cpu} % of {} cores", n.maxcpu) value=cpu />
                <Bar label=format!("Memory {} of {} ({mem} %)", format_bytes(n.mem), format_bytes(n.maxmem)) value=mem />
            })}
            {(!n.online).then(|| view! { <p class="empty">"The node does not answer: its figures are not current."</p> })}
            {(!n.storages.is_empty()).then(|| view! {
                <ul class="storage-list">
                    {n.storages.into_iter().map(|s| view! { <StorageLine s /> }).collect_view()}
                </ul>
            })}
        </article>
    }
}

#[component]
fn StorageLine(s: StorageUse) -> impl IntoView {
    let pct = percent(s.used, s.total);
    let label = if s.active && s.total > 0 {
        format!(
            "{} ({}): {} of {} ({pct} %)",
            s.storage,
            s.plugin,
            format_bytes(s.used),
            format_bytes(s.total)
        )
    } else {
        format!("{} ({}): not active", s.storage, s.plugin)
    };
    view! {
        <li data-storage=s.storage.clone() title=format!("Content: {}", s.content)>
            <Bar label value=if s.active { pct } else { 0 } />
        </li>
    }
}

/// A labelled bar (`<meter>`: no inline style, high use shows in the warning colour).
#[component]
fn Bar(label: String, value: i64) -> impl IntoView {
    view! {
        <div class="bar">
            <span>{label.clone()}</span>
            <meter min="0" max="100" low="70" high="90" optimum="0" value=value aria-label=label></meter>
        </div>
    }
}
