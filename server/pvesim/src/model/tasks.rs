//! Worker tasks and their UPIDs (proxmox/pve-common `PVE::UPID`).
//!
//! `UPID:<node>:<pid 8hex>:<pstart 8hex>:<starttime 8hex>:<type>:<id>:<authid>:`. A task is
//! `running` until its job ends, then `stopped` with `exitstatus` `OK` or the error text, and
//! its log ends with `TASK OK` / `TASK ERROR: <msg>`, as in the task log files of PVE.

use std::collections::HashMap;

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub upid: String,
    pub node: String,
    pub pid: u32,
    pub pstart: u64,
    pub starttime: u64,
    pub kind: String,
    pub id: String,
    pub authid: String,
    /// `(endtime, exitstatus)` once finished.
    pub end: Option<(u64, String)>,
    pub log: Vec<String>,
}

/// The parts of a UPID.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Upid {
    pub node: String,
    pub pid: u32,
    pub pstart: u64,
    pub starttime: u64,
    pub kind: String,
    pub id: String,
    pub authid: String,
}

impl Upid {
    pub(crate) fn parse(text: &str) -> Option<Upid> {
        let rest = text.strip_prefix("UPID:")?;
        let parts: Vec<&str> = rest.split(':').collect();
        if parts.len() != 8 || !parts[7].is_empty() || parts[0].is_empty() {
            return None;
        }
        Some(Upid {
            node: parts[0].to_string(),
            pid: u32::from_str_radix(parts[1], 16).ok()?,
            pstart: u64::from_str_radix(parts[2], 16).ok()?,
            starttime: u64::from_str_radix(parts[3], 16).ok()?,
            kind: parts[4].to_string(),
            id: parts[5].to_string(),
            authid: parts[6].to_string(),
        })
    }

    pub(crate) fn render(&self) -> String {
        format!(
            "UPID:{}:{:08X}:{:08X}:{:08X}:{}:{}:{}:",
            self.node, self.pid, self.pstart, self.starttime, self.kind, self.id, self.authid
        )
    }
}

/// All tasks of the cluster, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    list: Vec<Task>,
    index: HashMap<String, usize>,
    next_pid: u32,
}

impl Tasks {
    /// Registers a running task and returns its UPID.
    pub(crate) fn start(
        &mut self,
        node: &str,
        kind: &str,
        id: &str,
        authid: &str,
        now: u64,
        boot: u64,
    ) -> String {
        if self.next_pid == 0 {
            self.next_pid = 0x001C_2A3B;
        }
        self.next_pid += 1;
        let upid = Upid {
            node: node.to_string(),
            pid: self.next_pid,
            // pstart is in clock ticks (USER_HZ = 100) since the node booted.
            pstart: now.saturating_sub(boot) * 100,
            starttime: now,
            kind: kind.to_string(),
            id: id.to_string(),
            authid: authid.to_string(),
        };
        let text = upid.render();
        self.index.insert(text.clone(), self.list.len());
        self.list.push(Task {
            upid: text.clone(),
            node: upid.node,
            pid: upid.pid,
            pstart: upid.pstart,
            starttime: now,
            kind: upid.kind,
            id: upid.id,
            authid: upid.authid,
            end: None,
            log: Vec::new(),
        });
        text
    }

    pub(crate) fn get(&self, upid: &str) -> Option<&Task> {
        self.index.get(upid).map(|i| &self.list[*i])
    }

    pub(crate) fn get_mut(&mut self, upid: &str) -> Option<&mut Task> {
        self.index.get(upid).map(|i| &mut self.list[*i])
    }

    /// Ends a task: appends the log lines and the final `TASK OK` / `TASK ERROR:` line.
    pub(crate) fn finish(&mut self, upid: &str, now: u64, result: Result<Vec<String>, String>) {
        let Some(task) = self.get_mut(upid) else {
            return;
        };
        if task.end.is_some() {
            return;
        }
        match result {
            Ok(lines) => {
                task.log.extend(lines);
                task.log.push("TASK OK".into());
                task.end = Some((now, "OK".into()));
            }
            Err(msg) => {
                // A worker that logged before it died ends its message with the error line:
                // the lines before it are its log (see `api::migrate`).
                let mut lines: Vec<String> = msg.lines().map(str::to_string).collect();
                let error = lines.pop().unwrap_or_default();
                task.log.extend(lines);
                task.log.push(format!("TASK ERROR: {error}"));
                task.end = Some((now, error));
            }
        }
    }

    pub(crate) fn all(&self) -> impl DoubleEndedIterator<Item = &Task> {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upid_round_trip() {
        let text = "UPID:pve1:001C2B00:0734F300:6AFD86CF:qmstart:100:portal@pve!lab:";
        let upid = Upid::parse(text).expect("parses");
        assert_eq!(upid.authid, "portal@pve!lab");
        assert_eq!(upid.render(), text);
        assert!(Upid::parse("UPID:garbage").is_none());
    }
}
