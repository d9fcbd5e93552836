//! Secrets at rest: cluster passwords, API token secrets and SSH keys are sealed with
//! AES-256-GCM (ring's AEAD, no hand-written crypto) under a key that lives outside the
//! database: `PROXLAB_SECRET_KEY` (base64 of 32 bytes) or a key file created on first run
//! with mode 0600. A stolen database alone reveals no secret.
//!
//! Sealed text: `v1:` + base64(12-byte random nonce ‖ ciphertext ‖ tag). The purpose label
//! (`"cluster-secret"`, `"ssh-key"`) is the associated data, so a sealed value cannot be moved
//! into another field and still open.

use crate::{Error, Result};
use base64::{Engine, engine::general_purpose::STANDARD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;
use std::sync::Arc;

const PREFIX: &str = "v1:";

/// The sealing key. Cloning shares it.
#[derive(Clone)]
pub struct SecretBox {
    key: Arc<LessSafeKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| Error::Invalid("the secret key must be 32 bytes".into()))?;
        Ok(Self {
            key: Arc::new(LessSafeKey::new(key)),
        })
    }

    /// A key given as base64 text (the `secret_key` setting).
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| Error::Invalid("the secret key is not base64".into()))?;
        Self::from_bytes(&bytes)
    }

    /// Reads the key file, or creates it (mode 0600, 32 random bytes as base64) when missing.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text)
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = random::<32>();
                write_private(path, &STANDARD.encode(bytes)).map_err(|e| {
                    Error::Internal(format!("cannot write {}: {e}", path.display()))
                })?;
                Self::from_bytes(&bytes)
            }
            Err(e) => Err(Error::Internal(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// A throw-away key (tests, demo).
    pub fn ephemeral() -> Self {
        Self::from_bytes(&random::<32>()).expect("32 bytes is a valid AES-256 key")
    }

    pub fn seal(&self, purpose: &str, secret: &SecretString) -> String {
        let nonce_bytes = random::<NONCE_LEN>();
        let mut buffer = secret.expose_secret().as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(purpose.as_bytes()),
                &mut buffer,
            )
            .expect("AES-GCM sealing of an in-memory buffer cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buffer);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, purpose: &str, sealed: &str) -> Result<SecretString> {
        let broken = || {
            Error::Internal(format!(
                "a stored {purpose} cannot be decrypted (was the secret key changed?)"
            ))
        };
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(broken)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| broken())?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buffer)
            .map_err(|_| broken())?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| broken())?;
        Ok(SecretString::from(text))
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    bytes
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_purpose() {
        let a = SecretBox::ephemeral();
        let sealed = a.seal("cluster-secret", &SecretString::from("hunter2"));
        assert!(sealed.starts_with("v1:") && !sealed.contains("hunter2"));
        assert_eq!(
            a.open("cluster-secret", &sealed).unwrap().expose_secret(),
            "hunter2"
        );
        assert!(a.open("ssh-key", &sealed).is_err());
        assert!(
            SecretBox::ephemeral()
                .open("cluster-secret", &sealed)
                .is_err()
        );
        assert!(a.open("cluster-secret", "v1:AAAA").is_err());
        // Two seals of one secret differ (fresh nonce).
        assert_ne!(
            sealed,
            a.seal("cluster-secret", &SecretString::from("hunter2"))
        );
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret.key");
        let first = SecretBox::load_or_create(&path).unwrap();
        let sealed = first.seal("p", &SecretString::from("x"));
        let again = SecretBox::load_or_create(&path).unwrap();
        assert_eq!(again.open("p", &sealed).unwrap().expose_secret(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not base64!").unwrap();
        assert!(SecretBox::load_or_create(&path).is_err());
    }
}
