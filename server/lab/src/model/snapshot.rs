//! Snapshots of a class VM as the snapshot page shows them, what a snapshot job is asked to
//! do (`SnapshotOrder`, kept in the job's detail), and the input rules both sides check.

use super::JobState;
use serde::{Deserialize, Serialize};

/// The most snapshots a teacher may allow each student to keep.
pub const MAX_STUDENT_SNAPSHOTS: i32 = 10;
/// Longest snapshot description (Proxmox keeps it in the config file).
pub const MAX_SNAPSHOT_DESCRIPTION: usize = 200;

/// What a snapshot job does to one VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotOp {
    Take,
    Rollback,
    Delete,
    /// Read Proxmox's list again (snapshots made outside the portal).
    Refresh,
}

impl SnapshotOp {
    pub fn label(self) -> &'static str {
        match self {
            SnapshotOp::Take => "Take",
            SnapshotOp::Rollback => "Roll back",
            SnapshotOp::Delete => "Delete",
            SnapshotOp::Refresh => "Refresh",
        }
    }
}

/// A snapshot job's order: the job's `detail`, as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotOrder {
    pub op: SnapshotOp,
    /// The snapshot (empty for `Refresh`).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Save the RAM too (`Take` of a running QEMU VM).
    #[serde(default)]
    pub vmstate: bool,
}

/// One snapshot in the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotView {
    pub name: String,
    pub description: String,
    pub taken_at: i64,
    pub vmstate: bool,
    pub parent: Option<String>,
    /// The VM's present state descends from this one ("You are here" follows it).
    pub current: bool,
    pub taken_by: Option<String>,
}

/// One recent snapshot job of the VM, for progress and errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotJobView {
    pub id: i32,
    pub op: SnapshotOp,
    pub name: String,
    pub state: JobState,
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// The snapshot page of one VM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotPage {
    pub cluster_id: i32,
    pub vmid: i32,
    pub vm_name: String,
    pub class_id: i32,
    pub class_name: String,
    /// QEMU (RAM can be saved) rather than a container.
    pub qemu: bool,
    pub running: bool,
    /// The viewer manages the class (a teacher of it or an admin): no limit applies.
    pub manager: bool,
    /// The viewer may take, roll back and delete (a manager, or the student when the class
    /// allows snapshots).
    pub may_change: bool,
    /// How many a student may keep (0: none), for the viewer's information.
    pub student_limit: i32,
    pub snapshots: Vec<SnapshotView>,
    pub jobs: Vec<SnapshotJobView>,
    pub now: i64,
}

impl SnapshotPage {
    /// A job of this VM is queued or running: the buttons wait.
    pub fn busy(&self) -> bool {
        self.jobs.iter().any(|j| j.state.is_active())
    }

    /// Why "Take" is refused now, if it is.
    pub fn take_blocked(&self) -> Option<String> {
        if !self.may_change {
            return Some("Your teacher has not allowed snapshots in this class.".into());
        }
        let limit = self.student_limit as usize;
        if !self.manager && self.snapshots.len() >= limit {
            return Some(format!(
                "You have {} of {} snapshots: delete one to take another.",
                self.snapshots.len(),
                limit
            ));
        }
        None
    }
}

/// A snapshot name as Proxmox accepts it (`pve-configid`: a letter, then letters, digits,
/// `-` or `_`; 2 to 40 characters; not `current`, which names the present state).
pub fn check_snapshot_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let mut chars = name.chars();
    let shaped = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !(2..=40).contains(&name.len()) || !shaped {
        return Err(
            "A snapshot name is 2 to 40 letters, digits, '-' or '_', starting with a letter."
                .into(),
        );
    }
    if name.eq_ignore_ascii_case("current") {
        return Err("\"current\" names the VM's present state; choose another name.".into());
    }
    Ok(name.to_string())
}

/// A description on one line, at most [`MAX_SNAPSHOT_DESCRIPTION`] characters.
pub fn check_snapshot_description(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.chars().count() > MAX_SNAPSHOT_DESCRIPTION {
        return Err(format!(
            "A description is at most {MAX_SNAPSHOT_DESCRIPTION} characters."
        ));
    }
    if text.chars().any(char::is_control) {
        return Err("A description is one line of text.".into());
    }
    Ok(text.to_string())
}

/// The per-student limit a teacher sets.
pub fn check_student_snapshots(n: i32) -> Result<i32, String> {
    if (0..=MAX_STUDENT_SNAPSHOTS).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "Snapshots per student VM: 0 (none) to {MAX_STUDENT_SNAPSHOTS}."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_proxmox() {
        assert_eq!(check_snapshot_name(" before-lab2 ").unwrap(), "before-lab2");
        assert_eq!(check_snapshot_name("A_1").unwrap(), "A_1");
        for bad in [
            "",
            "a",
            "1abc",
            "has space",
            "dot.ted",
            "semi;colon",
            "Current",
            "é-accent",
        ] {
            assert!(check_snapshot_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_snapshot_name(&"a".repeat(40)).is_ok());
        assert!(check_snapshot_name(&"a".repeat(41)).is_err());
    }

    #[test]
    fn descriptions_are_one_short_line() {
        assert_eq!(check_snapshot_description("  ok  ").unwrap(), "ok");
        assert!(check_snapshot_description("two\nlines").is_err());
        assert!(check_snapshot_description(&"x".repeat(201)).is_err());
    }

    #[test]
    fn limit_applies_to_students_only() {
        let view = |manager, may_change, n: usize| SnapshotPage {
            cluster_id: 1,
            vmid: 101,
            vm_name: "vm".into(),
            class_id: 1,
            class_name: "c".into(),
            qemu: true,
            running: true,
            manager,
            may_change,
            student_limit: 2,
            snapshots: (0..n)
                .map(|i| SnapshotView {
                    name: format!("s{i}"),
                    description: String::new(),
                    taken_at: 0,
                    vmstate: false,
                    parent: None,
                    current: false,
                    taken_by: None,
                })
                .collect(),
            jobs: vec![],
            now: 0,
        };
        assert!(view(false, true, 1).take_blocked().is_none());
        assert!(view(false, true, 2).take_blocked().is_some());
        assert!(view(true, true, 5).take_blocked().is_none());
        assert!(view(false, false, 0).take_blocked().is_some());
        assert!(check_student_snapshots(11).is_err());
        assert_eq!(check_student_snapshots(3), Ok(3));
    }
}
