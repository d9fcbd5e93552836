//! The class page's "Snapshots" setting: how many snapshots each student may keep.

use super::SetStudentSnapshots;
use lab::model::MAX_STUDENT_SNAPSHOTS;
use leptos::prelude::*;

#[component]
pub fn StudentSnapshotsSetting(
    class_id: i32,
    limit: i32,
    action: ServerAction<SetStudentSnapshots>,
) -> impl IntoView {
    let now = if limit == 0 {
        "Students may not take snapshots.".to_string()
    } else {
        format!("Each student may keep up to {limit} snapshots of their VM.")
    };
    view! {
        <section class="card" id="class-snapshots" data-limit=limit>
            <h2>"Snapshots"</h2>
            <p class="muted">"Students can save their VM's state before a risky step and go back to it. Teachers can take snapshots of any VM of the class from its Snapshots link. Reset and publish remove a VM's snapshots."</p>
            <p>{now}</p>
            <ActionForm action attr:class="inline">
                <input type="hidden" name="id" value=class_id />
                <label>"Snapshots per student VM (0 = none)"
                    <input name="limit" type="number" min="0" max=MAX_STUDENT_SNAPSHOTS value=limit required />
                </label>
                <button type="submit" id="class-snapshots-save">"Save"</button>
            </ActionForm>
        </section>
    }
}
