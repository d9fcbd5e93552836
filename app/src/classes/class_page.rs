//! The class page (teacher, co-owners, admins): deployment progress per VM and overall (from
//! the job rows, so it survives a reload or a server restart), the invite link, the roster
//! with per-VM actions, publish, cancel and delete. Polls every 2 s while a job is active.

use super::{
    AddCoOwner, AddVms, AdoptVms, CancelDeploy, ChangeSpecs, DeleteClass, EditClass, GiveVm,
    PowerClass, PublishClass, RegenerateInvite, RemoveClassVm, RemoveCoOwner, RevokeInvite,
    SetClassSsh, TakeVm, load_class,
};
use crate::layout::{FormError, RequireRole, action_error, poll_while_active};
use crate::snapshots::{SetStudentSnapshots, StudentSnapshotsSetting, snapshots_url};
use crate::vm_actions::{PowerVm, ResetVm};
use lab::model::{ClassDetail, ClassVmView, Role, VmRole, VmStep};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[derive(Clone, Copy)]
struct Actions {
    invite: ServerAction<RegenerateInvite>,
    revoke: ServerAction<RevokeInvite>,
    delete: ServerAction<DeleteClass>,
    publish: ServerAction<PublishClass>,
    cancel: ServerAction<CancelDeploy>,
    reset: ServerAction<ResetVm>,
    power: ServerAction<PowerVm>,
    give: ServerAction<GiveVm>,
    take: ServerAction<TakeVm>,
    remove: ServerAction<RemoveClassVm>,
    add: ServerAction<AddVms>,
    specs: ServerAction<ChangeSpecs>,
    power_all: ServerAction<PowerClass>,
    co_add: ServerAction<AddCoOwner>,
    co_remove: ServerAction<RemoveCoOwner>,
    ssh: ServerAction<SetClassSsh>,
    snapshots: ServerAction<SetStudentSnapshots>,
    edit: ServerAction<EditClass>,
    adopt: ServerAction<AdoptVms>,
}

#[component]
pub fn ClassPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i32>().ok()).unwrap_or(0));
    let a = Actions {
        invite: ServerAction::new(),
        revoke: ServerAction::new(),
        delete: ServerAction::new(),
        publish: ServerAction::new(),
        cancel: ServerAction::new(),
        reset: ServerAction::new(),
        power: ServerAction::new(),
        give: ServerAction::new(),
        take: ServerAction::new(),
        remove: ServerAction::new(),
        add: ServerAction::new(),
        specs: ServerAction::new(),
        power_all: ServerAction::new(),
        co_add: ServerAction::new(),
        co_remove: ServerAction::new(),
        ssh: ServerAction::new(),
        snapshots: ServerAction::new(),
        edit: ServerAction::new(),
        adopt: ServerAction::new(),
    };
    let tick = RwSignal::new(0u32);
    let changes = move || {
        (
            tick.get(),
            a.invite.version().get(),
            a.revoke.version().get(),
            a.delete.version().get(),
            a.publish.version().get(),
            a.cancel.version().get(),
            a.reset.version().get(),
            a.power.version().get(),
            (
                a.give.version().get(),
                a.take.version().get(),
                a.remove.version().get(),
                a.add.version().get(),
                a.specs.version().get(),
                a.power_all.version().get(),
                a.co_add.version().get(),
                a.co_remove.version().get(),
                a.ssh.version().get(),
                a.snapshots.version().get(),
                a.edit.version().get(),
                a.adopt.version().get(),
            ),
        )
    };
    let detail = Resource::new(move || (id(), changes()), |(id, _)| load_class(id));
    let policies = crate::policies::PanelState::new(id);
    let active = RwSignal::new(false);
    poll_while_active(active, tick, std::time::Duration::from_secs(2));
    let error = Signal::derive({
        let errors = [
            action_error(a.invite),
            action_error(a.revoke),
            action_error(a.delete),
            action_error(a.publish),
            action_error(a.cancel),
            action_error(a.reset),
            action_error(a.power),
            action_error(a.give),
            action_error(a.take),
            action_error(a.remove),
            action_error(a.add),
            action_error(a.specs),
            action_error(a.power_all),
            action_error(a.co_add),
            action_error(a.co_remove),
            action_error(a.ssh),
            action_error(a.snapshots),
            action_error(a.edit),
            action_error(a.adopt),
        ];
        move || errors.iter().find_map(|e| e.get())
    });
    view! {
        <Title text="Class" />
        <RequireRole role=Role::Teacher>
            <FormError message=error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(d) => {
                            active.try_set(d.progress.active);
                            // Each part erased on its own: the two as one view type overflow
                            // rustc's query depth in the release wasm build (which has no
                            // erase_components).
                            let body = view! { <ClassBody d=d.clone() a /> }.into_any();
                            let settings = view! { <ClassSettings d a /> }.into_any();
                            view! { {body} {settings} }.into_any()
                        }
                        // Another teacher's class or no class: the page says so with its status
                        // too (404), not only in words.
                        Err(e) => crate::layout::load_failed(e),
                    }
                })}
            </Transition>
            // Its own resource, beside (not inside) the class's: a resource made inside another
            // one's Suspend does not hydrate. The class's resource is read in one Suspend only: a
            // resource read in two can leave one waiting for ever in Leptos 0.8's server
            // rendering (leptos-rs/leptos#4851).
            <crate::policies::PoliciesPanel state=policies class_id=id() />
        </RequireRole>
    }
}

fn eta_text(secs: Option<i64>) -> String {
    match secs {
        Some(s) if s >= 60 => format!("about {} min left", (s + 59) / 60),
        Some(s) => format!("about {s} s left"),
        None => String::new(),
    }
}

#[component]
fn ClassBody(d: ClassDetail, a: Actions) -> impl IntoView {
    let id = d.summary.id;
    let p = d.progress.clone();
    let percent = p.percent();
    let status = if p.active {
        format!(
            "{}: {} of {} VMs ready{}",
            p.job.map(|k| k.as_str()).unwrap_or_default(),
            p.done,
            p.total,
            match eta_text(p.eta_secs) {
                t if t.is_empty() => String::new(),
                t => format!(", {t}"),
            }
        )
    } else {
        format!(
            "{} of {} VMs ready{}",
            p.done,
            p.total,
            if p.failed > 0 {
                format!(", {} failed or cancelled", p.failed)
            } else {
                String::new()
            }
        )
    };
    let join_path = d.invite_token.clone().map(|t| format!("/join/{t}"));
    view! {
        <div class="page-head">
            <h1>{d.summary.name.clone()}</h1>
            <span class="class-state" id="class-state">{d.summary.state.clone()}</span>
            <a class="button small" href=format!("/classes/{id}/about") id="class-student-view">"Student view"</a>
        </div>
        {(!d.summary.description.is_empty()).then(|| view! { <p class="muted">{d.summary.description.clone()}</p> })}
        <section class="card" id="class-progress" data-percent=percent data-active=p.active.to_string()>
            <progress max="100" value=percent>{format!("{percent} %")}</progress>
            <p role="status">{status}</p>
            {p.last_error.clone().map(|e| view! { <p class="form-error">{e}</p> })}
            {p.active.then(|| view! {
                <ActionForm action=a.cancel attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <button type="submit">"Cancel deployment"</button>
                </ActionForm>
            })}
        </section>
        <section class="card">
            <h2>"Invite"</h2>
            {match join_path {
                Some(path) => view! {
                    <p>"Students open this link, sign in or create an account, and get a VM:"</p>
                    <input readonly class="invite-link" id="invite-link" value=invite_url(&path) />
                    <p class="muted">{match d.invite_expires_at {
                        Some(t) => format!("Expires in {} day(s).", ((t - d.now) / 86_400).max(0)),
                        None => "Never expires.".into(),
                    }}</p>
                }.into_any(),
                None => view! { <p class="muted">"No invite link (revoked). Make a new one to let students join."</p> }.into_any(),
            }}
            <ActionForm action=a.invite attr:class="inline">
                <input type="hidden" name="id" value=id />
                <label>"Expires after (days; empty: never)" <input name="days" type="number" min="1" max="365" value="14" /></label>
                <button type="submit">"New link"</button>
            </ActionForm>
            <ActionForm action=a.revoke attr:class="inline">
                <input type="hidden" name="id" value=id />
                <button type="submit">"Revoke link"</button>
            </ActionForm>
        </section>
        {(!d.waiting.is_empty()).then(|| {
            let n = d.waiting.len();
            view! {
                <section class="card" id="class-waiting" data-waiting=n>
                    <h2>{format!("Waiting list ({n})")}</h2>
                    <p class="muted">"These students opened the invite when the class was full. Each gets the next VM that becomes free or that you add, in this order."</p>
                    <ol>
                        {d.waiting.iter().map(|(username, name, since)| view! {
                            <li>{if name.trim().is_empty() { username.clone() } else { format!("{name} ({username})") }}
                                " · " <span class="muted">{format!("since {}", crate::when::format_time(*since))}</span></li>
                        }).collect_view()}
                    </ol>
                    <ActionForm action=a.add attr:class="inline">
                        <input type="hidden" name="id" value=id />
                        <input type="hidden" name="count" value=n />
                        <button type="submit" class="primary" id="add-for-waiting">{format!("Add {n} VM(s) for them")}</button>
                    </ActionForm>
                </section>
            }
        })}
        <section class="card">
            <h2>{format!("Roster ({} of {} students)", d.summary.enrolled, d.summary.students)}</h2>
            <Roster vms=d.vms.clone() cluster_id=d.cluster_id class_id=id a />
            <div class="bulk">
                <ActionForm action=a.power_all attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="action" value="start" />
                    <button type="submit">"Start all student VMs"</button>
                </ActionForm>
                <ActionForm action=a.power_all attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="action" value="shutdown" />
                    <button type="submit">"Shut down all student VMs"</button>
                </ActionForm>
                <ActionForm action=a.add attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <label>"Add VMs" <input name="count" type="number" min="1" max="98" value="1" /></label>
                    <button type="submit">"Add"</button>
                </ActionForm>
            </div>
        </section>
        <section class="card">
            <h2>"Teachers"</h2>
            <p>{format!("Owner: {}", d.summary.owner)}</p>
            <ul class="co-owners">
                {d.co_owners.clone().into_iter().map(|u| view! {
                    <li>
                        {u.clone()}
                        <ActionForm action=a.co_remove attr:class="inline">
                            <input type="hidden" name="id" value=id />
                            <input type="hidden" name="username" value=u.clone() />
                            <button type="submit">"Remove"</button>
                        </ActionForm>
                    </li>
                }).collect_view()}
            </ul>
            <ActionForm action=a.co_add attr:class="inline">
                <input type="hidden" name="id" value=id />
                <label>"Add a co-owner (teacher's username)" <input name="username" required /></label>
                <button type="submit">"Add"</button>
            </ActionForm>
        </section>
    }
}

/// The class's settings below the Policies section: SSH, snapshots, CPU and memory,
/// publish, delete.
#[component]
fn ClassSettings(d: ClassDetail, a: Actions) -> impl IntoView {
    let id = d.summary.id;
    view! {
        <section class="card" id="class-edit">
            <h2>"Name, description and invite"</h2>
            <ActionForm action=a.edit attr:class="stacked">
                <input type="hidden" name="id" value=id />
                <label>"Class name"
                    <input name="form[name]" required maxlength="80" value=d.summary.name.clone() />
                </label>
                <label>"Description (students see it)"
                    <textarea name="form[description]" maxlength="2000" rows="3">{d.summary.description.clone()}</textarea>
                </label>
                <label>"Invite link expires in (days; empty: never)"
                    <input name="form[invite_days]" type="number" min="1" max="365"
                        value=d.invite_days_left.map(|n| n.max(1).to_string()).unwrap_or_default() />
                </label>
                <p class="muted">"The invite link stays the same. VM names in Proxmox are not renamed."</p>
                <button type="submit" id="class-edit-save">"Save"</button>
            </ActionForm>
        </section>
        <StraysCard class_id=id vmid_base=d.summary.vmid_base strays=d.strays.clone() action=a.adopt />
        <StudentSnapshotsSetting class_id=id limit=d.student_snapshots action=a.snapshots />
        <section class="card" id="class-ssh" data-enabled=d.ssh_enabled.to_string()>
            <h2>"SSH through the portal"</h2>
            <p class="muted">"When on, students get an SSH button on their VM: a terminal in the browser to port 22 of the VM's own IP, through the portal. They type the VM's login and password there; nothing is stored."</p>
            <ActionForm action=a.ssh attr:class="inline">
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="enabled" value=if d.ssh_enabled { "false" } else { "true" } />
                <span>{if d.ssh_enabled { "SSH is on." } else { "SSH is off." }}</span>
                <button type="submit" id="class-ssh-toggle">{if d.ssh_enabled { "Turn SSH off" } else { "Turn SSH on" }}</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"CPU and memory"</h2>
            <p class="muted">"Changes every VM of the class; the rest of their configuration stays. Running VMs get it at their next start."</p>
            <ActionForm action=a.specs attr:class="inline">
                <input type="hidden" name="id" value=id />
                <label>"CPU cores" <input name="cores" type="number" min="1" max="64" /></label>
                <label>"Memory (MiB)" <input name="memory_mb" type="number" min="256" step="256" /></label>
                <button type="submit">"Apply"</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Publish"</h2>
            <p>"Make the teacher's VM the new baseline: every student VM is re-created from it. Student changes are discarded."</p>
            <ActionForm action=a.publish>
                <input type="hidden" name="id" value=id />
                <label><input type="checkbox" name="confirm" />" I understand that student changes are discarded"</label>
                <button type="submit" id="publish-class">"Publish"</button>
            </ActionForm>
        </section>
        <section class="card danger-zone">
            <h2>"Delete class"</h2>
            <ActionForm action=a.delete>
                <input type="hidden" name="id" value=id />
                <label><input type="checkbox" name="confirm" />" Destroy every VM of this class"</label>
                <button type="submit" class="danger" id="delete-class">"Delete class"</button>
            </ActionForm>
        </section>
    }
}

/// The full invite URL once hydrated (the page's origin), the path before.
fn invite_url(path: &str) -> String {
    #[cfg(feature = "hydrate")]
    if let Ok(origin) = window().location().origin() {
        return format!("{origin}{path}");
    }
    path.to_owned()
}

#[component]
fn Roster(vms: Vec<ClassVmView>, cluster_id: i32, class_id: i32, a: Actions) -> impl IntoView {
    let rows = vms
        .into_iter()
        .map(|v| {
            let state = v.state.map(|s| s.label().to_owned()).unwrap_or_else(|| "—".into());
            let step = v.step.label();
            let ready = v.step == VmStep::Ready;
            let resettable = ready && v.role != VmRole::Base;
            let runnable = ready && v.role != VmRole::Base;
            view! {
                <tr data-vmid=v.vmid data-step=v.step.as_str()>
                    <td>{v.vmid}</td>
                    <td>{v.role.as_str()}</td>
                    <td>{v.name.clone()}</td>
                    <td>{v.node.clone()}</td>
                    <td class="vm-step">{step}{v.error.clone().map(|e| view! { <span class="form-error">{format!(": {e}")}</span> })}</td>
                    <td>{state}</td>
                    <td>{v.student.clone().unwrap_or_default()}</td>
                    <td>{v.ip.clone().unwrap_or_default()}</td>
                    <td class="row-actions">
                        {runnable.then(|| view! {
                            <ActionForm action=a.power attr:class="inline">
                                <input type="hidden" name="cluster_id" value=cluster_id />
                                <input type="hidden" name="vmid" value=v.vmid />
                                <input type="hidden" name="action" value="start" />
                                <button type="submit">"Start"</button>
                            </ActionForm>
                            <ActionForm action=a.power attr:class="inline">
                                <input type="hidden" name="cluster_id" value=cluster_id />
                                <input type="hidden" name="vmid" value=v.vmid />
                                <input type="hidden" name="action" value="shutdown" />
                                <button type="submit">"Shut down"</button>
                            </ActionForm>
                            <a class="button" target="_blank" rel="opener" href=format!("/console/{cluster_id}/{}", v.vmid)>"Console"</a>
                            <a class="button" href=snapshots_url(cluster_id, v.vmid) data-snapshots=v.vmid>"Snapshots"</a>
                        })}
                        {(ready && v.role == VmRole::Student).then(|| view! {
                            {v.student.is_some().then(|| view! {
                                <ActionForm action=a.take attr:class="inline">
                                    <input type="hidden" name="id" value=class_id />
                                    <input type="hidden" name="vmid" value=v.vmid />
                                    <button type="submit">"Unassign"</button>
                                </ActionForm>
                            })}
                            <ActionForm action=a.give attr:class="inline">
                                <input type="hidden" name="id" value=class_id />
                                <input type="hidden" name="vmid" value=v.vmid />
                                <input name="username" placeholder="username" aria-label="Give to student" size="10" required />
                                <button type="submit">"Give"</button>
                            </ActionForm>
                            <ActionForm action=a.remove attr:class="inline">
                                <input type="hidden" name="id" value=class_id />
                                <input type="hidden" name="vmid" value=v.vmid />
                                <button type="submit" class="danger">"Remove"</button>
                            </ActionForm>
                        })}
                        {resettable.then(|| view! {
                            <ActionForm action=a.reset attr:class="inline">
                                <input type="hidden" name="cluster_id" value=cluster_id />
                                <input type="hidden" name="vmid" value=v.vmid />
                                <button type="submit" title="Re-create this VM's disk from the class baseline">"Reset"</button>
                            </ActionForm>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data" id="class-roster">
            <thead><tr><th>"VMID"</th><th>"Role"</th><th>"Name"</th><th>"Node"</th><th>"Deployment"</th><th>"State"</th><th>"Student"</th><th>"IP"</th><th>"Actions"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// VMs in the class's block or its Proxmox pool that it does not have, each to adopt (or
/// all at once).
#[component]
fn StraysCard(
    class_id: i32,
    vmid_base: i32,
    strays: Vec<(i32, String)>,
    action: ServerAction<AdoptVms>,
) -> impl IntoView {
    if strays.is_empty() {
        return ().into_any();
    }
    let several = strays.len() > 1;
    let rows = strays
        .into_iter()
        .map(|(vmid, name)| {
            view! {
                <li data-stray=vmid>
                    {format!("{vmid} · {name}")}
                    <ActionForm action=action attr:class="inline">
                        <input type="hidden" name="id" value=class_id />
                        <input type="hidden" name="vmid" value=vmid />
                        <button type="submit" class="small" data-adopt=vmid>"Adopt"</button>
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" id="class-strays">
            <h2>"VMs that look like this class's"</h2>
            <p class="muted">{format!(
                "VMIDs {}–{} and the Proxmox pool {} belong to this class, but these VMs were made outside it (by hand, or by another tool). \
                 Adopted, each is a student VM of the class as it is: whoever has it keeps it, a free one goes to the next student, and a reset makes it anew from the class base.",
                vmid_base + 1, vmid_base + 98, lab::model::class_pool(vmid_base)
            )}</p>
            <ul class="plain strays">{rows}</ul>
            {several.then(|| view! {
                <ActionForm action=action attr:class="inline">
                    <input type="hidden" name="id" value=class_id />
                    <input type="hidden" name="vmid" value="0" />
                    <button type="submit" id="adopt-all">"Adopt them all"</button>
                </ActionForm>
            })}
        </section>
    }
    .into_any()
}
