//! How a job step can end badly, as a type: the engine decides what to do (retry the VM,
//! fail it, stop quietly) by the variant, never by reading an error's text.

use crate::node::{EXIT_VMID_TAKEN, NodeError};
use crate::{Error, pve};
use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt: a node or Proxmox could not be reached, a command timed out,
    /// the database was busy.
    #[error("{0}")]
    Retryable(Error),
    /// Will not get better by trying again: bad input, a VMID another guest uses, Proxmox
    /// refused the request.
    #[error("{0}")]
    Permanent(Error),
    /// Someone asked the job to stop (the teacher, an admin, or a class deletion).
    #[error("cancelled")]
    Cancelled,
    /// Another runner took the job over (this one stalled past its lease): touch nothing.
    #[error("this runner lost the job's lease")]
    LeaseLost,
    /// The portal is shutting down: the job is handed back for the next runner.
    #[error("the portal is shutting down")]
    Stopping,
}

impl JobError {
    /// The engine must stop this runner's work on the job at once, without recording
    /// anything about the VMs (someone else owns them now, or will).
    pub fn is_interruption(&self) -> bool {
        matches!(self, JobError::LeaseLost | JobError::Stopping)
    }
}

impl From<Error> for JobError {
    fn from(e: Error) -> Self {
        match e {
            Error::Unavailable(_) | Error::Database(_) => JobError::Retryable(e),
            _ => JobError::Permanent(e),
        }
    }
}

impl From<DbErr> for JobError {
    fn from(e: DbErr) -> Self {
        JobError::Retryable(Error::Database(e))
    }
}

impl From<pve::Error> for JobError {
    fn from(e: pve::Error) -> Self {
        if e.is_transient() {
            JobError::Retryable(e.into())
        } else {
            JobError::Permanent(e.into())
        }
    }
}

impl From<NodeError> for JobError {
    fn from(e: NodeError) -> Self {
        match &e {
            // The VMID guard found someone else's guest: trying again cannot help.
            NodeError::Failed { code, .. } if *code == EXIT_VMID_TAKEN => {
                JobError::Permanent(e.into())
            }
            NodeError::HostKey(_) | NodeError::Invalid(_) => JobError::Permanent(e.into()),
            NodeError::Unreachable(_)
            | NodeError::Timeout(_)
            | NodeError::Io(_)
            | NodeError::Failed { .. } => JobError::Retryable(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_vmid_is_permanent_and_a_dropped_connection_is_not() {
        let taken = NodeError::Failed {
            code: EXIT_VMID_TAKEN,
            stderr: "VMID 100 is already used by another guest".into(),
        };
        assert!(matches!(JobError::from(taken), JobError::Permanent(_)));
        let other = NodeError::Failed {
            code: 1,
            stderr: "qemu-img: Could not open".into(),
        };
        assert!(matches!(JobError::from(other), JobError::Retryable(_)));
        let gone = NodeError::Unreachable("Connection reset".into());
        assert!(matches!(JobError::from(gone), JobError::Retryable(_)));
        let key = NodeError::HostKey("SHA256:x".into());
        assert!(matches!(JobError::from(key), JobError::Permanent(_)));
    }

    #[test]
    fn proxmox_refusals_are_permanent_and_outages_retryable() {
        let refused = pve::Error::Api {
            status: 500,
            message: "unable to create VM".into(),
        };
        assert!(matches!(JobError::from(refused), JobError::Permanent(_)));
        let down = pve::Error::NodeUnreachable { status: 595 };
        assert!(matches!(JobError::from(down), JobError::Retryable(_)));
        assert!(JobError::LeaseLost.is_interruption());
        assert!(!JobError::Cancelled.is_interruption());
    }
}
