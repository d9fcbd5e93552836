//! The audit log against a real SQLite file and pvesim: lines name their object in words
//! (a VM by its inventory name and class, a class by its name), a teacher reads only the
//! lines of the classes they manage and a student none, the filters and paging hold, the
//! CSV export is the page's filter as a file, the policy worker's acts are mirrored from the
//! policy log, and pruning removes only what is older than the retention.

#[path = "support/world.rs"]
mod world;

use lab::audit::{Entry, POLICY_WORKER, export, page, prune, record};
use lab::db::entity::{audit_log, user};
use lab::model::{AuditAction, AuditFilter, AuditOutcome, Role};
use lab::{Error, Services};
use sea_orm::{EntityTrait, PaginatorTrait};
use world::{class_with_students, make_user, sim_world};

async fn lines(services: &Services, viewer: &user::Model, filter: AuditFilter) -> Vec<String> {
    page(services, viewer, &filter, 365)
        .await
        .unwrap()
        .lines
        .into_iter()
        .map(|l| format!("{} {} {}", l.actor, l.action, l.object))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_are_scoped_filtered_paged_exported_and_pruned() {
    let w = sim_world(|_| {}).await;
    let s = &w.services;
    let admin = make_user(s, "root", Role::Admin).await;
    let teacher = make_user(s, "teach", Role::Teacher).await;
    let other = make_user(s, "other", Role::Teacher).await;
    let (class_id, students) = class_with_students(&w, &teacher, "Networking", 1).await;
    let (student, vmid) = students[0].clone();
    let cluster = lab::clusters::find(s, w.cluster_id).await.unwrap();
    lab::sync::quick::run(s, &cluster).await.unwrap();
    let now = lab::clock::now();

    // A student's start of their class VM: its class and name are filled in.
    let power = Entry::by(&student, AuditAction::VmPower)
        .vm(w.cluster_id, vmid)
        .from(Some("10.0.0.7".into()))
        .detail("start");
    record(&s.db, now, power.outcome(&Ok::<(), Error>(()))).await;
    // Another teacher's failed sign-in, and an admin's act outside any class.
    record(
        &s.db,
        now,
        Entry::by_name("other", AuditAction::SignInFailed)
            .object("the portal")
            .outcome(&Err::<(), _>(Error::WrongCredentials)),
    )
    .await;
    record(
        &s.db,
        now,
        Entry::by(&admin, AuditAction::ClusterChanged)
            .object("cluster lab")
            .cluster(w.cluster_id)
            .detail("disabled"),
    )
    .await;
    // The policy worker's shutdown, through the policy log (its warning is not an act).
    for action in ["warn", "shutdown"] {
        lab::policy_log::record(
            &s.db,
            now,
            lab::policy_log::Entry {
                class_id,
                cluster_id: w.cluster_id,
                vmid: Some(vmid),
                user_id: Some(student.id),
                action: action.into(),
                reason: "idle".into(),
                detail: None,
                job_id: None,
            },
        )
        .await
        .unwrap();
    }

    let vm_words = format!(
        "VM {vmid} ({}) of class Networking",
        vm_name(&w, vmid).await
    );
    assert_eq!(
        lines(s, &admin, AuditFilter::default()).await,
        [
            format!("{POLICY_WORKER} policy_action {vm_words}"),
            "root cluster_changed cluster lab".to_string(),
            "other sign_in_failed the portal".to_string(),
            format!("{} vm_power {vm_words}", student.username),
        ]
    );
    // The class's teacher sees its lines; another teacher and a student see nothing of it.
    assert_eq!(lines(s, &teacher, AuditFilter::default()).await.len(), 2);
    assert!(lines(s, &other, AuditFilter::default()).await.is_empty());
    assert!(matches!(
        page(s, &student, &AuditFilter::default(), 365).await,
        Err(Error::Forbidden)
    ));

    // Filters: a part of the log, who, object words (or detail), days.
    let only = |f: AuditFilter| lines(s, &admin, f);
    assert_eq!(
        only(AuditFilter {
            area: "sign-in".into(),
            ..Default::default()
        })
        .await,
        ["other sign_in_failed the portal"]
    );
    assert_eq!(
        only(AuditFilter {
            who: "roo".into(),
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    assert_eq!(
        only(AuditFilter {
            object: "disabled".into(),
            ..Default::default()
        })
        .await,
        ["root cluster_changed cluster lab"]
    );
    let today = jiff::Timestamp::from_second(now)
        .unwrap()
        .strftime("%Y-%m-%d")
        .to_string();
    assert_eq!(
        only(AuditFilter {
            from: today.clone(),
            to: today.clone(),
            ..Default::default()
        })
        .await
        .len(),
        4
    );
    assert!(
        only(AuditFilter {
            to: "2000-01-01".into(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert!(matches!(
        page(
            s,
            &admin,
            &AuditFilter {
                area: "everything".into(),
                ..Default::default()
            },
            365
        )
        .await,
        Err(Error::Invalid(_))
    ));
    let denied = page(
        s,
        &admin,
        &AuditFilter {
            who: "other".into(),
            ..Default::default()
        },
        365,
    )
    .await
    .unwrap();
    assert_eq!(denied.lines[0].outcome, AuditOutcome::Denied);
    assert_eq!(
        denied.lines[0].detail.as_deref(),
        Some("Wrong username or password.")
    );

    // Paging: 150 more lines, 100 a page, then the rest before the last one shown.
    for n in 0..150 {
        record(
            &s.db,
            now,
            Entry::by(&admin, AuditAction::AccountChanged).object(format!("n{n}")),
        )
        .await;
    }
    let first = page(s, &admin, &AuditFilter::default(), 365).await.unwrap();
    assert_eq!((first.lines.len(), first.more), (100, true));
    let before = first.lines.last().unwrap().id;
    let second = page(
        s,
        &admin,
        &AuditFilter {
            before,
            ..Default::default()
        },
        365,
    )
    .await
    .unwrap();
    assert_eq!((second.lines.len(), second.more), (54, false));
    assert!(second.lines.iter().all(|l| l.id < before));

    // The export: the filter as CSV, for the teacher only their class's lines.
    let csv = export(s, &teacher, &AuditFilter::default(), 1000)
        .await
        .unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[2].contains(",vm_power,") && rows[2].contains(",10.0.0.7,ok,start"),
        "{csv}"
    );

    // Pruning: a line older than the retention goes, the rest stay.
    record(
        &s.db,
        now - 40 * 86_400,
        Entry::by(&admin, AuditAction::SignIn),
    )
    .await;
    let total = audit_log::Entity::find().count(&s.db).await.unwrap();
    assert_eq!(prune(s, 30).await.unwrap(), 1);
    assert_eq!(
        audit_log::Entity::find().count(&s.db).await.unwrap(),
        total - 1
    );
    assert_eq!(prune(s, 30).await.unwrap(), 0);
}

async fn vm_name(w: &world::SimWorld, vmid: i32) -> String {
    use lab::db::entity::vm;
    use sea_orm::{ColumnTrait, QueryFilter};
    vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(w.cluster_id))
        .filter(vm::Column::Vmid.eq(vmid))
        .one(&w.services.db)
        .await
        .unwrap()
        .map(|v| v.name)
        .unwrap_or_default()
}
