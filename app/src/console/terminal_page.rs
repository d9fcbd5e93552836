//! `/terminal/{cluster}/{vmid}`: a text terminal in a browser tab (xterm.js, npm
//! `@xterm/xterm`, served from `/vendor/xterm`). For a VM it is the VM's serial port, through
//! Proxmox's `termproxy`; for a container, its console. The same checks as the console page
//! first (server-rendered): no access, a stopped VM (with a start button), an unreachable
//! node; otherwise `/terminal.js` connects to the portal's `/ws/terminal/…`.
//!
//! `/ssh/{cluster}/{vmid}` is the same page in SSH mode: `/terminal.js` connects to
//! `/ws/ssh/…` instead, where the portal asks for a login and a password in the terminal and
//! opens SSH to the VM's own IP (for classes whose teacher enabled it).

use super::ConsoleView;
use super::console_page::CheckedVm;
use crate::layout::{FormError, action_error};
use crate::vm_actions::PowerVm;
use lab::model::VmState;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TerminalPage() -> impl IntoView {
    view! {
        <Title text="Terminal" />
        <CheckedVm kind="terminal" screen=|info, start| view! { <TerminalScreen info start ssh=false /> }.into_any() />
    }
}

/// The terminal page in SSH mode.
#[component]
pub fn SshPage() -> impl IntoView {
    view! {
        <Title text="SSH" />
        <CheckedVm kind="terminal" screen=|info, start| view! { <TerminalScreen info start ssh=true /> }.into_any() />
    }
}

#[component]
fn TerminalScreen(info: ConsoleView, start: ServerAction<PowerVm>, ssh: bool) -> impl IntoView {
    let socket = if ssh { "ssh" } else { "terminal" };
    let error = action_error(start);
    let console = info
        .has_screen
        .then(|| format!("/console/{}/{}", info.cluster_id, info.vmid));
    let header = view! {
        <header class="console-header">
            <h1>{info.name.clone()}</h1>
            <span class=format!("badge {}", info.state.css())>{info.state.label()}</span>
            <span class="muted">{format!("VMID {} on {}", info.vmid, info.node)}</span>
            {info.ip.clone().map(|ip| view! { <span class="ip">{ip}</span> })}
        </header>
    };
    let body = match info.state {
        VmState::Stopped => view! {
            <section class="card console-message" id="terminal-stopped">
                <p>"This VM is stopped. Start it, and its terminal opens here."</p>
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
            <section class="card console-message" id="terminal-unreachable">
                <p>"The VM's node cannot be reached right now. Try again in a moment."</p>
            </section>
        }.into_any(),
        _ => view! {
            <div class="console-toolbar" role="toolbar" aria-label="Terminal" data-mode=socket>
                <span id="terminal-state" role="status" data-state="connecting">"Connecting…"</span>
                <button type="button" id="terminal-reconnect">"Reconnect"</button>
                <button type="button" id="terminal-fullscreen">"Full screen"</button>
                {console.map(|href| view! { <a class="button" href=href rel="external">"Screen console"</a> })}
            </div>
            // Shown by terminal.js when the connection fails or ends at once.
            <section class="card console-message" id="terminal-help" hidden>
                {if ssh {
                    view! { <p>"The SSH connection could not be made, or it closed right away. SSH through the portal must be enabled for the class, the VM needs a known IP address and an SSH server on port 22. Try Reconnect in a moment."</p> }.into_any()
                } else if info.has_screen {
                    view! {
                        <p>"The terminal could not connect, or it closed right away. A VM's terminal is its "
                           <strong>"serial port"</strong>
                           ": the VM needs one (in Proxmox: Hardware, Add, Serial Port; or "
                           <code>{format!("qm set {} -serial0 socket", info.vmid)}</code>
                           "), and its system must offer a login on it (Linux: "
                           <code>"systemctl enable --now serial-getty@ttyS0"</code>
                           "). Ask your teacher, or use the screen console meanwhile."</p>
                    }.into_any()
                } else {
                    view! { <p>"The terminal could not connect, or it closed right away. Try Reconnect in a moment."</p> }.into_any()
                }}
            </section>
            <crate::policies::TabNotice cluster_id=info.cluster_id vmid=info.vmid />
            <div id="terminal-screen" data-ws=format!("/ws/{socket}/{}/{}", info.cluster_id, info.vmid)></div>
            <link rel="stylesheet" href="/vendor/xterm/xterm.css" />
            <script type="module" src="/terminal.js"></script>
        }.into_any(),
    };
    view! { <div class="console-page">{header}{body}</div> }
}
