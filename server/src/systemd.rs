//! Telling systemd how the service is (the unit is `Type=notify` with `WatchdogSec`):
//! `READY=1` once the portal serves, `WATCHDOG=1` every half watchdog period while the
//! runtime runs (a hung process stops pinging and systemd restarts it), `STOPPING=1` when a
//! shutdown starts. Outside systemd (no `NOTIFY_SOCKET`) each call does nothing.

/// The portal serves.
pub fn ready() {
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "could not tell systemd the portal is ready");
    }
}

/// A shutdown has started.
pub fn stopping() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
}

/// Pings the watchdog, if systemd set one for this process, until `shutdown`; the loop is one
/// of `tasks`.
pub fn spawn_watchdog(
    tasks: &tokio_util::task::TaskTracker,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let Some(period) = sd_notify::watchdog_enabled().filter(|p| !p.is_zero()) else {
        return;
    };
    let every = period / 2;
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => break,
            }
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
    });
}
