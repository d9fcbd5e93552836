//! A storage as `storage.cfg` defines it: a leaf that the volume modules (`disks`,
//! `blocks`) and the model share.

#[derive(Debug, Clone)]
pub(crate) struct Storage {
    pub id: String,
    pub plugintype: &'static str,
    pub content: &'static str,
    pub shared: bool,
    /// Folder under the root for file-based storages; `None` for metadata-only `lvmthin`.
    pub path: Option<&'static str>,
    pub total: u64,
}
