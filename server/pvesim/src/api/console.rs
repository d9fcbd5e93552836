//! `vncproxy`, `termproxy` and `vncwebsocket` (proxmox/qemu-server `API2/Qemu.pm`,
//! pve-manager `API2/Nodes.pm`, pve-http-server `websocket_proxy`).
//!
//! `vncproxy`/`termproxy` answer a port (5900-5999), a `PVEVNC:` ticket valid 40 s and bound
//! to the caller's authid, the path and the port, and a `vncproxy`/`vncshell` UPID. The
//! ticket is the VNC password (its first 8 bytes in RFB VNC auth), unless the simulator
//! imitates qemu-server >= 9.1.7, which adds a separate 8-character `password` and prefixes
//! the ticket with it. `vncwebsocket` checks the ticket against the *caller's* identity,
//! answers `{"port":"5900"}` without `Upgrade`, and otherwise upgrades to a WebSocket
//! (sub-protocol `binary` echoed) served by the built-in RFB server or terminal.
//! Deviation: console workers run on the simulator itself; the 10 s accept window is not
//! enforced (the 40 s ticket window is).

use axum::extract::FromRequestParts;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::Cx;
use super::authn::require;
use super::reply::{ApiError, ApiResult, Reply, ok};
use super::tasks::spawn;
use crate::auth;
use crate::console::{self, Session};
use crate::model::store::Kind;
use crate::model::{Console, Inner, random_bytes};

fn free_port(inner: &Inner, now: u64) -> u16 {
    let busy: Vec<u16> = inner
        .consoles
        .iter()
        .filter(|c| now.saturating_sub(c.created) <= 40)
        .map(|c| c.port)
        .collect();
    (5900..=5999).find(|p| !busy.contains(p)).unwrap_or(5900)
}

/// qemu-server >= 9.1.7: 8 random characters from 0x21..=0x60.
fn vnc_password() -> String {
    random_bytes::<8>()
        .iter()
        .map(|b| char::from(0x21 + b % 0x40))
        .collect()
}

fn open(cx: &Cx, node: &str, vmid: Option<u32>, terminal: bool, cert: bool) -> ApiResult {
    let mut inner = cx.st.lock();
    let (path, privilege) = match vmid {
        Some(v) => (format!("/vms/{v}"), "VM.Console"),
        None => (format!("/nodes/{node}"), "Sys.Console"),
    };
    require(&inner, &cx.ident, &path, privilege)?;
    let now = cx.st.now();
    inner
        .consoles
        .retain(|c| now.saturating_sub(c.created) <= 40);
    let port = free_port(&inner, now);
    let mut ticket = auth::vnc_ticket(&cx.st.secret, &cx.ident.authid, &path, port, now);
    let separate = cx.st.cfg.vnc_password_field && !terminal;
    let password = if separate {
        let pw = vnc_password();
        ticket = format!("{pw}:{ticket}");
        pw
    } else {
        ticket.clone()
    };
    inner.consoles.push(Console {
        authid: cx.ident.authid.clone(),
        port,
        vmid,
        node: node.to_string(),
        password: password.clone(),
        terminal,
        created: now,
    });
    // The worker runs on the node that received the call (the simulator is pve1).
    let local = inner
        .nodes
        .first()
        .map(|n| n.name.clone())
        .unwrap_or_else(|| node.to_string());
    let (task, id) = match vmid {
        Some(v) => ("vncproxy", v.to_string()),
        None => ("vncshell", String::new()),
    };
    let upid = spawn(
        cx,
        &mut inner,
        &local,
        task,
        None,
        &id,
        10.0,
        Box::new(|_, _| Ok(Vec::new())),
    );
    let mut m = Map::new();
    m.insert("user".into(), json!(cx.ident.authid));
    m.insert("ticket".into(), json!(ticket));
    if separate {
        m.insert("password".into(), json!(password));
    }
    m.insert("port".into(), json!(port));
    m.insert("upid".into(), json!(upid));
    if cert {
        m.insert("cert".into(), json!(cx.st.cert_pem));
    }
    ok(Value::Object(m))
}

pub(crate) fn vncproxy(cx: &Cx, node: &str, _kind: Kind, vmid: u32) -> ApiResult {
    open(cx, node, Some(vmid), false, true)
}

pub(crate) fn termproxy(cx: &Cx, node: &str, _kind: Kind, vmid: u32) -> ApiResult {
    open(cx, node, Some(vmid), true, false)
}

pub(crate) fn node_termproxy(cx: &Cx, node: &str) -> ApiResult {
    open(cx, node, None, true, false)
}

pub(crate) async fn websocket(
    cx: &Cx,
    node: &str,
    vmid: Option<u32>,
    parts: &mut axum::http::request::Parts,
) -> ApiResult {
    let port =
        cx.p.int("port")?
            .ok_or_else(|| ApiError::param("port", "property is missing and it is not optional"))?;
    if port < 5900 {
        return Err(ApiError::param(
            "port",
            "value must have a minimum value of 5900",
        ));
    }
    if port > 5999 {
        return Err(ApiError::param(
            "port",
            "value must have a maximum value of 5999",
        ));
    }
    let port = port as u16;
    let full = cx.p.get("vncticket").ok_or_else(|| {
        ApiError::param("vncticket", "property is missing and it is not optional")
    })?;
    // qemu-server >= 9.1.7 prefixes `<8-char password>:`; the server strips exactly that.
    let ticket = if !full.starts_with("PVEVNC:") && full.len() > 9 && full.as_bytes()[8] == b':' {
        &full[9..]
    } else {
        full
    };
    let path = vmid.map_or_else(|| format!("/nodes/{node}"), |v| format!("/vms/{v}"));
    let invalid = || ApiError::Status(401, "permission denied - invalid PVEVNC ticket".into());
    if !auth::verify_vnc_ticket(
        &cx.st.secret,
        ticket,
        &cx.ident.authid,
        &path,
        port,
        cx.st.now(),
    ) {
        return Err(invalid());
    }
    let session = {
        let inner = cx.st.lock();
        let c = inner
            .consoles
            .iter()
            .rev()
            .find(|c| c.port == port && c.authid == cx.ident.authid && c.vmid == vmid)
            .cloned()
            .ok_or_else(invalid)?;
        Session {
            vmid,
            node: c.node,
            port,
            password: c.password,
            terminal: c.terminal,
            authid: c.authid,
            ticket: full.to_string(),
        }
    };
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return ok(json!({"port": port.to_string()}));
    }
    let ws = WebSocketUpgrade::from_request_parts(parts, &())
        .await
        .map_err(|e| ApiError::Status(400, e.body_text()))?;
    let st = cx.st.clone();
    let response = ws
        .protocols(["binary"])
        .max_frame_size(128 << 10)
        .on_upgrade(move |socket| console::serve(st, socket, session))
        .into_response();
    Ok(Reply::Raw(response))
}
