//! `/vms/new`: a new VM from an ISO. Every choice is a list read from the cluster by the
//! sync (nodes, their storages and bridges, the ISOs); the server checks the choices belong
//! together (a storage and bridge of the chosen node, an ISO it can read). A plain form, so
//! it works before the wasm loads; once made, the VM is the person's and they land on its
//! console to install.

use super::{BuildVm, CopyTemplate, load_build_options};
use crate::ids;
use crate::layout::{FormError, RequireRole, action_error};
use lab::model::{
    BUILD_CORES, BUILD_DISK_GIB, BUILD_MEMORY_MIB, BuildIso, BuildPage as Options, OsKind, Role,
    format_bytes,
};
use leptos::prelude::*;
use leptos_meta::Title;
use std::collections::BTreeMap;

#[component]
pub fn BuildPage() -> impl IntoView {
    let build = ServerAction::<BuildVm>::new();
    let copy = ServerAction::<CopyTemplate>::new();
    let options = Resource::new(|| (), |_| load_build_options());
    let error = Signal::derive({
        let errors = [action_error(build), action_error(copy)];
        move || errors.iter().find_map(|e| e.get())
    });
    view! {
        <Title text="New VM from an ISO" />
        <RequireRole role=Role::Teacher>
            <div class="page-head"><h1>"New VM from an ISO"</h1></div>
            <p class="muted">"The VM is yours once made: it is on your VMs page, and if you start it you land on its console to install the system. "
                <a href=ids::ROUTE_ISOS>"ISO images"</a></p>
            <FormError message=error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match options.await {
                        Ok(o) if o.nodes.is_empty() => view! {
                            <p class="empty" id="build-none">"No node is open to you for building VMs. Admins build on every cluster; teachers on the clusters whose settings allow it: ask an admin to allow it on yours."</p>
                        }.into_any(),
                        Ok(o) => {
                            let templates = o.templates.clone();
                            let form = if o.isos.is_empty() {
                                view! {
                                    <p class="empty" id="build-no-isos">"There is no ISO image yet. "<a href=ids::ROUTE_ISOS>"Add one"</a>" first."</p>
                                }.into_any()
                            } else {
                                view! { <BuildForm o action=build /> }.into_any()
                            };
                            view! { {form} <CopyForm templates action=copy /> }.into_any()
                        }
                        Err(e) => crate::layout::load_failed(e),
                    }
                })}
            </Transition>
        </RequireRole>
    }
}

/// One entry per ISO volid (a node-local ISO may be on several nodes' `local`).
fn iso_choices(
    isos: &[BuildIso],
    several_clusters: bool,
    clusters: &BTreeMap<i32, String>,
) -> Vec<(String, String)> {
    let mut by_volid: BTreeMap<(i32, String), (String, Vec<String>, bool)> = BTreeMap::new();
    for i in isos {
        let entry = by_volid
            .entry((i.cluster_id, i.volid.clone()))
            .or_insert_with(|| (i.name.clone(), Vec::new(), false));
        match &i.node {
            Some(n) => entry.1.push(n.clone()),
            None => entry.2 = true,
        }
    }
    by_volid
        .into_iter()
        .map(|((cluster_id, volid), (name, nodes, shared))| {
            let storage = volid.split(':').next().unwrap_or_default().to_string();
            let place = if shared {
                format!("{storage}, shared")
            } else {
                format!("{storage} on {}", nodes.join(", "))
            };
            let cluster = if several_clusters {
                format!(
                    "{} · ",
                    clusters.get(&cluster_id).cloned().unwrap_or_default()
                )
            } else {
                String::new()
            };
            (volid, format!("{cluster}{name} ({place})"))
        })
        .collect()
}

#[component]
fn BuildForm(o: Options, action: ServerAction<BuildVm>) -> impl IntoView {
    let clusters: BTreeMap<i32, String> = o
        .nodes
        .iter()
        .map(|n| (n.cluster_id, n.cluster.clone()))
        .collect();
    let several = clusters.len() > 1;
    let targets: Vec<(String, String)> = o
        .nodes
        .iter()
        .map(|n| {
            (
                format!("{}/{}", n.cluster_id, n.node),
                if several {
                    format!("{} · {}", n.cluster, n.node)
                } else {
                    n.node.clone()
                },
            )
        })
        .collect();
    // Storages and bridges by name, with the nodes that have them (the server checks the
    // pair; the label says where each is).
    let mut storages: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut bridges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in &o.nodes {
        for (s, free) in &n.storages {
            storages.entry(s.clone()).or_default().push(format!(
                "{} {} free",
                n.node,
                format_bytes(*free)
            ));
        }
        for b in &n.bridges {
            bridges.entry(b.clone()).or_default().push(n.node.clone());
        }
    }
    let isos = iso_choices(&o.isos, several, &clusters);
    let drivers = isos.clone();
    let default_iso = isos.first().map(|(v, _)| v.clone()).unwrap_or_default();
    view! {
        <section class="card">
            <ActionForm action=action attr:class="stacked" attr:id="build-form">
                <label>"Node"
                    <select name="form[target]" id="build-target" required>
                        {targets.into_iter().map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Name" <input name="form[name]" id="build-name" required maxlength="60" pattern="[A-Za-z0-9]([A-Za-z0-9.\\-]*[A-Za-z0-9])?" placeholder="win11-lab-base" /></label>
                <fieldset>
                    <legend>"Operating system"</legend>
                    {OsKind::ALL.into_iter().map(|k| view! {
                        <label class="os-choice">
                            <input type="radio" name="form[os]" value=k.as_str() checked=k == OsKind::Linux />
                            " "<strong>{k.label()}</strong>
                            <span class="hint">{format!(" {}", k.explain())}</span>
                        </label>
                    }).collect_view()}
                </fieldset>
                <div class="build-sizes">
                    <label>"CPU cores" <input name="form[cores]" id="build-cores" type="number" required min=*BUILD_CORES.start() max=*BUILD_CORES.end() value="2" /></label>
                    <label>"Memory (MiB)" <input name="form[memory_mib]" id="build-memory" type="number" required step="256" min=*BUILD_MEMORY_MIB.start() max=*BUILD_MEMORY_MIB.end() value="4096" /></label>
                    <label>"Disk (GiB)" <input name="form[disk_gib]" id="build-disk" type="number" required min=*BUILD_DISK_GIB.start() max=*BUILD_DISK_GIB.end() value="32" /></label>
                </div>
                <label>"Disk storage"
                    <select name="form[storage]" id="build-storage" required>
                        {storages.into_iter().map(|(s, on)| {
                            let label = format!("{s} ({})", on.join("; "));
                            view! { <option value=s>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Network bridge"
                    <select name="form[bridge]" id="build-bridge" required>
                        {bridges.into_iter().map(|(b, on)| {
                            let label = format!("{b} (on {})", on.join(", "));
                            view! { <option value=b>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Install ISO"
                    <select name="form[iso]" id="build-iso" required>
                        {isos.into_iter().map(|(v, l)| { let selected = v == default_iso; view! { <option value=v selected=selected>{l}</option> } }).collect_view()}
                    </select>
                </label>
                <label>"VirtIO drivers ISO (Windows; optional)"
                    <select name="form[drivers_iso]" id="build-drivers">
                        <option value="">"None"</option>
                        {drivers.into_iter().map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
                    </select>
                </label>
                <label><input type="checkbox" name="form[start]" id="build-start" checked=true />" Start it and open its console"</label>
                <button type="submit" id="build-button">"Create VM"</button>
            </ActionForm>
            {move || action.pending().get().then(|| view! { <p class="notice" role="status">"Proxmox is making the VM…"</p> })}
        </section>
    }
}

/// "Copy a template": a full copy to change, then make a template again (next term's base).
#[component]
fn CopyForm(templates: Vec<(String, String)>, action: ServerAction<CopyTemplate>) -> impl IntoView {
    (!templates.is_empty()).then(|| view! {
        <section class="card" id="copy-template">
            <h2>"Or copy a template"</h2>
            <p class="muted">"A full copy of a template as a new VM of yours, on the template's node and storage: change it, then make it a template again. The template and its classes stay as they are."</p>
            <ActionForm action=action attr:class="stacked">
                <label>"Template"
                    <select name="template" id="copy-source" required>
                        {templates.into_iter().map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Name of the copy" <input name="name" id="copy-name" required maxlength="60" pattern="[A-Za-z0-9]([A-Za-z0-9.\\-]*[A-Za-z0-9])?" /></label>
                <button type="submit" id="copy-button">"Copy"</button>
            </ActionForm>
            {move || action.pending().get().then(|| view! { <p class="notice" role="status">"Proxmox is copying the template…"</p> })}
        </section>
    })
}
