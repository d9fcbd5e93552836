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
    view! {
        <Title text="New class" />
        <RequireRole role=Role::Teacher>
            <Wizard />
        </RequireRole>
    }
}

#[component]
fn Wizard() -> impl IntoView {
    let choices = Resource::new(|| (), |_| wizard_choices());
    let plan = ServerAction::<PlanClass>::new();
    let launch = ServerAction::<LaunchClass>::new();
    let plan_error = action_error(plan);
    let launch_error = action_error(launch);
    view! {
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
        {move || plan.value().get().and_then(Result::ok).map(|(form, p)| view! { <Review form p launch /> })}
        <FormError message=launch_error />
    }
}

#[component]
fn Review(form: ClassForm, p: ClassPlan, launch: ServerAction<LaunchClass>) -> impl IntoView {
    let blocked = !p.blockers.is_empty();
    let nodes = p
        .nodes
        .iter()
        .map(|(n, c)| format!("{n}: {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let hidden = [
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
    ]
    .into_iter()
    .map(|(k, v)| view! { <input type="hidden" name=format!("form[{k}]") value=v /> })
    .collect_view();
    view! {
        <section class="card review" id="class-review">
            <h2>"6. Review"</h2>
            <dl class="facts">
                <dt>"VMIDs"</dt><dd>{format!("{} teacher, {}–{} students, {} class base", p.vmid_base, p.vmid_base + 1, p.vmid_base + p.students as i32, p.vmid_base + 99)}</dd>
                <dt>"Nodes"</dt><dd>{nodes}</dd>
                <dt>"Each VM"</dt><dd>{format!("{} vCPU, {} MiB{}{}", p.cores, p.memory_mb, if p.efi { ", UEFI" } else { "" }, if p.tpm { ", TPM" } else { "" })}</dd>
                <dt>"Storage"</dt><dd>{format!("{}: needs about {}, {} free", p.storage, format_bytes(p.space_bytes), format_bytes(p.storage_avail))}</dd>
                <dt>"Made as"</dt><dd id="plan-method">{p.method.map(|m| m.label()).unwrap_or("—")}<br /><small class="muted">{p.method_reason.clone()}</small></dd>
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
