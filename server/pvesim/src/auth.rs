//! Tickets, CSRF tokens and VNC tickets in PVE's formats (proxmox/pve-common `Ticket.pm`,
//! proxmox/pve-access-control `AccessControl.pm`).
//!
//! * ticket `PVE:<userid>:<8 hex epoch>::<base64 signature>`; PVE signs with RSA-2048, so
//!   the signature is 256 bytes = 344 base64 characters ending `==`. We keep the length and
//!   alphabet but sign with a keyed SHA-256 expanded to 256 bytes (deviation: not RSA; no
//!   client can verify PVE signatures anyway, they only pass tickets back).
//! * CSRF token `<same hex epoch>:<43 chars unpadded base64 of a keyed SHA-256>`.
//! * VNC ticket `PVEVNC:<8 hex epoch>::<signature>`, bound to authid, path and port.
//! * Lifetimes: 2 h for tickets and CSRF tokens (plus 5 min grace for clock skew before the
//!   issue time), 40 s for VNC tickets (valid from -20 s to +40 s).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

/// Ticket and CSRF lifetime (`$ticket_lifetime = 3600 * 2`).
pub(crate) const TICKET_LIFETIME: u64 = 7200;
/// Allowed clock skew for tickets issued "in the future" (`$auth_graceperiod`).
const GRACE: u64 = 300;

fn keyed(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(secret);
    for p in parts {
        h.update((p.len() as u32).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn signature(secret: &[u8], data: &str) -> String {
    let mut sig = Vec::with_capacity(256);
    for i in 0u8..8 {
        sig.extend_from_slice(&keyed(secret, &[&[i], data.as_bytes()]));
    }
    STANDARD.encode(sig)
}

/// A login ticket for `userid` issued at `epoch`.
pub(crate) fn ticket(secret: &[u8], userid: &str, epoch: u64) -> String {
    // PVE URI-escapes ':' in the userid; userids cannot contain ':' here anyway.
    let data = format!("PVE:{userid}:{epoch:08X}");
    format!("{data}::{}", signature(secret, &data))
}

/// Verifies a login ticket and returns its userid and issue time.
pub(crate) fn verify_ticket(secret: &[u8], ticket: &str, now: u64) -> Option<(String, u64)> {
    let (data, sig) = ticket.split_once("::")?;
    let rest = data.strip_prefix("PVE:")?;
    let (userid, hex) = rest.rsplit_once(':')?;
    let epoch = u64::from_str_radix(hex, 16).ok()?;
    if hex.len() != 8 || signature(secret, data) != sig {
        return None;
    }
    let age_ok = epoch <= now + GRACE && now.saturating_sub(epoch) < TICKET_LIFETIME;
    age_ok.then(|| (userid.to_string(), epoch))
}

/// The CSRF prevention token that goes with a ticket.
pub(crate) fn csrf(secret: &[u8], userid: &str, epoch: u64) -> String {
    let hex = format!("{epoch:08X}");
    let mac = keyed(secret, &[b"csrf", hex.as_bytes(), userid.as_bytes()]);
    format!("{hex}:{}", STANDARD_NO_PAD.encode(mac))
}

pub(crate) fn verify_csrf(secret: &[u8], token: &str, userid: &str, now: u64) -> bool {
    let Some((hex, _)) = token.split_once(':') else {
        return false;
    };
    let Ok(epoch) = u64::from_str_radix(hex, 16) else {
        return false;
    };
    hex.len() == 8
        && csrf(secret, userid, epoch) == token
        && epoch <= now + GRACE
        && now.saturating_sub(epoch) < TICKET_LIFETIME
}

fn vnc_data(epoch: u64) -> String {
    format!("PVEVNC:{epoch:08X}")
}

/// A VNC/terminal ticket for `authid` on `path` (`/vms/100`, `/nodes/pve1`) and `port`.
pub(crate) fn vnc_ticket(secret: &[u8], authid: &str, path: &str, port: u16, epoch: u64) -> String {
    let data = vnc_data(epoch);
    let bound = format!("{data}|{authid}|{path}|{port}");
    format!("{data}::{}", signature(secret, &bound))
}

/// Verifies a VNC ticket (the `<password>:` prefix of qemu-server >= 9.1.7 already removed).
pub(crate) fn verify_vnc_ticket(
    secret: &[u8],
    ticket: &str,
    authid: &str,
    path: &str,
    port: u16,
    now: u64,
) -> bool {
    let Some((data, sig)) = ticket.split_once("::") else {
        return false;
    };
    let Some(hex) = data.strip_prefix("PVEVNC:") else {
        return false;
    };
    let Ok(epoch) = u64::from_str_radix(hex, 16) else {
        return false;
    };
    let bound = format!("{data}|{authid}|{path}|{port}");
    let age = now as i64 - epoch as i64;
    signature(secret, &bound) == sig && (-20..=40).contains(&age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_pve() {
        let t = ticket(b"k", "root@pam", 0x6AFD_86C0);
        assert!(t.starts_with("PVE:root@pam:6AFD86C0::"));
        let sig = t.split("::").nth(1).unwrap_or_default();
        assert_eq!(sig.len(), 344);
        assert!(sig.ends_with("=="));
        assert_eq!(
            verify_ticket(b"k", &t, 0x6AFD_86C0 + 10),
            Some(("root@pam".into(), 0x6AFD_86C0))
        );
        assert_eq!(verify_ticket(b"k", &t, 0x6AFD_86C0 + 7200), None);
        let c = csrf(b"k", "root@pam", 0x6AFD_86C0);
        assert_eq!(c.split(':').nth(1).map(str::len), Some(43));
        assert!(verify_csrf(b"k", &c, "root@pam", 0x6AFD_86C0));
        assert!(!verify_csrf(b"k", &c, "student1@pve", 0x6AFD_86C0));
    }
}
