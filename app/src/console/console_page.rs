//! `/console/{cluster}/{vmid}`: the VM's screen in a browser tab. The page checks first
//! (server-rendered): a VM the user may not use says so, a stopped VM offers a start button,
//! an unreachable node says so; otherwise `/console.js` starts noVNC against the portal's
//! WebSocket, with a toolbar (state, reconnect, Ctrl-Alt-Del, full screen, scale, paste).

use super::{ConsoleView as ConsoleData, console_info};
use crate::ids;
use crate::layout::{FormError, RequireRole, action_error};
use crate::vm_actions::PowerVm;
use lab::model::{Role, VmState};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ConsolePage() -> impl IntoView {
    view! {
        <Title text="Console" />
        <CheckedVm kind="console" screen=|info, start| view! { <ConsoleScreen info start /> }.into_any() />
    }
}

/// For signed-in users ([`RequireRole`], made inside: the resource is made above the guard,
/// see its docs): loads the VM for the user (the server checks access), then shows `screen`;
/// or a refusal (`#{kind}-refused`, with the page's status) when the user may not use it.
/// Shared by the console and the terminal pages.
#[component]
pub(super) fn CheckedVm(
    kind: &'static str,
    screen: fn(ConsoleData, ServerAction<PowerVm>) -> AnyView,
) -> impl IntoView {
    let params = use_params_map();
    let ids = move || {
        params.with(|p| {
            (
                p.get("cluster").and_then(|c| c.parse::<i32>().ok()),
                p.get("vmid").and_then(|v| v.parse::<i32>().ok()),
            )
        })
    };
    let start = ServerAction::<PowerVm>::new();
    let info = Resource::new(
        move || (ids(), start.version().get()),
        |((cluster, vmid), _)| async move {
            match (cluster, vmid) {
                (Some(c), Some(v)) => console_info(c, v).await,
                _ => Err(crate::AppError::NotFound("That VM".into())),
            }
        },
    );
    view! {
        <RequireRole role=Role::Student>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(i) => screen(i, start),
                    Err(e) => {
                        #[cfg(feature = "ssr")]
                        crate::session::set_page_status(e.status());
                        view! {
                            <section class="card console-message" id=format!("{kind}-refused")>
                                <h1>{format!("No {kind}")}</h1>
                                <p>{match e {
                                    crate::AppError::NotFound(_) | crate::AppError::Forbidden => "You do not have access to this VM, or it does not exist.".to_string(),
                                    other => other.to_string(),
                                }}</p>
                                <p><a href=ids::ROUTE_HOME>"Back to your VMs"</a></p>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
        </RequireRole>
    }
}

#[component]
fn ConsoleScreen(info: ConsoleData, start: ServerAction<PowerVm>) -> impl IntoView {
    let error = action_error(start);
    let rdp = info
        .ip
        .as_ref()
        .filter(|_| info.has_screen)
        .map(|_| format!("/vm/{}/{}/rdp", info.cluster_id, info.vmid));
    let header = view! {
        <header class="console-header">
            <h1>{info.name.clone()}</h1>
            <span class=format!("badge {}", info.state.css())>{info.state.label()}</span>
            <span class="muted">{format!("VMID {} on {}", info.vmid, info.node)}</span>
            {info.ip.clone().map(|ip| view! { <span class="ip">{ip}</span> })}
            {rdp.map(|href| view! { <a class="button" href=href download>"RDP file"</a> })}
            // A full page load (rel=external): the terminal page's scripts run only then.
            {(info.state == VmState::Running).then(|| view! {
                <a class="button" href=format!("/terminal/{}/{}", info.cluster_id, info.vmid) rel="external" data-terminal="1"
                    title=if info.has_screen { "A text terminal on the VM's serial port (the VM needs one)" } else { "The container's console as a text terminal" }>
                    {if info.has_screen { "Terminal (serial)" } else { "Terminal" }}
                </a>
            })}
        </header>
    };
    let body = match info.state {
        _ if !info.has_screen => view! {
            <section class="card console-message"><p>"Containers have no screen console."</p></section>
        }.into_any(),
        VmState::Stopped => view! {
            <section class="card console-message" id="console-stopped">
                <p>"This VM is stopped. Start it, and its screen appears here."</p>
                <ActionForm action=start>
                    <input type="hidden" name="cluster_id" value=info.cluster_id />
                    <input type="hidden" name="vmid" value=info.vmid />
                    <input type="hidden" name="action" value="start" />
                    <button type="submit">"Start the VM"</button>
                </ActionForm>
                <FormError message=error />
            </section>
        }.into_any(),
        VmState::Unknown | VmState::Missing => view! {
            <section class="card console-message" id="console-unreachable">
                <p>"The VM's node cannot be reached right now. Try again in a moment."</p>
            </section>
        }.into_any(),
        _ => view! {
            <div class="console-toolbar" role="toolbar" aria-label="Console">
                <span id="console-state" role="status" data-state="connecting">"Connecting…"</span>
                <button type="button" id="console-reconnect">"Reconnect"</button>
                <button type="button" id="console-cad">"Ctrl+Alt+Del"</button>
                <button type="button" id="console-fullscreen">"Full screen"</button>
                <label><input type="checkbox" id="console-scale" checked />" Scale to window"</label>
                <form id="console-paste" class="inline">
                    <label for="console-paste-text" class="visually-hidden">"Text to type into the VM"</label>
                    <input id="console-paste-text" placeholder="Text to type into the VM" autocomplete="off" />
                    <button type="submit">"Type it"</button>
                </form>
            </div>
            <crate::policies::TabNotice cluster_id=info.cluster_id vmid=info.vmid />
            <div id="console-screen" data-ws=format!("/ws/console/{}/{}", info.cluster_id, info.vmid)></div>
            // Fetched alongside console.js rather than after it has been parsed.
            <link rel="modulepreload" href="/vendor/novnc/rfb.bundle.js" />
            <script type="module" src="/console.js"></script>
        }.into_any(),
    };
    view! { <div class="console-page">{header}{body}</div> }
}
