//! `/vms/:cluster/:vmid/hardware`: a built VM's cores and memory, its disk (grow), its CD
//! drive (an ISO its node can read, or empty) and "make it a template" for classes. Reached
//! drive (an ISO its node can read, or empty), its network cards (add, change the model or
//! bridge, remove) and "make it a template" for classes. Reached from the VM's card;
//! `lab::builder::hardware` checks who may. Plain forms.

use super::{GrowVmDisk, MakeVmTemplate, RemoveVmNic, SetVmCd, SetVmNic, SetVmSize, load_hardware};
use crate::ids;
use crate::layout::{FormError, RequireRole, action_error, vm_page_refused, vm_route};
use lab::model::{BUILD_CORES, BUILD_MEMORY_MIB, HardwareView, MAX_NICS, NIC_MODELS, Nic, Role};
use leptos::prelude::*;
use leptos_meta::Title;

#[derive(Clone, Copy)]
struct Actions {
    size: ServerAction<SetVmSize>,
    grow: ServerAction<GrowVmDisk>,
    cd: ServerAction<SetVmCd>,
    template: ServerAction<MakeVmTemplate>,
    nic: ServerAction<SetVmNic>,
    nic_remove: ServerAction<RemoveVmNic>,
}

/// The hardware page of a VM.
pub fn hardware_url(cluster_id: i32, vmid: i32) -> String {
    format!("/vms/{cluster_id}/{vmid}/hardware")
}

#[component]
pub fn HardwarePage() -> impl IntoView {
    let ids = vm_route();
    let a = Actions {
        size: ServerAction::new(),
        grow: ServerAction::new(),
        cd: ServerAction::new(),
        template: ServerAction::new(),
        nic: ServerAction::new(),
        nic_remove: ServerAction::new(),
    };
    let page = Resource::new(
        move || {
            (
                ids(),
                a.size.version().get(),
                a.grow.version().get(),
                a.cd.version().get(),
                a.nic.version().get() + a.nic_remove.version().get(),
            )
        },
        |((cluster, vmid), ..)| async move {
            match (cluster, vmid) {
                (Some(c), Some(v)) => load_hardware(c, v).await,
                _ => Err(crate::AppError::NotFound("That VM".into())),
            }
        },
    );
    let error = Signal::derive({
        let errors = [
            action_error(a.size),
            action_error(a.grow),
            action_error(a.cd),
            action_error(a.template),
            action_error(a.nic),
            action_error(a.nic_remove),
        ];
        move || errors.iter().find_map(|e| e.get())
    });
    view! {
        <Title text="VM hardware" />
        <RequireRole role=Role::Teacher>
            <FormError message=error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(h) => view! { <Body h a /> }.into_any(),
                        Err(e) => vm_page_refused(e, "hardware-refused", "No hardware page",
                            "You cannot change this VM's hardware here, or it does not exist. Class VMs change through their class."),
                    }
                })}
            </Transition>
        </RequireRole>
    }
}

#[component]
fn Body(h: HardwareView, a: Actions) -> impl IntoView {
    let (cluster_id, vmid) = (h.cluster_id, h.vmid);
    let when = if h.running {
        "Changes to cores and memory apply at the next start (the VM runs now)."
    } else {
        ""
    };
    let cd_now = match &h.cdrom {
        Some(v) => format!("In the drive: {}", lab::model::iso_file_name(v)),
        None => "The drive is empty.".to_string(),
    };
    let current = h.cdrom.clone().unwrap_or_default();
    view! {
        <div class="page-head"><h1>{format!("Hardware of {}", h.name)}</h1></div>
        <p class="muted">{format!("VM {} on {} · {}. ", h.vmid, h.node, h.cluster)}<a href=ids::ROUTE_HOME>"Back to your VMs"</a></p>
        <section class="card" id="hardware-size">
            <h2>"CPU and memory"</h2>
            {(!when.is_empty()).then(|| view! { <p class="muted">{when}</p> })}
            <ActionForm action=a.size attr:class="stacked">
                <input type="hidden" name="cluster_id" value=cluster_id />
                <input type="hidden" name="vmid" value=vmid />
                <div class="build-sizes">
                    <label>"CPU cores" <input name="cores" id="hw-cores" type="number" required min=*BUILD_CORES.start() max=*BUILD_CORES.end() value=h.cores /></label>
                    <label>"Memory (MiB)" <input name="memory_mib" id="hw-memory" type="number" required step="256" min=*BUILD_MEMORY_MIB.start() max=*BUILD_MEMORY_MIB.end() value=h.memory_mib /></label>
                </div>
                <button type="submit" id="hw-size-save">"Save"</button>
            </ActionForm>
        </section>
        <section class="card" id="hardware-disk">
            <h2>"Disk"</h2>
            <p>{format!("The system disk has {} GiB. A disk grows; it never shrinks (the system inside must then use the new space).", h.disk_gib)}</p>
            <ActionForm action=a.grow attr:class="inline">
                <input type="hidden" name="cluster_id" value=cluster_id />
                <input type="hidden" name="vmid" value=vmid />
                <label>"Add (GiB)" <input name="add_gib" id="hw-grow" type="number" required min="1" max="1024" value="8" /></label>
                <button type="submit" id="hw-grow-button">"Grow"</button>
            </ActionForm>
        </section>
        <section class="card" id="hardware-cd">
            <h2>"CD drive"</h2>
            <p id="hw-cd-now">{cd_now}</p>
            <ActionForm action=a.cd attr:class="inline">
                <input type="hidden" name="cluster_id" value=cluster_id />
                <input type="hidden" name="vmid" value=vmid />
                <label>"ISO"
                    <select name="iso" id="hw-cd">
                        <option value="">"Empty (eject)"</option>
                        {h.isos.iter().cloned().map(|(v, n)| { let selected = v == current; view! { <option value=v selected=selected>{n}</option> } }).collect_view()}
                    </select>
                </label>
                <button type="submit" id="hw-cd-button">"Change"</button>
            </ActionForm>
        </section>
        <NetworkCard nics=h.nics.clone() bridges=h.bridges.clone() cluster_id vmid a />
        <section class="card" id="hardware-template">
            <h2>"Make it a template"</h2>
            <p>"When the system is installed and set up, shut the VM down and make it a template: classes are made from templates. A template cannot start or change any more."</p>
            <details class="confirm">
                <summary>"Make a template…"</summary>
                <ActionForm action=a.template attr:class="inline">
                    <input type="hidden" name="cluster_id" value=cluster_id />
                    <input type="hidden" name="vmid" value=vmid />
                    <button type="submit" class="danger" id="hw-template" disabled=h.running>{format!("Make {} a template", h.name)}</button>
                </ActionForm>
            </details>
        </section>
    }
}

/// The VM's network cards: each with its model and bridge (change, remove), and one more.
#[component]
fn NetworkCard(
    nics: Vec<Nic>,
    bridges: Vec<String>,
    cluster_id: i32,
    vmid: i32,
    a: Actions,
) -> impl IntoView {
    let full = nics.len() >= MAX_NICS;
    let options = move |chosen_model: String, chosen_bridge: String| {
        let models = NIC_MODELS
            .iter()
            .map(|(m, label)| view! { <option value=*m selected=*m == chosen_model>{*label}</option> })
            .collect_view();
        let bridges = bridges
            .clone()
            .into_iter()
            .map(|b| {
                let selected = b == chosen_bridge;
                let label = b.clone();
                view! { <option value=b selected=selected>{label}</option> }
            })
            .collect_view();
        view! {
            <label>"Model" <select name="model">{models}</select></label>
            <label>"Bridge" <select name="bridge" required>{bridges}</select></label>
        }
    };
    let rows = nics
        .into_iter()
        .map(|n| {
            let (key, key2, key3) = (n.key.clone(), n.key.clone(), n.key.clone());
            let fields = options(n.model.clone(), n.bridge.clone());
            view! {
                <li class="nic" data-nic=n.key.clone()>
                    <strong>{n.key.clone()}</strong>
                    <ActionForm action=a.nic attr:class="inline">
                        <input type="hidden" name="cluster_id" value=cluster_id />
                        <input type="hidden" name="vmid" value=vmid />
                        <input type="hidden" name="key" value=key />
                        {fields}
                        <button type="submit" class="small">"Save"</button>
                    </ActionForm>
                    <ActionForm action=a.nic_remove attr:class="inline">
                        <input type="hidden" name="cluster_id" value=cluster_id />
                        <input type="hidden" name="vmid" value=vmid />
                        <input type="hidden" name="key" value=key2 />
                        <button type="submit" class="small danger" data-remove=key3>"Remove"</button>
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    let add = options("virtio".into(), String::new());
    view! {
        <section class="card" id="hardware-network">
            <h2>"Network"</h2>
            <p class="muted">"Each card is on one of the node's bridges. VirtIO is the fastest (Windows needs the VirtIO drivers); Intel E1000 works in any system. A running VM gets a change at once; the system inside may need to bring the card up."</p>
            <ul class="plain nics">{rows}</ul>
            {(!full).then(|| view! {
                <ActionForm action=a.nic attr:class="inline" attr:id="hw-nic-add">
                    <input type="hidden" name="cluster_id" value=cluster_id />
                    <input type="hidden" name="vmid" value=vmid />
                    {add}
                    <button type="submit" id="hw-nic-add-button">"Add a network card"</button>
                </ActionForm>
            })}
        </section>
    }
    .into_any()
}
