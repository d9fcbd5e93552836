//! The ranges numbers from outside must fall in before they reach a query or any arithmetic:
//! VMIDs as Proxmox allows them, and page numbers of paged lists. A form field, a query
//! string or a WebSocket path may carry any `i32`/`u64`; `i32::MIN - 52` or `u64::MAX * 60`
//! would panic in a debug build (and wrap in a release one), so the edge checks first and
//! gives a clear message.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Lowest VMID Proxmox accepts (`pve-vmid` in pve-common's JSON schema: 100 to 999999999).
pub const MIN_VMID: i32 = 100;
/// Highest VMID Proxmox accepts.
pub const MAX_VMID: i32 = 999_999_999;
/// Highest page number of a paged list (60 cards a page: six million VMs).
pub const MAX_PAGE: u64 = 100_000;

/// A VMID in Proxmox's range, so that `vmid + 99` or `vmid as u32` can never go wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct Vmid(i32);

impl Vmid {
    /// The VMID, or a message for the user when Proxmox could never have it.
    pub fn new(raw: i32) -> Result<Self, String> {
        if (MIN_VMID..=MAX_VMID).contains(&raw) {
            Ok(Self(raw))
        } else {
            Err(format!(
                "VMID {raw}: a VMID is a whole number from {MIN_VMID} to {MAX_VMID}."
            ))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }

    /// As the Proxmox API client takes it (always fits: the range is positive).
    pub fn as_u32(self) -> u32 {
        self.0.unsigned_abs()
    }
}

impl TryFrom<i32> for Vmid {
    type Error = String;
    fn try_from(raw: i32) -> Result<Self, String> {
        Self::new(raw)
    }
}

impl From<Vmid> for i32 {
    fn from(v: Vmid) -> i32 {
        v.0
    }
}

impl fmt::Display for Vmid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A page number of a paged list, or a message for the user.
pub fn check_page(page: u64) -> Result<u64, String> {
    if page <= MAX_PAGE {
        Ok(page)
    } else {
        Err(format!("Page {page}: pages go up to {MAX_PAGE}."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmids_outside_proxmoxs_range_are_refused() {
        for bad in [i32::MIN, -1, 0, 99, 1_000_000_000, i32::MAX] {
            let err = Vmid::new(bad).unwrap_err();
            assert!(err.contains("100 to 999999999"), "{err}");
        }
        for good in [100, 1097, 999_999_999] {
            assert_eq!(Vmid::new(good).unwrap().get(), good);
        }
        assert_eq!(Vmid::new(MAX_VMID).unwrap().as_u32(), 999_999_999);
        assert!(serde_json::from_str::<Vmid>("-2147483648").is_err());
        assert_eq!(serde_json::from_str::<Vmid>("1200").unwrap().get(), 1200);
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(check_page(0), Ok(0));
        assert_eq!(check_page(MAX_PAGE), Ok(MAX_PAGE));
        assert!(check_page(MAX_PAGE + 1).is_err());
        assert!(check_page(u64::MAX).unwrap_err().contains("100000"));
    }
}
