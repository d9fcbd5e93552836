//! Terminals: `termproxy` (a `PVEVNC:` ticket for a port, valid 40 s, bound to the caller's
//! identity) and the same `vncwebsocket` as screen consoles. Behind that port runs
//! pve-xtermjs's `termproxy`, which wants `<user>:<ticket>\n` as the first message and
//! answers `OK` (reference §3.3); `lab::console::terminal` speaks that part.
//!
//! For a QEMU guest the node attaches to the VM's serial port (`qm terminal`): a VM without
//! one still gets a ticket and an `OK`, then the connection ends with "unable to find a
//! serial interface". Containers always have a console.

use super::client::{Client, seg};
use super::console::ConsoleSocket;
use super::error::Error;
use super::types::{GuestKind, TermProxyReply};
use reqwest::Method;
use secrecy::SecretString;

/// What `termproxy` hands out. Lives 40 s; used once, right away.
pub struct TermTicket {
    pub port: u16,
    pub ticket: SecretString,
    /// The identity the ticket is bound to, to repeat in the terminal's first line.
    pub user: String,
}

impl std::fmt::Debug for TermTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TermTicket")
            .field("port", &self.port)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// `POST …/termproxy` (QEMU: the default serial port).
    pub async fn term_proxy(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
    ) -> Result<TermTicket, Error> {
        let path = format!("nodes/{}/{}/{vmid}/termproxy", seg(node), kind.as_str());
        let data = self.request(Method::POST, &path, None).await?;
        let reply: TermProxyReply =
            serde_json::from_value(data).map_err(|e| Error::Decode(format!("termproxy: {e}")))?;
        Ok(TermTicket {
            port: reply.port,
            ticket: SecretString::from(reply.ticket),
            user: reply.user,
        })
    }

    /// Opens `…/vncwebsocket` for a ticket from [`Client::term_proxy`].
    pub async fn term_websocket(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        ticket: &TermTicket,
    ) -> Result<ConsoleSocket, Error> {
        self.open_vnc_websocket(node, kind, vmid, ticket.port, &ticket.ticket)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::TermProxyReply;

    #[test]
    fn termproxy_port_comes_as_a_number_or_a_string() {
        for data in [
            r#"{"port":5902,"ticket":"PVEVNC:X","user":"root@pam","upid":"UPID:x"}"#,
            r#"{"port":"5902","ticket":"PVEVNC:X","user":"root@pam"}"#,
        ] {
            let r: TermProxyReply = serde_json::from_str(data).unwrap();
            assert_eq!((r.port, r.user.as_str()), (5902, "root@pam"));
        }
        let bad =
            serde_json::from_str::<TermProxyReply>(r#"{"port":70000,"ticket":"T","user":"u"}"#);
        assert!(bad.is_err(), "a port beyond u16 is refused");
        let missing = serde_json::from_str::<TermProxyReply>(r#"{"port":5900,"user":"u"}"#);
        assert!(missing.is_err(), "no ticket, no terminal");
    }
}
