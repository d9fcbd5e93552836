//! `/api2/json`: one entry point that does what pveproxy does before a handler runs (count
//! the call, apply faults, refuse DELETE bodies, authenticate, check CSRF, collect
//! parameters, check that the node in the path is reachable) and then dispatches on
//! `(method, path segments)`. A single `match` instead of a router keeps PVE's own rule for
//! unknown paths *and* unknown methods: `501 Method 'GET /x' not implemented` (no 404/405).

pub(crate) mod access;
pub(crate) mod authn;
pub(crate) mod cluster;
pub(crate) mod console;
pub(crate) mod guest;
pub(crate) mod migrate;
pub(crate) mod nodes;
pub(crate) mod params;
pub(crate) mod power;
pub(crate) mod qemu_config;
pub(crate) mod qemu_create;
pub(crate) mod reply;
pub(crate) mod snapshot;
pub(crate) mod storage;
pub(crate) mod storage_files;
pub(crate) mod storage_upload;
pub(crate) mod tasks;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, Response, header};

use crate::model::store::Kind;
use crate::model::{NodeState, State};
use authn::Ident;
use params::Params;
use reply::{ApiError, ApiResult};

/// Everything a handler gets.
pub(crate) struct Cx {
    pub st: Arc<State>,
    pub ident: Ident,
    pub p: Params,
}

const MAX_BODY: usize = 16 << 20;

/// Serves one request below `/api2/json`.
pub(crate) async fn handle(st: Arc<State>, req: Request<Body>) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let full = parts.uri.path().to_string();
    let Some(path) = full.strip_prefix("/api2/json") else {
        return reply::render(
            Err(ApiError::NotImplemented(format!("{} {full}", parts.method))),
            st.cfg.message_field,
        );
    };
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let route = route_key(&parts.method, &segs);
    *st.counters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(route.clone())
        .or_default() += 1;

    let (latency, fault) = {
        let mut f = st.faults();
        (f.latency, f.take_path(path, &route))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let seg_refs: Vec<&str> = segs.iter().map(String::as_str).collect();
    // An upload is spooled by the HTTP server, not read into memory (see `storage_upload`).
    let upload = match (&parts.method, seg_refs.as_slice()) {
        (&Method::POST, ["nodes", node, "storage", sid, "upload"]) => Some((*node, *sid)),
        _ => None,
    };
    let result = if let Some((node, sid)) = upload {
        async {
            if let Some(message) = fault {
                return Err(ApiError::msg(message));
            }
            let ident = authn::authenticate(&st, &parts.method, &parts.headers, &seg_refs)?;
            reachable(&st, node).await?;
            let tmp = storage_upload::upload_filename(&st.cfg.root);
            if let Some(dir) = tmp.parent() {
                std::fs::create_dir_all(dir).map_err(|e| ApiError::msg(e.to_string()))?;
            }
            let file = storage_upload::spool(&parts.headers, body, tmp).await?;
            let cx = Cx {
                st: st.clone(),
                ident,
                p: Params::parse(parts.uri.query(), &[], None)?,
            };
            storage_upload::upload(&cx, node, sid, file)
        }
        .await
    } else {
        handle_read(&st, &mut parts, body, &seg_refs, fault).await
    };
    if let Err(e) = &result
        && e.is_unauthorized()
        && !st.cfg.unauthorized_delay.is_zero()
    {
        // "always delay unauthorized calls by 3 seconds" (pve-http-server AnyEvent.pm).
        tokio::time::sleep(st.cfg.unauthorized_delay).await;
    }
    reply::render(result, st.cfg.message_field)
}

/// Every request but an upload: the body read whole, then the checks and the handler.
async fn handle_read(
    st: &Arc<State>,
    parts: &mut axum::http::request::Parts,
    body: Body,
    seg_refs: &[&str],
    fault: Option<String>,
) -> ApiResult {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    if parts.method == Method::DELETE && !bytes.is_empty() {
        return Err(ApiError::DeleteBody);
    }
    if let Some(message) = fault {
        return Err(ApiError::msg(message));
    }
    let ident = authn::authenticate(st, &parts.method, &parts.headers, seg_refs)?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let p = Params::parse(parts.uri.query(), &bytes, content_type)?;
    if let ["nodes", node, _, ..] = seg_refs {
        reachable(st, node).await?;
    }
    let cx = Cx {
        st: st.clone(),
        ident,
        p,
    };
    let method = parts.method.clone();
    dispatch(&cx, &method, seg_refs, parts).await
}

async fn dispatch(
    cx: &Cx,
    method: &Method,
    segs: &[&str],
    parts: &mut axum::http::request::Parts,
) -> ApiResult {
    use Method as M;
    let m = method.clone();
    match (m, segs) {
        (M::GET, ["version"]) => cluster::version(cx),
        (M::GET, ["cluster", "status"]) => cluster::status(cx),
        (M::GET, ["cluster", "resources"]) => cluster::resources(cx),
        (M::GET, ["cluster", "nextid"]) => cluster::nextid(cx),
        (M::GET, ["nodes"]) => nodes::list(cx),
        (M::GET, ["nodes", node]) => nodes::index(cx, node),
        (M::GET, ["nodes", node, "status"]) => nodes::status(cx, node),
        (M::GET, ["nodes", node, "network"]) => nodes::network(cx, node),
        (M::GET, ["cluster", "tasks"]) => tasks::cluster_list(cx),
        (M::GET, ["nodes", node, "rrddata"]) => nodes::rrddata(cx, node),
        (M::GET, ["nodes", node, "tasks"]) => tasks::list(cx, node),
        (M::GET, ["nodes", node, "tasks", upid]) => tasks::index(cx, node, upid),
        (M::GET, ["nodes", node, "tasks", upid, "status"]) => tasks::status(cx, node, upid),
        (M::GET, ["nodes", node, "tasks", upid, "log"]) => tasks::log(cx, node, upid),
        (M::DELETE, ["nodes", node, "tasks", upid]) => tasks::stop(cx, node, upid),
        (M::GET, ["nodes", node, "storage"]) => storage::list(cx, node),
        (M::GET, ["nodes", node, "storage", sid, "status"]) => storage::status(cx, node, sid),
        (M::GET, ["nodes", node, "storage", sid, "content"]) => storage::content(cx, node, sid),
        (M::DELETE, ["nodes", node, "storage", sid, "content", volume]) => {
            storage_files::delete_content(cx, node, sid, volume)
        }
        (M::POST, ["nodes", node, "storage", sid, "download-url"]) => {
            storage_files::download_url(cx, node, sid)
        }
        (M::POST, ["nodes", node, "termproxy"]) => console::node_termproxy(cx, node),
        (M::GET, ["nodes", node, "vncwebsocket"]) => {
            console::websocket(cx, node, None, parts).await
        }
        (M::GET, ["nodes", node, k @ ("qemu" | "lxc")]) => guest::list(cx, node, kind(k)),
        (M::POST, ["nodes", node, k @ ("qemu" | "lxc")]) => qemu_create::create(cx, node, kind(k)),
        (_, ["nodes", node, k @ ("qemu" | "lxc"), vmid, rest @ ..]) => {
            guest_call(cx, method, node, kind(k), vmid, rest, parts).await
        }
        (M::GET | M::POST, ["access", "ticket"]) => access::ticket(cx, method).await,
        (M::GET, ["access", "domains"]) => access::domains(cx),
        (M::GET, ["access", "users"]) => access::users(cx),
        (M::GET, ["access", "users", userid]) => access::user(cx, userid),
        (M::POST, ["access", "users", userid, "token", tokenid]) => {
            access::create_token(cx, userid, tokenid)
        }
        (M::DELETE, ["access", "users", userid, "token", tokenid]) => {
            access::delete_token(cx, userid, tokenid)
        }
        (M::POST, ["access", "users"]) => access::create_user(cx),
        (M::PUT, ["access", "users", userid]) => access::update_user(cx, userid),
        (M::DELETE, ["access", "users", userid]) => access::delete_user(cx, userid),
        (M::POST, ["access", "groups"]) => access::create_group(cx),
        (M::DELETE, ["access", "groups", groupid]) => access::delete_group(cx, groupid),
        (M::GET, ["access", "groups", groupid]) => access::group(cx, groupid),
        (M::GET, ["access", "roles"]) => access::roles::index(cx),
        (M::POST, ["access", "roles"]) => access::roles::create(cx),
        (M::GET, ["access", "roles", roleid]) => access::roles::read(cx, roleid),
        (M::PUT, ["access", "roles", roleid]) => access::roles::update(cx, roleid),
        (M::DELETE, ["access", "roles", roleid]) => access::roles::delete(cx, roleid),
        (M::GET, ["access", "permissions"]) => access::permissions(cx),
        (M::PUT, ["access", "password"]) => access::password(cx),
        (M::GET, ["access", "acl"]) => access::acl(cx),
        (M::PUT, ["access", "acl"]) => access::update_acl(cx),
        (M::DELETE, ["pools", poolid]) => cluster::delete_pool(cx, poolid),
        (M::GET, ["access", "groups"]) => access::groups(cx),
        (M::GET, ["pools"]) => cluster::pools(cx),
        (M::GET, ["pools", poolid]) => cluster::pool(cx, poolid),
        (M::POST, ["pools"]) => cluster::create_pool(cx),
        (M::PUT, ["pools"]) => cluster::update_pool(cx, None),
        (M::PUT, ["pools", poolid]) => cluster::update_pool(cx, Some(poolid)),
        _ => Err(ApiError::NotImplemented(format!(
            "{method} /{}",
            segs.join("/")
        ))),
    }
}

async fn guest_call(
    cx: &Cx,
    method: &Method,
    node: &str,
    kind: Kind,
    vmid: &str,
    rest: &[&str],
    parts: &mut axum::http::request::Parts,
) -> ApiResult {
    use Method as M;
    let vmid = guest::find(&cx.st, node, kind, vmid)?;
    match (method.clone(), rest) {
        (M::GET, []) => guest::index(kind),
        (M::DELETE, []) => guest::destroy(cx, node, kind, vmid),
        (M::GET, ["status"]) => guest::status_index(),
        (M::GET, ["status", "current"]) => guest::current(cx, node, kind, vmid),
        (M::POST, ["status", action]) => power::action(cx, node, kind, vmid, action),
        (M::GET, ["config"]) => qemu_config::get(cx, kind, vmid),
        (M::GET, ["pending"]) => qemu_config::pending(cx, kind, vmid),
        (M::POST, ["config"]) if kind == Kind::Qemu => {
            qemu_config::post(cx, node, kind, vmid).await
        }
        (M::PUT, ["config"]) => qemu_config::put(cx, node, kind, vmid).await,
        (M::GET, ["rrddata"]) => guest::rrddata(cx, kind, vmid),
        (M::PUT, ["resize"]) => qemu_config::resize(cx, node, kind, vmid),
        (M::POST, ["template"]) => qemu_create::template(cx, node, kind, vmid),
        (M::POST, ["clone"]) => qemu_create::clone(cx, node, kind, vmid),
        (M::POST, ["migrate"]) => migrate::migrate(cx, node, kind, vmid),
        (M::GET, ["snapshot"]) => snapshot::list(cx, vmid),
        (M::POST, ["snapshot"]) => snapshot::create(cx, node, kind, vmid),
        (M::GET, ["snapshot", name]) => snapshot::index(cx, vmid, name),
        (M::GET, ["snapshot", name, "config"]) => snapshot::config(cx, vmid, name),
        (M::PUT, ["snapshot", name, "config"]) => snapshot::set_config(cx, node, kind, vmid, name),
        (M::POST, ["snapshot", name, "rollback"]) => snapshot::rollback(cx, node, kind, vmid, name),
        (M::DELETE, ["snapshot", name]) => snapshot::delete(cx, node, kind, vmid, name),
        (M::GET | M::POST, ["agent", command]) if kind == Kind::Qemu => {
            guest::agent(cx, method, vmid, command).await
        }
        (M::GET, ["interfaces"]) if kind == Kind::Lxc => guest::interfaces(cx, vmid),
        (M::POST, ["vncproxy"]) => console::vncproxy(cx, node, kind, vmid),
        (M::POST, ["termproxy"]) => console::termproxy(cx, node, kind, vmid),
        (M::GET, ["vncwebsocket"]) => console::websocket(cx, node, Some(vmid), parts).await,
        _ => Err(ApiError::NotImplemented(format!(
            "{method} /nodes/{node}/{}/{vmid}/{}",
            kind.as_str(),
            rest.join("/")
        ))),
    }
}

fn kind(k: &str) -> Kind {
    if k == "lxc" { Kind::Lxc } else { Kind::Qemu }
}

/// pveproxy proxies `/nodes/<node>/...` to that node: an unknown name fails the DNS lookup,
/// an offline node fails the connection (595), a hanging one times out (596).
async fn reachable(st: &State, node: &str) -> Result<(), ApiError> {
    let state = st.lock().node(node).map(|n| n.state);
    match state {
        None => Err(ApiError::msg(format!(
            "hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"
        ))),
        Some(NodeState::Online) => Ok(()),
        Some(NodeState::Offline) => Err(ApiError::Proxy(
            595,
            "Errors during connection establishment, proxy handshake: No route to host".into(),
        )),
        Some(NodeState::Timeout) => {
            tokio::time::sleep(st.cfg.proxy_timeout).await;
            Err(ApiError::Proxy(596, "Connection timed out".into()))
        }
    }
}

/// The counter key of a call: the path with its variable parts named.
pub(crate) fn route_key(method: &Method, segs: &[String]) -> String {
    let mut out = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        let prev = if i > 0 { segs[i - 1].as_str() } else { "" };
        let name = match (i, prev) {
            (1, "nodes") => "{node}",
            (3, "qemu" | "lxc") => "{vmid}",
            (3, "tasks") => "{upid}",
            (3, "storage") => "{storage}",
            (5, "content") => "{volume}",
            (5, "snapshot") => "{snapname}",
            (1, "pools") => "{poolid}",
            (2, "users") => "{userid}",
            (4, "token") => "{tokenid}",
            (2, "groups") => "{groupid}",
            (2, "roles") => "{roleid}",
            _ => s.as_str(),
        };
        out.push(name);
    }
    format!("{method} /{}", out.join("/"))
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}
