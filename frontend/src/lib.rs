//! The browser entry point: scripts/site.sh builds this crate to wasm, and the page calls
//! `hydrate()` to attach the app to the server-rendered HTML.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
