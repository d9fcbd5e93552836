//! The class wizard: name → template (or empty VMs) → size and specs → placement → invite →
//! review. Review asks the server for the plan (VMID block, nodes, storage, space, and the
//! reasons a plan cannot run); Launch sends the reviewed form and opens the class page,
//! where progress shows live.

use super::{LaunchClass, PlanClass, wizard_choices};
use crate::layout::{FormError, RequireRole, action_error};
use lab::model::{ClassForm, ClassPlan, MAX_STUDENTS, Role, format_bytes};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn WizardPage() -> impl IntoView {
    let choices = Resource::new(|| (), |_| wizard_choices());
    let plan = ServerAction::<PlanClass>::new();
    let launch = ServerAction::<LaunchClass>::new();
    let plan_error = action_error(plan);
    // The box follows the last plan, also when the review's button planned the other way.
    let base_per_node = move || {
        plan.value()
            .get()
            .and_then(Result::ok)
            .is_some_and(|(form, _)| !form.base_per_node.is_empty())
    };
    let launch_error = action_error(launch);
    view! {
        <Title text="New class" />
        <RequireRole role=Role::Teacher>
            <h1>"New class"</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let (templates, clusters) = match choices.await {
                        Ok(c) => c,
                        Err(e) => return view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    };
                    if clusters.is_empty() {
                        return view! { <p class="empty">"No cluster is connected yet; an admin adds one under Clusters."</p> }.into_any();
                    }
                    let cluster_options = clusters.iter().map(|(id, name, _)| view! { <option value=*id>{name.clone()}</option> }).collect_view();
                    let template_options = templates.iter().map(|t| {
                        let extra = [t.firmware.clone(), t.storage.clone().map(|s| format!("on {s}"))].into_iter().flatten().collect::<Vec<_>>().join(" · ");
                        let label = format!("{} (VM {}, {} · {} vCPU · {} RAM · {} disk{}{})", t.name, t.vmid, t.cluster, t.cores, format_bytes(t.memory), format_bytes(t.disk), if extra.is_empty() { "" } else { " · " }, extra);
                        view! { <option value=t.vmid.to_string() data-cluster=t.cluster_id>{label}</option> }
                    }).collect_view();
                    let node_options = clusters.iter().flat_map(|(_, name, nodes)| nodes.iter().map(move |n| view! { <option value=n.clone()>{format!("{n} ({name})")}</option> })).collect_view();
                    view! {
                        <ActionForm action=plan attr:class="card wizard" attr:id="class-wizard">
                            <fieldset>
                                <legend>"1. Name"</legend>
                                <label>"Class name" <input name="form[name]" required maxlength="80" placeholder="e.g. Networking 101" /></label>
                                <label>"Description" <textarea name="form[description]" rows="2" maxlength="2000"></textarea></label>
                            </fieldset>
                            <fieldset>
                                <legend>"2. Template"</legend>
                                <label>"Cluster" <select name="form[cluster_id]">{cluster_options}</select></label>
                                <label>"Template VM"
                                    <select name="form[template_vmid]" id="template-select">
                                        {template_options}
                                        <option value="">"No template: empty VMs"</option>
                                    </select>
                                </label>
                            </fieldset>
                            <fieldset>
                                <legend>"3. Size and specs"</legend>
                                <label>{format!("Student VMs (1–{MAX_STUDENTS})")} <input name="form[students]" type="number" min="1" max=MAX_STUDENTS required value="10" /></label>
                                <label>"CPU cores (empty: the template's)" <input name="form[cores]" type="number" min="1" max="64" /></label>
                                <label>"Memory in MiB (empty: the template's)" <input name="form[memory_mb]" type="number" min="256" step="256" /></label>
                                <label>"Disk in GiB (only for empty VMs)" <input name="form[disk_gb]" type="number" min="1" /></label>
                            </fieldset>
                            <fieldset>
                                <legend>"4. Placement"</legend>
                                <label>"Node"
                                    <select name="form[pinned_node]">
                                        <option value="">"Automatic (by free memory and CPU)"</option>
                                        {node_options}
                                    </select>
                                </label>
                                <label class="check"><input type="checkbox" name="form[base_per_node]" id="base-per-node" prop:checked=base_per_node />
                                    " A copy of the class base on each node (for templates on node-local storage such as local-lvm or local-zfs: lets the class spread over the nodes)"</label>
                            </fieldset>
                            <fieldset>
                                <legend>"5. Invite"</legend>
                                <label>"Invite link expires after (days; empty: never)" <input name="form[invite_days]" type="number" min="1" max="365" value="14" /></label>
                            </fieldset>
                            <FormError message=plan_error />
                            <button type="submit" id="review-class">"Review"</button>
                        </ActionForm>
                    }.into_any()
                })}
            </Transition>
            {move || plan.value().get().and_then(Result::ok).map(|(form, p)| view! { <Review form p plan launch /> })}
            <FormError message=launch_error />
        </RequireRole>
    }
}

#[component]
fn Review(
    form: ClassForm,
    p: ClassPlan,
    plan: ServerAction<PlanClass>,
    launch: ServerAction<LaunchClass>,
) -> impl IntoView {
    let blocked = !p.blockers.is_empty();
    let nodes = p
        .nodes
        .iter()
        .map(|(n, c)| format!("{n}: {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let fields = |base_per_node: String| {
        [
            ("name", form.name.clone()),
            ("description", form.description.clone()),
            ("cluster_id", form.cluster_id.to_string()),
            ("template_vmid", form.template_vmid.clone()),
            ("students", form.students.clone()),
            ("cores", form.cores.clone()),
            ("memory_mb", form.memory_mb.clone()),
            ("disk_gb", form.disk_gb.clone()),
            ("pinned_node", form.pinned_node.clone()),
            ("invite_days", form.invite_days.clone()),
            ("base_per_node", base_per_node),
        ]
        .into_iter()
        .map(|(k, v)| view! { <input type="hidden" name=format!("form[{k}]") value=v /> })
        .collect_view()
    };
    let hidden = fields(form.base_per_node.clone());
    let copies = p.base_copies.len() as i32;
    let vmids = format!(
        "{} teacher, {}–{} students, {} class base{}",
        p.vmid_base,
        p.vmid_base + 1,
        p.vmid_base + p.students as i32,
        p.vmid_base + 99,
        match copies {
            0 => String::new(),
            1 => format!(", {} its copy", p.vmid_base + 98),
            n => format!(", {}–{} its copies", p.vmid_base + 99 - n, p.vmid_base + 98),
        }
    );
    let spread = p.spread.clone().map(|o| {
        let chosen = !p.base_copies.is_empty();
        let toggled = fields(if chosen { String::new() } else { "on".into() });
        let (text, button) = if chosen {
            (
                format!(
                    "A copy of the class base on {} (up to {} each, up to about {} s each to copy over a 1 Gbit/s network, before their students are cloned); the teacher's VM and the class base stay on {}.",
                    p.base_copies.join(", "),
                    format_bytes(o.copy_bytes),
                    o.copy_secs,
                    o.template_node
                ),
                format!("Keep every VM on {}", o.template_node),
            )
        } else {
            (
                format!(
                    "Every VM goes to {}: storage {} is on each node separately, and a linked clone stays on its base's node. To spread the class over {}, each other node first gets a copy of the class base: up to {} each, up to about {} s each over a 1 Gbit/s network.",
                    o.template_node,
                    p.storage,
                    o.nodes.join(", "),
                    format_bytes(o.copy_bytes),
                    o.copy_secs
                ),
                "Review with a copy of the base on each node".to_owned(),
            )
        };
        view! {
            <dt>"Spread"</dt>
            <dd id="plan-spread">{text}
                <ActionForm action=plan attr:class="spread-toggle">
                    {toggled}
                    <button type="submit" id="toggle-spread">{button}</button>
                </ActionForm>
            </dd>
        }
    });
    view! {
        <section class="card review" id="class-review">
            <h2>"6. Review"</h2>
            <dl class="facts">
                <dt>"VMIDs"</dt><dd>{vmids}</dd>
                <dt>"Nodes"</dt><dd>{nodes}</dd>
                <dt>"Each VM"</dt><dd>{format!("{} vCPU, {} MiB{}{}", p.cores, p.memory_mb, if p.efi { ", UEFI" } else { "" }, if p.tpm { ", TPM" } else { "" })}</dd>
                <dt>"Storage"</dt><dd>{format!("{}: needs about {}, {} free", p.storage, format_bytes(p.space_bytes), format_bytes(p.storage_avail))}</dd>
                <dt>"Made as"</dt><dd id="plan-method">{p.method.map(|m| m.label()).unwrap_or("—")}<br /><small class="muted">{p.method_reason.clone()}</small></dd>
                {spread}
            </dl>
            <ul class="warnings">{p.warnings.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
            <ul class="blockers form-error" role="alert">{p.blockers.iter().map(|b| view! { <li>{b.clone()}</li> }).collect_view()}</ul>
            <ActionForm action=launch>
                {hidden}
                <button type="submit" class="primary" id="launch-class" disabled=blocked>"Launch"</button>
            </ActionForm>
        </section>
    }
}
