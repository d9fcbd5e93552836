//! One VM card: name, OS, node, state badge, specs, uptime, actions, RDP.

use super::{AssignVm, BulkAssign, UnassignVm};
use crate::policies::{NoticeBanner, StillHere, UsageLines};
use crate::snapshots::snapshots_url;
use crate::vm_actions::{PowerVm, ResetVm};
use lab::model::{VmAction, VmCard, VmState, format_bytes, format_uptime};
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct CardActions {
    pub power: ServerAction<PowerVm>,
    pub assign: ServerAction<AssignVm>,
    pub unassign: ServerAction<UnassignVm>,
    pub reset: ServerAction<ResetVm>,
    pub still_here: ServerAction<StillHere>,
    pub bulk: ServerAction<BulkAssign>,
}

/// A short OS label from Proxmox's `ostype` (`l26`, `win11`, …).
fn os_label(card: &VmCard) -> &'static str {
    match card.os_type.as_deref() {
        _ if card.kind == "lxc" => "Linux container",
        Some(t) if t.starts_with("win") || t == "w2k8" || t == "wxp" => "Windows",
        Some("l24" | "l26") => "Linux",
        Some("solaris") => "Solaris",
        Some(_) => "Other OS",
        None => "Unknown OS",
    }
}

/// The OS as a small inline SVG (no emoji: a machine's fonts may lack them).
fn os_icon(card: &VmCard) -> impl IntoView + use<> {
    match os_label(card) {
        // Four panes.
        "Windows" => view! {
            <svg viewBox="0 0 16 16" width="20" height="20" fill="currentColor" focusable="false">
                <rect x="1" y="1" width="6.5" height="6.5" /><rect x="8.5" y="1" width="6.5" height="6.5" />
                <rect x="1" y="8.5" width="6.5" height="6.5" /><rect x="8.5" y="8.5" width="6.5" height="6.5" />
            </svg>
        }
        .into_any(),
        // A terminal prompt.
        "Linux" | "Linux container" => view! {
            <svg viewBox="0 0 16 16" width="20" height="20" fill="none" stroke="currentColor" stroke-width="1.5" focusable="false">
                <rect x="1" y="2" width="14" height="12" rx="2" /><path d="M4 6l2.5 2L4 10M8 10.5h4" />
            </svg>
        }
        .into_any(),
        // A screen on a stand.
        _ => view! {
            <svg viewBox="0 0 16 16" width="20" height="20" fill="none" stroke="currentColor" stroke-width="1.5" focusable="false">
                <rect x="1" y="2" width="14" height="9" rx="1.5" /><path d="M5.5 14.5h5M8 11v3.5" />
            </svg>
        }
        .into_any(),
    }
}

#[component]
pub fn VmCardView(card: VmCard, now: i64, admin: bool, actions: CardActions) -> impl IntoView {
    let state = card.state;
    let pending = actions.power.pending();
    let buttons = [
        VmAction::Start,
        VmAction::Shutdown,
        VmAction::Reboot,
        VmAction::Stop,
    ]
    .into_iter()
    .filter(move |a| a.allowed_in(state))
    .map(|a| {
        view! {
            <ActionForm action=actions.power attr:class="inline">
                <input type="hidden" name="cluster_id" value=card.cluster_id />
                <input type="hidden" name="vmid" value=card.vmid />
                <input type="hidden" name="action" value=a.as_str() />
                <button type="submit" class=if a == VmAction::Stop { "danger" } else { "" }
                    data-action=a.as_str() disabled=pending>{a.label()}</button>
            </ActionForm>
        }
    })
    .collect_view();
    let uptime = card
        .started_at
        .map(|t| format!("up {}", format_uptime(now - t)));
    let rdp_closed = card.rdp_open == Some(false);
    let rdp = (card.ip.is_some() && card.kind == "qemu" && !rdp_closed)
        .then(|| format!("/vm/{}/{}/rdp", card.cluster_id, card.vmid));
    let running = matches!(state, VmState::Running | VmState::Starting);
    let console = (card.kind == "qemu" && running)
        .then(|| format!("/console/{}/{}", card.cluster_id, card.vmid));
    // A VM's terminal is its serial port (Proxmox termproxy); a container's, its console.
    let terminal = running.then(|| format!("/terminal/{}/{}", card.cluster_id, card.vmid));
    // SSH through the portal: a class with it enabled, a VM with an IP.
    let ssh = (running && card.ssh).then(|| format!("/ssh/{}/{}", card.cluster_id, card.vmid));
    let ip = card.ip.clone();
    let owners = card.owners.clone();
    view! {
        <article class=format!("vm-card state-{}", state.css()) data-vmid=card.vmid id=format!("vm-{}-{}", card.cluster_id, card.vmid)>
            <header>
                <span class="os-icon" title=os_label(&card) aria-hidden="true">{os_icon(&card)}</span>
                <h3>{card.name.clone()}</h3>
                <span class=format!("badge {}", state.css()) data-state=format!("{state:?}")>{state.label()}</span>
            </header>
            <dl class="specs">
                <dt>"VMID"</dt><dd>{card.vmid}</dd>
                <dt>"Node"</dt><dd>{format!("{} · {}", card.node, card.cluster)}</dd>
                <dt>"OS"</dt><dd>{os_label(&card)}</dd>
                {card.class.clone().map(|(id, name)| view! { <dt>"Class"</dt><dd><a href=format!("/classes/{id}/about") data-class=id>{name}</a></dd> })}
                {(card.cpus > 0).then(|| view! { <dt>"CPU / RAM"</dt><dd>{format!("{} vCPU · {}", card.cpus, format_bytes(card.max_mem))}</dd> })}
                {ip.map(|ip| view! { <dt>"IP"</dt><dd class="ip">{ip}</dd> })}
                {uptime.map(|u| view! { <dt>"Uptime"</dt><dd>{u}</dd> })}
                {card.usage.clone().map(|usage| view! { <UsageLines usage /> })}
            </dl>
            {card.notice.clone().map(|notice| view! {
                <NoticeBanner notice now cluster_id=card.cluster_id vmid=card.vmid still_here=actions.still_here />
            })}
            {card.task_error.clone().map(|e| view! { <p class="form-error" role="alert">{format!("Last action failed: {e}")}</p> })}
            {(state == VmState::Missing).then(|| view! { <p class="empty">"This VM no longer exists in Proxmox. An admin has been told."</p> })}
            {(state == VmState::Unknown).then(|| view! { <p class="empty">"Its node cannot be reached right now."</p> })}
            <div class="actions">
                {buttons}
                // rel=opener: the tab stays in this page's browsing context group, so Chromium
                // opens it in the same renderer instead of starting a process (~60 ms).
                {console.map(|href| view! { <a class="button" href=href target="_blank" rel="opener" data-console="1">"Console"</a> })}
                {terminal.map(|href| view! { <a class="button" href=href target="_blank" rel="opener" data-terminal="1">"Terminal"</a> })}
                {ssh.map(|href| view! { <a class="button" href=href target="_blank" rel="opener" data-ssh="1" title="SSH to the VM through the portal">"SSH"</a> })}
                {rdp.map(|href| view! { <a class="button" href=href download data-rdp="1">"RDP file"</a> })}
                {rdp_closed.then(|| view! { <span class="muted" title="The portal could not reach port 3389 at this address">"RDP port closed"</span> })}
                {card.snapshots.then(|| view! { <a class="button" href=snapshots_url(card.cluster_id, card.vmid) data-snapshots="1">"Snapshots"</a> })}
                {card.hardware.then(|| view! { <a class="button" href=crate::isos::hardware_url(card.cluster_id, card.vmid) data-hardware="1">"Hardware"</a> })}
            </div>
            {card.resettable.then(|| view! {
                <details class="reset">
                    <summary>"Reset to baseline…"</summary>
                    <p>"The VM's disk is re-created from the class baseline: everything saved on it, and its snapshots, are lost. It is stopped first."</p>
                    <ActionForm action=actions.reset attr:class="inline">
                        <input type="hidden" name="cluster_id" value=card.cluster_id />
                        <input type="hidden" name="vmid" value=card.vmid />
                        <button type="submit" class="danger" data-reset="1">"Reset my VM"</button>
                    </ActionForm>
                </details>
            })}
            {admin.then(|| view! { <Owners cluster_id=card.cluster_id vmid=card.vmid owners actions /> })}
        </article>
    }
}

#[component]
fn Owners(cluster_id: i32, vmid: i32, owners: Vec<String>, actions: CardActions) -> impl IntoView {
    let list = owners
        .into_iter()
        .map(|name| {
            view! {
                <li>
                    {name.clone()}
                    <ActionForm action=actions.unassign attr:class="inline">
                        <input type="hidden" name="cluster_id" value=cluster_id />
                        <input type="hidden" name="vmid" value=vmid />
                        <input type="hidden" name="username" value=name.clone() />
                        <button type="submit" class="link" aria-label=format!("Unassign {name}")>"×"</button>
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="owners">
            <ul class="tags">{list}</ul>
            <ActionForm action=actions.assign attr:class="inline assign">
                <input type="hidden" name="cluster_id" value=cluster_id />
                <input type="hidden" name="vmid" value=vmid />
                <label class="visually-hidden" for=format!("assign-{cluster_id}-{vmid}")>"Assign to user"</label>
                <input id=format!("assign-{cluster_id}-{vmid}") name="username" placeholder="assign to username" required size="14" />
                <button type="submit">"Assign"</button>
            </ActionForm>
        </div>
    }
}
