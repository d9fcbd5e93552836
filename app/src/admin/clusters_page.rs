//! The admin "Clusters" page: connected clusters with their last sync, test / enable /
//! disable / edit / delete, and the add/edit form. The certificate fingerprint is fetched and
//! shown for the admin to compare before it is pinned; secrets are write-only (never sent
//! back: an empty field on edit keeps the stored one).

use super::{
    DeleteCluster, FetchFingerprint, SaveCluster, SetClusterEnabled, TestCluster, list_clusters,
};
use crate::ids;
use crate::layout::{FormError, RequireRole, action_error};
use lab::model::{ClusterView, Role};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[derive(Clone, Copy)]
struct Actions {
    save: ServerAction<SaveCluster>,
    enabled: ServerAction<SetClusterEnabled>,
    delete: ServerAction<DeleteCluster>,
    test: ServerAction<TestCluster>,
}

#[component]
pub fn ClustersPage() -> impl IntoView {
    let actions = Actions {
        save: ServerAction::new(),
        enabled: ServerAction::new(),
        delete: ServerAction::new(),
        test: ServerAction::new(),
    };
    let changes = move || {
        (
            actions.save.version().get(),
            actions.enabled.version().get(),
            actions.delete.version().get(),
        )
    };
    let clusters = Resource::new(changes, |_| list_clusters());
    let query = use_query_map();
    let editing = move || query.with(|q| q.get("edit").and_then(|e| e.parse::<i32>().ok()));
    let row_error = Signal::derive({
        let errors = [
            action_error(actions.enabled),
            action_error(actions.delete),
            action_error(actions.test),
        ];
        move || errors.iter().find_map(|e| e.get())
    });
    let tested = move || match actions.test.value().get() {
        Some(Ok(t)) => Some((
            format!(
                "Connected: Proxmox VE {}, {}/{} nodes online, {} guests, {} ms.",
                t.version, t.nodes_online, t.nodes_total, t.guests, t.millis
            ),
            t.warnings,
        )),
        _ => None,
    };
    let notices = move || {
        view! {
            <FormError message=row_error />
            {move || tested().map(|(t, warnings)| view! {
                <p class="notice" role="status" id=ids::FORM_NOTICE>{t}</p>
                {(!warnings.is_empty()).then(|| view! {
                    <ul class="warnings" id=ids::CLUSTER_TEST_WARNINGS>
                        {warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                    </ul>
                })}
            })}
        }
    };
    // One Suspend reads the list for both the table and the form: a resource read in two
    // Suspense boundaries can leave one of them waiting for ever in Leptos 0.8's server
    // rendering (leptos-rs/leptos#4851), and the page never finishes loading.
    view! {
        <Title text="Clusters" />
        <RequireRole role=Role::Admin>
            <h1>"Clusters"</h1>
            <Transition fallback=move || view! { <section class="card">{notices()}<p class="loading">"Loading…"</p></section> }>
                {move || Suspend::new(async move {
                    let list = clusters.await;
                    let current = editing().and_then(|id| {
                        list.as_ref().ok().and_then(|l| l.iter().find(|c| c.id == id).cloned())
                    });
                    let table = match list {
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No cluster yet. Add one below: the portal then keeps an inventory of its VMs."</p> }.into_any(),
                        Ok(list) => view! { <ClusterTable list actions /> }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    };
                    view! {
                        <section class="card">{notices()}{table}</section>
                        <ClusterFormView current action=actions.save />
                    }
                })}
            </Transition>
        </RequireRole>
    }
}

#[component]
fn ClusterTable(list: Vec<ClusterView>, actions: Actions) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|c| {
            let id = c.id;
            let status = match (&c.sync.last_error, c.sync.quick_at) {
                (Some(e), _) => format!("error: {e}"),
                (None, Some(_)) => format!("{} guests", c.sync.guests),
                (None, None) => "not synced yet".into(),
            };
            view! {
                <tr data-cluster=c.name.clone()>
                    <td>{c.name.clone()}</td>
                    <td>{c.api_urls.join(", ")}</td>
                    <td>{format!("{} {}", if c.auth_kind == "token" { "token" } else { "user" }, c.auth_id)}</td>
                    <td class="realm-roles">{realm_roles(&c)}</td>
                    <td class="fingerprint">{c.fingerprint.clone().unwrap_or_else(|| "system CAs".into())}</td>
                    <td>{if c.enabled { "enabled" } else { "disabled" }}</td>
                    <td class="sync-status">{status}</td>
                    <td class="row-actions">
                        <ActionForm action=actions.test attr:class="inline">
                            <input type="hidden" name="id" value=id />
                            <button type="submit">"Test"</button>
                        </ActionForm>
                        <a class="button" href=format!("?edit={id}")>"Edit"</a>
                        <ActionForm action=actions.enabled attr:class="inline">
                            <input type="hidden" name="id" value=id />
                            <input type="hidden" name="enabled" value=(!c.enabled).to_string() />
                            <button type="submit">{if c.enabled { "Disable" } else { "Enable" }}</button>
                        </ActionForm>
                        <ActionForm action=actions.delete attr:class="inline">
                            <input type="hidden" name="id" value=id />
                            <button type="submit" class="danger">"Remove"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data" id=ids::CLUSTERS_TABLE>
            <thead><tr><th>"Name"</th><th>"API"</th><th>"Login"</th><th>"Proxmox sign-in"</th><th>"Certificate"</th><th>"State"</th><th>"Sync"</th><th>"Actions"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// Who signs in with a Proxmox account, in words.
fn realm_roles(c: &ClusterView) -> String {
    let mut parts = vec![match &c.admin_group {
        Some(g) => format!("admins: root@pam and group {g}"),
        None => "admins: only root@pam".to_string(),
    }];
    if let Some(g) = &c.teacher_group {
        parts.push(format!("teachers: group {g}"));
    }
    if let Some(g) = &c.student_group {
        parts.push(format!("students: group {g}"));
    }
    parts.join("; ")
}

#[component]
fn ClusterFormView(
    current: Option<ClusterView>,
    action: ServerAction<SaveCluster>,
) -> impl IntoView {
    let fetch = ServerAction::<FetchFingerprint>::new();
    let error = action_error(action);
    let fetch_error = action_error(fetch);
    let editing = current.is_some();
    let c = current.unwrap_or_else(|| ClusterView {
        id: 0,
        name: String::new(),
        api_urls: Vec::new(),
        fingerprint: None,
        auth_kind: "token".into(),
        auth_id: String::new(),
        admin_group: None,
        teacher_group: None,
        student_group: None,
        vm_subnets: Vec::new(),
        ssh_user: None,
        ssh_port: 22,
        has_ssh_key: false,
        ssh_host_keys: None,
        pve_root: "/etc/pve".into(),
        storage_paths: "local=/var/lib/vz".into(),
        enabled: true,
        teachers_build: false,
        sync: Default::default(),
        groups: Vec::new(),
    });
    let fingerprint = RwSignal::new(c.fingerprint.clone().unwrap_or_default());
    let url = RwSignal::new(c.api_urls.first().cloned().unwrap_or_default());
    Effect::new(move |_| {
        if let Some(Ok(fp)) = fetch.value().get() {
            fingerprint.set(fp);
        }
    });
    let saved = move || match action.value().get() {
        Some(Ok(v)) => Some(format!("Saved {}. Its VMs appear within seconds.", v.name)),
        _ => None,
    };
    let secret_hint = if editing {
        "leave empty to keep the stored one"
    } else {
        ""
    };
    view! {
        <section class="card">
            <h2>{if editing { format!("Edit {}", c.name) } else { "Add a cluster".to_string() }}</h2>
            <ActionForm action=fetch attr:class="inline fetch-fingerprint">
                <label for="fp-url">"Node address"</label>
                <input id="fp-url" name="url" placeholder="https://10.0.0.1:8006" prop:value=url
                    on:input=move |ev| url.set(event_target_value(&ev)) />
                <button type="submit">"Fetch fingerprint"</button>
            </ActionForm>
            <FormError message=fetch_error />
            {move || fetch.value().get().and_then(Result::ok).map(|fp| view! {
                <p class="notice" role="status">"The node presents this certificate fingerprint. Compare it with the one under Datacenter › node › System › Certificates before you save: "<code>{fp}</code></p>
            })}
            <ActionForm action=action attr:class="stacked" attr:id="cluster-form">
                {editing.then(|| view! { <input type="hidden" name="id" value=c.id /> })}
                <label>"Name" <input name="form[name]" required value=c.name.clone() /></label>
                <label>"API addresses (one per line, several nodes for failover)"
                    <textarea name="form[api_urls]" rows="2" required>{c.api_urls.join("\n")}</textarea>
                </label>
                <label>"Certificate SHA-256 fingerprint (empty: trust the system's CAs)"
                    <input name="form[fingerprint]" prop:value=fingerprint value=c.fingerprint.clone().unwrap_or_default() size="100" />
                </label>
                <fieldset>
                    <legend>"Login"</legend>
                    <label><input type="radio" name="form[auth_kind]" value="token" checked=c.auth_kind == "token" />" API token (recommended)"</label>
                    <label><input type="radio" name="form[auth_kind]" value="password" checked=c.auth_kind == "password" />" User and password"</label>
                    <label>"Token id (user@realm!token) or user (user@realm)" <input name="form[auth_id]" required value=c.auth_id.clone() /></label>
                    <label>"Token secret or password" <input name="form[secret]" type="password" autocomplete="new-password" placeholder=secret_hint /></label>
                </fieldset>
                <fieldset>
                    <legend>"Sign-in with Proxmox accounts (name@realm)"</legend>
                    <p class="hint">"A Proxmox account signs in with the role of the first group it is in: admin, then teacher, then student. Accounts in none are refused. root@pam is always an admin."</p>
                    // Groups read from the cluster (hourly, by the sync), offered in the fields.
                    {(!c.groups.is_empty()).then(|| view! {
                        <p class="hint" id="cluster-groups-hint">{format!("Groups in this cluster: {}. Pick one, or type a name.", c.groups.join(", "))}</p>
                    })}
                    <datalist id="cluster-groups">
                        {c.groups.iter().map(|g| view! { <option value=g.clone()></option> }).collect_view()}
                    </datalist>
                    <label>"Admin group (empty: only root@pam is an admin)"
                        <input name="form[admin_group]" list="cluster-groups" value=c.admin_group.clone().unwrap_or_default() />
                    </label>
                    <label>"Teacher group (empty: none)"
                        <input name="form[teacher_group]" list="cluster-groups" value=c.teacher_group.clone().unwrap_or_default() />
                    </label>
                    <label>"Student group (empty: none)"
                        <input name="form[student_group]" list="cluster-groups" value=c.student_group.clone().unwrap_or_default() />
                    </label>
                </fieldset>
                <label><input type="checkbox" name="form[teachers_build]" id="teachers-build" checked=c.teachers_build />
                    " Teachers may add and delete ISO images on this cluster (admins always may)"</label>
                <label>"VM subnets for SSH through the portal (CIDR, one per line; empty: SSH through the portal is off)"
                    <textarea name="form[vm_subnets]" rows="2" placeholder="10.20.0.0/24">{c.vm_subnets.join("\n")}</textarea>
                </label>
                <fieldset>
                    <legend>"Node operations over SSH (for classes)"</legend>
                    <label>"SSH user" <input name="form[ssh_user]" value=c.ssh_user.clone().unwrap_or_default() placeholder="root" /></label>
                    <label>"SSH port" <input name="form[ssh_port]" inputmode="numeric" value=c.ssh_port.to_string() /></label>
                    <label>{if c.has_ssh_key { "Private key (stored; paste to replace)" } else { "Private key" }}
                        <textarea name="form[ssh_key]" rows="3" placeholder="-----BEGIN OPENSSH PRIVATE KEY-----"></textarea>
                    </label>
                    <label>"Pinned host keys (known_hosts lines)" <textarea name="form[ssh_host_keys]" rows="2">{c.ssh_host_keys.clone().unwrap_or_default()}</textarea></label>
                    <label>"pmxcfs folder" <input name="form[pve_root]" value=c.pve_root.clone() /></label>
                    <label>"Storage paths (storage=/path per line)" <textarea name="form[storage_paths]" rows="2">{c.storage_paths.clone()}</textarea></label>
                </fieldset>
                <button type="submit">{if editing { "Save changes" } else { "Add cluster" }}</button>
            </ActionForm>
            <FormError message=error />
            {move || saved().map(|s| view! { <p class="notice" role="status" id=ids::FORM_NOTICE>{s}</p> })}
        </section>
    }
}
