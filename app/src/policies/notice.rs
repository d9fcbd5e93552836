//! What a student sees of the policies on their VM card: the warning before an automatic
//! shutdown (with "I'm still here" for idleness) and their hours in the class.

use super::StillHere;
use lab::model::{PolicyNotice, UsageView, format_hours};
use leptos::prelude::*;

/// A warning as a banner.
#[component]
pub fn NoticeBanner(
    notice: PolicyNotice,
    now: i64,
    cluster_id: i32,
    vmid: i32,
    still_here: ServerAction<StillHere>,
) -> impl IntoView {
    view! {
        <div class="policy-notice" role="alert" data-reason=notice.reason.as_str()>
            <svg viewBox="0 0 16 16" width="18" height="18" fill="none" stroke="currentColor" stroke-width="1.5" aria-hidden="true" focusable="false">
                <path d="M8 1.5l6.5 12h-13z" /><path d="M8 6v3.5M8 11.5v.5" />
            </svg>
            <span>{notice.message(now)}</span>
            {notice.dismissable().then(|| view! {
                <ActionForm action=still_here attr:class="inline">
                    <input type="hidden" name="cluster_id" value=cluster_id />
                    <input type="hidden" name="vmid" value=vmid />
                    <button type="submit" data-still-here="1">"I'm still here"</button>
                </ActionForm>
            })}
        </div>
    }
}

/// Hours used and left, and today's access hours, as two lines of the card's specs.
#[component]
pub fn UsageLines(usage: UsageView) -> impl IntoView {
    // As of the page's read; an open dashboard reads everything again every 5 minutes.
    let used = usage.used_secs;
    let hours = match usage.left_secs() {
        Some(_) => {
            let left = (usage.allowed_secs - used).max(0);
            format!("{} used · {} left", format_hours(used), format_hours(left))
        }
        None => format!("{} used", format_hours(used)),
    };
    let today = if usage.hours_today.is_empty() && usage.open_now {
        None
    } else if usage.hours_today.is_empty() {
        Some("closed today".to_string())
    } else {
        Some(format!(
            "{}{}",
            usage.hours_today.join(", "),
            if usage.open_now {
                " (open now)"
            } else {
                " (closed now)"
            }
        ))
    };
    view! {
        <dt>"Hours"</dt><dd class="usage-hours">{hours}</dd>
        {today.map(|t| view! { <dt>"Class hours today"</dt><dd class="class-hours">{t}</dd> })}
    }
}

/// The console and terminal tabs' banner, filled in and kept current by `/notice.js` (those
/// pages are not hydrated).
#[component]
pub fn TabNotice(cluster_id: i32, vmid: i32) -> impl IntoView {
    view! {
        <div class="policy-notice" id="policy-notice" role="alert" hidden data-cluster=cluster_id data-vmid=vmid>
            <svg viewBox="0 0 16 16" width="18" height="18" fill="none" stroke="currentColor" stroke-width="1.5" aria-hidden="true" focusable="false">
                <path d="M8 1.5l6.5 12h-13z" /><path d="M8 6v3.5M8 11.5v.5" />
            </svg>
            <span></span>
            <button type="button" data-still-here="1">"I'm still here"</button>
        </div>
        <script type="module" src="/notice.js"></script>
    }
}
