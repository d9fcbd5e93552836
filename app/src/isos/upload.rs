//! The ISO page's "Upload from your computer" form. A plain `multipart/form-data` form posted
//! to `/api/isos/upload` (a streamed axum route, `server/src/iso_upload.rs`), so it works
//! before the wasm loads; hydrated, it sends the same form with `XMLHttpRequest` to show the
//! upload's progress (`fetch` reports none), then goes where the server's redirect landed:
//! the ISO page with the new transfer, or with the reason it was refused.
//! The fields come before the file on purpose: the server checks them before reading it.

use lab::model::IsoTarget;
use leptos::prelude::*;

/// Where the browser is: `(bytes sent, bytes in all)` while sending.
type Sent = Option<(f64, f64)>;

#[component]
pub fn UploadForm(targets: Vec<IsoTarget>) -> impl IntoView {
    let sent = RwSignal::new(None::<(f64, f64)>);
    let failed = RwSignal::new(None::<String>);
    let form = NodeRef::<leptos::html::Form>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(form) = form.get_untracked() {
            ev.prevent_default();
            failed.set(None);
            sent.set(Some((0.0, 1.0)));
            if send(&form, sent, failed).is_err() {
                sent.set(None);
                failed.set(Some("The browser could not send the file.".into()));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, form);
    };
    view! {
        <section class="card" id="iso-upload">
            <h2>"Upload from your computer"</h2>
            <p class="muted">"The file goes to the portal, then on to Proxmox, which checks the checksum if you give one. Keep this page open until the upload shows below."</p>
            <form method="post" action="/api/isos/upload" enctype="multipart/form-data"
                class="stacked" id="iso-upload-form" node_ref=form on:submit=on_submit>
                <label>"Storage"
                    <select name="target" id="upload-target" required>
                        {targets.into_iter().map(|t| view! { <option value=t.value>{t.label}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Checksum (optional: SHA-256 or SHA-512 hex)"
                    <input name="checksum" id="upload-checksum" maxlength="140" spellcheck="false" autocomplete="off" />
                </label>
                <label>"Save as (empty: the file's own name)"
                    <input name="name" id="upload-name" maxlength="200" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*\\.([iI][sS][oO]|[iI][mM][gG])"
                        title="Letters, digits, '.', '_' and '-', ending in .iso or .img" />
                </label>
                <label>"ISO file"
                    <input name="file" id="upload-file" type="file" accept=".iso,.img" required />
                </label>
                <button type="submit" id="upload-button" disabled=move || sent.get().is_some()>"Upload"</button>
                <Progress sent />
                {move || failed.get().map(|f| view! { <p class="form-error" role="alert">{f}</p> })}
            </form>
        </section>
    }
}

#[component]
fn Progress(sent: RwSignal<Sent>) -> impl IntoView {
    move || {
        sent.get().map(|(done, all)| {
            let pct = if all > 0.0 {
                (done / all * 100.0).floor()
            } else {
                0.0
            };
            let text = if done >= all && all > 1.0 {
                "Sent; Proxmox is taking the file…".to_string()
            } else {
                format!("Sending… {pct} %")
            };
            view! {
                <div class="upload-progress" role="status" id="upload-progress">
                    <progress max="100" value=pct></progress>
                    <span>{text}</span>
                </div>
            }
        })
    }
}

/// Sends `form` with XMLHttpRequest, reporting progress into `sent`; on the answer, goes
/// where the redirect landed.
#[cfg(feature = "hydrate")]
fn send(
    form: &web_sys::HtmlFormElement,
    sent: RwSignal<Sent>,
    failed: RwSignal<Option<String>>,
) -> Result<(), leptos::wasm_bindgen::JsValue> {
    use leptos::wasm_bindgen::JsCast;
    use leptos::wasm_bindgen::closure::Closure;
    let data = web_sys::FormData::new_with_form(form)?;
    let xhr = web_sys::XmlHttpRequest::new()?;
    xhr.open("POST", "/api/isos/upload")?;
    let progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            if e.length_computable() {
                sent.set(Some((e.loaded(), e.total())));
            }
        });
    xhr.upload()?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    // The closures live as long as the page: one upload per page load.
    progress.forget();
    let answered = xhr.clone();
    let done = Closure::<dyn FnMut()>::new(move || {
        let landed = answered.response_url();
        let status = answered.status().unwrap_or(0);
        if status == 200 && !landed.is_empty() {
            // The server's 303 was followed: the ISO page, with the transfer or the reason.
            let _ = window().location().set_href(&landed);
        } else {
            sent.set(None);
            let text = answered.response_text().ok().flatten().unwrap_or_default();
            failed.set(Some(if text.is_empty() {
                format!("The upload failed ({status}).")
            } else {
                text
            }));
        }
    });
    xhr.set_onload(Some(done.as_ref().unchecked_ref()));
    done.forget();
    let lost = Closure::<dyn FnMut()>::new(move || {
        sent.set(None);
        failed.set(Some(
            "The connection to the portal was lost; nothing was uploaded.".into(),
        ));
    });
    xhr.set_onerror(Some(lost.as_ref().unchecked_ref()));
    lost.forget();
    xhr.send_with_opt_form_data(Some(&data))
}
