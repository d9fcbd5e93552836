//! Wire types shared by the server and the browser: plain serde structs and the input rules
//! both sides check (the browser for quick feedback, the server because it must).

mod account;
mod audit;
mod builder;
mod class;
mod cluster;
mod iso;
mod job;
mod limits;
mod node;
mod policy;
mod role;
mod snapshot;
mod vm;

pub use account::{
    MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, Me, UserView, check_password_policy, normalize_username,
};
pub use audit::{
    AUDIT_PAGE, AuditAction, AuditArea, AuditFilter, AuditLine, AuditOutcome, AuditPage,
};
pub use builder::{
    BUILD_CORES, BUILD_DISK_GIB, BUILD_MEMORY_MIB, BuildIso, BuildNode, BuildPage, BuiltVm,
    HardwareView, MAX_NICS, NIC_MODELS, Nic, OsKind, VmBuildForm, check_in_range, check_vm_name,
};
pub use class::{
    AdoptionCandidate, AssignmentSuggestion, BASE_OFFSET, ClassAbout, ClassDetail, ClassEdit,
    ClassForm, ClassPlan, ClassSummary, ClassVmView, DeployProgress, JoinView, MAX_STUDENTS,
    SpreadOffer, SuggestionReason, TEACHER_OFFSET, TemplateChoice, check_class_description,
    check_class_name, check_invite_days, class_pool,
};
pub use cluster::{ClusterForm, ClusterTest, ClusterView, SyncView};
pub use iso::{
    IsoDownloadForm, IsoPage, IsoTarget, IsoTransferView, IsoView, MAX_ISO_NAME, MAX_ISO_URL,
    TransferState, check_checksum, check_iso_url, iso_file_name, iso_filename, upload_filename,
    wget_percent,
};
pub use job::{DeployMethod, JobFilter, JobKind, JobState, JobView, VmRole, VmStep};
pub use limits::{MAX_PAGE, MAX_VMID, MIN_VMID, Vmid, check_page};
pub use node::{ClusterNodes, NodeView, NodesPage, StorageUse, percent};
pub use policy::{
    AccessHours, CPU_PERCENT, ClassPolicy, Days, HoursRange, IDLE_MINUTES, IdleAction, IdleRule,
    MAX_QUOTA_HOURS, NET_KIB, PolicyAction, PolicyForm, PolicyLogView, PolicyNotice, PolicyPanel,
    PolicyReason, PowerOrder, ScheduleForm, ScheduleView, StudentUsage, UsageView, WARN_MINUTES,
    format_hours, format_time, parse_time,
};
pub use role::Role;
pub use snapshot::{
    MAX_SNAPSHOT_DESCRIPTION, MAX_STUDENT_SNAPSHOTS, SnapshotJobView, SnapshotOp, SnapshotOrder,
    SnapshotPage, SnapshotView, check_snapshot_description, check_snapshot_name,
    check_student_snapshots,
};
pub use vm::{
    Dashboard, MAX_BULK_LINES, VmAction, VmCard, VmFilter, VmState, format_bytes, format_uptime,
    parse_bulk_lines, rdp_file,
};
