//! The observer a one-shot `status` leaves behind (`[ssh]
//! observer_persist_secs`), as ssh's ControlPersist leaves a master: it
//! goes on observing every host over its open sessions and serves its
//! readings to the next one-shots on the same config, which then open
//! nothing. It ends once no one-shot has read them for
//! `observer_persist_secs`, on SIGTERM (`archtui disconnect`) or SIGINT.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use archtui_core::config::Config;
use archtui_remote::served::{self, Shelf};
use archtui_remote::{host::Context, supervisor};

/// Each host is looked at as often as a console looks: its readings stay
/// well within the age a one-shot accepts (`served::MAX_AGE_SECS`).
const EVERY: Duration = Duration::from_secs(5);

/// Starts `archtui --config PATH observe` in the background when the
/// config asks for one. It inherits no terminal and no output (a `status
/// | head` must not wait for it), and nothing secret is on its command
/// line: the password comes as it came to this process.
pub fn leave_behind(path: &Path, config: &Config) {
    if config.ssh.observer_persist_secs == 0 {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    // It keeps this directory: the config's relative paths (a password
    // file, an ssh config) mean what they meant here.
    let spawned = std::process::Command::new(exe)
        .arg("--config")
        .arg(path)
        .arg("observe")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    // Not waited for: it outlives this command, and init reaps it.
    match spawned {
        Ok(child) => tracing::debug!(pid = child.id(), "left an observer behind"),
        Err(e) => tracing::debug!(error = %e, "cannot leave an observer behind"),
    }
}

/// `archtui observe` (hidden; started by `leave_behind`).
pub async fn run(config: Config) -> i32 {
    // Its own session: the terminal's Ctrl-C and hangup are not for it.
    let _ = rustix::process::setsid();
    let keep = Duration::from_secs(config.ssh.observer_persist_secs);
    if keep.is_zero() {
        return 0;
    }
    let ctx = match Context::open(config) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "the observer cannot start");
            return super::EXIT_UNKNOWN;
        }
    };
    let hosts = ctx.config.hosts();
    let shelf = Shelf::new(&hosts);
    // Another observer of this config already serves: it is enough.
    let Some(server) = served::serve(&ctx.config, shelf.clone(), served::LEFT_BEHIND) else {
        return 0;
    };
    let (mut rx, handles) = supervisor::spawn_all(&ctx, EVERY);
    let stop = super::stop_signal();
    tokio::pin!(stop);
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            Some(obs) = rx.recv() => {
                shelf.put(&obs);
            }
            _ = check.tick() => {
                if server.idle() >= keep {
                    tracing::debug!(secs = keep.as_secs(), "observer idle: it ends");
                    break;
                }
            }
            () = &mut stop => break,
        }
    }
    for h in handles {
        h.abort();
    }
    drop(server);
    0
}
