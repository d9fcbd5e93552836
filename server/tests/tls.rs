//! HTTPS served by the portal itself (`tls_cert`, `tls_key`), as a real process with
//! certificates made by Debian's `openssl`: it answers over TLS with HSTS, takes a renewed
//! certificate on SIGHUP without a restart (and keeps the one in use when the new files are
//! broken), redirects plain HTTP from `http_redirect_listen`, is not held up by a client that
//! never finishes its handshake, and refuses to start on a key that does not fit.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support {
    pub mod portal;
}

/// A self-signed certificate for `localhost` and 127.0.0.1, and its key.
fn make_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (Debian package openssl) is installed");
    assert!(made.success());
    (cert, key)
}

fn der(cert: &Path) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(cert).unwrap().to_vec()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// The certificate the portal shows a new connection.
async fn served_cert(url: &str) -> Option<Vec<u8>> {
    let res = client().get(url).send().await.ok()?;
    res.extensions()
        .get::<reqwest::tls::TlsInfo>()?
        .peer_certificate()
        .map(<[u8]>::to_vec)
}

fn start(dir: &Path, port: u16, cert: &Path, key: &Path, redirect: Option<u16>) -> Child {
    let db = format!("sqlite://{}", dir.join("portal.db").display());
    let mut command = support::portal::serve(dir, &db, &format!("127.0.0.1:{port}"));
    command
        .env("PROXLAB_TLS_CERT", cert)
        .env("PROXLAB_TLS_KEY", key);
    if let Some(r) = redirect {
        command.env("PROXLAB_HTTP_REDIRECT_LISTEN", format!("127.0.0.1:{r}"));
    }
    command.spawn().unwrap()
}

fn signal(child: &Child, sig: &str) {
    let sent = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_renewed_on_sighup_and_a_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let (a_cert, a_key) = make_cert(dir.path(), "first");
    let (b_cert, b_key) = make_cert(dir.path(), "renewed");
    let (live_cert, live_key) = (dir.path().join("live.pem"), dir.path().join("live.key"));
    std::fs::copy(&a_cert, &live_cert).unwrap();
    std::fs::copy(&a_key, &live_key).unwrap();
    let (port, redirect) = (support::portal::free_port(), support::portal::free_port());
    let mut portal = support::portal::Running(start(
        dir.path(),
        port,
        &live_cert,
        &live_key,
        Some(redirect),
    ));
    let health = format!("https://127.0.0.1:{port}/health");
    let started = Instant::now();
    while served_cert(&health).await.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the portal did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // HTTPS, with HSTS, and the first certificate.
    let res = client().get(&health).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("strict-transport-security")
            .is_some_and(|v| v.to_str().unwrap().starts_with("max-age=")),
        "{:?}",
        res.headers()
    );
    assert_eq!(served_cert(&health).await, Some(der(&a_cert)));

    // Plain HTTP on the redirect port: the same path on HTTPS.
    let moved = client()
        .get(format!("http://127.0.0.1:{redirect}/classes?tab=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 308);
    assert_eq!(
        moved.headers()["location"],
        format!("https://127.0.0.1:{port}/classes?tab=2").as_str()
    );
    // Plain HTTP on the HTTPS port gets no answer, and breaks nothing.
    let plain = client()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    // A client that connects and never says hello does not hold up the others.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    assert_eq!(client().get(&health).send().await.unwrap().status(), 200);

    // Renewed files and SIGHUP: new connections get the new certificate.
    std::fs::copy(&b_cert, &live_cert).unwrap();
    std::fs::copy(&b_key, &live_key).unwrap();
    signal(&portal.0, "-HUP");
    let renewed = Instant::now();
    while served_cert(&health).await != Some(der(&b_cert)) {
        assert!(
            renewed.elapsed() < Duration::from_secs(5),
            "not reloaded on SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Broken files and SIGHUP: the one in use stays, the portal runs on.
    std::fs::write(&live_cert, "not a certificate").unwrap();
    signal(&portal.0, "-HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(portal.0.try_wait().unwrap().is_none(), "still running");
    assert_eq!(served_cert(&health).await, Some(der(&b_cert)));
    let log = std::fs::read_to_string(dir.path().join("portal.log")).unwrap();
    assert!(log.contains("TLS certificate not reloaded"), "{log}");

    signal(&portal.0, "-TERM");
    let stopped = Instant::now();
    loop {
        if let Some(status) = portal.0.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(25),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_key_that_does_not_fit_its_certificate_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (a_cert, _) = make_cert(dir.path(), "one");
    let (_, b_key) = make_cert(dir.path(), "two");
    let db = format!("sqlite://{}", dir.path().join("portal.db").display());
    let port = support::portal::free_port();
    let out = support::portal::serve(dir.path(), &db, &format!("127.0.0.1:{port}"))
        .env("PROXLAB_TLS_CERT", &a_cert)
        .env("PROXLAB_TLS_KEY", &b_key)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("does not fit"), "{said}");
    let half = support::portal::serve(dir.path(), &db, &format!("127.0.0.1:{port}"))
        .env("PROXLAB_TLS_CERT", &a_cert)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!half.status.success());
    assert!(
        String::from_utf8_lossy(&half.stderr).contains("tls_cert and tls_key go together"),
        "{}",
        String::from_utf8_lossy(&half.stderr)
    );
}
