//! The job engine's vocabulary, shared with the browser: what a job does (`JobKind`), where it
//! stands (`JobState`), and where each VM of a class stands (`VmStep`, `VmRole`).
//!
//! On the server these are also SeaORM active enums stored as the same short strings the
//! columns always held (`deploy`, `queued`, …), so a row written by an older Proxlab reads
//! back as a value of the enum (migration m0006 checks it) and a person reading the database
//! sees words, not numbers. The derive is native only: the browser has no database.

use serde::{Deserialize, Serialize};

/// One active-enum string per variant; the derives are native only (see the module doc).
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        #[cfg_attr(
            not(target_arch = "wasm32"),
            derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum),
            sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::None)")
        )]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[cfg_attr(not(target_arch = "wasm32"), sea_orm(string_value = $value))]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and wire) word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($value => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }
    };
}
pub(crate) use stored_enum;

stored_enum! {
    /// What a job does. Each kind is one module under `lab::jobs::kinds`.
    pub enum JobKind {
        /// Make every VM of a newly launched class.
        Deploy = "deploy",
        /// One VM back to the class base.
        Reset = "reset",
        /// The teacher's VM becomes the class base; students are re-made on it.
        Publish = "publish",
        /// The whole class: its VMs, its export, its rows.
        Delete = "delete",
        /// One student VM of a class (the roster shrinks).
        Remove = "remove",
        /// New CPU/RAM for every VM of the class.
        Respec = "respec",
        /// A policy's act on some VMs of the class (shut down, hibernate, start), with its
        /// order (`PowerOrder`) in the job's detail.
        Power = "power",
        /// Take, roll back or delete a snapshot of one VM (or re-read its list), with its
        /// order (`SnapshotOrder`) in the job's detail.
        Snapshot = "snapshot",
    }
}

impl JobKind {
    /// Higher runs first. A person waiting on one VM (a student's reset, a teacher removing
    /// one VM) goes before bulk work that takes minutes anyway.
    pub fn priority(self) -> i32 {
        match self {
            JobKind::Reset | JobKind::Remove | JobKind::Snapshot => 10,
            JobKind::Power => 8,
            JobKind::Respec => 5,
            JobKind::Deploy | JobKind::Publish | JobKind::Delete => 0,
        }
    }

    /// Whether a job of this kind may be cancelled while in `state`: any queued job, and a
    /// running deploy (it stops making VMs and keeps those it made). Other running jobs are
    /// not cut short: a half-deleted or half-published class helps nobody.
    pub fn cancellable(self, state: JobState) -> bool {
        match state {
            JobState::Queued => true,
            JobState::Running => self == JobKind::Deploy,
            _ => false,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            JobKind::Deploy => "Deploy",
            JobKind::Reset => "Reset",
            JobKind::Publish => "Publish",
            JobKind::Delete => "Delete class",
            JobKind::Remove => "Remove VM",
            JobKind::Respec => "CPU/RAM change",
            JobKind::Power => "Policy power",
            JobKind::Snapshot => "Snapshot",
        }
    }
}

stored_enum! {
    /// Where a job stands. `Queued` → `Running` → `Done` | `Failed`; a cancel request turns
    /// `Queued`/`Running` into `Cancelling`, which the runner turns into `Cancelled`.
    pub enum JobState {
        Queued = "queued",
        Running = "running",
        Cancelling = "cancelling",
        Done = "done",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl JobState {
    /// Not finished: a runner holds or will take it.
    pub const ACTIVE: [JobState; 3] = [JobState::Queued, JobState::Running, JobState::Cancelling];

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }

    pub fn label(self) -> &'static str {
        match self {
            JobState::Queued => "Queued",
            JobState::Running => "Running",
            JobState::Cancelling => "Cancelling…",
            JobState::Done => "Done",
            JobState::Failed => "Failed",
            JobState::Cancelled => "Cancelled",
        }
    }
}

stored_enum! {
    /// A VM of a class: the durable progress of making (or re-making) it.
    pub enum VmStep {
        Queued = "queued",
        /// The class base and the teacher's VM wait for the template's disks to be exported.
        Exporting = "exporting",
        Creating = "creating",
        Ready = "ready",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl VmStep {
    /// Nothing more will happen to the VM in this job.
    pub fn is_final(self) -> bool {
        matches!(self, VmStep::Ready | VmStep::Failed | VmStep::Cancelled)
    }

    /// As the roster shows it (in a sentence, so lower case).
    pub fn label(self) -> &'static str {
        match self {
            VmStep::Queued => "queued",
            VmStep::Exporting => "exporting the template…",
            VmStep::Creating => "creating…",
            VmStep::Ready => "ready",
            VmStep::Failed => "failed",
            VmStep::Cancelled => "cancelled",
        }
    }
}

stored_enum! {
    /// What a VM is to its class.
    pub enum VmRole {
        /// The teacher's VM (offset 0), theirs to prepare and publish.
        Teacher = "teacher",
        Student = "student",
        /// The class base (offset 99): a template every student VM sits on.
        Base = "base",
    }
}

stored_enum! {
    /// How a class's VMs are made (chosen by the review step, fixed for the class's life).
    pub enum DeployMethod {
        /// qcow2 overlays written over a node shell (SSH, or the portal on a node): the fast
        /// path on file storages whose path the cluster settings give.
        Overlay = "overlay",
        /// Proxmox's own clone API, linked clones of the class base (LVM-thin, ZFS, Ceph RBD,
        /// dir/NFS/CIFS): nothing but an API token.
        LinkedClone = "linked",
        /// Proxmox's clone API, full copies (plain LVM: no linked clones there).
        FullClone = "full",
    }
}

impl DeployMethod {
    /// Made through the Proxmox API alone (no node shell).
    pub fn is_clone(self) -> bool {
        self != DeployMethod::Overlay
    }

    /// The words the review step and the class page use.
    pub fn label(self) -> &'static str {
        match self {
            DeployMethod::Overlay => "qcow2 overlays (node shell)",
            DeployMethod::LinkedClone => "Proxmox linked clones",
            DeployMethod::FullClone => "Proxmox full clones",
        }
    }
}

/// One job on the admin's Jobs page (and `proxlab jobs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: i32,
    pub kind: JobKind,
    pub state: JobState,
    pub class_id: i32,
    /// `None` once the class is gone (a delete job outlives its class).
    pub class_name: Option<String>,
    pub vmid: Option<i32>,
    /// VMs of the class whose step is final, and all of them (for deploy and publish).
    pub vms_done: u32,
    pub vms_total: u32,
    /// Claims by a runner: more than one means it was resumed.
    pub attempts: i32,
    /// The runner that holds it (`<instance>/<worker>`) while it runs.
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub requested_by: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
    /// Node commands (SSH or local shell) it ran.
    pub commands: i64,
}

impl JobView {
    /// `done/total` VMs, when the job is about a whole class's VMs.
    pub fn progress(&self) -> Option<String> {
        (self.vms_total > 0).then(|| format!("{}/{}", self.vms_done, self.vms_total))
    }

    /// How the lease stands at `now`: "12 s left", or "ran out 3 s ago" (a runner that died).
    pub fn lease_left(&self, now: i64) -> Option<String> {
        self.lease_until.map(|t| {
            if t >= now {
                format!("{} s left", t - now)
            } else {
                format!("ran out {} s ago", now - t)
            }
        })
    }
}

/// Which jobs the page lists (`?state=active|failed|all`, the same words on the wire).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobFilter {
    /// Queued, running or cancelling.
    #[default]
    Active,
    Failed,
    All,
}

impl JobFilter {
    pub const ALL: [JobFilter; 3] = [JobFilter::Active, JobFilter::Failed, JobFilter::All];

    pub fn label(self) -> &'static str {
        match self {
            JobFilter::Active => "Unfinished",
            JobFilter::Failed => "Failed",
            JobFilter::All => "All",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobFilter::Active => "active",
            JobFilter::Failed => "failed",
            JobFilter::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<JobFilter> {
        JobFilter::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_words_are_refused() {
        for k in JobKind::ALL {
            assert_eq!(k.as_str().parse::<JobKind>(), Ok(*k));
            assert_eq!(
                serde_json::to_string(k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        for s in VmStep::ALL {
            assert_eq!(s.as_str().parse::<VmStep>(), Ok(*s));
        }
        assert!("Deploy".parse::<JobKind>().is_err());
        assert!("".parse::<JobState>().is_err());
    }

    #[test]
    fn only_unfinished_states_are_active() {
        let active: Vec<_> = JobState::ALL.iter().filter(|s| s.is_active()).collect();
        assert_eq!(
            active,
            [&JobState::Queued, &JobState::Running, &JobState::Cancelling]
        );
    }

    #[test]
    fn queued_jobs_and_running_deploys_are_cancellable() {
        for kind in JobKind::ALL {
            assert!(kind.cancellable(JobState::Queued));
            assert_eq!(
                kind.cancellable(JobState::Running),
                *kind == JobKind::Deploy
            );
            for state in [
                JobState::Cancelling,
                JobState::Done,
                JobState::Failed,
                JobState::Cancelled,
            ] {
                assert!(!kind.cancellable(state));
            }
        }
        for f in JobFilter::ALL {
            assert_eq!(JobFilter::parse(f.as_str()), Some(f));
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.as_str())
            );
        }
    }

    #[test]
    fn single_vm_work_goes_before_bulk_work() {
        assert!(JobKind::Reset.priority() > JobKind::Deploy.priority());
        assert!(JobKind::Remove.priority() > JobKind::Publish.priority());
    }

    #[test]
    fn a_job_view_reads_its_progress_and_lease() {
        let mut j = JobView {
            id: 1,
            kind: JobKind::Deploy,
            state: JobState::Running,
            class_id: 1,
            class_name: None,
            vmid: None,
            vms_done: 3,
            vms_total: 5,
            attempts: 1,
            lease_owner: Some("a/0".into()),
            lease_until: Some(130),
            requested_by: None,
            created_at: 0,
            started_at: None,
            finished_at: None,
            error: None,
            commands: 0,
        };
        assert_eq!(j.progress().as_deref(), Some("3/5"));
        assert_eq!(j.lease_left(100).as_deref(), Some("30 s left"));
        assert_eq!(j.lease_left(133).as_deref(), Some("ran out 3 s ago"));
        j.vms_total = 0;
        j.lease_until = None;
        assert_eq!((j.progress(), j.lease_left(0)), (None, None));
    }
}
