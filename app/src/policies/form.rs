//! The policy fields, shared by a class's Policies section and the admin's site defaults.
//! Names are `form[…]` of `lab::model::PolicyForm`; the server parses and checks them.

use lab::model::{CPU_PERCENT, IDLE_MINUTES, NET_KIB, PolicyForm, WARN_MINUTES};
use leptos::prelude::*;

#[component]
pub fn PolicyFields(form: PolicyForm, zone_hint: String) -> impl IntoView {
    let hibernate = form.idle_action == "hibernate";
    view! {
        <fieldset>
            <legend>"Idle shutdown"</legend>
            <label><input type="checkbox" name="form[idle_enabled]" checked=!form.idle_enabled.is_empty() id="idle-enabled" />
                " Shut down VMs nobody uses"</label>
            <p class="muted">"Idle: CPU and network below these figures, and no console, terminal or SSH tab open through the portal. The student is warned first and can say they are still there."</p>
            <div class="fields">
                <label>"CPU below (%)" <input name="form[idle_cpu_percent]" type="number" min=*CPU_PERCENT.start() max=*CPU_PERCENT.end() value=form.idle_cpu_percent.clone() /></label>
                <label>"Network below (KiB/s)" <input name="form[idle_net_kib]" type="number" min=*NET_KIB.start() max=*NET_KIB.end() value=form.idle_net_kib.clone() /></label>
                <label>"For (minutes)" <input name="form[idle_minutes]" type="number" min=*IDLE_MINUTES.start() max=*IDLE_MINUTES.end() value=form.idle_minutes.clone() id="idle-minutes" /></label>
                <label>"Then" <select name="form[idle_action]">
                    <option value="shutdown" selected=!hibernate>"Shut down"</option>
                    <option value="hibernate" selected=hibernate>"Hibernate (VMs that can)"</option>
                </select></label>
            </div>
        </fieldset>
        <fieldset>
            <legend>"Access hours"</legend>
            <p class="muted">"One range per line, e.g. " <code>"Mon-Fri 08:00-16:00"</code> ", " <code>"Sat 22:00-02:00"</code> " (past midnight). Empty: always open. Outside them students cannot start their VM, and running ones are warned and shut down. Teachers are exempt."</p>
            <textarea name="form[hours]" rows="3" id="access-hours" placeholder="Mon-Fri 08:00-16:00">{form.hours.clone()}</textarea>
        </fieldset>
        <fieldset>
            <legend>"Quota and warnings"</legend>
            <div class="fields">
                <label>"Hours per student (0: unlimited)" <input name="form[quota_hours]" type="number" min="0" max="10000" value=form.quota_hours.clone() id="quota-hours" /></label>
                <label>"Warn (minutes before)" <input name="form[warn_minutes]" type="number" min=*WARN_MINUTES.start() max=*WARN_MINUTES.end() value=form.warn_minutes.clone() /></label>
                <label>"Time zone" <input name="form[timezone]" value=form.timezone.clone() placeholder=zone_hint size="20" /></label>
            </div>
        </fieldset>
    }
}
