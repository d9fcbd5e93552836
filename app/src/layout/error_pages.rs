//! 404, 403 and 500 pages. During SSR they also set the response status.

use leptos::prelude::*;
use leptos_meta::Title;

fn set_status(_status: u16) {
    #[cfg(feature = "ssr")]
    crate::session::set_page_status(_status);
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    set_status(404);
    view! {
        <Title text="Not found" />
        <section class="error-page">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. Check the link, or go back to your portal."</p>
            <a class="button" href="/">"Go to the portal"</a>
        </section>
    }
}

#[component]
pub fn ForbiddenPage() -> impl IntoView {
    set_status(403);
    view! {
        <Title text="Not allowed" />
        <section class="error-page">
            <h1>"Not allowed"</h1>
            <p>"Your account cannot open this page. If you need it, ask an admin."</p>
            <a class="button" href="/">"Go to the portal"</a>
        </section>
    }
}

#[component]
pub fn ServerErrorPage(message: String) -> impl IntoView {
    set_status(500);
    view! {
        <Title text="Error" />
        <section class="error-page">
            <h1>"Something went wrong"</h1>
            <p>{message}</p>
            <a class="button" href="/">"Go to the portal"</a>
        </section>
    }
}
