//! Every way a user can lose a VM they have open (issue 12, item 3), for the console,
//! terminal and SSH relay tests: include it with
//! `#[path = "support/revoke.rs"] mod revoke;`.
//!
//! [`Scene::new`] builds a fresh world per cause (pvesim, SQLite): a class owned by Tess
//! whose student VM (running in pvesim, IP 127.0.0.1 until an SSH test points it at its
//! sshd, SSH through the portal on) is Ann's, Bob (another student), Ada (an admin), and the session the relay runs in. The test opens
//! its relay as [`Scene::viewer`] with [`Scene::watch`], shows that it streams, calls
//! [`Scene::revoke`] and expects the relay to end within [`WITHIN`].

#![allow(dead_code)] // each test binary uses a different part

#[path = "world.rs"]
mod world;

use lab::auth::{self, Session};
use lab::console::AccessWatch;
use lab::db::entity::{class, class_vm, session, user, vm};
use lab::jobs::{JobSettings, run_until_idle};
use lab::model::Role;
use lab::{classes, inventory};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
#[allow(unused_imports)] // the SSH tests use all three, the others only `SimWorld`
pub use world::{SimWorld, make_user, sim_world};

/// How soon after the change an open relay must have ended.
pub const WITHIN: Duration = Duration::from_secs(5);
/// The session of [`Cause::SessionExpiry`] ends this long after the scene is made.
const EXPIRES_IN: i64 = 5;
pub const PASSWORD: &str = "correct horse battery";

/// What takes the VM away from the relay's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Ann signs out of the session the relay runs in.
    SignOut,
    /// That session reaches its deadline.
    SessionExpiry,
    /// Ann changes her password in another session (which ends this one).
    PasswordChange,
    /// An admin resets Ann's password.
    PasswordReset,
    /// An admin disables Ann.
    Disabled,
    /// An admin deletes Ann.
    Deleted,
    /// Tess, the class's owner, watching Ann's VM, is made a student.
    RoleChange,
    /// An admin unassigns Ann's VM (dashboard/inventory).
    Unassigned,
    /// Tess takes the VM back from Ann on the class roster.
    RosterUnassigned,
    /// Tess gives Ann's VM to Bob.
    GivenToAnother,
    /// Tess removes the VM from the class (the remove job drops its rows).
    VmRemoved,
    /// Tess deletes the class (the delete job drops its rows).
    ClassDeleted,
}

pub const CAUSES: [Cause; 12] = [
    Cause::SignOut,
    Cause::SessionExpiry,
    Cause::PasswordChange,
    Cause::PasswordReset,
    Cause::Disabled,
    Cause::Deleted,
    Cause::RoleChange,
    Cause::Unassigned,
    Cause::RosterUnassigned,
    Cause::GivenToAnother,
    Cause::VmRemoved,
    Cause::ClassDeleted,
];

pub struct Scene {
    pub w: SimWorld,
    pub admin: user::Model,
    pub teacher: user::Model,
    pub ann: user::Model,
    pub bob: user::Model,
    pub class_id: i32,
    /// Ann's VM: a student VM of the class, running in pvesim.
    pub vm: vm::Model,
    /// Whose relay it is (Ann, or Tess for [`Cause::RoleChange`]) and the session it runs in.
    pub viewer: user::Model,
    pub session: Session,
    /// When the session of [`Cause::SessionExpiry`] ends (Unix seconds).
    expires_at: i64,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn session_of(w: &SimWorld, user: &user::Model) -> (String, Session) {
    let token = auth::start_session(&w.services, user.id, None)
        .await
        .unwrap();
    let session = auth::resolve_session(&w.services, &token)
        .await
        .unwrap()
        .unwrap();
    (token, session)
}

impl Scene {
    pub async fn new(cause: Cause) -> Scene {
        let w = world::sim_world(|_| {}).await;
        let admin = world::make_user(&w.services, "ada", Role::Admin).await;
        let teacher = world::make_user(&w.services, "tess", Role::Teacher).await;
        let ann = world::make_user(&w.services, "ann", Role::Student).await;
        let bob = world::make_user(&w.services, "bob", Role::Student).await;
        let vm = vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(w.cluster_id))
            .filter(vm::Column::Status.eq("running"))
            .filter(vm::Column::Kind.eq("qemu"))
            .filter(vm::Column::Template.eq(false))
            .order_by_asc(vm::Column::Vmid)
            .one(&w.services.db)
            .await
            .unwrap()
            .expect("a running VM in the fixture world");
        let class = class::ActiveModel {
            name: Set("Networks".into()),
            description: Set(String::new()),
            cluster_id: Set(w.cluster_id),
            owner_id: Set(teacher.id),
            vmid_base: Set(vm.vmid - vm.vmid.rem_euclid(100)),
            students: Set(1),
            storage: Set("local".into()),
            state: Set("ready".into()),
            export_paths: Set(String::new()),
            created_at: Set(0),
            ..Default::default()
        }
        .insert(&w.services.db)
        .await
        .unwrap();
        // No MAC of ours: the remove and delete jobs leave pvesim's VM running and drop
        // only the rows, so the relay cannot end because the VM went away.
        class_vm::ActiveModel {
            class_id: Set(class.id),
            cluster_id: Set(w.cluster_id),
            vmid: Set(vm.vmid),
            role: Set(lab::model::VmRole::Student),
            name: Set(vm.name.clone()),
            node: Set(vm.node.clone()),
            step: Set(lab::model::VmStep::Ready),
            attempts: Set(0),
            macs: Set(String::new()),
            disks: Set(String::new()),
            updated_at: Set(0),
            ..Default::default()
        }
        .insert(&w.services.db)
        .await
        .unwrap();
        inventory::assign(&w.services, w.cluster_id, vm.vmid, "ann")
            .await
            .unwrap();
        let mut row: vm::ActiveModel = vm.clone().into();
        row.ip = Set(Some("127.0.0.1".into()));
        let vm = row.update(&w.services.db).await.unwrap();
        classes::set_ssh(&w.services, &teacher, class.id, true)
            .await
            .unwrap();

        let viewer = match cause {
            Cause::RoleChange => teacher.clone(),
            _ => ann.clone(),
        };
        let token = auth::start_session(&w.services, viewer.id, None)
            .await
            .unwrap();
        let expires_at = unix_now() + EXPIRES_IN;
        if cause == Cause::SessionExpiry {
            session::Entity::update_many()
                .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
                .filter(session::Column::UserId.eq(viewer.id))
                .exec(&w.services.db)
                .await
                .unwrap();
        }
        let session = auth::resolve_session(&w.services, &token)
            .await
            .unwrap()
            .unwrap();
        Scene {
            w,
            admin,
            teacher,
            ann,
            bob,
            class_id: class.id,
            vm,
            viewer,
            session,
            expires_at,
        }
    }

    pub fn cluster_id(&self) -> i32 {
        self.w.cluster_id
    }

    /// The relay's watch, made as the server makes it (before the relay opens).
    pub fn watch(&self) -> AccessWatch {
        AccessWatch::new(
            &self.w.services,
            &self.session,
            self.w.cluster_id,
            self.vm.vmid,
        )
    }

    /// Takes the VM away by `cause`; returns once the change is done (for an expiry, once
    /// the deadline passed).
    pub async fn revoke(&self, cause: Cause) {
        let s = &self.w.services;
        let (c, vmid) = (self.w.cluster_id, self.vm.vmid);
        match cause {
            Cause::SignOut => auth::end_session(s, &self.session.token).await.unwrap(),
            Cause::SessionExpiry => {
                let left = (self.expires_at - unix_now()).max(0) as u64;
                tokio::time::sleep(Duration::from_secs(left)).await;
            }
            Cause::PasswordChange => {
                let (other, _) = session_of(&self.w, &self.ann).await;
                auth::change_password(s, self.ann.id, PASSWORD, "a brand new password", &other)
                    .await
                    .unwrap();
            }
            Cause::PasswordReset => auth::reset_password(s, self.ann.id, "reset by the admin")
                .await
                .unwrap(),
            Cause::Disabled => {
                auth::set_disabled(s, self.ann.id, true).await.unwrap();
            }
            Cause::Deleted => auth::delete_user(s, self.admin.id, self.ann.id)
                .await
                .unwrap(),
            Cause::RoleChange => {
                auth::set_role(s, self.teacher.id, Role::Student)
                    .await
                    .unwrap();
            }
            Cause::Unassigned => inventory::unassign(s, c, vmid, "ann").await.unwrap(),
            Cause::RosterUnassigned => {
                classes::unassign_student(s, &self.teacher, self.class_id, vmid)
                    .await
                    .unwrap()
            }
            Cause::GivenToAnother => {
                classes::assign_student(s, &self.teacher, self.class_id, vmid, "bob")
                    .await
                    .unwrap()
            }
            Cause::VmRemoved => {
                classes::remove_vm(s, &self.teacher, self.class_id, vmid)
                    .await
                    .unwrap();
                run_jobs(&self.w).await;
            }
            Cause::ClassDeleted => {
                classes::delete(s, &self.teacher, self.class_id)
                    .await
                    .unwrap();
                run_jobs(&self.w).await;
            }
        }
        // The change did what it says (so the relay has a reason to end).
        match cause {
            Cause::SessionExpiry => {}
            Cause::Deleted => {
                let gone = user::Entity::find_by_id(self.ann.id)
                    .one(&s.db)
                    .await
                    .unwrap();
                assert!(gone.is_none(), "{cause:?} deleted Ann");
            }
            Cause::SignOut | Cause::PasswordChange | Cause::PasswordReset | Cause::Disabled => {
                let live = auth::resolve_session(s, &self.session.token).await.unwrap();
                assert!(live.is_none(), "{cause:?} ended the session");
            }
            _ => {
                let usable = inventory::usable_vm(s, &self.fresh_viewer().await, c, vmid).await;
                assert!(usable.is_err(), "{cause:?} took the VM away");
            }
        }
    }

    /// Changes that publish events but leave the relay's access as it was (the viewer is
    /// Ann): Bob is disabled, Ann's *other* session signs out, another VM is unassigned from
    /// Bob; and two that concern Ann, so her relay re-checks and stays: she changes her
    /// password in the relay's own session, and her role is set to what it was.
    pub async fn unrelated_changes(&self) {
        let s = &self.w.services;
        assert_eq!(self.viewer.id, self.ann.id);
        auth::change_password(
            s,
            self.ann.id,
            PASSWORD,
            "changed right here",
            &self.session.token,
        )
        .await
        .unwrap();
        auth::set_role(s, self.ann.id, Role::Student).await.unwrap();
        let (other, _) = session_of(&self.w, &self.ann).await;
        auth::end_session(s, &other).await.unwrap();
        let elsewhere = vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(self.w.cluster_id))
            .filter(vm::Column::Vmid.ne(self.vm.vmid))
            .filter(vm::Column::Template.eq(false))
            .one(&s.db)
            .await
            .unwrap()
            .unwrap();
        inventory::assign(s, self.w.cluster_id, elsewhere.vmid, "bob")
            .await
            .unwrap();
        inventory::unassign(s, self.w.cluster_id, elsewhere.vmid, "bob")
            .await
            .unwrap();
        auth::set_disabled(s, self.bob.id, true).await.unwrap();
    }

    /// The viewer as the database has them now.
    async fn fresh_viewer(&self) -> user::Model {
        user::Entity::find_by_id(self.viewer.id)
            .one(&self.w.services.db)
            .await
            .unwrap()
            .expect("the viewer's account")
    }
}

async fn run_jobs(w: &SimWorld) {
    let settings = JobSettings {
        workers: 4,
        per_node: 4,
        attempts: 1,
        lease_secs: 5,
    };
    run_until_idle(&w.services, &settings).await.unwrap();
}

/// Waits (at most [`WITHIN`]) for a relay whose access was just taken; its stats, which must
/// say it was revoked. `what` names the case in a failure.
pub async fn ended(
    relay: tokio::task::JoinHandle<lab::Result<lab::console::RelayStats>>,
    what: &str,
) -> lab::console::RelayStats {
    let stats = tokio::time::timeout(WITHIN, relay)
        .await
        .unwrap_or_else(|_| panic!("{what}: the relay still runs"))
        .expect("the relay task")
        .expect("the relay");
    assert!(stats.revoked, "{what}: {stats:?}");
    stats
}
