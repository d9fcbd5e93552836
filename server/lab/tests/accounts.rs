//! Account behaviour against real databases: a fresh SQLite file per test, and a fresh
//! PostgreSQL database per test (`support/postgres.rs`).

#[path = "support/postgres.rs"]
mod postgres;

use lab::auth::{self, LoginAttempt, NewUser};
use lab::db::entity::session;
use lab::model::Role;
use lab::{AuthPolicy, Error, Services};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use std::future::Future;

struct TestDb {
    services: Services,
    _dir: Option<tempfile::TempDir>,
}

fn policy() -> AuthPolicy {
    AuthPolicy {
        max_failures_per_user: 3,
        max_failures_per_addr: 6,
        ..AuthPolicy::default()
    }
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("lab.db").display());
    let db = lab::db::connect(&url).await.unwrap();
    lab::db::migrate(&db).await.unwrap();
    TestDb {
        services: Services::new(db, policy(), lab::secrets::SecretBox::ephemeral()),
        _dir: Some(dir),
    }
}

async fn postgres() -> Option<TestDb> {
    let url = postgres::fresh_database_url().await?;
    let db = lab::db::connect(&url).await.unwrap();
    lab::db::migrate(&db).await.unwrap();
    Some(TestDb {
        services: Services::new(db, policy(), lab::secrets::SecretBox::ephemeral()),
        _dir: None,
    })
}

/// Runs one behaviour on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let body = $body;
                body(super::sqlite().await.services).await;
            }
            #[tokio::test]
            async fn postgres() {
                let body = $body;
                if let Some(db) = super::postgres().await {
                    body(db.services).await;
                }
            }
        }
    };
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        username: name.into(),
        display_name: String::new(),
        email: None,
        role,
        password: "a long enough password".into(),
    }
}

async fn login(s: &Services, name: &str, password: &str) -> Result<String, Error> {
    auth::login(
        s,
        LoginAttempt {
            username: name,
            password,
            client_addr: Some("192.0.2.7"),
        },
    )
    .await
    .map(|(_, token)| token)
}

async fn user_count(s: &Services) -> u64 {
    lab::db::entity::user::Entity::find()
        .count(&s.db)
        .await
        .unwrap()
}

fn run<F: Future<Output = ()>>(f: F) -> F {
    f
}

on_both!(usernames_are_unique_without_case, |s: Services| run(
    async move {
        let alice = auth::create_user(&s, new_user("Alice", Role::Student))
            .await
            .unwrap();
        assert_eq!(alice.username, "alice");
        assert_eq!(alice.display_name, "alice");
        let again = auth::create_user(&s, new_user("ALICE", Role::Teacher)).await;
        assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
        assert_eq!(user_count(&s).await, 1);
    }
));

on_both!(bad_accounts_change_nothing, |s: Services| run(async move {
    for name in ["root@pam", "two words", "", "аdmin"] {
        let r = auth::create_user(&s, new_user(name, Role::Student)).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{name:?}: {r:?}");
    }
    for password in ["short", &"x".repeat(300)] {
        let r = auth::create_user(
            &s,
            NewUser {
                password: password.into(),
                ..new_user("bob", Role::Student)
            },
        )
        .await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    }
    let r = auth::create_user(
        &s,
        NewUser {
            email: Some("not-an-email".into()),
            ..new_user("bob", Role::Student)
        },
    )
    .await;
    assert!(matches!(r, Err(Error::Invalid(_))));
    assert_eq!(user_count(&s).await, 0);
}));

on_both!(
    login_checks_the_password_and_says_the_same_for_every_failure,
    |s: Services| run(async move {
        auth::create_user(&s, new_user("carol", Role::Teacher))
            .await
            .unwrap();
        let token = login(&s, "Carol", "a long enough password").await.unwrap();
        let session = auth::resolve_session(&s, &token).await.unwrap().unwrap();
        assert_eq!(session.user.username, "carol");
        assert_eq!(session.role(), Role::Teacher);
        assert!(session.user.last_login_at.is_some());
        // A `{:?}` of the session (a log line, a panic) shows neither secret.
        let shown = format!("{session:?}");
        assert!(shown.contains("carol"), "{shown}");
        assert!(!shown.contains(&token), "the cookie's secret: {shown}");
        let hash = session.user.password_hash.clone();
        assert!(
            !hash.is_empty() && !shown.contains(&hash),
            "the hash: {shown}"
        );

        let wrong = login(&s, "carol", "a wrong password!!").await.unwrap_err();
        let unknown = login(&s, "nobody", "a long enough password")
            .await
            .unwrap_err();
        let malformed = login(&s, "no body", "x").await.unwrap_err();
        assert_eq!(wrong.to_string(), unknown.to_string());
        assert_eq!(wrong.to_string(), malformed.to_string());
        assert!(matches!(wrong, Error::WrongCredentials));
    })
);

on_both!(failed_logins_are_throttled_per_user, |s: Services| run(
    async move {
        auth::create_user(&s, new_user("dave", Role::Student))
            .await
            .unwrap();
        auth::create_user(&s, new_user("erin", Role::Student))
            .await
            .unwrap();
        for _ in 0..3 {
            assert!(matches!(
                login(&s, "dave", "wrong password 1").await,
                Err(Error::WrongCredentials)
            ));
        }
        // Over the limit, even the right password is refused until the window ends.
        let r = login(&s, "dave", "a long enough password").await;
        assert!(
            matches!(r, Err(Error::Throttled { retry_after_secs }) if retry_after_secs > 0),
            "{r:?}"
        );
        // Another account from the same address still works (the address limit is higher).
        login(&s, "erin", "a long enough password").await.unwrap();
        // …until the address limit is reached too.
        for _ in 0..3 {
            let _ = login(&s, "erin", "wrong password 2").await;
        }
        let r = login(&s, "erin", "a long enough password").await;
        assert!(matches!(r, Err(Error::Throttled { .. })), "{r:?}");
    }
));

on_both!(
    disabled_accounts_cannot_sign_in_and_lose_their_sessions,
    |s: Services| run(async move {
        auth::create_user(&s, new_user("root", Role::Admin))
            .await
            .unwrap();
        let frank = auth::create_user(&s, new_user("frank", Role::Student))
            .await
            .unwrap();
        let token = login(&s, "frank", "a long enough password").await.unwrap();
        auth::set_disabled(&s, frank.id, true).await.unwrap();
        assert!(auth::resolve_session(&s, &token).await.unwrap().is_none());
        let r = login(&s, "frank", "a long enough password").await;
        assert!(
            matches!(r, Err(Error::Invalid(ref m)) if m.contains("disabled")),
            "{r:?}"
        );
        auth::set_disabled(&s, frank.id, false).await.unwrap();
        login(&s, "frank", "a long enough password").await.unwrap();
    })
);

on_both!(sessions_expire_slide_and_end_at_logout, |s: Services| run(
    async move {
        let gina = auth::create_user(&s, new_user("gina", Role::Student))
            .await
            .unwrap();
        let token = login(&s, "gina", "a long enough password").await.unwrap();
        let row = session::Entity::find().one(&s.db).await.unwrap().unwrap();
        assert_eq!(row.user_id, gina.id);
        assert_ne!(row.id_hash, token, "the table keeps a hash, not the secret");

        // Used after a while: the idle deadline slides forward.
        let long_ago = row.last_seen_at - 3600;
        s.db.execute_unprepared(&format!(
            "UPDATE sessions SET last_seen_at = {long_ago}, expires_at = {}",
            row.expires_at - 3600
        ))
        .await
        .unwrap();
        let resolved = auth::resolve_session(&s, &token).await.unwrap().unwrap();
        assert!(
            resolved.expires_at >= row.expires_at,
            "deadline slid forward"
        );

        // Past its deadline: refused and removed.
        s.db.execute_unprepared("UPDATE sessions SET expires_at = 1")
            .await
            .unwrap();
        assert!(auth::resolve_session(&s, &token).await.unwrap().is_none());
        assert_eq!(session::Entity::find().count(&s.db).await.unwrap(), 0);

        // Logout deletes the row.
        let token = login(&s, "gina", "a long enough password").await.unwrap();
        auth::end_session(&s, &token).await.unwrap();
        assert!(auth::resolve_session(&s, &token).await.unwrap().is_none());
        assert!(
            auth::resolve_session(&s, "made-up")
                .await
                .unwrap()
                .is_none()
        );
    }
));

on_both!(the_absolute_lifetime_caps_sliding, |s: Services| run(
    async move {
        auth::create_user(&s, new_user("hank", Role::Student))
            .await
            .unwrap();
        let token = login(&s, "hank", "a long enough password").await.unwrap();
        // Created 15 days ago, last seen 2 minutes ago: the 14-day cap is past.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        s.db.execute_unprepared(&format!(
            "UPDATE sessions SET created_at = {}, last_seen_at = {}",
            now - 15 * 86_400,
            now - 120
        ))
        .await
        .unwrap();
        // This request is still inside the idle deadline, but the slide is capped in the past…
        let first = auth::resolve_session(&s, &token).await.unwrap();
        assert!(first.is_some_and(|s| s.expires_at <= now));
        // …so the next one finds it expired.
        assert!(auth::resolve_session(&s, &token).await.unwrap().is_none());
    }
));

on_both!(
    a_password_change_ends_the_other_sessions,
    |s: Services| run(async move {
        let ivy = auth::create_user(&s, new_user("ivy", Role::Student))
            .await
            .unwrap();
        let laptop = login(&s, "ivy", "a long enough password").await.unwrap();
        let phone = login(&s, "ivy", "a long enough password").await.unwrap();
        let r = auth::change_password(
            &s,
            ivy.id,
            "not the password",
            "another long password",
            &laptop,
        )
        .await;
        assert!(matches!(r, Err(Error::Invalid(_))));
        assert!(
            auth::resolve_session(&s, &phone).await.unwrap().is_some(),
            "failed change ends nothing"
        );
        auth::change_password(
            &s,
            ivy.id,
            "a long enough password",
            "another long password",
            &laptop,
        )
        .await
        .unwrap();
        assert!(auth::resolve_session(&s, &laptop).await.unwrap().is_some());
        assert!(auth::resolve_session(&s, &phone).await.unwrap().is_none());
        assert!(login(&s, "ivy", "a long enough password").await.is_err());
        login(&s, "ivy", "another long password").await.unwrap();
        // An admin reset ends every session.
        auth::reset_password(&s, ivy.id, "third long password")
            .await
            .unwrap();
        assert!(auth::resolve_session(&s, &laptop).await.unwrap().is_none());
    })
);

on_both!(the_first_admin_comes_from_a_one_time_link, |s: Services| {
    run(async move {
        assert!(!auth::admin_exists(&s).await.unwrap());
        let old = auth::issue_setup_token(&s).await.unwrap().unwrap();
        let token = auth::issue_setup_token(&s).await.unwrap().unwrap();
        assert!(
            !auth::setup_token_is_valid(&s, &old).await.unwrap(),
            "a new link replaces the old"
        );
        assert!(auth::setup_token_is_valid(&s, &token).await.unwrap());

        // Bad input changes nothing and keeps the link.
        let r = auth::complete_setup(&s, &token, new_user("x@pam", Role::Student)).await;
        assert!(matches!(r, Err(Error::Invalid(_))));
        assert!(auth::setup_token_is_valid(&s, &token).await.unwrap());
        let r = auth::complete_setup(&s, "made-up", new_user("admin", Role::Student)).await;
        assert!(matches!(r, Err(Error::Invalid(_))));

        let admin = auth::complete_setup(&s, &token, new_user("admin", Role::Student))
            .await
            .unwrap();
        assert_eq!(
            admin.role,
            Role::Admin,
            "the setup link always makes an admin"
        );
        let again = auth::complete_setup(&s, &token, new_user("admin2", Role::Student)).await;
        assert!(matches!(again, Err(Error::Invalid(_))));
        assert_eq!(user_count(&s).await, 1);
        assert!(
            auth::issue_setup_token(&s).await.unwrap().is_none(),
            "no link once an admin exists"
        );
    })
});

on_both!(there_is_always_an_enabled_admin, |s: Services| run(
    async move {
        let root = auth::create_user(&s, new_user("root", Role::Admin))
            .await
            .unwrap();
        let jo = auth::create_user(&s, new_user("jo", Role::Teacher))
            .await
            .unwrap();
        assert!(matches!(
            auth::set_role(&s, root.id, Role::Teacher).await,
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            auth::set_disabled(&s, root.id, true).await,
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            auth::delete_user(&s, jo.id, root.id).await,
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            auth::delete_user(&s, root.id, root.id).await,
            Err(Error::Conflict(_))
        ));
        auth::set_role(&s, jo.id, Role::Admin).await.unwrap();
        auth::set_role(&s, root.id, Role::Teacher).await.unwrap();
        auth::delete_user(&s, jo.id, root.id).await.unwrap();
        assert_eq!(user_count(&s).await, 1);
        assert!(matches!(
            auth::delete_user(&s, jo.id, 9999).await,
            Err(Error::NotFound(_))
        ));
    }
));

on_both!(users_can_be_searched, |s: Services| run(async move {
    for (name, display) in [
        ("kim", "Kim Park"),
        ("lee", "Lee Smith"),
        ("max", "Maxine Park"),
    ] {
        auth::create_user(
            &s,
            NewUser {
                display_name: display.into(),
                ..new_user(name, Role::Student)
            },
        )
        .await
        .unwrap();
    }
    let names =
        |v: Vec<lab::model::UserView>| v.into_iter().map(|u| u.username).collect::<Vec<_>>();
    assert_eq!(
        names(auth::list_users(&s, "").await.unwrap()),
        ["kim", "lee", "max"]
    );
    assert_eq!(
        names(auth::list_users(&s, "PARK").await.unwrap()),
        ["kim", "max"]
    );
    assert_eq!(
        names(auth::list_users(&s, "%").await.unwrap()),
        ["kim", "lee", "max"]
    );
    assert!(auth::list_users(&s, "zzz").await.unwrap().is_empty());
}));

on_both!(
    migrations_run_twice_and_registration_toggles,
    |s: Services| run(async move {
        lab::db::migrate(&s.db).await.unwrap();
        assert!(lab::site::registration_open(&s).await.unwrap());
        lab::site::set_registration_open(&s, false).await.unwrap();
        assert!(!lab::site::registration_open(&s).await.unwrap());
        lab::site::set_registration_open(&s, true).await.unwrap();
        assert!(lab::site::registration_open(&s).await.unwrap());
    })
);

on_both!(
    a_poll_with_nothing_new_is_answered_by_one_query_for_live_sessions_only,
    |s: Services| run(async move {
        use lab::inventory::{bump, bump_all, unchanged_since, user_key};
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        let student = auth::create_user(&s, new_user("sam", Role::Student))
            .await
            .unwrap();
        let admin = auth::create_user(&s, new_user("ada", Role::Admin))
            .await
            .unwrap();
        let token = auth::start_session(&s, student.id, None).await.unwrap();
        let admin_token = auth::start_session(&s, admin.id, None).await.unwrap();
        // No counter row yet reads as 0.
        assert!(unchanged_since(&s, &token, 0).await.unwrap());
        assert!(!unchanged_since(&s, &token, 1).await.unwrap());
        // The student's own counter moves; the admin's (`all`) does not.
        bump(&s.db, [user_key(student.id)]).await.unwrap();
        assert!(!unchanged_since(&s, &token, 0).await.unwrap());
        assert!(unchanged_since(&s, &token, 1).await.unwrap());
        assert!(unchanged_since(&s, &admin_token, 0).await.unwrap());
        bump_all(&s.db).await.unwrap();
        assert!(unchanged_since(&s, &admin_token, 1).await.unwrap());
        assert!(unchanged_since(&s, &token, 1).await.unwrap());
        // Unknown and malformed secrets take the full path.
        assert!(!unchanged_since(&s, "not-a-session", 0).await.unwrap());
        assert!(!unchanged_since(&s, "", 0).await.unwrap());
        assert!(!unchanged_since(&s, &"x".repeat(200), 0).await.unwrap());
        // A session due for its touch takes the full path, which slides it.
        let row = session::Entity::find().all(&s.db).await.unwrap();
        let mine = row
            .iter()
            .find(|r| r.user_id == student.id)
            .unwrap()
            .clone();
        let mut stale: session::ActiveModel = mine.clone().into();
        stale.last_seen_at = Set(mine.last_seen_at - 3600);
        stale.update(&s.db).await.unwrap();
        assert!(!unchanged_since(&s, &token, 1).await.unwrap());
        assert!(auth::resolve_session(&s, &token).await.unwrap().is_some());
        assert!(unchanged_since(&s, &token, 1).await.unwrap());
        // Expired sessions and disabled users never get an answer.
        let mut expired: session::ActiveModel = mine.clone().into();
        expired.expires_at = Set(1);
        expired.update(&s.db).await.unwrap();
        assert!(!unchanged_since(&s, &token, 1).await.unwrap());
        let dee = auth::create_user(&s, new_user("dee", Role::Teacher))
            .await
            .unwrap();
        let dee_token = auth::start_session(&s, dee.id, None).await.unwrap();
        assert!(unchanged_since(&s, &dee_token, 0).await.unwrap());
        auth::set_disabled(&s, dee.id, true).await.unwrap();
        assert!(!unchanged_since(&s, &dee_token, 0).await.unwrap());
    })
);

/// One sign-in attempt as a task of its own, so that a burst runs concurrently.
fn attempt(
    s: &Services,
    name: &str,
    password: &str,
    addr: &str,
) -> tokio::task::JoinHandle<Result<String, Error>> {
    let (s, name, password, addr) = (
        s.clone(),
        name.to_owned(),
        password.to_owned(),
        addr.to_owned(),
    );
    tokio::spawn(async move {
        auth::login(
            &s,
            LoginAttempt {
                username: &name,
                password: &password,
                client_addr: Some(&addr),
            },
        )
        .await
        .map(|(_, token)| token)
    })
}

/// How a burst went: attempts whose password was checked (`Ok` or wrong), attempts refused
/// by the throttle; anything else (a database error, which the web layer answers with 500)
/// fails the test.
async fn outcomes(
    tasks: Vec<tokio::task::JoinHandle<Result<String, Error>>>,
) -> (Vec<Result<String, Error>>, usize, usize) {
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let (mut checked, mut throttled) = (0, 0);
    for r in &results {
        match r {
            Ok(_) | Err(Error::WrongCredentials) => checked += 1,
            Err(Error::Throttled { .. }) => throttled += 1,
            Err(other) => panic!("a guess in the burst failed otherwise: {other:?}"),
        }
    }
    (results, checked, throttled)
}

on_both!(
    a_burst_of_guesses_for_one_user_is_held_to_the_limit,
    |s: Services| run(async move {
        auth::create_user(&s, new_user("burst", Role::Student))
            .await
            .unwrap();
        // 100 at once from 100 addresses (so only the user's limit, 3, applies); the right
        // password comes last. The pool hands out connections first come, first served, so
        // the last attempt is counted after the others: well past the limit.
        let mut tasks: Vec<_> = (0..99)
            .map(|i| attempt(&s, "burst", "a wrong password", &format!("198.51.100.{i}")))
            .collect();
        tasks.push(attempt(
            &s,
            "burst",
            "a long enough password",
            "198.51.100.200",
        ));
        let (results, checked, throttled) = outcomes(tasks).await;
        assert!(
            checked <= 3,
            "{checked} of 100 parallel guesses were checked"
        );
        assert_eq!(checked + throttled, 100);
        assert!(
            matches!(results.last(), Some(Err(Error::Throttled { .. }))),
            "the right password past the limit: {:?}",
            results.last()
        );
        // And after the burst, the right password is still refused.
        let r = login(&s, "burst", "a long enough password").await;
        assert!(matches!(r, Err(Error::Throttled { .. })), "{r:?}");
    })
);

on_both!(
    a_burst_of_guesses_from_one_address_is_held_to_the_limit,
    |s: Services| run(async move {
        auth::create_user(&s, new_user("nat", Role::Student))
            .await
            .unwrap();
        // 100 at once, each for another name (known or not), all from one address: the
        // address's limit, 6, is all that applies.
        let tasks: Vec<_> = (0..100)
            .map(|i| attempt(&s, &format!("sweep{i}"), "a wrong password", "203.0.113.9"))
            .collect();
        let (_, checked, throttled) = outcomes(tasks).await;
        assert!(
            checked <= 6,
            "{checked} of 100 parallel guesses were checked"
        );
        assert_eq!(checked + throttled, 100);
        let from_there = auth::login(
            &s,
            LoginAttempt {
                username: "nat",
                password: "a long enough password",
                client_addr: Some("203.0.113.9"),
            },
        )
        .await;
        assert!(
            matches!(from_there, Err(Error::Throttled { .. })),
            "{from_there:?}"
        );
        // The same account from elsewhere is not affected.
        login(&s, "nat", "a long enough password").await.unwrap();
    })
);

on_both!(
    refusals_and_successes_do_not_count_against_the_address,
    |s: Services| run(async move {
        auth::create_user(&s, new_user("olga", Role::Student))
            .await
            .unwrap();
        auth::create_user(&s, new_user("pete", Role::Student))
            .await
            .unwrap();
        // olga locks her own account (3 failures)…
        for _ in 0..3 {
            let r = login(&s, "olga", "a wrong password").await;
            assert!(matches!(r, Err(Error::WrongCredentials)), "{r:?}");
        }
        // …and keeps trying, refused each time: those refusals are not failures of the
        // address, and neither are pete's good sign-ins.
        for _ in 0..10 {
            let r = login(&s, "olga", "a long enough password").await;
            assert!(matches!(r, Err(Error::Throttled { .. })), "{r:?}");
            login(&s, "pete", "a long enough password").await.unwrap();
        }
        // The address has 3 failures of its 6: two more wrong guesses are still checked.
        for _ in 0..2 {
            let r = login(&s, "pete", "a wrong password").await;
            assert!(matches!(r, Err(Error::WrongCredentials)), "{r:?}");
        }
        login(&s, "pete", "a long enough password").await.unwrap();
    })
);

on_both!(
    current_password_guesses_are_throttled_per_user,
    |s: Services| run(async move {
        let quinn = auth::create_user(&s, new_user("quinn", Role::Student))
            .await
            .unwrap();
        let token = login(&s, "quinn", "a long enough password").await.unwrap();
        let change = |current: &'static str| {
            let (s, token) = (s.clone(), token.clone());
            async move {
                auth::change_password(&s, quinn.id, current, "a brand new password", &token).await
            }
        };
        for _ in 0..3 {
            let r = change("a wrong password").await;
            assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
        }
        // Past the limit (3 in this policy), even the right password is refused…
        let r = change("a long enough password").await;
        assert!(matches!(r, Err(Error::Throttled { .. })), "{r:?}");
        // …while signing in, a key of its own, still works.
        login(&s, "quinn", "a long enough password").await.unwrap();
        // Parallel guesses are held to the limit too.
        let rick = auth::create_user(&s, new_user("rick", Role::Student))
            .await
            .unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (s, token) = (s.clone(), token.clone());
            tasks.spawn(async move {
                auth::change_password(&s, rick.id, "wrong guess", "a brand new password", &token)
                    .await
            });
        }
        let mut checked = 0;
        while let Some(r) = tasks.join_next().await {
            match r.unwrap() {
                Err(Error::Invalid(_)) => checked += 1,
                Err(Error::Throttled { .. }) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(
            checked <= 3,
            "{checked} of 50 parallel guesses were checked"
        );
    })
);
