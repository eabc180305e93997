//! `recover SYNC`: read the sync's state on its slave, apply the remedy
//! that works for that state, wait for a good run, and say what was done.
//! The slave's supervisor repairs most states by itself within seconds;
//! this is the operator's way to do it now, or when it did not.

use std::time::{Duration, Instant};

use super::{sync, Outcome, Status};
use crate::host::HostLink;
use crate::pg::Pg;
use archtui_core::model::SyncState;

/// How long a remedy gets to end in a good run.
const GOOD_RUN_WITHIN: Duration = Duration::from_secs(90);
/// A daemon restart (stop, start, validation) takes a few seconds.
const RESTART_WITHIN: Duration = Duration::from_secs(60);

/// What recover does for a state. Pure, so each choice is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Already good: a kick proves it.
    Nothing,
    Resume,
    /// Set the sync (and its databases) active, then restart the daemon.
    Activate,
    RestartDaemon,
    /// Restart the bucardo container: it registers the sync on start.
    Reregister,
    /// The daemon is starting: wait for it, restart it if it never comes.
    Wait,
}

pub fn remedy(state: SyncState, force_restart: bool) -> Remedy {
    if force_restart {
        return Remedy::RestartDaemon;
    }
    match state {
        SyncState::Good | SyncState::Empty | SyncState::Running => Remedy::Nothing,
        SyncState::Paused => Remedy::Resume,
        SyncState::Inactive | SyncState::Stalled => Remedy::Activate,
        SyncState::Dropped | SyncState::DaemonDown | SyncState::Bad | SyncState::NeverRun => {
            Remedy::RestartDaemon
        }
        SyncState::DaemonStarting => Remedy::Wait,
        SyncState::Unknown => Remedy::Reregister,
    }
}

/// The sync's state as the slave shows it now, with the reason.
async fn judge(link: &mut HostLink, sync: &str) -> Result<(SyncState, Option<String>), Outcome> {
    let obs = link.observe().await;
    if obs.state != archtui_core::model::HostState::Up {
        return Err(Outcome::new(
            Status::Unreachable,
            format!(
                "{}: {}",
                obs.host.name,
                obs.error.unwrap_or_else(|| obs.state.as_str().into())
            ),
        ));
    }
    let Some(read) = obs.bucardo else {
        return Err(Outcome::new(Status::Unreachable, "bucardo not read"));
    };
    if let Some(e) = &read.status.error {
        // No Bucardo at all on the slave: its container sets it up.
        return Ok((SyncState::Unknown, Some(e.clone())));
    }
    Ok(
        match archtui_core::fleet::judge_one(&read, sync, chrono::Utc::now()) {
            Some(j) => (j.state, j.reason),
            None => (
                SyncState::Unknown,
                Some(format!(
                    "{sync} is not registered in the slave's control database"
                )),
            ),
        },
    )
}

pub async fn run(link: &mut HostLink, pg: &Pg, sync: &str, force_restart: bool) -> Outcome {
    let started = Instant::now();
    let (before, why) = match judge(link, sync).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    let was = match &why {
        Some(w) => format!("{} ({})", before.label(), super::clean(w)),
        None => before.label().to_string(),
    };
    let remedy = remedy(before, force_restart);
    let did = match apply(link, pg, sync, remedy).await {
        Ok(did) => did,
        Err(o) => return o,
    };
    // The remedy is done when the sync has run well since it.
    let deadline = Instant::now() + GOOD_RUN_WITHIN;
    let mut last = before;
    let mut restarted_late = false;
    loop {
        if let Ok((state, _)) = judge(link, sync).await {
            last = state;
            if matches!(
                state,
                SyncState::Good | SyncState::Empty | SyncState::Running
            ) {
                let kick = sync::kick(pg, sync, Some(Duration::from_secs(20))).await;
                if kick.status == Status::Ok {
                    return Outcome::ok(format!(
                        "sync {sync} was {was}; {did}; {} ({:.1} s in all)",
                        super::clean(&kick.message),
                        started.elapsed().as_secs_f64()
                    ));
                }
            }
            // A daemon that never finishes starting gets one restart.
            if remedy == Remedy::Wait
                && !restarted_late
                && started.elapsed() > RESTART_WITHIN
                && state == SyncState::DaemonStarting
            {
                restarted_late = true;
                if let Err(o) = restart_daemon(link, "recover: daemon did not start").await {
                    return o;
                }
            }
        }
        if Instant::now() > deadline {
            return Outcome::new(
                Status::Timeout,
                format!(
                    "sync {sync} was {was}; {did}; no good run within {} s (now {}): see `docker compose logs bucardo` on {}",
                    GOOD_RUN_WITHIN.as_secs(),
                    last.label(),
                    link.host.name
                ),
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Applies the remedy; says what it did.
async fn apply(
    link: &mut HostLink,
    pg: &Pg,
    sync: &str,
    remedy: Remedy,
) -> Result<String, Outcome> {
    match remedy {
        Remedy::Nothing => Ok("nothing to repair".into()),
        Remedy::Wait => Ok("waited for the daemon to start".into()),
        Remedy::Resume => {
            let o = sync::pause(pg, sync, false).await;
            if o.status != Status::Ok {
                return Err(o);
            }
            Ok("resumed it".into())
        }
        Remedy::Activate => {
            let slave = sync.strip_prefix("archive_").unwrap_or(sync);
            crate::bucardo::control::activate(pg, sync, slave)
                .await
                .map_err(|e| Outcome::new(Status::Unreachable, e))?;
            restart_daemon(link, "recover: sync set active").await?;
            Ok("set it active and restarted the slave's daemon".into())
        }
        Remedy::RestartDaemon => {
            restart_daemon(link, "recover").await?;
            Ok(format!("restarted {}'s daemon", link.host.name))
        }
        Remedy::Reregister => {
            let o = super::container::run(
                &link.docker(),
                &link.host.compose_project,
                "bucardo",
                super::container::Op::Restart,
            )
            .await;
            if o.status != Status::Ok {
                return Err(o);
            }
            Ok(format!(
                "restarted {}'s bucardo container, which registers the sync",
                link.host.name
            ))
        }
    }
}

/// Restarts the slave's daemon through its supervisor (archive-bucardo-ctl
/// holds the supervisor's lock, so no second daemon starts beside it).
async fn restart_daemon(link: &HostLink, why: &str) -> Result<(), Outcome> {
    use crate::bucardo::ctl::{ctl, CtlError};
    match ctl(link, &["restart", why], RESTART_WITHIN).await {
        Ok(_) => Ok(()),
        Err(e @ (CtlError::SessionClosed | CtlError::Docker(_))) => {
            Err(Outcome::new(Status::Unreachable, e.to_string()))
        }
        Err(e) => Err(Outcome::failed(format!(
            "restarting {}'s daemon: {e}",
            link.host.name
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_remedy() {
        use SyncState::*;
        let cases = [
            (Good, Remedy::Nothing),
            (Empty, Remedy::Nothing),
            (Running, Remedy::Nothing),
            (Paused, Remedy::Resume),
            (Inactive, Remedy::Activate),
            (Stalled, Remedy::Activate),
            (Dropped, Remedy::RestartDaemon),
            (DaemonDown, Remedy::RestartDaemon),
            (Bad, Remedy::RestartDaemon),
            (NeverRun, Remedy::RestartDaemon),
            (DaemonStarting, Remedy::Wait),
            (Unknown, Remedy::Reregister),
        ];
        for (state, want) in cases {
            assert_eq!(remedy(state, false), want, "{state:?}");
            assert_eq!(
                remedy(state, true),
                Remedy::RestartDaemon,
                "{state:?} forced"
            );
        }
    }
}
