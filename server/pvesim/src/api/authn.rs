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
//! Privileges are simplified (a documented deviation): `root@pam` and members of group
//! `admin` hold every privilege on every path; other users hold `VM.Audit`, `VM.Console`,
//! `VM.PowerMgmt`, `Sys.Audit` and `Datastore.Audit` everywhere; a token with `privsep=1`
//! holds nothing (PVE: user ∩ token ACLs, and a fresh token has no ACL), with `privsep=0`
//! exactly its user's privileges. Lists are not filtered by privilege.

use axum::http::{HeaderMap, Method, header};

use super::reply::ApiError;
use crate::auth;
use crate::model::{Inner, State};

/// The authenticated caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ident {
    /// `user@realm` or `user@realm!token`, as it appears in UPIDs and console answers.
    pub authid: String,
    pub userid: String,
    /// Authenticated with a ticket (so CSRF applies), not a token.
    pub ticket: bool,
    /// Token with privilege separation.
    pub privsep: bool,
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
        authid: userid.clone(),
        userid,
        ticket: true,
        privsep: false,
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
        userid: userid.to_string(),
        ticket: false,
        privsep: tok.privsep,
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

/// Privileges a non-admin user holds everywhere (see the module doc).
const USER_PRIVS: &[&str] = &[
    "VM.Audit",
    "VM.Console",
    "VM.PowerMgmt",
    "Sys.Audit",
    "Datastore.Audit",
];

/// Whether the caller holds `privilege` on `path`.
pub(crate) fn has(inner: &Inner, ident: &Ident, privilege: &str) -> bool {
    if ident.anonymous || ident.privsep {
        return false;
    }
    inner.is_admin(&ident.userid) || USER_PRIVS.contains(&privilege)
}

/// `raise_perm_exc`: `403 Permission check failed (/vms/100, VM.PowerMgmt)`.
pub(crate) fn require(
    inner: &Inner,
    ident: &Ident,
    path: &str,
    privilege: &str,
) -> Result<(), ApiError> {
    if has(inner, ident, privilege) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "Permission check failed ({path}, {privilege})"
        )))
    }
}
