//! SeaORM entities, one file per table. Times are Unix seconds (`i64`) on both engines.

pub mod assignment;
pub mod change_counter;
pub mod class;
pub mod class_owner;
pub mod class_schedule;
pub mod class_vm;
pub mod cluster;
pub mod cluster_group;
pub mod cluster_node;
pub mod cluster_storage;
pub mod job;
pub mod login_failure;
pub mod policy_log;
pub mod session;
pub mod setup_token;
pub mod site_setting;
pub mod sync_status;
pub mod usage_interval;
pub mod usage_total;
pub mod user;
pub mod vm;
pub mod vm_policy;
pub mod vm_snapshot;
pub mod waitlist;
pub mod worker_lease;
