//! Pages that show work in progress (a class deploying, unfinished jobs) re-read their data
//! now and then, only in the hydrated browser, only while something is under way and the tab
//! is visible.

use leptos::prelude::*;

/// Hydrated only: bumps `tick` every `every` while `active` holds and the tab is seen.
pub fn poll_while_active(active: RwSignal<bool>, tick: RwSignal<u32>, every: std::time::Duration) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                if active.try_get_untracked().unwrap_or(false) && !document().hidden() {
                    tick.try_update(|t| *t += 1);
                }
            },
            every,
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (active, tick, every);
}
