//! The class page's "Policies" section: idle shutdown, access hours, quota and warning time
//! (one form), schedules, each student's hours (add hours, reset), and the policy log. It
//! loads on its own, so the class page's deployment polling does not re-read it.

use super::form::PolicyFields;
use super::{AddHours, AddSchedule, DeleteSchedule, ResetUsage, SavePolicies, load_policies};
use crate::AppError;
use crate::layout::{FormError, action_error};
use crate::when::format_time;
use lab::model::{PolicyPanel, format_hours};
use leptos::prelude::*;

#[derive(Clone, Copy)]
struct Actions {
    save: ServerAction<SavePolicies>,
    add_schedule: ServerAction<AddSchedule>,
    delete_schedule: ServerAction<DeleteSchedule>,
    add_hours: ServerAction<AddHours>,
    reset: ServerAction<ResetUsage>,
}

/// The panel's actions and resource, made by the class page above its role guard (see
/// [`crate::layout::RequireRole`]: what is made inside the guard may be made more than once
/// while the server renders).
#[derive(Clone, Copy)]
pub struct PanelState {
    a: Actions,
    panel: Resource<Result<PolicyPanel, AppError>>,
}

impl PanelState {
    pub fn new(class_id: impl Fn() -> i32 + Send + Sync + 'static) -> Self {
        let a = Actions {
            save: ServerAction::new(),
            add_schedule: ServerAction::new(),
            delete_schedule: ServerAction::new(),
            add_hours: ServerAction::new(),
            reset: ServerAction::new(),
        };
        let changes = move || {
            (
                a.save.version().get(),
                a.add_schedule.version().get(),
                a.delete_schedule.version().get(),
                a.add_hours.version().get(),
                a.reset.version().get(),
            )
        };
        let panel = Resource::new(move || (class_id(), changes()), |(id, _)| load_policies(id));
        Self { a, panel }
    }
}

#[component]
pub fn PoliciesPanel(state: PanelState, class_id: i32) -> impl IntoView {
    let PanelState { a, panel } = state;
    let error = Signal::derive({
        let errors = [
            action_error(a.save),
            action_error(a.add_schedule),
            action_error(a.delete_schedule),
            action_error(a.add_hours),
            action_error(a.reset),
        ];
        move || errors.iter().find_map(|e| e.get())
    });
    view! {
        <section class="card policies" id="class-policies">
            <h2>"Policies"</h2>
            <FormError message=error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match panel.await {
                        Ok(p) => view! { <PanelBody p class_id a /> }.into_any(),
                        // The class page says "not found" already.
                        Err(crate::AppError::NotFound(_)) => ().into_any(),
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PanelBody(p: PolicyPanel, class_id: i32, a: Actions) -> impl IntoView {
    let PolicyPanel {
        policy,
        form,
        site_default,
        zone,
        open_now,
        schedules,
        students,
        log,
    } = p;
    let (has_schedules, has_students, has_log) =
        (!schedules.is_empty(), !students.is_empty(), !log.is_empty());
    let summary = format!(
        "{} Time zone: {}. Access hours: {}.",
        if site_default {
            "This class follows the site's defaults."
        } else {
            "This class has its own policies."
        },
        zone,
        match (policy.hours.enabled, open_now) {
            (false, _) => "always open",
            (true, true) => "open now",
            (true, false) => "closed now",
        }
    );
    let schedules = schedules
        .into_iter()
        .map(|s| {
            let when = if s.days.is_empty() {
                s.date.clone().unwrap_or_default()
            } else {
                s.days.clone()
            };
            view! {
                <tr data-schedule=s.id>
                    <td>{s.action.label()}</td>
                    <td>{format!("{when} at {}", s.time)}</td>
                    <td>{s.next_text.clone()}</td>
                    <td>
                        <ActionForm action=a.delete_schedule attr:class="inline">
                            <input type="hidden" name="id" value=class_id />
                            <input type="hidden" name="schedule" value=s.id />
                            <button type="submit" class="link">"Delete"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let students = students
        .into_iter()
        .map(|s| {
            let left = s
                .usage
                .left_secs()
                .map_or_else(|| "unlimited".to_string(), format_hours);
            let label = format!("Hours to add for {}", s.username);
            let name = s.username.clone();
            view! {
                <tr data-student=name>
                    <td>{s.username}</td>
                    <td>{s.vmid}</td>
                    <td class="used">{format_hours(s.usage.used_secs)}</td>
                    <td class="left">{left}</td>
                    <td class="row-actions">
                        <ActionForm action=a.add_hours attr:class="inline">
                            <input type="hidden" name="id" value=class_id />
                            <input type="hidden" name="student" value=s.user_id />
                            <input name="hours" type="number" min="1" max="1000" value="1" size="3" aria-label=label />
                            <button type="submit">"Add hours"</button>
                        </ActionForm>
                        <ActionForm action=a.reset attr:class="inline">
                            <input type="hidden" name="id" value=class_id />
                            <input type="hidden" name="student" value=s.user_id />
                            <button type="submit">"Reset usage"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let log = log
        .into_iter()
        .map(|l| {
            view! {
                <tr>
                    <td>{format_time(l.at)}</td>
                    <td>{l.vmid.map(|v| v.to_string()).unwrap_or_default()}</td>
                    <td>{l.student.clone().unwrap_or_default()}</td>
                    <td>{l.action.clone()}</td>
                    <td>{l.reason.clone()}</td>
                    <td>{l.detail.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted" id="policy-summary">{summary}</p>
        <ActionForm action=a.save attr:id="policy-form">
            <input type="hidden" name="id" value=class_id />
            <PolicyFields form zone_hint=zone />
            <button type="submit" id="save-policies">"Save policies"</button>
        </ActionForm>
        {(!site_default).then(|| view! {
            <ActionForm action=a.save attr:class="inline">
                <input type="hidden" name="id" value=class_id />
                <input type="hidden" name="follow_site" value="on" />
                <button type="submit" class="link">"Use the site's defaults instead"</button>
            </ActionForm>
        })}

        <h3>"Schedules"</h3>
        <p class="muted">"Start or shut down every student VM at a time, in the class's time zone. A scheduled start does not count toward a student's hours until they open their VM."</p>
        {has_schedules.then(|| view! {
            <table class="data" id="class-schedules">
                <thead><tr><th>"Action"</th><th>"When"</th><th>"Next"</th><th></th></tr></thead>
                <tbody>{schedules}</tbody>
            </table>
        })}
        <ActionForm action=a.add_schedule attr:class="inline schedule-form" attr:id="schedule-form">
            <input type="hidden" name="id" value=class_id />
            <label>"Action" <select name="form[action]">
                <option value="start">"Start all student VMs"</option>
                <option value="shutdown">"Shut down all student VMs"</option>
            </select></label>
            <label>"On" <input name="form[when]" required placeholder="Mon,Wed or 2027-01-15" size="16" /></label>
            <label>"At" <input name="form[time]" type="time" required /></label>
            <button type="submit">"Add schedule"</button>
        </ActionForm>

        <h3>"Students' hours"</h3>
        {if !has_students {
            view! { <p class="muted">"No student has a VM yet."</p> }.into_any()
        } else {
            view! {
                <table class="data" id="class-usage">
                    <thead><tr><th>"Student"</th><th>"VM"</th><th>"Used"</th><th>"Left"</th><th></th></tr></thead>
                    <tbody>{students}</tbody>
                </table>
                <div class="bulk">
                    <ActionForm action=a.add_hours attr:class="inline">
                        <input type="hidden" name="id" value=class_id />
                        <label>"Every student:" <input name="hours" type="number" min="1" max="1000" value="1" size="3" /></label>
                        <button type="submit">"Add hours"</button>
                    </ActionForm>
                    <ActionForm action=a.reset attr:class="inline">
                        <input type="hidden" name="id" value=class_id />
                        <button type="submit">"Reset everyone's usage"</button>
                    </ActionForm>
                </div>
            }.into_any()
        }}

        <h3>"Policy log"</h3>
        {if has_log {
            view! {
                <div class="table-wrap">
                    <table class="data" id="policy-log">
                        <thead><tr><th>"When"</th><th>"VM"</th><th>"Student"</th><th>"What"</th><th>"Why"</th><th>"Detail"</th></tr></thead>
                        <tbody>{log}</tbody>
                    </table>
                </div>
            }.into_any()
        } else {
            view! { <p class="muted">"Nothing yet: warnings, automatic shutdowns and starts appear here."</p> }.into_any()
        }}
    }
}
