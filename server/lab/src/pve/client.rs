//! The client: authentication, timeouts, retries and failover around `reqwest`, then one
//! method per endpoint.
//!
//! * API tokens go in `Authorization: PVEAPIToken=<id>=<secret>` and need no CSRF token.
//! * Password logins get a ticket lazily on the first call (`POST /access/ticket`), sent as
//!   the `PVEAuthCookie` cookie, with the `CSRFPreventionToken` header on non-GET calls.
//!   Tickets live 2 h; we renew after 60 min by logging in with the ticket as password
//!   (what proxmoxer does), and a 401 on a ticket call means it expired anyway (server
//!   clock, restart of the key): log in again once and repeat the call once.
//! * Every call is limited by the connection's timeout. Only GETs are retried (twice, after
//!   100 ms and 300 ms) and only after transport errors: a 500 or 595 will not change, and
//!   a POST may already have started a task. When a URL cannot be connected to, the next
//!   one is tried and the one that answered is used first from then on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, COOKIE, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::{self, Error};
use super::types::{self, GuestConfig, GuestKind, GuestResource, NetInterface};
use super::types::{
    ClusterMember, NodeInfo, NodeStatus, PowerAction, StorageResource, StorageStatus, TaskStatus,
    Version,
};
use super::{Connection, Credentials, Permissions, tls};

/// Turns a status line and body into a result: [`error::decode_envelope`] for most calls, a
/// typed decoder for big answers (no JSON tree in between).
type Decode<T> = fn(StatusCode, Option<&str>, &[u8]) -> Result<T, Error>;

/// Renew tickets (valid 2 h) once they are this old.
const RENEW_AFTER: Duration = Duration::from_secs(60 * 60);
/// Pauses before the retries of a GET.
const BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(300)];
/// How often [`Client::wait_task`] asks.
const POLL: Duration = Duration::from_millis(250);

/// A PVE API client. Cheap to clone; clones share connections, session and counters.
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    http: reqwest::Client,
    /// `https://host:port/api2/json`.
    pub(super) bases: Vec<String>,
    /// Index into `bases` that answered last.
    pub(super) preferred: AtomicUsize,
    credentials: Credentials,
    /// `PVEAPIToken=…`, marked sensitive.
    pub(super) token_header: Option<HeaderValue>,
    pub(super) calls: AtomicU64,
    session: Mutex<Option<Session>>,
    /// Pauses after Proxmox refused our own credentials.
    refusals: super::backoff::CredentialBackoff,
    /// TLS for console WebSockets, opened outside reqwest: the same pin or the same roots.
    pub(super) ws_tls: Arc<rustls::ClientConfig>,
    /// The cluster's name in `/metrics` (`-` for a client no stored cluster owns).
    label: String,
}

/// A ticket login.
struct Session {
    ticket: SecretString,
    csrf: SecretString,
    issued: Instant,
}

/// How one request authenticates.
pub(super) enum Auth {
    None,
    Token(HeaderValue),
    Ticket {
        ticket: SecretString,
        csrf: SecretString,
    },
}

/// A failed attempt; `connect` when the request never reached the server.
struct Failed {
    error: Error,
    connect: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("urls", &self.inner.bases)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes one path segment (UPIDs hold `:`, `@`, `!`).
pub(super) fn seg(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The UPID an asynchronous call answers with.
pub(super) fn upid(data: Value, what: &str) -> Result<String, Error> {
    match data {
        Value::String(upid) => Ok(upid),
        _ => Err(Error::Decode(format!("{what} did not return a UPID"))),
    }
}

fn sensitive(text: &str, what: &str) -> Result<HeaderValue, Error> {
    let mut v = HeaderValue::from_str(text)
        .map_err(|_| Error::Invalid(format!("{what} contains characters not allowed in HTTP")))?;
    v.set_sensitive(true);
    Ok(v)
}

fn parse<T: DeserializeOwned>(data: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(data).map_err(|e| Error::Decode(format!("{what}: {e}")))
}

fn list<T: DeserializeOwned>(data: Value, what: &str) -> Result<Vec<T>, Error> {
    match data {
        Value::Null => Ok(Vec::new()),
        other => parse(other, what),
    }
}

impl Client {
    /// Checks the settings and prepares the HTTP client; no network I/O.
    pub fn new(conn: Connection) -> Result<Client, Error> {
        Self::labelled(conn, "-")
    }

    /// [`Client::new`] for a stored cluster: its calls are counted under `cluster`'s name.
    pub fn labelled(conn: Connection, cluster: &str) -> Result<Client, Error> {
        if conn.urls.is_empty() {
            return Err(Error::Invalid("at least one URL is needed".into()));
        }
        if conn.timeout.is_zero() {
            return Err(Error::Invalid("the timeout must not be zero".into()));
        }
        let bases = conn
            .urls
            .iter()
            .map(|u| tls::base_url(u).map(|b| format!("{b}/api2/json")))
            .collect::<Result<Vec<_>, _>>()?;
        let token_header = match &conn.credentials {
            Credentials::Token { id, secret } => {
                if !id.contains('!') {
                    return Err(Error::Invalid(format!(
                        "token id '{id}' must look like user@realm!tokenid"
                    )));
                }
                let value = format!("PVEAPIToken={id}={}", secret.expose_secret());
                Some(sensitive(&value, "the API token")?)
            }
            Credentials::Password { .. } => None,
        };
        let ws_tls = Arc::new(match &conn.fingerprint {
            Some(pin) => tls::pinned_config(&tls::normalize_fingerprint(pin)?)?,
            None => tls::system_config()?,
        });
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .http1_only()
            .connect_timeout(conn.timeout)
            .timeout(conn.timeout)
            // pveproxy drops idle keep-alive connections after 5 s; reusing one just as it
            // closes would fail a request for nothing.
            .pool_idle_timeout(Duration::from_secs(4))
            // The API never redirects; following one could carry credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("proxlab/", env!("CARGO_PKG_VERSION")));
        if let Some(pin) = &conn.fingerprint {
            let pin = tls::normalize_fingerprint(pin)?;
            builder = builder.tls_backend_preconfigured(tls::pinned_config(&pin)?);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Tls(error::chain_text(&e)))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                bases,
                preferred: AtomicUsize::new(0),
                credentials: conn.credentials,
                token_header,
                calls: AtomicU64::new(0),
                session: Mutex::new(None),
                refusals: Default::default(),
                ws_tls,
                label: cluster.to_owned(),
            }),
        })
    }

    /// HTTP requests sent so far (attempts, including failed ones and logins).
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    pub async fn version(&self) -> Result<Version, Error> {
        parse(self.get("version").await?, "version")
    }

    /// Every QEMU and LXC guest of the cluster, templates included.
    pub async fn vm_resources(&self) -> Result<Vec<GuestResource>, Error> {
        self.request_as(
            Method::GET,
            "cluster/resources?type=vm",
            None,
            types::decode_guests,
        )
        .await
    }

    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, Error> {
        list(self.get("nodes").await?, "nodes")
    }

    /// Every storage as each node sees it, with its use (one call for the whole cluster).
    pub async fn storage_resources(&self) -> Result<Vec<StorageResource>, Error> {
        list(
            self.get("cluster/resources?type=storage").await?,
            "storage resources",
        )
    }

    pub async fn node_status(&self, node: &str) -> Result<NodeStatus, Error> {
        let path = format!("nodes/{}/status", seg(node));
        parse(self.get(&path).await?, "node status")
    }

    /// The nodes of the cluster with their addresses (`/cluster/status`; a single node
    /// without a cluster answers with just its own entry).
    pub async fn cluster_members(&self) -> Result<Vec<ClusterMember>, Error> {
        let entries: Vec<Value> = list(self.get("cluster/status").await?, "cluster status")?;
        entries
            .into_iter()
            .filter(|e| e.get("type").and_then(Value::as_str) == Some("node"))
            .map(|e| parse(e, "cluster status node"))
            .collect()
    }

    pub async fn storage_status(&self, node: &str, storage: &str) -> Result<StorageStatus, Error> {
        let path = format!("nodes/{}/storage/{}/status", seg(node), seg(storage));
        parse(self.get(&path).await?, "storage status")
    }

    /// Destroys a stopped guest with its disks (`purge` also drops it from backup jobs and
    /// HA; `destroy-unreferenced-disks` removes volumes the config no longer lists).
    /// Returns the task's UPID.
    pub async fn destroy_guest(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
    ) -> Result<String, Error> {
        let path = format!(
            "nodes/{}/{}/{vmid}?purge=1&destroy-unreferenced-disks=1",
            seg(node),
            kind.as_str()
        );
        match self.request(Method::DELETE, &path, None).await? {
            Value::String(upid) => Ok(upid),
            _ => Err(Error::Decode("destroy did not return a UPID".into())),
        }
    }

    /// Changes config keys of a QEMU guest (`PUT …/config`, synchronous). On a running VM,
    /// changes PVE cannot hot-plug become pending until the next start.
    pub async fn set_config(
        &self,
        node: &str,
        vmid: u32,
        keys: &[(&str, &str)],
    ) -> Result<(), Error> {
        let path = format!("nodes/{}/qemu/{vmid}/config", seg(node));
        self.request(Method::PUT, &path, Some(keys)).await?;
        Ok(())
    }

    pub async fn guest_config(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
    ) -> Result<GuestConfig, Error> {
        let path = format!("nodes/{}/{}/{vmid}/config", seg(node), kind.as_str());
        GuestConfig::from_data(self.get(&path).await?)
    }

    /// Addresses reported by a VM's guest agent. PVE answers 500 when the agent is not
    /// configured or not (yet) running, the latter only after a 3 s ping timeout.
    pub async fn agent_interfaces(
        &self,
        node: &str,
        vmid: u32,
    ) -> Result<Vec<NetInterface>, Error> {
        let path = format!(
            "nodes/{}/qemu/{vmid}/agent/network-get-interfaces",
            seg(node)
        );
        types::agent_interfaces(self.get(&path).await?)
    }

    /// Addresses inside a container (empty while it is stopped).
    pub async fn lxc_interfaces(&self, node: &str, vmid: u32) -> Result<Vec<NetInterface>, Error> {
        let path = format!("nodes/{}/lxc/{vmid}/interfaces", seg(node));
        types::lxc_interfaces(self.get(&path).await?)
    }

    /// Starts a power task and returns its UPID. Note that PVE reports many failures only
    /// in the task (`start` of a running VM succeeds here); see [`Client::wait_task`].
    pub async fn power(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        action: PowerAction,
    ) -> Result<String, Error> {
        let path = format!(
            "nodes/{}/{}/{vmid}/status/{}",
            seg(node),
            kind.as_str(),
            action.as_str()
        );
        match self.request(Method::POST, &path, None).await? {
            Value::String(upid) => Ok(upid),
            _ => Err(Error::Decode("power action did not return a UPID".into())),
        }
    }

    /// An ACPI shutdown that Proxmox turns into a hard stop after `timeout_secs` if the guest
    /// has not powered off (`forceStop=1`): the grace period of a policy shutdown, kept by
    /// Proxmox itself (qemu-server `vm_shutdown`), so it holds even if the portal restarts.
    pub async fn shutdown_forced(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        timeout_secs: u32,
    ) -> Result<String, Error> {
        let path = format!(
            "nodes/{}/{}/{vmid}/status/shutdown",
            seg(node),
            kind.as_str()
        );
        let timeout = timeout_secs.to_string();
        let form = [("forceStop", "1"), ("timeout", timeout.as_str())];
        match self.request(Method::POST, &path, Some(&form)).await? {
            Value::String(upid) => Ok(upid),
            _ => Err(Error::Decode("shutdown did not return a UPID".into())),
        }
    }

    /// Hibernation: `POST …/qemu/{vmid}/status/suspend` with `todisk=1` (a `qmsuspend` task;
    /// the VM stops with its RAM saved to a state volume and `lock: suspended`; the next start
    /// resumes it). QEMU only.
    pub async fn hibernate(&self, node: &str, vmid: u32) -> Result<String, Error> {
        let path = format!("nodes/{}/qemu/{vmid}/status/suspend", seg(node));
        match self
            .request(Method::POST, &path, Some(&[("todisk", "1")]))
            .await?
        {
            Value::String(upid) => Ok(upid),
            _ => Err(Error::Decode("suspend did not return a UPID".into())),
        }
    }

    pub async fn task_status(&self, node: &str, upid: &str) -> Result<TaskStatus, Error> {
        let path = format!("nodes/{}/tasks/{}/status", seg(node), seg(upid));
        parse(self.get(&path).await?, "task status")
    }

    /// Polls the task every 250 ms until it stops; [`Error::Timeout`] if it still runs
    /// after `timeout`.
    pub async fn wait_task(
        &self,
        node: &str,
        upid: &str,
        timeout: Duration,
    ) -> Result<TaskStatus, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.task_status(node, upid).await?;
            if !status.running {
                return Ok(status);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            tokio::time::sleep(left.min(POLL)).await;
        }
    }

    /// Checks a portal user's PVE password (their own ticket login, not ours); returns the
    /// user id as PVE normalised it (`user@realm`). Their groups are read separately
    /// ([`Client::user_groups`], [`Client::group_members`]) with the client's credentials.
    pub async fn check_login(&self, user: &str, password: &str) -> Result<String, Error> {
        let form = [("username", user), ("password", password)];
        let data = self
            .send(
                &Method::POST,
                "access/ticket",
                Some(&form),
                &Auth::None,
                error::decode_envelope,
            )
            .await?;
        refuse_tfa(&data)?;
        Ok(data
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or(user)
            .to_string())
    }

    /// `GET /access/users/{userid}`: the user's groups. PVE wants `Sys.Audit` or
    /// `User.Modify` on `/access/groups` (or on a group of the user) from our identity
    /// (pve-access-control `API2/User.pm` read_user, `userid-group` check).
    pub async fn user_groups(&self, userid: &str) -> Result<Vec<String>, Error> {
        let data = self.get(&format!("access/users/{}", seg(userid))).await?;
        Ok(types::groups(data.get("groups")))
    }

    /// `GET /access/groups`: the groups the identity may see, as (id, comment).
    pub async fn groups(&self) -> Result<Vec<(String, String)>, Error> {
        let entries: Vec<Value> = list(self.get("access/groups").await?, "groups")?;
        Ok(entries
            .iter()
            .filter_map(|e| {
                let id = e.get("groupid")?.as_str()?.to_string();
                let comment = e.get("comment").and_then(Value::as_str).unwrap_or("");
                Some((id, comment.to_string()))
            })
            .collect())
    }

    /// `GET /access/groups/{groupid}`: the group's members (`Sys.Audit` or `Group.Allocate`
    /// on `/access/groups`; pve-access-control `API2/Group.pm` read_group).
    pub async fn group_members(&self, groupid: &str) -> Result<Vec<String>, Error> {
        let data = self.get(&format!("access/groups/{}", seg(groupid))).await?;
        Ok(types::groups(data.get("members")))
    }

    /// `GET /access/permissions`: what the client's own identity may do, the whole tree or,
    /// with `path`, that path alone (open to every identity for itself; pve-access-control
    /// `API2/AccessControl.pm` permissions). See [`Permissions`] for reading it.
    pub async fn permissions(&self, path: Option<&str>) -> Result<Permissions, Error> {
        let query = match path {
            Some(path) => format!("access/permissions?path={}", seg(path)),
            None => "access/permissions".into(),
        };
        Permissions::from_data(self.get(&query).await?)
    }

    async fn get(&self, path: &str) -> Result<Value, Error> {
        self.request(Method::GET, path, None).await
    }

    /// One API call with authentication, and one fresh login if a ticket was refused.
    pub(super) async fn request(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Result<Value, Error> {
        self.request_as(method, path, form, error::decode_envelope)
            .await
    }

    /// [`Client::request`] with its own decoder.
    async fn request_as<T>(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        decode: Decode<T>,
    ) -> Result<T, Error> {
        let auth = self.auth().await?;
        let result = self.send_retrying(&method, path, form, &auth, decode).await;
        if let Auth::Token(_) = auth {
            match &result {
                Err(Error::Unauthorized(reason)) => self.inner.refusals.refused(reason),
                Ok(_) => self.inner.refusals.accepted(),
                Err(_) => {}
            }
        }
        let (Err(Error::Unauthorized(reason)), Auth::Ticket { ticket, .. }) = (&result, &auth)
        else {
            return result;
        };
        tracing::debug!(%reason, "PVE refused our ticket; logging in again");
        self.forget(ticket).await;
        let auth = self.auth().await?;
        self.send_retrying(&method, path, form, &auth, decode).await
    }

    /// Retries GETs after transport errors.
    async fn send_retrying<T>(
        &self,
        method: &Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        auth: &Auth,
        decode: Decode<T>,
    ) -> Result<T, Error> {
        let mut attempt = 0;
        loop {
            match self.send(method, path, form, auth, decode).await {
                Err(e @ (Error::Connect(_) | Error::Timeout))
                    if *method == Method::GET && attempt < BACKOFF.len() =>
                {
                    tracing::debug!(%path, error = %e, "PVE call failed; retrying");
                    tokio::time::sleep(BACKOFF[attempt]).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Sends to the preferred URL, moving on to the next ones while none can be reached.
    async fn send<T>(
        &self,
        method: &Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        auth: &Auth,
        decode: Decode<T>,
    ) -> Result<T, Error> {
        let bases = &self.inner.bases;
        let start = self.inner.preferred.load(Ordering::Relaxed);
        let mut last = Error::Invalid("no URL".into());
        for i in 0..bases.len() {
            let idx = (start + i) % bases.len();
            match self.send_once(idx, method, path, form, auth, decode).await {
                Err(Failed {
                    error,
                    connect: true,
                }) => {
                    tracing::debug!(url = %bases[idx], %error, "PVE endpoint unreachable");
                    last = error;
                }
                result => {
                    self.inner.preferred.store(idx, Ordering::Relaxed);
                    return result.map_err(|f| f.error);
                }
            }
        }
        Err(last)
    }

    async fn send_once<T>(
        &self,
        idx: usize,
        method: &Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        auth: &Auth,
        decode: Decode<T>,
    ) -> Result<T, Failed> {
        let failed = |error| Failed {
            error,
            connect: false,
        };
        let mut req = self.authed(idx, method, path, auth).map_err(failed)?;
        if let Some(form) = form {
            req = req.form(form);
        }
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let answer = Self::answer(req, decode).await;
        let outcome = match &answer {
            Ok(_) => "ok",
            Err(failed) => failed.error.kind(),
        };
        let (label, took) = (&self.inner.label, started.elapsed());
        crate::metrics::proxmox_call(label, method.as_str(), path, outcome, took);
        answer
    }

    /// A request to URL `idx` with the call's authentication.
    fn authed(
        &self,
        idx: usize,
        method: &Method,
        path: &str,
        auth: &Auth,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let url = format!("{}/{path}", self.inner.bases[idx]);
        let mut req = self.inner.http.request(method.clone(), url);
        match auth {
            Auth::None => {}
            Auth::Token(header) => req = req.header(AUTHORIZATION, header.clone()),
            Auth::Ticket { ticket, csrf } => {
                let cookie = format!("PVEAuthCookie={}", ticket.expose_secret());
                req = req.header(COOKIE, sensitive(&cookie, "the ticket")?);
                if *method != Method::GET {
                    let token = sensitive(csrf.expose_secret(), "the CSRF token");
                    req = req.header("CSRFPreventionToken", token?);
                }
            }
        }
        Ok(req)
    }

    /// Sends `req` and decodes the answer (the caller counts the call).
    async fn answer<T>(req: reqwest::RequestBuilder, decode: Decode<T>) -> Result<T, Failed> {
        // Only a connection that never came up moves on to the next URL; a certificate
        // mismatch or a dropped answer is reported as it is.
        let transport = |e: reqwest::Error| {
            let error = error::transport(&e);
            let connect = e.is_connect() && matches!(error, Error::Connect(_) | Error::Timeout);
            Failed { error, connect }
        };
        let resp = req.send().await.map_err(transport)?;
        let status: StatusCode = resp.status();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .and_then(|r| std::str::from_utf8(r.as_bytes()).ok())
            .map(str::to_string);
        let body = resp.bytes().await.map_err(transport)?;
        decode(status, reason.as_deref(), &body).map_err(|error| Failed {
            error,
            connect: false,
        })
    }

    /// One `multipart/form-data` POST (an upload) to the preferred URL, with its own
    /// timeout. Sent once: the body is a stream that cannot be sent again (no other URL, no
    /// new login after a refused ticket; tickets are renewed ahead of their end anyway).
    pub(super) async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
        timeout: Duration,
    ) -> Result<Value, Error> {
        let auth = self.auth().await?;
        let idx = self.inner.preferred.load(Ordering::Relaxed);
        let req = self
            .authed(idx, &Method::POST, path, &auth)?
            .multipart(form)
            .timeout(timeout);
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        Self::answer(req, error::decode_envelope)
            .await
            .map_err(|f| f.error)
    }

    /// The authentication for the next call: the token, or a ticket (logging in or
    /// renewing first when needed). Holding the lock makes concurrent calls share one login.
    pub(super) async fn auth(&self) -> Result<Auth, Error> {
        self.inner.refusals.check()?;
        let (user, password) = match &self.inner.credentials {
            Credentials::Token { .. } => {
                let header = self.inner.token_header.clone();
                return header
                    .map(Auth::Token)
                    .ok_or_else(|| Error::Invalid("token header missing".into()));
            }
            Credentials::Password { user, password } => (user, password),
        };
        let mut session = self.inner.session.lock().await;
        if let Some(s) = session.as_ref() {
            if s.issued.elapsed() < RENEW_AFTER {
                return Ok(s.auth());
            }
            match self.login(user, s.ticket.expose_secret()).await {
                Ok(fresh) => {
                    tracing::debug!(%user, "renewed the PVE ticket");
                    return Ok(session.insert(fresh).auth());
                }
                Err(Error::Unauthorized(_)) => {
                    tracing::debug!(%user, "PVE refused to renew the ticket");
                }
                Err(e) => return Err(e),
            }
        }
        let fresh = match self.login(user, password.expose_secret()).await {
            Ok(fresh) => fresh,
            Err(Error::Unauthorized(reason)) => {
                self.inner.refusals.refused(&reason);
                return Err(Error::Unauthorized(reason));
            }
            Err(e) => return Err(e),
        };
        self.inner.refusals.accepted();
        tracing::debug!(%user, "logged in to PVE");
        Ok(session.insert(fresh).auth())
    }

    /// `POST /access/ticket`; `password` may be a still-valid ticket (renewal).
    async fn login(&self, user: &str, password: &str) -> Result<Session, Error> {
        let form = [("username", user), ("password", password)];
        let data = self
            .send(
                &Method::POST,
                "access/ticket",
                Some(&form),
                &Auth::None,
                error::decode_envelope,
            )
            .await?;
        refuse_tfa(&data)?;
        let field = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .map(SecretString::from)
                .ok_or_else(|| Error::Decode(format!("login answer without {k}")))
        };
        Ok(Session {
            ticket: field("ticket")?,
            csrf: field("CSRFPreventionToken")?,
            issued: Instant::now(),
        })
    }

    /// Drops the session if it still holds the ticket that was just refused.
    async fn forget(&self, refused: &SecretString) {
        let mut session = self.inner.session.lock().await;
        if session
            .as_ref()
            .is_some_and(|s| s.ticket.expose_secret() == refused.expose_secret())
        {
            *session = None;
        }
    }
}

impl Session {
    fn auth(&self) -> Auth {
        Auth::Ticket {
            ticket: self.ticket.clone(),
            csrf: self.csrf.clone(),
        }
    }
}

/// A user with two-factor authentication gets a half ticket we cannot complete.
fn refuse_tfa(data: &Value) -> Result<(), Error> {
    let need = data
        .get("NeedTFA")
        .is_some_and(|v| v != &Value::Null && v != 0);
    if need {
        return Err(Error::Unauthorized(
            "two-factor authentication is required (not supported)".into(),
        ));
    }
    Ok(())
}
