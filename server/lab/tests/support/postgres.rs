//! A fresh PostgreSQL database per test when `PROXLAB_TEST_POSTGRES_URL` is set (the
//! README's test command starts a throw-away PostgreSQL server and sets it;
//! `PROXLAB_TEST_REQUIRE_POSTGRES=1` turns its absence into a failure, so CI cannot skip
//! the PostgreSQL cases silently).

use sea_orm::ConnectionTrait;

/// The URL of a new, empty database, or `None` when no server is configured.
pub async fn fresh_database_url() -> Option<String> {
    let Ok(admin_url) = std::env::var("PROXLAB_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("PROXLAB_TEST_REQUIRE_POSTGRES").is_err(),
            "PROXLAB_TEST_REQUIRE_POSTGRES is set but PROXLAB_TEST_POSTGRES_URL is not"
        );
        eprintln!("PROXLAB_TEST_POSTGRES_URL not set: PostgreSQL case not run");
        return None;
    };
    let admin = lab::db::connect(&admin_url).await.unwrap();
    let name = format!(
        "lab_test_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    match admin_url.rsplit_once('/') {
        Some((base, _)) => Some(format!("{base}/{name}")),
        None => panic!("PROXLAB_TEST_POSTGRES_URL must end in /DBNAME"),
    }
}
