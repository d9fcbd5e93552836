//! The Jobs page and its server functions: admins only (a teacher and a student get 403
//! and change nothing), the filters, and cancel with the engine's rule and its reasons.

use super::support::jobs::{self, CLASS, ERROR, GONE};
use super::*;
use lab::model::JobState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_for_admins_who_see_filter_and_cancel_them() {
    let s = start().await;
    let seeded = jobs::seed(&s.services).await;
    s.add_user("admin", Role::Admin).await;
    s.add_user("stu", Role::Student).await;
    let admin = s.login("admin").await;
    let teacher = s.login("owner").await;
    let student = s.login("stu").await;
    let reset = seeded.reset.to_string();
    let calls: [(&str, Vec<(&str, &str)>); 2] = [
        ("/api/admin/jobs", vec![("state", "all")]),
        ("/api/admin/jobs/cancel", vec![("id", &reset)]),
    ];
    for (path, form) in &calls {
        assert_eq!(
            s.post(path, None, form).await.status,
            401,
            "anonymous {path}"
        );
        for (who, cookie) in [("student", &student), ("teacher", &teacher)] {
            let r = s.post(path, Some(cookie), form).await;
            assert_eq!(r.status, 403, "{who} {path}: {}", r.body);
            assert!(!r.body.contains(CLASS), "{who} {path}: {}", r.body);
        }
    }
    for (who, cookie) in [("student", &student), ("teacher", &teacher)] {
        let page = s.get("/admin/jobs?state=all", Some(cookie)).await;
        assert_eq!(page.status, 403, "{who}");
        assert!(!page.body.contains(CLASS), "{who}: {}", page.body);
    }
    assert_eq!(
        jobs::state(&s.services, seeded.reset).await,
        JobState::Queued
    );

    // The admin's lists, by filter.
    let listed = |body: &str, id: i32| body.contains(&format!("\"id\":{id},"));
    let active = s
        .post("/api/admin/jobs", Some(&admin), &[("state", "active")])
        .await;
    assert_eq!(active.status, 200, "{}", active.body);
    for id in [seeded.deploy, seeded.publish, seeded.reset] {
        assert!(listed(&active.body, id), "{id}: {}", active.body);
    }
    assert!(!listed(&active.body, seeded.respec) && !listed(&active.body, seeded.delete));
    assert!(
        active.body.contains("\"vms_done\":1,\"vms_total\":2"),
        "{}",
        active.body
    );
    let failed = s
        .post("/api/admin/jobs", Some(&admin), &[("state", "failed")])
        .await;
    assert!(listed(&failed.body, seeded.delete), "{}", failed.body);
    assert!(!listed(&failed.body, seeded.deploy), "{}", failed.body);
    let all = s
        .post("/api/admin/jobs", Some(&admin), &[("state", "all")])
        .await;
    assert_eq!(all.body.matches("\"kind\":").count(), 5, "{}", all.body);
    let bad = s
        .post("/api/admin/jobs", Some(&admin), &[("state", "stuck")])
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    // The page, rendered on the server: rows, the class link, "deleted", the error, and
    // Cancel only where the engine allows it.
    let page = s.get("/admin/jobs?state=all", Some(&admin)).await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("id=\"jobs-table\""), "{body}");
    assert!(
        body.contains(&format!("href=\"/classes/{}\"", seeded.class_id)),
        "{body}"
    );
    assert!(body.contains("deleted") && body.contains(ERROR), "{body}");
    assert!(body.contains(&format!("title=\"class {GONE}\"")), "{body}");
    for (id, cancellable) in [
        (seeded.deploy, true),
        (seeded.reset, true),
        (seeded.publish, false),
        (seeded.respec, false),
        (seeded.delete, false),
    ] {
        let row = body
            .split(&format!("id=\"job-{id}\""))
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap_or_else(|| panic!("row {id} missing: {body}"));
        assert_eq!(
            row.contains(&format!("aria-label=\"Cancel job {id}\"")),
            cancellable,
            "{id}: {row}"
        );
    }
    let unfinished = s.get("/admin/jobs", Some(&admin)).await.body;
    assert!(unfinished.contains(&format!("id=\"job-{}\"", seeded.reset)));
    assert!(!unfinished.contains(&format!("id=\"job-{}\"", seeded.respec)));

    // Cancel: a queued reset yes; a running publish, a finished job and a made-up id no,
    // each with its reason.
    let ok = s
        .post("/api/admin/jobs/cancel", Some(&admin), &[("id", &reset)])
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        jobs::state(&s.services, seeded.reset).await,
        JobState::Cancelling
    );
    for (id, status, says) in [
        (seeded.publish, 409, "is running and cannot be cancelled"),
        (seeded.respec, 409, "is done and cannot be cancelled"),
        (seeded.reset, 409, "cannot be cancelled"),
        (4242, 404, "\"Job 4242\""),
    ] {
        let r = s
            .post(
                "/api/admin/jobs/cancel",
                Some(&admin),
                &[("id", &id.to_string())],
            )
            .await;
        assert_eq!(r.status, status, "{id}: {}", r.body);
        assert!(r.body.contains(says), "{id}: {}", r.body);
    }
    assert_eq!(
        jobs::state(&s.services, seeded.publish).await,
        JobState::Running
    );
}
