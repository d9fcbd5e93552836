//! Clusters: the admin's connections to Proxmox VE. Validation of the add/edit form, storage
//! with sealed secrets, "test connection", and one cached [`pve::Client`] per cluster.
//!
//! What the portal's identity must be allowed in Proxmox, per feature: [`privileges`].
//!
//! Secrets are write-only: they are sealed on the way in and only opened to build a client;
//! nothing here returns them. An edit with an empty secret field keeps the stored one.

mod privileges;

use crate::clock::now;
use crate::db::entity::{cluster, sync_status};
use crate::model::{ClusterForm, ClusterTest, ClusterView, SyncView};
use crate::pve::{self, Credentials};
use crate::{Error, Result, Services};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, QueryOrder};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Purpose labels of sealed values (see `secrets`).
const SECRET_PURPOSE: &str = "cluster-secret";
const SSH_KEY_PURPOSE: &str = "ssh-key";
/// Per-call timeout of the portal's Proxmox clients.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One client per cluster id, built on first use and dropped when the cluster changes.
#[derive(Clone, Default)]
pub struct PveClients(Arc<Mutex<HashMap<i32, pve::Client>>>);

impl PveClients {
    fn forget(&self, id: i32) {
        self.0.lock().expect("client cache poisoned").remove(&id);
    }
}

/// The client for a stored cluster.
pub fn client(services: &Services, cluster: &cluster::Model) -> Result<pve::Client> {
    if let Some(client) = services.pve.0.lock().expect("poisoned").get(&cluster.id) {
        return Ok(client.clone());
    }
    let client = pve::Client::labelled(connection(services, cluster)?, &cluster.name)?;
    services
        .pve
        .0
        .lock()
        .expect("client cache poisoned")
        .insert(cluster.id, client.clone());
    Ok(client)
}

fn connection(services: &Services, cluster: &cluster::Model) -> Result<pve::Connection> {
    let secret = services.secrets.open(SECRET_PURPOSE, &cluster.secret_enc)?;
    let credentials = if cluster.auth_kind == "token" {
        Credentials::Token {
            id: cluster.auth_id.clone(),
            secret,
        }
    } else {
        Credentials::Password {
            user: cluster.auth_id.clone(),
            password: secret,
        }
    };
    Ok(pve::Connection {
        urls: cluster.api_urls.lines().map(str::to_owned).collect(),
        fingerprint: cluster.fingerprint.clone(),
        credentials,
        timeout: CALL_TIMEOUT,
    })
}

pub async fn find(services: &Services, id: i32) -> Result<cluster::Model> {
    cluster::Entity::find_by_id(id)
        .one(&services.db)
        .await?
        .ok_or_else(|| Error::NotFound("That cluster".into()))
}

pub async fn list(services: &Services) -> Result<Vec<ClusterView>> {
    let clusters = cluster::Entity::find()
        .order_by_asc(cluster::Column::Name)
        .all(&services.db)
        .await?;
    let sync: HashMap<i32, sync_status::Model> = sync_status::Entity::find()
        .all(&services.db)
        .await?
        .into_iter()
        .map(|s| (s.cluster_id, s))
        .collect();
    let mut groups: HashMap<i32, Vec<String>> = HashMap::new();
    for g in crate::db::entity::cluster_group::Entity::find()
        .order_by_asc(crate::db::entity::cluster_group::Column::Groupid)
        .all(&services.db)
        .await?
    {
        groups.entry(g.cluster_id).or_default().push(g.groupid);
    }
    Ok(clusters
        .into_iter()
        .map(|c| {
            let status = sync.get(&c.id).cloned();
            let groups = groups.remove(&c.id).unwrap_or_default();
            ClusterView {
                groups,
                ..view(c, status)
            }
        })
        .collect())
}

fn view(c: cluster::Model, sync: Option<sync_status::Model>) -> ClusterView {
    ClusterView {
        id: c.id,
        api_urls: c.api_urls.lines().map(str::to_owned).collect(),
        fingerprint: c.fingerprint,
        auth_kind: c.auth_kind,
        auth_id: c.auth_id,
        admin_group: c.admin_group,
        teacher_group: c.teacher_group,
        student_group: c.student_group,
        vm_subnets: c.vm_subnets.lines().map(str::to_owned).collect(),
        ssh_user: c.ssh_user,
        ssh_port: u16::try_from(c.ssh_port).unwrap_or(22),
        has_ssh_key: c.ssh_key_enc.is_some(),
        ssh_host_keys: c.ssh_host_keys,
        pve_root: c.pve_root,
        storage_paths: c.storage_paths,
        enabled: c.enabled,
        teachers_build: c.teachers_build,
        name: c.name,
        sync: sync.map(sync_view).unwrap_or_default(),
        groups: Vec::new(),
    }
}

fn sync_view(s: sync_status::Model) -> SyncView {
    SyncView {
        quick_at: s.quick_at,
        quick_ms: s.quick_ms,
        full_at: s.full_at,
        full_ms: s.full_ms,
        full_calls: s.full_calls,
        calls_total: s.calls_total,
        guests: s.guests,
        last_error: s.last_error,
        error_at: s.error_at,
    }
}

/// Adds a cluster. The secret is required.
pub async fn create(services: &Services, form: &ClusterForm) -> Result<ClusterView> {
    let valid = Valid::check(form)?;
    if form.secret.trim().is_empty() {
        return Err(Error::Invalid(
            "Enter the API token secret or the password.".into(),
        ));
    }
    ensure_name_free(services, &valid.name, None).await?;
    let row = cluster::ActiveModel {
        name: Set(valid.name.clone()),
        api_urls: Set(valid.urls.join("\n")),
        fingerprint: Set(valid.fingerprint.clone()),
        auth_kind: Set(valid.auth_kind.clone()),
        auth_id: Set(valid.auth_id.clone()),
        secret_enc: Set(seal(services, SECRET_PURPOSE, form.secret.trim())),
        admin_group: Set(valid.admin_group.clone()),
        teacher_group: Set(valid.teacher_group.clone()),
        student_group: Set(valid.student_group.clone()),
        vm_subnets: Set(valid.vm_subnets_text()),
        ssh_user: Set(valid.ssh_user.clone()),
        ssh_port: Set(i32::from(valid.ssh_port)),
        ssh_key_enc: Set(valid
            .ssh_key
            .as_deref()
            .map(|k| seal(services, SSH_KEY_PURPOSE, k))),
        ssh_host_keys: Set(valid.ssh_host_keys.clone()),
        pve_root: Set(valid.pve_root.clone()),
        storage_paths: Set(valid.storage_paths.clone()),
        teachers_build: Set(valid.teachers_build),
        enabled: Set(true),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&services.db)
    .await?;
    tracing::info!(cluster = %row.name, "cluster added");
    services.sync.wake();
    Ok(view(row, None))
}

/// Changes a cluster; empty secret fields keep the stored secrets.
pub async fn update(services: &Services, id: i32, form: &ClusterForm) -> Result<ClusterView> {
    let valid = Valid::check(form)?;
    let current = find(services, id).await?;
    ensure_name_free(services, &valid.name, Some(id)).await?;
    let subnets = valid.vm_subnets_text();
    let mut row: cluster::ActiveModel = current.into();
    row.name = Set(valid.name);
    row.api_urls = Set(valid.urls.join("\n"));
    row.fingerprint = Set(valid.fingerprint);
    row.auth_kind = Set(valid.auth_kind);
    row.auth_id = Set(valid.auth_id);
    if !form.secret.trim().is_empty() {
        row.secret_enc = Set(seal(services, SECRET_PURPOSE, form.secret.trim()));
    }
    row.admin_group = Set(valid.admin_group.clone());
    row.teacher_group = Set(valid.teacher_group.clone());
    row.student_group = Set(valid.student_group.clone());
    row.vm_subnets = Set(subnets);
    row.ssh_user = Set(valid.ssh_user);
    row.ssh_port = Set(i32::from(valid.ssh_port));
    if let Some(key) = valid.ssh_key {
        row.ssh_key_enc = Set(Some(seal(services, SSH_KEY_PURPOSE, &key)));
    }
    row.ssh_host_keys = Set(valid.ssh_host_keys);
    row.pve_root = Set(valid.pve_root);
    row.storage_paths = Set(valid.storage_paths);
    row.teachers_build = Set(valid.teachers_build);
    let row = row.update(&services.db).await?;
    services.pve.forget(id);
    services.shells.forget(id).await;
    services.sync.wake();
    Ok(view(row, None))
}

pub async fn set_enabled(services: &Services, id: i32, enabled: bool) -> Result<()> {
    let mut row: cluster::ActiveModel = find(services, id).await?.into();
    row.enabled = Set(enabled);
    row.update(&services.db).await?;
    services.pve.forget(id);
    services.shells.forget(id).await;
    services.sync.wake();
    Ok(())
}

/// Removes a cluster and its inventory rows and assignments (the VMs in Proxmox are untouched).
pub async fn delete(services: &Services, id: i32) -> Result<()> {
    let row = find(services, id).await?;
    cluster::Entity::delete_by_id(id).exec(&services.db).await?;
    services.pve.forget(id);
    services.shells.forget(id).await;
    crate::inventory::bump_all(&services.db).await?;
    tracing::info!(cluster = %row.name, "cluster removed");
    Ok(())
}

/// Logs in and reads the version, nodes and guests: what an admin wants to see before
/// trusting the settings; plus, in words, what the portal's identity may not do that a
/// feature needs (its `/access/permissions` against [`privileges::FEATURES`], and reading
/// the mapped groups, for Proxmox-account sign-in).
pub async fn test(services: &Services, id: i32) -> Result<ClusterTest> {
    let row = find(services, id).await?;
    // A fresh client: the test must not reuse a ticket obtained with older settings.
    let client = pve::Client::new(connection(services, &row)?)?;
    let groups = [&row.admin_group, &row.teacher_group, &row.student_group];
    run_test(
        &client,
        identity(&row.auth_kind),
        groups.map(Option::as_deref),
    )
    .await
}

/// [`test`] for a form that is not saved yet (`proxlab cluster add` tests before it saves).
pub async fn test_form(form: &ClusterForm) -> Result<ClusterTest> {
    let valid = Valid::check(form)?;
    let secret = SecretString::from(form.secret.trim().to_owned());
    let credentials = if valid.auth_kind == "token" {
        Credentials::Token {
            id: valid.auth_id.clone(),
            secret,
        }
    } else {
        Credentials::Password {
            user: valid.auth_id.clone(),
            password: secret,
        }
    };
    let client = pve::Client::new(pve::Connection {
        urls: valid.urls.clone(),
        fingerprint: valid.fingerprint.clone(),
        credentials,
        timeout: CALL_TIMEOUT,
    })?;
    let groups = [
        &valid.admin_group,
        &valid.teacher_group,
        &valid.student_group,
    ];
    run_test(
        &client,
        identity(&valid.auth_kind),
        groups.map(Option::as_deref),
    )
    .await
}

/// How the warnings name the portal's identity.
fn identity(auth_kind: &str) -> &'static str {
    if auth_kind == "token" {
        "The token"
    } else {
        "The user"
    }
}

async fn run_test(
    client: &pve::Client,
    who: &str,
    groups: [Option<&str>; 3],
) -> Result<ClusterTest> {
    let started = Instant::now();
    let version = client.version().await?;
    let nodes = client.nodes().await?;
    let guests = client.vm_resources().await?;
    let millis = started.elapsed().as_millis() as u64;
    let mut warnings = Vec::new();
    if groups[0].is_none() {
        warnings.push(
            "No admin group: of the Proxmox accounts, only root@pam signs in as an admin.".into(),
        );
    }
    for (group, role) in groups.into_iter().zip(["admins", "teachers", "students"]) {
        let Some(group) = group else { continue };
        match client.group_members(group).await {
            Ok(_) => {}
            Err(pve::Error::Api { message, .. }) if message.contains("does not exist") => warnings
                .push(format!(
                    "The Proxmox group {group:?} ({role}) does not exist: nobody signs in through it."
                )),
            Err(e) => warnings.push(format!(
                "Cannot read the Proxmox group {group:?} ({role}): the portal's token needs \
                 Sys.Audit on /access/groups, or Proxmox accounts cannot sign in ({e})."
            )),
        }
    }
    let realm_signin = groups.iter().any(Option::is_some);
    warnings.extend(privileges::check(client, who, &version.version, realm_signin).await);
    Ok(ClusterTest {
        version: version.version,
        nodes_online: nodes.iter().filter(|n| n.online).count(),
        nodes_total: nodes.len(),
        guests: guests.len(),
        millis,
        warnings,
    })
}

/// The SHA-256 fingerprint of the certificate at `url`, to show the admin before pinning it.
pub async fn fetch_fingerprint(url: &str) -> Result<String> {
    let url = normalize_url(url)?;
    Ok(pve::fetch_fingerprint(&url, CALL_TIMEOUT).await?)
}

fn seal(services: &Services, purpose: &str, secret: &str) -> String {
    services
        .secrets
        .seal(purpose, &SecretString::from(secret.to_owned()))
}

async fn ensure_name_free(services: &Services, name: &str, except: Option<i32>) -> Result<()> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let taken = cluster::Entity::find()
        .filter(cluster::Column::Name.eq(name))
        .one(&services.db)
        .await?
        .is_some_and(|c| Some(c.id) != except);
    if taken {
        return Err(Error::Conflict(format!(
            "A cluster named {name:?} exists already."
        )));
    }
    Ok(())
}

/// A checked form.
struct Valid {
    name: String,
    urls: Vec<String>,
    fingerprint: Option<String>,
    auth_kind: String,
    auth_id: String,
    admin_group: Option<String>,
    teacher_group: Option<String>,
    student_group: Option<String>,
    vm_subnets: Vec<ipnet::IpNet>,
    ssh_user: Option<String>,
    ssh_port: u16,
    ssh_key: Option<String>,
    ssh_host_keys: Option<String>,
    pve_root: String,
    storage_paths: String,
    teachers_build: bool,
}

impl Valid {
    fn check(form: &ClusterForm) -> Result<Self> {
        let invalid = |msg: &str| Err(Error::Invalid(msg.to_owned()));
        let name = form.name.trim().to_owned();
        if name.is_empty()
            || name.len() > 40
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._-".contains(c))
        {
            return invalid("Cluster name: 1 to 40 letters, digits, spaces, '.', '-' or '_'.");
        }
        let urls = form
            .api_urls
            .split([',', '\n', ' '])
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(normalize_url)
            .collect::<Result<Vec<_>>>()?;
        if urls.is_empty() {
            return invalid("Enter the API address of at least one node (https://host:8006).");
        }
        let fingerprint = match form.fingerprint.trim() {
            "" => None,
            fp => Some(normalize_fingerprint(fp)?),
        };
        let auth_kind = form.auth_kind.trim().to_owned();
        let auth_id = form.auth_id.trim().to_owned();
        match auth_kind.as_str() {
            "token" if is_token_id(&auth_id) => {}
            "token" => return invalid("Token id: user@realm!tokenid, e.g. portal@pve!lab."),
            "password" if is_user_id(&auth_id) => {}
            "password" => return invalid("User: user@realm, e.g. portal@pve."),
            _ => return invalid("Choose API token or password."),
        }
        let group = |text: &str, what: &str| -> Result<Option<String>> {
            let group = optional(text);
            if group.as_deref().is_some_and(|g| !is_word(g)) {
                return Err(Error::Invalid(format!(
                    "{what} group: letters, digits, '.', '-' or '_'."
                )));
            }
            Ok(group)
        };
        let admin_group = group(&form.admin_group, "Admin")?;
        let teacher_group = group(&form.teacher_group, "Teacher")?;
        let student_group = group(&form.student_group, "Student")?;
        let vm_subnets = check_vm_subnets(&form.vm_subnets)?;
        let ssh_user = optional(&form.ssh_user);
        if ssh_user.as_deref().is_some_and(|u| !is_word(u)) {
            return invalid("SSH user: letters, digits, '.', '-' or '_'.");
        }
        let ssh_port = match form.ssh_port.trim() {
            "" => 22,
            p => match p.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => return invalid("SSH port: a number from 1 to 65535."),
            },
        };
        let ssh_key = optional(&form.ssh_key);
        if ssh_key
            .as_deref()
            .is_some_and(|k| !k.contains("PRIVATE KEY"))
        {
            return invalid(
                "SSH key: paste an OpenSSH private key (-----BEGIN … PRIVATE KEY-----).",
            );
        }
        let ssh_host_keys = optional(&form.ssh_host_keys);
        let pve_root = optional(&form.pve_root).unwrap_or_else(|| "/etc/pve".into());
        if !pve_root.starts_with('/') || pve_root.contains("..") {
            return invalid("The pmxcfs folder must be an absolute path (usually /etc/pve).");
        }
        let storage_paths = check_storage_paths(&form.storage_paths)?;
        Ok(Valid {
            name,
            urls,
            fingerprint,
            auth_kind,
            auth_id,
            admin_group,
            teacher_group,
            student_group,
            vm_subnets,
            ssh_user,
            ssh_port,
            ssh_key,
            ssh_host_keys,
            pve_root,
            storage_paths,
            teachers_build: !form.teachers_build.trim().is_empty(),
        })
    }
}

impl Valid {
    fn vm_subnets_text(&self) -> String {
        let lines: Vec<String> = self.vm_subnets.iter().map(ToString::to_string).collect();
        lines.join("\n")
    }
}

/// The VM subnets SSH through the portal may dial: CIDRs (IPv4 or IPv6), one per line or
/// comma-separated, stored as their networks (`10.20.0.7/24` becomes `10.20.0.0/24`).
/// Networks wider than a /8 (IPv4) or /32 (IPv6) are refused: "everything" is not a subnet.
fn check_vm_subnets(text: &str) -> Result<Vec<ipnet::IpNet>> {
    let mut nets = Vec::new();
    for item in text
        .split([',', '\n', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let net: ipnet::IpNet = item.parse().map_err(|_| {
            Error::Invalid(format!(
                "VM subnets: {item:?} is not a subnet such as 10.20.0.0/24."
            ))
        })?;
        let too_wide = match net {
            ipnet::IpNet::V4(n) => n.prefix_len() < 8,
            ipnet::IpNet::V6(n) => n.prefix_len() < 32,
        };
        if too_wide {
            return Err(Error::Invalid(format!(
                "VM subnets: {item} is too wide (at most a /8, or a /32 for IPv6)."
            )));
        }
        if !nets.contains(&net.trunc()) {
            nets.push(net.trunc());
        }
    }
    Ok(nets)
}

/// The stored VM subnets of a cluster (rows were checked on the way in; anything unreadable is
/// skipped, which only narrows what SSH may reach).
pub fn vm_subnets(cluster: &cluster::Model) -> Vec<ipnet::IpNet> {
    cluster
        .vm_subnets
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// `user@realm`.
fn is_user_id(text: &str) -> bool {
    text.split_once('@')
        .is_some_and(|(user, realm)| is_word(user) && is_word(realm))
}

/// `user@realm!tokenid`; PVE's token id pattern is `[A-Za-z][A-Za-z0-9.\-_]+`.
fn is_token_id(text: &str) -> bool {
    text.split_once('!').is_some_and(|(user, token)| {
        is_user_id(user) && token.starts_with(|c: char| c.is_ascii_alphabetic()) && is_word(token)
    })
}

/// `https://host[:port]`, without `/api2/json` or a trailing slash.
fn normalize_url(text: &str) -> Result<String> {
    let bad = || {
        Error::Invalid(format!(
            "{text:?} is not an https:// address of a Proxmox node."
        ))
    };
    let url = url::Url::parse(text.trim()).map_err(|_| bad())?;
    if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    let path = url.path().trim_end_matches('/');
    if !(path.is_empty() || path == "/api2/json") || url.query().is_some() {
        return Err(bad());
    }
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!(
        "https://{}{port}",
        url.host_str().unwrap_or_default()
    ))
}

/// 32 bytes as upper-case hex pairs separated by colons (how PVE shows it).
fn normalize_fingerprint(text: &str) -> Result<String> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::Invalid(
            "The fingerprint is a SHA-256: 32 hex pairs such as AB:CD:….".into(),
        ));
    }
    let upper = hex.to_ascii_uppercase();
    Ok(upper
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(":"))
}

/// `storage=/absolute/path` per line; defaults to PVE's `local=/var/lib/vz`.
fn check_storage_paths(text: &str) -> Result<String> {
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let ok = line.split_once('=').is_some_and(|(id, path)| {
            is_word(id.trim()) && path.trim().starts_with('/') && !path.contains("..")
        });
        if !ok {
            return Err(Error::Invalid(format!(
                "Storage paths: one storage=/path per line ({line:?} is not)."
            )));
        }
        lines.push(line.replace(' ', ""));
    }
    if lines.is_empty() {
        lines.push("local=/var/lib/vz".into());
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ClusterForm {
        ClusterForm {
            name: "Lab A".into(),
            api_urls: "https://10.0.0.1:8006/api2/json/, https://pve2.example:8006".into(),
            fingerprint: "ab".repeat(32),
            auth_kind: "token".into(),
            auth_id: "portal@pve!lab".into(),
            secret: "x".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_form_is_normalised() {
        let v = Valid::check(&form()).unwrap();
        assert_eq!(
            v.urls,
            ["https://10.0.0.1:8006", "https://pve2.example:8006"]
        );
        assert_eq!(v.fingerprint.unwrap(), ["AB"; 32].join(":"));
        assert_eq!(v.pve_root, "/etc/pve");
        assert_eq!(v.storage_paths, "local=/var/lib/vz");
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        type Case = (&'static str, fn(&mut ClusterForm));
        let cases: [Case; 9] = [
            ("name", |f| f.name = "a/b".into()),
            ("https", |f| f.api_urls = "http://10.0.0.1:8006".into()),
            ("https", |f| f.api_urls = "https://h:8006/evil?x=1".into()),
            ("at least one", |f| f.api_urls = " ".into()),
            ("SHA-256", |f| f.fingerprint = "AB:CD".into()),
            ("Token id", |f| f.auth_id = "portal@pve".into()),
            ("User", |f| {
                f.auth_kind = "password".into();
                f.auth_id = "root".into();
            }),
            ("absolute", |f| f.pve_root = "etc/pve".into()),
            ("Storage", |f| f.storage_paths = "local:/var/lib/vz".into()),
        ];
        for (expect, change) in cases {
            let mut f = form();
            change(&mut f);
            let err = Valid::check(&f)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expect), "{expect}: {err}");
        }
    }
}
