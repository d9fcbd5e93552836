//! `/isos`: the ISO library. The ISOs of every cluster the person may manage (from the
//! database; the full sync reads them), the form that has Proxmox download one from a URL,
//! the downloads with their progress, and delete behind a confirmation. Links and
//! `ActionForm`s, so it works before the wasm loads; hydrated, it re-reads the page every
//! 2 s while a download runs.

use super::upload::UploadForm;
use super::{DeleteIso, DownloadIso, RefreshIsos, load_isos};
use crate::layout::{FormError, RefreshIcon, RequireRole, action_error, poll_while_active};
use crate::when::{ago, format_time};
use lab::model::{IsoPage, IsoTransferView, IsoView, Role, TransferState, format_bytes};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[derive(Clone, Copy)]
struct Actions {
    download: ServerAction<DownloadIso>,
    delete: ServerAction<DeleteIso>,
    refresh: ServerAction<RefreshIsos>,
}

#[component]
pub fn IsosPage() -> impl IntoView {
    let a = Actions {
        download: ServerAction::new(),
        delete: ServerAction::new(),
        refresh: ServerAction::new(),
    };
    let tick = RwSignal::new(0u32);
    let page = Resource::new(
        move || {
            (
                tick.get(),
                a.download.version().get(),
                a.delete.version().get(),
                a.refresh.version().get(),
            )
        },
        |_| load_isos(),
    );
    let active = RwSignal::new(false);
    poll_while_active(active, tick, std::time::Duration::from_secs(2));
    let download_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if matches!(a.download.value().get(), Some(Ok(_)))
            && let Some(form) = download_form.get_untracked()
        {
            form.reset();
        }
    });
    // An upload is a plain form post: its refusal comes back in the address.
    let query = use_query_map();
    let error = Signal::derive({
        let errors = [
            action_error(a.download),
            action_error(a.delete),
            action_error(a.refresh),
        ];
        move || {
            errors
                .iter()
                .find_map(|e| e.get())
                .or_else(|| query.with(|q| q.get("upload_error")))
        }
    });
    view! {
        <Title text="ISO images" />
        <RequireRole role=Role::Teacher>
            <div class="page-head">
                <h1>"ISO images"</h1>
                <a class="button small" href=super::ROUTE_BUILD id="build-link">"New VM from an ISO"</a>
                <ActionForm action=a.refresh attr:class="inline">
                    <button type="submit" class="small" id="isos-refresh"
                        title="Read the lists from Proxmox again (ISOs added outside the portal)">
                        <RefreshIcon />" Refresh"
                    </button>
                </ActionForm>
            </div>
            <FormError message=error />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) => {
                            active.try_set(p.transfers.iter().any(|t| t.state == TransferState::Running));
                            view! { <Body p a download_form /> }.into_any()
                        }
                        Err(e) => crate::layout::load_failed(e),
                    }
                })}
            </Transition>
        </RequireRole>
    }
}

#[component]
fn Body(p: IsoPage, a: Actions, download_form: NodeRef<leptos::html::Form>) -> impl IntoView {
    let read = match p.read_at {
        Some(t) => format!("Read from Proxmox {}.", ago(p.now, t)),
        None => "Being read from Proxmox (within a minute).".to_string(),
    };
    if p.targets.is_empty() && p.isos.is_empty() {
        return view! {
            <p class="empty" id="isos-none">
                "No cluster with ISO storage is open to you here. Admins manage ISOs on every cluster; \
                 teachers on the clusters whose settings allow it: ask an admin to allow it on yours."
            </p>
        }
        .into_any();
    }
    let now = p.now;
    let download = (!p.targets.is_empty()).then(|| {
        let targets = p.targets.clone();
        view! {
            <section class="card" id="iso-download">
                <h2>"Download from a URL"</h2>
                <p class="muted">"Proxmox fetches the file itself, straight onto the storage; the portal follows its progress. Give the checksum the distribution publishes and Proxmox checks it."</p>
                <ActionForm action=a.download node_ref=download_form attr:class="stacked">
                    <label>"Storage"
                        <select name="form[target]" id="iso-target" required>
                            {targets.into_iter().map(|t| view! { <option value=t.value>{t.label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"URL"
                        <input name="form[url]" id="iso-url" type="url" required maxlength="2000"
                            placeholder="https://cdimage.debian.org/…/debian-12.7.0-amd64-netinst.iso" />
                    </label>
                    <label>"File name (empty: the URL's last part)"
                        <input name="form[filename]" id="iso-filename" maxlength="200" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*\\.([iI][sS][oO]|[iI][mM][gG])"
                            title="Letters, digits, '.', '_' and '-', ending in .iso or .img" />
                    </label>
                    <label>"Checksum (optional: SHA-256 or SHA-512 hex)"
                        <input name="form[checksum]" id="iso-checksum" maxlength="140" spellcheck="false" autocomplete="off" />
                    </label>
                    <button type="submit" id="iso-download-button">"Download"</button>
                </ActionForm>
            </section>
        }
    });
    let upload = (!p.targets.is_empty()).then(|| {
        let targets = p.targets.clone();
        view! { <UploadForm targets /> }
    });
    let transfers = (!p.transfers.is_empty()).then(|| {
        view! {
            <section class="card" id="iso-transfers">
                <h2>"Downloads and uploads"</h2>
                <ul class="iso-transfers">
                    {p.transfers.iter().cloned().map(|t| view! { <TransferLine t now /> }).collect_view()}
                </ul>
            </section>
        }
    });
    let list = if p.isos.is_empty() {
        view! { <p class="empty" id="isos-empty">"No ISO images yet."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap"><table class="iso-table" id="iso-list">
                <thead><tr><th>"Name"</th><th>"Size"</th><th>"Where"</th><th>"Added"</th><th></th></tr></thead>
                <tbody>
                    {p.isos.iter().cloned().map(|i| view! { <IsoRow i now a /> }).collect_view()}
                </tbody>
            </table></div>
        }
        .into_any()
    };
    view! {
        <p class="muted">{read}" Shared storages are listed once."</p>
        {download}
        {upload}
        {transfers}
        <section class="card" id="isos">
            <h2>"Images"</h2>
            {list}
        </section>
    }
    .into_any()
}

#[component]
fn IsoRow(i: IsoView, now: i64, a: Actions) -> impl IntoView {
    let place = match &i.node {
        Some(node) => format!("{} · {} on {node}", i.cluster, i.storage),
        None => format!("{} · {} (shared)", i.cluster, i.storage),
    };
    let added = if i.ctime > 0 {
        ago(now, i.ctime)
    } else {
        String::new()
    };
    let label = format!("Delete {}", i.name);
    let (name, name2, name3) = (i.name.clone(), i.name.clone(), i.name);
    let node = i.node.unwrap_or_default();
    view! {
        <tr data-iso=name>
            <td class="iso-name"><DiscIcon />" "{name2}</td>
            <td>{format_bytes(i.size)}</td>
            <td>{place}</td>
            <td title=format_time(i.ctime)>{added}</td>
            <td>
                <details class="confirm">
                    <summary>"Delete…"</summary>
                    <p>"The file is removed from the storage. VMs with it in a CD drive cannot start until the drive is emptied."</p>
                    <ActionForm action=a.delete attr:class="inline">
                        <input type="hidden" name="cluster_id" value=i.cluster_id />
                        <input type="hidden" name="volid" value=i.volid />
                        <input type="hidden" name="node" value=node />
                        <button type="submit" class="danger" data-delete=name3>{label}</button>
                    </ActionForm>
                </details>
            </td>
        </tr>
    }
}

#[component]
fn TransferLine(t: IsoTransferView, now: i64) -> impl IntoView {
    // An upload has no URL.
    let uploaded = t.url.is_empty();
    let (badge, class) = match t.state {
        TransferState::Running if uploaded => ("Copying in", "badge running"),
        TransferState::Running => ("Downloading", "badge running"),
        TransferState::Done => ("Done", "badge ok"),
        TransferState::Failed => ("Failed", "badge error"),
    };
    let when = match t.finished_at {
        Some(end) => format!("ended {}", ago(now, end)),
        None => format!("started {}", ago(now, t.created_at)),
    };
    let detail = match t.state {
        TransferState::Failed => t.message.clone().map(|m| view! { <p class="form-error">{m}</p> }.into_any()),
        TransferState::Running => Some(
            view! {
                <progress max="100" value=t.percent.unwrap_or(0) aria-label=format!("{} downloaded", t.filename)></progress>
                <span class="muted">{t.percent.map(|p| format!(" {p} %")).unwrap_or_else(|| " starting…".into())}</span>
            }
            .into_any(),
        ),
        TransferState::Done => None,
    };
    view! {
        <li class="iso-transfer" data-file=t.filename.clone() data-state=t.state.as_str()>
            <div>
                <strong>{t.filename.clone()}</strong>" "
                <span class=class>{badge}</span>
                <span class="muted">{format!(" {} · {} on {} · {when}", t.cluster, t.storage, t.node)}</span>
            </div>
            <p class="muted iso-url">{if uploaded { "Uploaded from a computer".to_string() } else { t.url.clone() }}</p>
            {detail}
        </li>
    }
}

#[component]
fn DiscIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" fill="none"
            stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
            <circle cx="12" cy="12" r="9" />
            <circle cx="12" cy="12" r="2.5" />
        </svg>
    }
}
