//! Accounts as the browser sees them, and the rules for usernames and passwords.
//!
//! Usernames are ASCII letters, digits, `.`, `-` and `_`, stored lower-case so that uniqueness
//! is case-insensitive on every database. `@` is never allowed: `name@realm` is how Proxmox
//! realm users log in, and a local account must never be able to pose as one (the old portal's
//! realm-spoofing hole). Non-ASCII letters are refused too, so that `аdmin` (Cyrillic а) cannot
//! pose as `admin`.

use crate::model::Role;
use serde::{Deserialize, Serialize};

/// Shorter passwords are refused.
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longer passwords are refused: hashing megabytes is a denial of service, not security.
pub const MAX_PASSWORD_LEN: usize = 256;
const MAX_USERNAME_LEN: usize = 32;

/// An account as listed to admins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i32,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, `None` before the first login.
    pub last_login_at: Option<i64>,
}

/// The signed-in user, as the app shell needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: i32,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
}

/// Checks a username and returns its stored (lower-case) form, or a message for the user.
pub fn normalize_username(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Enter a username.".into());
    }
    if name.contains('@') {
        return Err("Usernames cannot contain @ (name@realm is for Proxmox accounts).".into());
    }
    if name.chars().count() > MAX_USERNAME_LEN {
        return Err(format!(
            "Usernames are at most {MAX_USERNAME_LEN} characters."
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err("Usernames may use only letters (a-z), digits, '.', '-' and '_'.".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("Usernames start with a letter or a digit.".into());
    }
    Ok(name.to_ascii_lowercase())
}

/// Checks a new password against the policy.
pub fn check_password_policy(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(format!(
            "Passwords need at least {MIN_PASSWORD_LEN} characters."
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!(
            "Passwords are at most {MAX_PASSWORD_LEN} characters."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_trimmed() {
        assert_eq!(normalize_username("  Alice.B-2_ "), Ok("alice.b-2_".into()));
        assert_eq!(normalize_username("007"), Ok("007".into()));
    }

    #[test]
    fn usernames_refuse_realms_spaces_and_lookalikes() {
        for bad in [
            "",
            "   ",
            "root@pam",
            "alice@pve",
            "two words",
            "<script>",
            "аdmin",
            ".hidden",
            "-dash",
            "a/b",
            &"x".repeat(33),
        ] {
            assert!(normalize_username(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(normalize_username(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn password_policy_has_both_bounds() {
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("123456789").is_err());
        assert!(check_password_policy("1234567890").is_ok());
        assert!(check_password_policy(&"p".repeat(MAX_PASSWORD_LEN)).is_ok());
        assert!(check_password_policy(&"p".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}
