//! Who is calling, and may they (proxmox/pve-manager `PVE/HTTPServer.pm` `auth_handler`).
//!
//! * `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET` (also with a space instead of
//!   `=` after the name; the value is split on the **last** `=`), never needs CSRF;
//! * otherwise the `PVEAuthCookie` cookie (or `Authorization: PVEAuthCookie=...`), and for
//!   every non-GET call a valid `CSRFPreventionToken` header;
//! * unauthenticated: `/access/ticket`, `GET /access/domains`.
//! * wording (pve-manager >= 9.1.5): `401 No ticket`, `401 Authentication failed!`,
//!   `401 Permission denied - invalid csrf token`, all with empty bodies.
//!
//! Privilege checks evaluate the ACLs as PVE does (`crate::model::perms`); the helpers here
//! are `PVE::RPCEnvironment`'s `check` (one privilege, [`require`]), `check_any`
//! ([`require_any`]) and `raise_perm_exc` (`403 Permission check failed (path, priv)`).

use axum::http::{HeaderMap, Method, header};

use super::reply::ApiError;
use crate::auth;
use crate::model::{Inner, State};

/// The authenticated caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ident {
    /// `user@realm` or `user@realm!token`, as it appears in UPIDs and console answers.
    pub authid: String,
    /// Authenticated with a ticket (so CSRF applies), not a token.
    pub ticket: bool,
    /// No authentication at all (whitelisted endpoints).
    pub anonymous: bool,
}

pub(crate) fn authenticate(
    st: &State,
    method: &Method,
    headers: &HeaderMap,
    segs: &[&str],
) -> Result<Ident, ApiError> {
    let open = matches!(segs, ["access", "ticket"] | ["access", "domains"]);
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(value) = token_value(authz) {
        return token(st, value);
    }
    let cookie = authz
        .strip_prefix("PVEAuthCookie=")
        .map(str::to_string)
        .or_else(|| cookie_value(headers));
    let Some(ticket) = cookie else {
        return if open {
            Ok(Ident {
                anonymous: true,
                ..Ident::default()
            })
        } else {
            Err(ApiError::Unauthorized("No ticket"))
        };
    };
    let verified = auth::verify_ticket(&st.secret, &ticket, st.now())
        .filter(|(user, _)| st.lock().users.get(user).is_some_and(|u| u.enable));
    let Some((userid, _)) = verified else {
        return if open {
            Ok(Ident {
                anonymous: true,
                ..Ident::default()
            })
        } else {
            Err(ApiError::Unauthorized("Authentication failed!"))
        };
    };
    if *method != Method::GET && !open {
        let csrf = headers
            .get("CSRFPreventionToken")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !auth::verify_csrf(&st.secret, csrf, &userid, st.now()) {
            return Err(ApiError::Unauthorized(
                "Permission denied - invalid csrf token",
            ));
        }
    }
    Ok(Ident {
        authid: userid,
        ticket: true,
        anonymous: false,
    })
}

/// `(?:^|\s)PVEAPIToken(?:=| )([^;]*)`.
fn token_value(authz: &str) -> Option<&str> {
    let pos = authz.find("PVEAPIToken")?;
    if pos > 0 && !authz[..pos].ends_with(char::is_whitespace) {
        return None;
    }
    let rest = &authz[pos + "PVEAPIToken".len()..];
    let rest = rest.strip_prefix('=').or_else(|| rest.strip_prefix(' '))?;
    Some(rest.split(';').next().unwrap_or(rest).trim())
}

fn token(st: &State, value: &str) -> Result<Ident, ApiError> {
    let failed = ApiError::Unauthorized("Authentication failed!");
    let (tokenid, secret) = value
        .rsplit_once('=')
        .ok_or(ApiError::Unauthorized("Authentication failed!"))?;
    let (userid, name) = tokenid
        .split_once('!')
        .ok_or(ApiError::Unauthorized("Authentication failed!"))?;
    let inner = st.lock();
    let user = inner
        .users
        .get(userid)
        .filter(|u| u.enable)
        .ok_or(ApiError::Unauthorized("Authentication failed!"))?;
    let tok = user
        .tokens
        .get(name)
        .ok_or(ApiError::Unauthorized("Authentication failed!"))?;
    if tok.secret != secret {
        return Err(failed);
    }
    Ok(Ident {
        authid: tokenid.to_string(),
        ticket: false,
        anonymous: false,
    })
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some(v) = pair.trim().strip_prefix("PVEAuthCookie=") {
                // The cookie value is URI-escaped by browsers; the server undoes it.
                let decoded =
                    form_urlencoded::parse(format!("v={}", v.replace('+', "%2B")).as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_else(|| v.to_string());
                return Some(decoded);
            }
        }
    }
    None
}

/// `raise_perm_exc($what)`: `403 Permission check failed (what)`, or without detail.
pub(crate) fn denied(what: Option<String>) -> ApiError {
    ApiError::Forbidden(match what {
        Some(w) => format!("Permission check failed ({w})"),
        None => "Permission check failed".into(),
    })
}

/// Whether the caller holds `privilege` on the ACL path `path`.
pub(crate) fn has(inner: &Inner, ident: &Ident, path: &str, privilege: &str) -> bool {
    !ident.anonymous && inner.holds(&ident.authid, path, privilege)
}

/// Whether the caller holds any of `privileges` on `path` (`check_any` with `noerr`).
pub(crate) fn has_any(inner: &Inner, ident: &Ident, path: &str, privileges: &[&str]) -> bool {
    if ident.anonymous {
        return false;
    }
    let held = inner.permissions(&ident.authid, path);
    privileges.iter().any(|p| held.contains_key(*p))
}

/// `RPCEnvironment::check`: `403 Permission check failed (/vms/100, VM.PowerMgmt)`.
pub(crate) fn require(
    inner: &Inner,
    ident: &Ident,
    path: &str,
    privilege: &str,
) -> Result<(), ApiError> {
    if has(inner, ident, path, privilege) {
        Ok(())
    } else {
        Err(denied(Some(format!("{path}, {privilege}"))))
    }
}

/// `RPCEnvironment::check_any`: `403 Permission check failed (/access/groups,
/// Sys.Audit|Group.Allocate)`.
pub(crate) fn require_any(
    inner: &Inner,
    ident: &Ident,
    path: &str,
    privileges: &[&str],
) -> Result<(), ApiError> {
    if has_any(inner, ident, path, privileges) {
        Ok(())
    } else {
        Err(denied(Some(format!("{path}, {}", privileges.join("|")))))
    }
}

/// `VM.Allocate` for a new guest: on `/vms/<vmid>`, or on `/pool/<pool>` when it is to join
/// that pool; else a bare `403 Permission check failed` (qemu-server `API2/Qemu.pm`
/// `create_vm`, and the `'or'` test of `clone_vm`).
pub(crate) fn require_vm_allocate(
    inner: &Inner,
    ident: &Ident,
    vmid: u32,
    pool: Option<&str>,
) -> Result<(), ApiError> {
    let on_pool = |p: &str| has(inner, ident, &format!("/pool/{p}"), "VM.Allocate");
    if has(inner, ident, &format!("/vms/{vmid}"), "VM.Allocate") || pool.is_some_and(on_pool) {
        Ok(())
    } else {
        Err(denied(None))
    }
}

/// `RPCEnvironment::check_vm_perm`: the privilege on the guest's pool suffices, else it is
/// needed on `/vms/<vmid>` (whose error is reported).
pub(crate) fn require_vm(
    inner: &Inner,
    ident: &Ident,
    vmid: u32,
    pool: Option<&str>,
    privilege: &str,
) -> Result<(), ApiError> {
    if pool.is_some_and(|p| has(inner, ident, &format!("/pool/{p}"), privilege)) {
        return Ok(());
    }
    require(inner, ident, &format!("/vms/{vmid}"), privilege)
}

/// `RPCEnvironment::check_pool_exist`: `403 Permission check failed (pool 'x' does not
/// exist)`.
pub(crate) fn require_pool_exists(inner: &Inner, pool: Option<&str>) -> Result<(), ApiError> {
    match pool {
        Some(p) if !inner.pools.contains_key(p) => {
            Err(denied(Some(format!("pool '{p}' does not exist"))))
        }
        _ => Ok(()),
    }
}
