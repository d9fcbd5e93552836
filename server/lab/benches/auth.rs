//! Account hot paths, timed on a real SQLite file: password hashing (every login pays it once),
//! a full login, and resolving a session (every page and server function pays it).
//! Run: `cargo bench -p lab --bench auth`. Prints figures; asserts nothing.

use lab::auth::{self, LoginAttempt, NewUser};
use lab::model::Role;
use lab::{AuthPolicy, Services};
use std::time::{Duration, Instant};

fn per_op(total: Duration, n: u32) -> String {
    let us = total.as_secs_f64() * 1e6 / f64::from(n);
    if us > 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let db = lab::db::connect(&url).await.unwrap();
    lab::db::migrate(&db).await.unwrap();
    let s = Services::new(
        db,
        AuthPolicy::default(),
        lab::secrets::SecretBox::ephemeral(),
    );

    let n = 10;
    let t = Instant::now();
    for _ in 0..n {
        auth::hash_password("a long enough password").await.unwrap();
    }
    println!(
        "argon2id hash:              {} per password",
        per_op(t.elapsed(), n)
    );

    for i in 0..3 {
        let row = NewUser {
            username: format!("user{i}"),
            display_name: String::new(),
            email: None,
            role: Role::Student,
            password: "a long enough password".into(),
        };
        auth::create_user(&s, row).await.unwrap();
    }
    let t = Instant::now();
    let mut token = String::new();
    for _ in 0..n {
        let attempt = LoginAttempt {
            username: "user1",
            password: "a long enough password",
            client_addr: Some("127.0.0.1"),
        };
        token = auth::login(&s, attempt).await.unwrap().1;
    }
    println!(
        "login (known user):         {} per login",
        per_op(t.elapsed(), n)
    );
    let t = Instant::now();
    for i in 0..n {
        // A new name each time: the per-username throttle would otherwise cut the work short.
        let name = format!("nobody{i}");
        let attempt = LoginAttempt {
            username: &name,
            password: "a long enough password",
            client_addr: None,
        };
        let _ = auth::login(&s, attempt).await;
    }
    println!(
        "login (unknown user):       {} per login (same work by design)",
        per_op(t.elapsed(), n)
    );

    let m = 20_000;
    let t = Instant::now();
    for _ in 0..m {
        auth::resolve_session(&s, &token).await.unwrap().unwrap();
    }
    let elapsed = t.elapsed();
    println!(
        "resolve_session:            {} per request ({:.0}/s, one task)",
        per_op(elapsed, m),
        f64::from(m) / elapsed.as_secs_f64()
    );
}
