//! Lab policies against pvesim, on a stock-looking cluster (LVM-thin, an API token, no SSH),
//! with the portal's clock and pvesim's moved together so that hours pass in milliseconds:
//! idle detection from CPU and network with an open console keeping its VM alive; access
//! hours refusing a start and shutting a VM down after the warning; a quota reached, the VM
//! shut down, refused, then started again after the teacher adds an hour; schedules that
//! start and stop a class (not counted until the student connects); hibernation; and two
//! portal instances on one database of which only one acts.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/world.rs"]
mod world;

use lab::clock::Clock;
use lab::db::entity::{policy_log, usage_interval, vm, vm_policy};
use lab::jobs::{JobSettings, run_until_idle};
use lab::model::{PolicyForm, Role, ScheduleForm, VmAction};
use lab::policies::{gate, panel, tick};
use lab::{Error, Services, actions, clusters};
use pvesim::Profile;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use std::time::Duration;
use world::{SimWorld, class_with_students, make_user, sim_world_with};

fn settings() -> JobSettings {
    world::job_settings()
}

/// A class of `students` VMs on the stock cluster, every student joined, VMs stopped.
struct Lab {
    w: SimWorld,
    class_id: i32,
    teacher: lab::db::entity::user::Model,
    /// (student, their VMID), in VMID order.
    students: Vec<(lab::db::entity::user::Model, i32)>,
    memory: tick::Memory,
}

async fn lab_with(students: u32, db_url: Option<String>) -> Lab {
    let mut w = sim_world_with(
        db_url,
        |_| {},
        |form| {
            form.pve_root = "/nonexistent/etc/pve".into();
        },
    )
    .await;
    w.services.clock = Clock::adjustable();
    let teacher = make_user(&w.services, "teacher", Role::Teacher).await;
    let (class_id, joined) = class_with_students(&w, &teacher, "Policies", students).await;
    let lab = Lab {
        w,
        class_id,
        teacher,
        students: joined,
        memory: tick::Memory::default(),
    };
    lab.sync().await;
    lab
}

impl Lab {
    fn services(&self) -> &Services {
        &self.w.services
    }

    async fn sync(&self) {
        let cluster = clusters::find(self.services(), self.w.cluster_id)
            .await
            .unwrap();
        lab::sync::quick::run(self.services(), &cluster)
            .await
            .unwrap();
    }

    /// Moves both clocks.
    fn advance(&self, secs: i64) {
        self.services().clock.advance(secs);
        self.w
            .sim
            .control()
            .advance_clock(Duration::from_secs(secs as u64));
    }

    /// One minute of a running portal: two quick syncs (the activity rate needs two
    /// samples), a policy tick, and the jobs it queued.
    async fn minute(&mut self) -> tick::TickReport {
        self.advance(30);
        self.sync().await;
        self.advance(30);
        self.sync().await;
        let report = tick::tick(&self.w.services, self.w.cluster_id, &mut self.memory)
            .await
            .unwrap();
        if report.jobs > 0 {
            run_until_idle(&self.w.services, &settings()).await.unwrap();
            self.sync().await;
        }
        report
    }

    async fn set_policy(&self, edit: impl FnOnce(&mut PolicyForm)) {
        let mut form = PolicyForm::of(&lab::model::ClassPolicy::default());
        form.timezone = "UTC".into();
        edit(&mut form);
        panel::save_class_policy(self.services(), &self.teacher, self.class_id, &form, false)
            .await
            .unwrap();
    }

    async fn status(&self, vmid: i32) -> String {
        vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(self.w.cluster_id))
            .filter(vm::Column::Vmid.eq(vmid))
            .one(&self.services().db)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    async fn start_as(&self, i: usize) -> lab::Result<()> {
        let (user, vmid) = &self.students[i];
        let r = actions::power(
            self.services(),
            user,
            self.w.cluster_id,
            *vmid,
            VmAction::Start,
        )
        .await
        .map(drop);
        tokio::time::sleep(Duration::from_millis(150)).await; // pvesim's start task
        self.sync().await;
        r
    }

    async fn warning(&self, vmid: i32) -> Option<String> {
        vm_policy::Entity::find()
            .filter(vm_policy::Column::Vmid.eq(vmid))
            .one(&self.services().db)
            .await
            .unwrap()
            .and_then(|s| s.warn_reason)
    }

    /// The log as (vmid, action, reason), oldest first.
    async fn log(&self) -> Vec<(Option<i32>, String, String)> {
        policy_log::Entity::find()
            .filter(policy_log::Column::ClassId.eq(self.class_id))
            .order_by_asc(policy_log::Column::Id)
            .all(&self.services().db)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.vmid, l.action, l.reason))
            .collect()
    }

    async fn used_secs(&self, i: usize) -> i64 {
        let p = panel::class_panel(self.services(), &self.teacher, self.class_id)
            .await
            .unwrap();
        p.students
            .iter()
            .find(|s| s.user_id == self.students[i].0.id)
            .unwrap()
            .usage
            .used_secs
    }
}

#[tokio::test]
async fn idle_vms_are_warned_then_shut_down_but_not_a_busy_one_or_one_with_a_console_open() {
    let mut l = lab_with(3, None).await;
    l.set_policy(|f| {
        f.idle_enabled = "on".into();
        f.idle_minutes = "30".into();
    })
    .await;
    for i in 0..3 {
        l.start_as(i).await.unwrap();
    }
    let [(_, console), (_, busy), (_, idle)] = [0, 1, 2].map(|i| l.students[i].clone());
    let console_user = l.students[0].0.id;
    assert!(l.w.sim.control().set_load(busy as u32, Some(Profile::Busy)));
    let mut warned_at = None;
    for minute in 1..=45 {
        // An open console re-checks (and touches its VM) every 30 s.
        gate::touch(l.services(), console_user, l.w.cluster_id, console)
            .await
            .unwrap();
        l.minute().await;
        if warned_at.is_none() && l.warning(idle).await.is_some() {
            warned_at = Some(minute);
        }
    }
    let warned_at = warned_at.expect("the idle VM was warned");
    assert!(
        (30..=32).contains(&warned_at),
        "warned after {warned_at} min"
    );
    assert_eq!(l.status(idle).await, "stopped");
    assert_eq!(l.status(busy).await, "running");
    assert_eq!(l.status(console).await, "running");
    assert_eq!(l.warning(busy).await, None);
    assert_eq!(l.warning(console).await, None);
    let log = l.log().await;
    assert!(
        log.contains(&(Some(idle), "warn".into(), "idle".into())),
        "{log:?}"
    );
    assert!(
        log.contains(&(Some(idle), "shutdown".into(), "idle".into())),
        "{log:?}"
    );
    assert!(log.iter().all(|(v, ..)| *v == Some(idle)), "{log:?}");
}

#[tokio::test]
async fn im_still_here_puts_an_idle_shutdown_off_and_hibernation_saves_the_vm() {
    let mut l = lab_with(1, None).await;
    l.set_policy(|f| {
        f.idle_enabled = "on".into();
        f.idle_minutes = "10".into();
        f.idle_action = "hibernate".into();
        f.warn_minutes = "5".into();
    })
    .await;
    l.start_as(0).await.unwrap();
    let (student, vmid) = l.students[0].clone();
    for _ in 0..11 {
        l.minute().await;
    }
    assert_eq!(l.warning(vmid).await.as_deref(), Some("idle"));
    let notice = gate::notice(l.services(), &student, l.w.cluster_id, vmid)
        .await
        .unwrap()
        .unwrap();
    assert!(
        notice
            .message(l.services().clock.now())
            .contains("hibernates in")
    );
    // Someone else cannot press it for them.
    let other = make_user(l.services(), "other", Role::Student).await;
    assert!(matches!(
        gate::still_here(l.services(), &other, l.w.cluster_id, vmid).await,
        Err(Error::NotFound(_))
    ));
    gate::still_here(l.services(), &student, l.w.cluster_id, vmid)
        .await
        .unwrap();
    assert_eq!(l.warning(vmid).await, None);
    for _ in 0..9 {
        l.minute().await;
    }
    assert_eq!(
        l.status(vmid).await,
        "running",
        "the idle clock started again"
    );
    for _ in 0..8 {
        l.minute().await;
    }
    assert_eq!(l.status(vmid).await, "stopped");
    let config =
        l.w.pve_as_root(
            reqwest::Method::GET,
            &format!("nodes/pve1/qemu/{vmid}/config"),
            &[],
        )
        .await;
    assert_eq!(config["data"]["lock"], "suspended", "hibernated: {config}");
    let log = l.log().await;
    assert!(log.contains(&(Some(vmid), "still-here".into(), "idle".into())));
    assert!(
        log.contains(&(Some(vmid), "hibernate".into(), "idle".into())),
        "{log:?}"
    );
}

/// `daily HH:MM-HH:MM` in UTC around the portal's now: opened `before` minutes ago, closing
/// in `after` minutes.
fn hours_around(now: i64, before: i64, after: i64) -> String {
    let minute = |t: i64| {
        let m = t.rem_euclid(86_400) / 60;
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    format!(
        "daily {}-{}",
        minute(now - before * 60),
        minute(now + after * 60)
    )
}

#[tokio::test]
async fn access_hours_warn_shut_down_and_refuse_a_start_but_not_the_teachers() {
    let mut l = lab_with(1, None).await;
    let now = l.services().clock.now();
    // Whole minutes, so that the close is on a minute boundary.
    l.advance(60 - now.rem_euclid(60));
    let now = l.services().clock.now();
    l.set_policy(|f| f.hours = hours_around(now, 60, 15)).await;
    l.start_as(0).await.unwrap();
    let (student, vmid) = l.students[0].clone();
    let mut warned = None;
    for minute in 1..=20 {
        l.minute().await;
        if warned.is_none() && l.warning(vmid).await.is_some() {
            warned = Some(minute);
        }
    }
    assert_eq!(warned, Some(5), "warned 10 min before the 15-min close");
    assert_eq!(l.status(vmid).await, "stopped");
    let refused = l.start_as(0).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Conflict(m) if m.contains("access hours")),
        "{refused:?}"
    );
    assert_eq!(l.status(vmid).await, "stopped");
    // The teacher may (exempt), and the log says who was refused.
    actions::power(
        l.services(),
        &l.teacher,
        l.w.cluster_id,
        vmid,
        VmAction::Start,
    )
    .await
    .unwrap();
    let log = l.log().await;
    assert!(
        log.contains(&(Some(vmid), "warn".into(), "hours".into())),
        "{log:?}"
    );
    assert!(
        log.contains(&(Some(vmid), "shutdown".into(), "hours".into())),
        "{log:?}"
    );
    assert!(
        log.contains(&(Some(vmid), "refused".into(), "hours".into())),
        "{log:?}"
    );
    let _ = student;
}

#[tokio::test]
async fn a_quota_shuts_down_refuses_and_an_added_hour_lets_the_student_start_again() {
    let mut l = lab_with(1, None).await;
    l.set_policy(|f| f.quota_hours = "1".into()).await;
    let (_, vmid) = l.students[0].clone();
    l.start_as(0).await.unwrap();
    for _ in 0..30 {
        l.minute().await;
    }
    // A restart of the portal (the worker's memory is gone): the count goes on from the
    // database and the VM's boot time.
    l.memory = tick::Memory::default();
    let used = l.used_secs(0).await;
    assert!((29 * 60..=31 * 60).contains(&used), "used {used} s");
    for _ in 0..35 {
        l.minute().await;
    }
    assert_eq!(l.status(vmid).await, "stopped");
    let used = l.used_secs(0).await;
    assert!(
        (59 * 60..=61 * 60).contains(&used),
        "used {used} s at the quota"
    );
    let refused = l.start_as(0).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Conflict(m) if m.contains("used your")),
        "{refused:?}"
    );
    panel::add_hours(l.services(), &l.teacher, l.class_id, None, 1)
        .await
        .unwrap();
    l.start_as(0).await.unwrap();
    assert_eq!(l.status(vmid).await, "running");
    // The runs are logged: the first one closed at the shutdown, a second open now.
    l.minute().await;
    let runs = usage_interval::Entity::find()
        .filter(usage_interval::Column::Vmid.eq(vmid))
        .order_by_asc(usage_interval::Column::Id)
        .all(&l.services().db)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[0].ended_at.is_some() && runs[1].ended_at.is_none());
    panel::reset_usage(
        l.services(),
        &l.teacher,
        l.class_id,
        Some(l.students[0].0.id),
    )
    .await
    .unwrap();
    assert!(l.used_secs(0).await < 120);
    let log = l.log().await;
    assert!(
        log.contains(&(Some(vmid), "shutdown".into(), "quota".into())),
        "{log:?}"
    );
}

#[tokio::test]
async fn schedules_start_and_stop_the_class_and_a_scheduled_run_counts_once_joined() {
    let mut l = lab_with(2, None).await;
    let now = l.services().clock.now();
    l.advance(60 - now.rem_euclid(60));
    let now = l.services().clock.now();
    let at = |mins: i64| {
        let m = (now + mins * 60).rem_euclid(86_400) / 60;
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    l.set_policy(|f| f.quota_hours = "5".into()).await;
    for (action, time) in [("start", at(3)), ("shutdown", at(60))] {
        let form = ScheduleForm {
            action: action.into(),
            when: "daily".into(),
            time,
        };
        panel::add_schedule(l.services(), &l.teacher, l.class_id, &form)
            .await
            .unwrap();
    }
    let (joiner, joined_vm) = l.students[0].clone();
    let (_, other_vm) = l.students[1].clone();
    let mut started = 0;
    for minute in 1..=65 {
        started += l.minute().await.started;
        if minute == 20 {
            // The first student opens their console: their run counts from now.
            gate::touch(l.services(), joiner.id, l.w.cluster_id, joined_vm)
                .await
                .unwrap();
        }
        if minute == 10 {
            assert_eq!(l.status(joined_vm).await, "running");
            assert_eq!(l.status(other_vm).await, "running");
        }
    }
    assert_eq!(started, 2, "one start per VM");
    assert_eq!(l.status(joined_vm).await, "stopped");
    assert_eq!(l.status(other_vm).await, "stopped");
    let used_joined = l.used_secs(0).await;
    let used_other = l.used_secs(1).await;
    assert_eq!(
        used_other, 0,
        "a scheduled run nobody joined does not count"
    );
    assert!(
        (38 * 60..=42 * 60).contains(&used_joined),
        "counted from the connection (minute 20) to the stop (minute 60): {used_joined} s"
    );
    let log = l.log().await;
    for vmid in [joined_vm, other_vm] {
        assert!(
            log.contains(&(Some(vmid), "start".into(), "schedule".into())),
            "{log:?}"
        );
        assert!(
            log.contains(&(Some(vmid), "warn".into(), "schedule".into())),
            "{log:?}"
        );
        assert!(
            log.contains(&(Some(vmid), "shutdown".into(), "schedule".into())),
            "{log:?}"
        );
    }
}

#[tokio::test]
async fn two_instances_on_one_database_only_one_acts_and_the_other_takes_over() {
    // The lease needs a cluster, not a class.
    let url = postgres::fresh_database_url().await;
    let mut w = sim_world_with(url, |_| {}, |_| {}).await;
    w.services.clock = Clock::adjustable();
    let l = LeaseWorld { w };
    let db2 = lab::db::connect(&l.w.db_url).await.unwrap();
    let mut second = Services::new(
        db2,
        lab::AuthPolicy::default(),
        lab::secrets::SecretBox::ephemeral(),
    );
    second.clock = l.services().clock.clone();
    let mut mem1 = HashMap::new();
    let mut mem2 = HashMap::new();
    let held1 = lab::policies::worker::run_once(l.services(), "one", 90, &mut mem1).await;
    let held2 = lab::policies::worker::run_once(&second, "two", 90, &mut mem2).await;
    assert_eq!(held1, vec![l.w.cluster_id]);
    assert!(held2.is_empty(), "the second instance does not act");
    // Both keep ticking; still one holder.
    l.advance(30);
    assert_eq!(
        lab::policies::worker::run_once(&second, "two", 90, &mut mem2).await,
        Vec::<i32>::new()
    );
    assert_eq!(
        lab::policies::worker::run_once(l.services(), "one", 90, &mut mem1).await,
        vec![l.w.cluster_id]
    );
    // The first one dies: the second takes over once its lease ran out.
    l.advance(60);
    assert!(
        lab::policies::worker::run_once(&second, "two", 90, &mut mem2)
            .await
            .is_empty()
    );
    l.advance(31);
    assert_eq!(
        lab::policies::worker::run_once(&second, "two", 90, &mut mem2).await,
        vec![l.w.cluster_id]
    );
}

/// Just a cluster, with the portal's clock movable.
struct LeaseWorld {
    w: SimWorld,
}

impl LeaseWorld {
    fn services(&self) -> &Services {
        &self.w.services
    }

    fn advance(&self, secs: i64) {
        self.services().clock.advance(secs);
    }
}
