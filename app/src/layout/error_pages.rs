//! 404, 403 and 500 pages. During SSR they also set the response status.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn ErrorPage(
    status: u16,
    title: &'static str,
    heading: &'static str,
    message: String,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::session::set_page_status(status);
    let _ = status;
    view! {
        <Title text=title />
        <section class="error-page">
            <h1>{heading}</h1>
            <p>{message}</p>
            <a class="button" href="/">"Go to the portal"</a>
        </section>
    }
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    let message = "There is nothing at this address. Check the link, or go back to your portal.";
    view! { <ErrorPage status=404 title="Not found" heading="Page not found" message=message.into() /> }
}

#[component]
pub fn ForbiddenPage() -> impl IntoView {
    let message = "Your account cannot open this page. If you need it, ask an admin.";
    view! { <ErrorPage status=403 title="Not allowed" heading="Not allowed" message=message.into() /> }
}

#[component]
pub fn ServerErrorPage(message: String) -> impl IntoView {
    view! { <ErrorPage status=500 title="Error" heading="Something went wrong" message /> }
}
