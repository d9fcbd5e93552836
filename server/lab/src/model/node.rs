//! The admin's node view: each cluster's nodes with their figures, local storages and VMs,
//! and the cluster's shared storages once.

use serde::{Deserialize, Serialize};

/// One storage's use as a node sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StorageUse {
    pub storage: String,
    /// The plugin: `dir`, `lvmthin`, `zfspool`, `rbd`, `nfs`, …
    pub plugin: String,
    /// Comma-separated content types (`images,rootdir`).
    pub content: String,
    pub shared: bool,
    /// Active on the node: its figures are current.
    pub active: bool,
    pub used: i64,
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    pub node: String,
    pub online: bool,
    /// CPU use, 0.0 to 1.0 of all cores.
    pub cpu: f64,
    pub maxcpu: i32,
    pub mem: i64,
    pub maxmem: i64,
    pub uptime: i64,
    pub version: Option<String>,
    /// VMs and containers on it, templates not counted.
    pub vms: i64,
    pub running: i64,
    /// Its own (not shared) storages.
    pub storages: Vec<StorageUse>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterNodes {
    pub cluster_id: i32,
    pub cluster: String,
    pub nodes: Vec<NodeView>,
    /// Shared storages, once each (figures from a node where it is active).
    pub shared: Vec<StorageUse>,
    /// When the full sync last read the nodes (`None`: not yet).
    pub read_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodesPage {
    pub clusters: Vec<ClusterNodes>,
    pub now: i64,
}

/// `used` of `total` in whole percent (0 when the total is unknown).
pub fn percent(used: i64, total: i64) -> i64 {
    if total <= 0 {
        0
    } else {
        (used.clamp(0, total) as i128 * 100 / total as i128) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percents_are_whole_and_bounded() {
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 0), 0);
        assert_eq!(percent(-1, 10), 0);
        assert_eq!(percent(20, 10), 100);
        assert_eq!(percent(i64::MAX / 2, i64::MAX), 49);
    }
}
