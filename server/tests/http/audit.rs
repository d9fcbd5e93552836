//! The audit log over real HTTP: acts done through the server functions are recorded with
//! who, what, the object in words, the client's address and how they went; the page's
//! server function and the CSV export show them to admins, a teacher's classes' lines to
//! teachers, and nothing to students or strangers.

use super::*;
use lab::model::{AuditAction, AuditFilter, AuditOutcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acts_are_audited_with_who_what_and_where() {
    let (s, _sim, _dir, cluster) = start_with_cluster().await;
    s.add_user("root", Role::Admin).await;
    s.add_user("bob", Role::Student).await;
    s.add_user("teach", Role::Teacher).await;
    let carl = s.add_user("carl", Role::Student).await;

    let wrong = s
        .post(
            "/api/auth/login",
            None,
            &[("username", "Ann"), ("password", "not her password")],
        )
        .await;
    assert!(!wrong.status.is_success());
    let ann = s.login("ann").await;
    let bob = s.login("bob").await;
    let root = s.login("root").await;
    let teach = s.login("teach").await;
    let cluster = cluster.to_string();
    let power = |cookie: String| {
        let s = &s;
        let cluster = cluster.clone();
        async move {
            s.post(
                "/api/vms/action",
                Some(&cookie),
                &[
                    ("cluster_id", &cluster),
                    ("vmid", "100"),
                    ("action", "shutdown"),
                ],
            )
            .await
            .status
        }
    };
    assert!(power(ann.clone()).await.is_success());
    assert_eq!(power(bob.clone()).await, 404);
    let carl_id = carl.to_string();
    let promoted = s
        .post(
            "/api/admin/users/role",
            Some(&root),
            &[("user_id", &carl_id), ("role", "teacher")],
        )
        .await;
    assert!(promoted.status.is_success(), "{}", promoted.body);

    let admin = lab::auth::find_user(&s.services, "root")
        .await
        .unwrap()
        .unwrap();
    let page = lab::audit::page(&s.services, &admin, &AuditFilter::default(), 365)
        .await
        .unwrap();
    let seen: Vec<(&str, AuditAction, &str, AuditOutcome, Option<&str>)> = page
        .lines
        .iter()
        .rev()
        .map(|l| {
            (
                l.actor.as_str(),
                l.action,
                l.object.as_str(),
                l.outcome,
                l.addr.as_deref(),
            )
        })
        .collect();
    let here = Some("127.0.0.1");
    for want in [
        (
            "Ann",
            AuditAction::SignInFailed,
            "the portal",
            AuditOutcome::Denied,
            here,
        ),
        (
            "ann",
            AuditAction::SignIn,
            "the portal",
            AuditOutcome::Ok,
            here,
        ),
        (
            "bob",
            AuditAction::VmPower,
            "VM 100 (web-01)",
            AuditOutcome::Denied,
            here,
        ),
        (
            "root",
            AuditAction::RoleChanged,
            "account carl",
            AuditOutcome::Ok,
            here,
        ),
    ] {
        assert!(seen.contains(&want), "{want:?} not in {seen:?}");
    }
    let ann_start = page
        .lines
        .iter()
        .find(|l| l.action == AuditAction::VmPower && l.actor == "ann")
        .unwrap();
    assert_eq!(
        (ann_start.outcome, ann_start.detail.as_deref()),
        (AuditOutcome::Ok, Some("shutdown"))
    );

    // The page's server function: admins everything, a teacher without classes nothing,
    // students refused.
    let filter = [("filter[area]", "sign-in")];
    let as_admin = s.post("/api/audit", Some(&root), &filter).await;
    assert!(as_admin.status.is_success(), "{}", as_admin.body);
    let shown: lab::model::AuditPage = serde_json::from_str(&as_admin.body).unwrap();
    assert!(
        shown
            .lines
            .iter()
            .any(|l| l.action == AuditAction::SignInFailed && l.actor == "Ann"),
        "{}",
        as_admin.body
    );
    assert!(
        shown
            .lines
            .iter()
            .all(|l| l.action.area() == lab::model::AuditArea::SignIn),
        "filtered: {}",
        as_admin.body
    );
    let as_teacher = s.post("/api/audit", Some(&teach), &filter).await;
    assert!(as_teacher.status.is_success(), "{}", as_teacher.body);
    let shown: lab::model::AuditPage = serde_json::from_str(&as_teacher.body).unwrap();
    assert!(shown.lines.is_empty(), "{}", as_teacher.body);
    assert_eq!(s.post("/api/audit", Some(&bob), &filter).await.status, 403);
    let bad = s
        .post("/api/audit", Some(&root), &[("filter[from]", "yesterday")])
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("is not a date"), "{}", bad.body);

    // The CSV export, with the same filter.
    let csv = s
        .get("/api/audit.csv?area=sign-in&who=ann", Some(&root))
        .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"proxlab-audit-")
    );
    let rows: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        rows[0],
        "time_utc,actor,action,object,address,outcome,detail"
    );
    assert!(
        rows[1..]
            .iter()
            .any(|r| r.contains(",Ann,sign_in_failed,the portal,127.0.0.1,denied,")),
        "{rows:?}"
    );
    assert!(
        rows[1..].iter().all(|r| !r.contains("vm_power")),
        "{rows:?}"
    );
    assert_eq!(s.get("/api/audit.csv", Some(&bob)).await.status, 403);
    assert_eq!(s.get("/api/audit.csv", None).await.status, 401);
}
