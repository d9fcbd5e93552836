//! Starting and stopping a simulator: the library's front door.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::config::SimConfig;
use crate::control::{Control, Faults};
use crate::model::{Clock, State, random_bytes, seed};
use crate::{Error, server, tls};

/// A running simulator. Dropping it stops the server (files under the root stay).
pub struct Sim {
    addr: SocketAddr,
    control: Control,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sim {
    /// Seeds the cluster under `cfg.root` (unless configs already exist there), generates
    /// the certificate and starts serving on `cfg.listen` (port 0 = a free port) on a
    /// runtime thread of its own. Works inside and outside an async runtime.
    pub fn start(cfg: SimConfig) -> Result<Sim, Error> {
        if cfg.nodes == 0 {
            return Err(Error::Config("at least one node is needed".into()));
        }
        if !cfg.listen.ip().is_loopback() {
            tracing::warn!(addr = %cfg.listen, "pvesim listens beyond loopback");
        }
        std::fs::create_dir_all(&cfg.root)?;
        let identity = tls::generate()?;
        let clock = Clock::default();
        let (inner, secrets) = seed::build(&cfg, clock.now(), &identity.fingerprint)?;
        let state = Arc::new(State {
            clock,
            secret: random_bytes(),
            inner: Mutex::new(inner),
            faults: Mutex::new(Faults::default()),
            counters: Mutex::new(Default::default()),
            fingerprint: identity.fingerprint.clone(),
            cert_pem: identity.cert_pem.clone(),
            root_password: secrets.root_password,
            user_password: secrets.user_password,
            token_secret: secrets.token_secret,
            clustername: "labcluster".into(),
            cfg,
        });
        let listener = std::net::TcpListener::bind(state.cfg.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pvesim")
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel();
        let app = server::app(state.clone());
        let tls_config = identity.config;
        let thread = std::thread::Builder::new()
            .name("pvesim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => server::serve(l, tls_config, app, stopped).await,
                        Err(e) => tracing::error!(error = %e, "cannot serve"),
                    }
                });
            })?;
        Ok(Sim {
            addr,
            control: Control { state },
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// `https://127.0.0.1:<port>/api2/json`.
    pub fn api_url(&self) -> String {
        format!("{}/api2/json", self.url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// SHA-256 fingerprint of the server certificate (`AA:BB:...`).
    pub fn fingerprint(&self) -> &str {
        &self.control.state.fingerprint
    }

    /// The certificate in PEM form.
    pub fn cert_pem(&self) -> &str {
        &self.control.state.cert_pem
    }

    /// `root@pam`'s password.
    pub fn root_password(&self) -> &str {
        &self.control.state.root_password
    }

    /// Password of the seeded `@pve` users (`student1@pve`, `teacher1@pve`, `portal@pve`, ...).
    pub fn user_password(&self) -> &str {
        &self.control.state.user_password
    }

    /// The seeded full-privilege API token as `root@pam!pvesim=<uuid>` (the value of
    /// `Authorization: PVEAPIToken=...`).
    pub fn token(&self) -> String {
        format!("root@pam!pvesim={}", self.control.state.token_secret)
    }

    /// Faults, counters and clock.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Blocks until the server stops (the binary's main loop).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
