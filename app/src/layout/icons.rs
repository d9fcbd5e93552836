//! Small inline SVG icons used by more than one page (no emoji: a machine's fonts may lack
//! them).

use leptos::prelude::*;

#[component]
pub fn RefreshIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" fill="none"
            stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
            <path d="M20 11a8 8 0 1 0-2.3 5.7" />
            <path d="M20 4v7h-7" />
        </svg>
    }
}
