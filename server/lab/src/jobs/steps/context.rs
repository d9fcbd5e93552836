//! What a job needs about its class: the cluster, its API client, the file layout, and for
//! an overlay class a shell on a node (SSH when the cluster has SSH settings, else this
//! host). A class made by Proxmox clones has no shell: everything goes through the API.
//!
//! One shell per job is enough: pmxcfs is cluster-wide (a config written under
//! `nodes/<target>/` from any node places the VM on `<target>`), and class storage is either
//! shared (visible from every node) or local to the template's node, which is the one we use.

use crate::db::entity::{class, class_vm};
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::node::guest_config::GuestConfig;
use crate::node::{NodeOps, NodePaths, NodeShell, Script, shell_for};
use crate::{Error, Services, clusters, pve};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::sync::Arc;
use std::time::Duration;

pub struct Ctx {
    pub class: class::Model,
    pub client: pve::Client,
    pub paths: NodePaths,
    /// Shared with other jobs and the sync (one master per node); `None` for a class made
    /// by Proxmox clones.
    shell: Option<Arc<NodeShell>>,
    /// The shell's command count when the job began (the job records its own share).
    commands_before: u64,
}

impl Ctx {
    pub async fn open(services: &Services, class: class::Model) -> Result<Ctx, JobError> {
        let cluster = clusters::find(services, class.cluster_id).await?;
        let client = clusters::client(services, &cluster)?;
        let paths = NodePaths::new(&cluster.pve_root, &cluster.storage_paths);
        let shell = if class.method.is_clone() {
            None
        } else {
            let node = match &class.template_node {
                Some(n) => n.clone(),
                None => first_node(services, class.id).await?,
            };
            Some(shell_for(services, &cluster, &node).await?)
        };
        let commands_before = shell.as_ref().map_or(0, |s| s.commands());
        Ok(Ctx {
            class,
            client,
            paths,
            shell,
            commands_before,
        })
    }

    /// Node commands this job ran so far (the shell counts for every job that shares it;
    /// the class page and the benchmarks read the job's share).
    pub fn commands(&self) -> i64 {
        self.shell
            .as_ref()
            .map_or(0, |s| (s.commands() - self.commands_before) as i64)
    }

    /// Runs a node script on the class's shell (overlay classes only).
    pub async fn run_script(&self, script: &Script) -> Result<Vec<u8>, JobError> {
        let shell = self.shell.as_ref().ok_or_else(|| {
            JobError::Permanent(Error::Internal(
                "a node command for a class made by Proxmox clones".into(),
            ))
        })?;
        Ok(shell.run(script, b"").await?)
    }

    pub async fn rows(&self, services: &Services) -> Result<Vec<class_vm::Model>, JobError> {
        Ok(class_vm::Entity::find()
            .filter(class_vm::Column::ClassId.eq(self.class.id))
            .order_by_asc(class_vm::Column::Vmid)
            .all(&services.db)
            .await?)
    }

    /// Reads a guest config (the file through the shell, or through the API for a class made
    /// by Proxmox clones); `None` when it does not exist.
    pub async fn read_config(
        &self,
        node: &str,
        vmid: u32,
    ) -> Result<Option<GuestConfig>, JobError> {
        if self.shell.is_none() {
            return self.api_config(node, vmid).await;
        }
        let path = self.paths.config(node, vmid)?;
        let out = self
            .run_script(&NodeOps::read_if_exists(Script::new(), &path)?)
            .await?;
        if out.is_empty() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out);
        GuestConfig::parse(&text).map(Some).map_err(|e| {
            JobError::Permanent(Error::Invalid(format!(
                "The config of VM {vmid} cannot be read: {e}"
            )))
        })
    }

    /// A guest config through the API; `None` when the VM does not exist.
    pub async fn api_config(&self, node: &str, vmid: u32) -> Result<Option<GuestConfig>, JobError> {
        let config = match self
            .client
            .guest_config(node, pve::GuestKind::Qemu, vmid)
            .await
        {
            Ok(c) => c,
            Err(e) if e.is_missing() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let text: String = config
            .entries
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        GuestConfig::parse(&text).map(Some).map_err(|e| {
            JobError::Permanent(Error::Invalid(format!(
                "The config of VM {vmid} cannot be read: {e}"
            )))
        })
    }

    /// Stops the VM (hard) if it runs, and waits for the task. A VM that is gone is stopped.
    pub async fn ensure_stopped(
        &self,
        run: &JobRun,
        node: &str,
        vmid: u32,
    ) -> Result<(), JobError> {
        run.checkpoint("stop vm", Some(vmid as i32)).await?;
        let upid = match self
            .client
            .power(node, pve::GuestKind::Qemu, vmid, pve::PowerAction::Stop)
            .await
        {
            Ok(upid) => upid,
            Err(e) if e.is_missing() => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let status = self
            .client
            .wait_task(node, &upid, Duration::from_secs(120))
            .await?;
        // PVE's stop task succeeds on a stopped VM; a failed one is a real refusal (a lock).
        if status.succeeded() == Some(false) {
            return Err(JobError::Permanent(Error::Proxmox(
                status.exitstatus.unwrap_or_default(),
            )));
        }
        Ok(())
    }
}

async fn first_node(services: &Services, class_id: i32) -> Result<String, JobError> {
    class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .one(&services.db)
        .await?
        .map(|r| r.node)
        .ok_or_else(|| JobError::Permanent(Error::Internal("class has no VMs".into())))
}
