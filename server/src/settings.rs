//! Settings, layered: built-in defaults, then a TOML file (`--config`), then environment
//! variables `PROXLAB_*` (nested keys with `__`, e.g. `PROXLAB_AUTH__SESSION_IDLE_MINUTES`).
//! `DATABASE_URL` is honoured too, below `PROXLAB_DATABASE_URL`. Unknown keys are errors, so a
//! typo does not silently fall back to a default. `PROXLAB_CONFIG` (the file), `PROXLAB_CACHE`
//! (the build scripts' cache) and `PROXLAB_TEST_*` (the test suite's) are not settings. The database URL may hold a password: it is
//! a `SecretString` and never printed.

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use lab::AuthPolicy;
use lab::jobs::JobSettings;
use lab::secrets::SecretBox;
use lab::sync::SyncSettings;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where to listen; defaults to 127.0.0.1:3000 (as the `site-addr` in Cargo.toml).
    pub listen: Option<SocketAddr>,
    /// `sqlite://path` (created on first run) or `postgres://user:pass@host/db`.
    pub database_url: SecretString,
    /// The address people use, e.g. `https://lab.school.example`. `https` makes cookies Secure.
    pub public_url: Option<String>,
    /// A reverse proxy in front sets X-Forwarded-For/-Proto, and those headers are trusted.
    pub behind_proxy: bool,
    pub log_json: bool,
    /// Base64 of 32 random bytes that seals cluster secrets in the database
    /// (`openssl rand -base64 32`). When unset, `secret_key_file` is used.
    pub secret_key: Option<SecretString>,
    /// Key file, created with mode 0600 on first run when missing. Back it up with the
    /// database: without it, stored cluster secrets cannot be opened.
    pub secret_key_file: PathBuf,
    pub auth: AuthPolicy,
    pub sync: SyncSettings,
    /// The job engine (`[deploy]` in older files).
    #[serde(alias = "deploy")]
    pub jobs: JobSettings,
    /// The policy worker (idle shutdown, access hours, quotas, schedules).
    pub policies: lab::policies::PolicySettings,
    /// On SIGTERM/Ctrl-C: how long running jobs get to finish their node step and open
    /// consoles to close, before the process exits anyway.
    pub shutdown_grace_secs: u64,
    pub console: lab::console::ConsoleLimits,
    /// Per-session rate limits on server functions and WebSocket opens.
    pub limits: crate::rate_limit::RateLimitSettings,
    /// Where an uploaded ISO waits until Proxmox has it: a disk with room for the largest
    /// ISO, not a tmpfs (Debian 13 mounts `/tmp` in memory).
    pub upload_dir: PathBuf,
    /// The largest ISO upload taken, in GiB.
    pub max_upload_gib: u64,
    /// How many days the audit log keeps its lines (pruned hourly).
    pub audit_retention_days: u32,
    /// Serve HTTPS with this PEM certificate chain and key (`tls`); both or neither. Read
    /// again on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// With TLS on: also listen here for plain HTTP and redirect it to HTTPS.
    pub http_redirect_listen: Option<SocketAddr>,
    /// `/metrics` for Prometheus (off unless enabled).
    pub metrics: crate::metrics::MetricsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: None,
            database_url: SecretString::from("sqlite://data/proxlab.db"),
            public_url: None,
            behind_proxy: false,
            log_json: false,
            secret_key: None,
            secret_key_file: PathBuf::from("data/secret.key"),
            auth: AuthPolicy::default(),
            sync: SyncSettings::default(),
            jobs: JobSettings::default(),
            policies: Default::default(),
            shutdown_grace_secs: 20,
            console: lab::console::ConsoleLimits::default(),
            limits: crate::rate_limit::RateLimitSettings::default(),
            upload_dir: PathBuf::from("/var/tmp"),
            max_upload_gib: 16,
            audit_retention_days: lab::DEFAULT_AUDIT_RETENTION_DAYS,
            tls_cert: None,
            tls_key: None,
            http_redirect_listen: None,
            metrics: Default::default(),
        }
    }
}

impl Settings {
    /// Loads the layers. A `--config` file that does not exist is an error.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.is_file() {
                bail!("settings file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::raw().only(&["DATABASE_URL"])).merge(
            Env::prefixed("PROXLAB_")
                .split("__")
                .ignore(&["config", "cache"])
                .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_")),
        );
        let settings: Settings = figment.extract().context("invalid settings")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_url {
            let parsed =
                url::Url::parse(url).with_context(|| format!("public_url {url:?} is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                bail!("public_url must start with http:// or https://");
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("tls_cert and tls_key go together: set both, or neither");
        }
        if self.http_redirect_listen.is_some() && !self.tls() {
            bail!("http_redirect_listen redirects to HTTPS: it needs tls_cert and tls_key");
        }
        if let Some(token) = &self.metrics.token
            && token.expose_secret().trim().len() < 16
        {
            bail!("metrics.token must be at least 16 characters (openssl rand -hex 16)");
        }
        if !(1..=36_500).contains(&self.audit_retention_days) {
            bail!("audit_retention_days must be between 1 and 36500");
        }
        if self.max_upload_gib < 1 {
            bail!("max_upload_gib must be at least 1");
        }
        let a = &self.auth;
        if a.session_idle_minutes < 1 || a.session_max_hours < 1 || a.throttle_window_minutes < 1 {
            bail!("auth: session and throttle durations must be at least 1");
        }
        if a.max_failures_per_user < 1 || a.max_failures_per_addr < 1 {
            bail!("auth: failure limits must be at least 1");
        }
        if self.sync.quick_secs < 1 || self.sync.full_secs < self.sync.quick_secs {
            bail!("sync: quick_secs must be at least 1 and full_secs at least quick_secs");
        }
        if let Err(e) = lab::sync::sweep::check_subnets(&self.sync.sweep_subnets) {
            bail!("sync: {e}");
        }
        if self.console.max_per_user < 1 || self.console.idle_minutes < 1 {
            bail!("console: max_per_user and idle_minutes must be at least 1");
        }
        if let Err(e) = self.limits.validate() {
            bail!("{e}");
        }
        let j = &self.jobs;
        if j.workers < 1 || j.per_node < 1 || j.attempts < 1 || j.lease_secs < 3 {
            bail!("jobs: workers, per_node and attempts must be at least 1, lease_secs at least 3");
        }
        if j.workers > 64 || self.shutdown_grace_secs > 600 {
            bail!("jobs: at most 64 workers; shutdown_grace_secs at most 600");
        }
        Ok(())
    }

    /// The key that seals cluster secrets.
    pub fn secret_box(&self) -> anyhow::Result<SecretBox> {
        use secrecy::ExposeSecret;
        let key = match &self.secret_key {
            Some(key) => SecretBox::from_base64(key.expose_secret()),
            None => SecretBox::load_or_create(&self.secret_key_file),
        };
        key.context("secret key")
    }

    /// The portal's address as people reach it, without a trailing `/`: `public_url`, else
    /// `http://` and the address it listens on.
    pub fn base_url(&self, listening: SocketAddr) -> String {
        let scheme = if self.tls() { "https" } else { "http" };
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{listening}"))
            .trim_end_matches('/')
            .to_owned()
    }

    /// People reach the portal over HTTPS: its public URL says so, or it serves TLS itself.
    /// Cookies are then `Secure` and responses carry HSTS.
    pub fn https(&self) -> bool {
        self.tls()
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }

    /// It serves HTTPS itself (`tls_cert` and `tls_key`).
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

#[cfg(test)]
// figment's `Jail` fixes the closures' error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn defaults_file_and_environment_layer_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "p.toml",
                "database_url = \"sqlite://file.db\"\npublic_url = \"https://lab.example\"\n[auth]\nsession_idle_minutes = 30\n",
            )?;
            jail.set_env("PROXLAB_AUTH__SESSION_IDLE_MINUTES", "45");
            jail.set_env("PROXLAB_TEST_POSTGRES_URL", "postgres://not-a-setting");
            jail.set_env("PROXLAB_CACHE", "/tmp/not-a-setting");
            let s = Settings::load(Some(Path::new("p.toml"))).map_err(|e| format!("{e:#}"))?;
            assert_eq!(s.database_url.expose_secret(), "sqlite://file.db");
            assert_eq!(s.auth.session_idle_minutes, 45);
            assert_eq!(s.auth.max_failures_per_user, 5);
            assert!(s.https());
            Ok(())
        });
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "databse_url = \"x\"\n")?;
            let err = Settings::load(Some(Path::new("typo.toml"))).unwrap_err();
            assert!(format!("{err:#}").contains("databse_url"), "{err:#}");
            jail.create_file("neg.toml", "[auth]\nsession_idle_minutes = 0\n")?;
            assert!(Settings::load(Some(Path::new("neg.toml"))).is_err());
            assert!(Settings::load(Some(Path::new("missing.toml"))).is_err());
            jail.create_file("url.toml", "public_url = \"ftp://x\"\n")?;
            assert!(Settings::load(Some(Path::new("url.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn the_job_settings_read_the_old_deploy_section_and_check_their_ranges() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("old.toml", "[deploy]\nper_node = 2\nlease_secs = 10\n")?;
            let s = Settings::load(Some(Path::new("old.toml"))).map_err(|e| format!("{e:#}"))?;
            assert_eq!(
                (s.jobs.per_node, s.jobs.lease_secs, s.jobs.workers),
                (2, 10, 4)
            );
            assert_eq!(s.shutdown_grace_secs, 20);
            jail.create_file("new.toml", "shutdown_grace_secs = 5\n[jobs]\nworkers = 8\n")?;
            let s = Settings::load(Some(Path::new("new.toml"))).map_err(|e| format!("{e:#}"))?;
            assert_eq!((s.jobs.workers, s.shutdown_grace_secs), (8, 5));
            for bad in [
                "[jobs]\nworkers = 0\n",
                "[jobs]\nworkers = 65\n",
                "shutdown_grace_secs = 601\n",
            ] {
                jail.create_file("bad.toml", bad)?;
                assert!(
                    Settings::load(Some(Path::new("bad.toml"))).is_err(),
                    "{bad}"
                );
            }
            Ok(())
        });
    }

    #[test]
    fn database_url_never_prints() {
        let s = Settings {
            database_url: SecretString::from("postgres://u:hunter2@db/x"),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
