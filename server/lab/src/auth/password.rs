//! argon2id password hashes (PHC strings), computed off the async runtime.
//!
//! Hashing takes tens of milliseconds of CPU on purpose, so it runs in `spawn_blocking`.
//! `verify_password` against a missing account still verifies (against a fixed dummy hash),
//! so that a login for an unknown user takes as long as one for a known user.

use crate::{Error, Result};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use password_hash::phc::PasswordHash;
use std::sync::OnceLock;

/// Hashes `password` with argon2id (the argon2 crate's defaults: m=19 MiB, t=2, p=1).
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
}

/// Whether `password` matches `phc`; `None` verifies against a dummy hash and returns false.
pub async fn verify_password(password: &str, phc: Option<&str>) -> bool {
    let password = password.to_owned();
    let phc = phc.map(str::to_owned);
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_now(&password, &phc),
        None => {
            verify_now(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false)
}

fn hash_now(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

fn verify_now(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("no account has this password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse battery").await.unwrap();
        let b = hash_password("correct horse battery").await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse battery", Some(&a)).await);
        assert!(!verify_password("correct horse batterz", Some(&a)).await);
        assert!(!verify_password("", Some(&a)).await);
    }

    #[tokio::test]
    async fn unknown_users_and_garbage_hashes_never_verify() {
        assert!(!verify_password("anything", None).await);
        assert!(!verify_password("anything", Some("not a phc string")).await);
        assert!(!verify_password("", Some("")).await);
    }
}
