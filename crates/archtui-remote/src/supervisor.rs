//! One long-lived task per host: keeps its link open, observes on a timer
//! and on Docker events, reconnects with backoff. It never exits on a
//! failure; it reports it and tries again.

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::bucardo::BucardoEvent;
use crate::host::{Context, HostLink};
use crate::tasks::{Kind, Tasks};
use archtui_core::config::{Host, Role};
use archtui_core::model::{HostFailure, HostState};
use archtui_core::observation::HostObservation;

/// Lets a burst of Bucardo notifications arrive before looking.
const EVENT_SETTLE: Duration = Duration::from_millis(50);

/// A slave whose sync completions keep coming (each one re-read in a light
/// round) is quiet: its daemon demonstrably runs and its sync completes,
/// Docker's events report its containers, so its full round (containers,
/// processes, supervisor's record, health) comes this many polls apart
/// instead of every poll. A completion that does not come within a poll
/// and `QUIET_SLACK` ends the quiet at once, with a full round: a daemon
/// that stopped is shown as soon as before. A forty-host console spent
/// most of its idle CPU on full rounds of quiet slaves.
const QUIET_POLLS: u32 = 6;
const QUIET_SLACK: Duration = Duration::from_secs(2);

/// How long until the next full round: `every` after the last one, or
/// `QUIET_POLLS` of them while the host is quiet (a light round within
/// `every` and `QUIET_SLACK`), but never past the moment a quiet host's
/// next completion is overdue. Pure, for its tests.
fn until_full(
    every: Duration,
    since_full: Duration,
    slave: bool,
    since_light: Option<Duration>,
) -> Duration {
    let overdue_in = since_light
        .filter(|_| slave)
        .and_then(|t| (every + QUIET_SLACK).checked_sub(t));
    match overdue_in {
        Some(overdue_in) => (every * QUIET_POLLS)
            .saturating_sub(since_full)
            .min(overdue_in),
        None => every.saturating_sub(since_full),
    }
}

/// Starts one supervisor per configured host; they stop when the
/// receiver is dropped (headless: `status`, `serve`).
pub fn spawn_all(
    ctx: &Arc<Context>,
    every: Duration,
) -> (mpsc::Receiver<HostObservation>, Vec<JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel(64);
    let handles = ctx
        .config
        .hosts()
        .into_iter()
        .enumerate()
        .map(|(i, host)| {
            let never = CancellationToken::new();
            tokio::spawn(supervise(
                ctx.clone(),
                host,
                i,
                every,
                tx.clone(),
                None,
                never,
            ))
        })
        .collect();
    (rx, handles)
}

/// The console's supervisors, one per host in `tasks`; each also
/// publishes its host's Docker client on its `links` entry (by config
/// order) while the host's link is open, so others (log tails) can use
/// the same forward. Cancelled, each closes its open link.
pub fn spawn_console(
    ctx: &Arc<Context>,
    every: Duration,
    mut links: Vec<watch::Sender<Option<Docker>>>,
    tasks: &mut Tasks,
) -> mpsc::Receiver<HostObservation> {
    let (tx, rx) = mpsc::channel(64);
    links.reverse();
    for (i, host) in ctx.config.hosts().into_iter().enumerate() {
        let link = links.pop();
        let (ctx, tx, name) = (ctx.clone(), tx.clone(), host.name.clone());
        tasks.spawn_with(Kind::Supervisor, name, move |token| {
            supervise(ctx, host, i, every, tx, link, token)
        });
    }
    rx
}

async fn supervise(
    ctx: Arc<Context>,
    host: Host,
    index: usize,
    every: Duration,
    tx: mpsc::Sender<HostObservation>,
    docker_tx: Option<watch::Sender<Option<Docker>>>,
    token: CancellationToken,
) {
    let publish = |d: Option<Docker>| {
        if let Some(t) = &docker_tx {
            t.send_replace(d);
        }
    };
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    if tx
        .send(HostObservation::connecting(&host, chrono::Utc::now()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        // Opening a link or waiting between tries is dropped at the token;
        // an open link is closed first (below), so its master goes cleanly.
        let Some(opened) = until(&token, HostLink::open(ctx.clone(), &host, index)).await else {
            return;
        };
        let mut link = match opened {
            Ok(link) => link,
            Err(f) => {
                tracing::info!(host = %host.name, state = ?f.state, reason = %f.reason, "host link failed");
                if tx
                    .send(HostObservation::failed(&host, f, chrono::Utc::now()))
                    .await
                    .is_err()
                {
                    return;
                }
                let delay = backoff.next_delay();
                tracing::info!(host = %host.name, retry_in_ms = delay.as_millis(), "reconnecting");
                if until(&token, tokio::time::sleep(delay)).await.is_none() {
                    return;
                }
                continue;
            }
        };
        tracing::info!(host = %host.name, "host link open");
        backoff.reset();
        publish(Some(link.docker()));
        let mut events = link.container_events();
        let mut bucardo_events = link.take_bucardo_events();
        // Each call in a round has its own bound; this one is the round's,
        // so that nothing the host does (or a stuck client) can leave it
        // shown as it was for ever: past it, the host is unreachable and
        // the link is made again.
        let round_within = ctx.timeout() * 6;
        // The last full round, and whether the next may be a light one
        // (a sync completion changes only the sync rows and heartbeat).
        let mut last: Option<HostObservation> = None;
        let mut light = false;
        let mut last_light: Option<std::time::Instant> = None;
        loop {
            let began = std::time::Instant::now();
            let light_round = match (light, &last) {
                (true, Some(l)) => link.observe_syncs(l).await,
                _ => None,
            };
            let full = light_round.is_none();
            if !full {
                last_light = Some(std::time::Instant::now());
            }
            let round = match light_round {
                Some(obs) => Ok(obs),
                None => tokio::select! {
                r = tokio::time::timeout(round_within, link.observe()) => r,
                () = token.cancelled() => {
                    publish(None);
                    link.close().await;
                    return;
                }
                },
            };
            let Ok(obs) = round else {
                let f = HostFailure::new(
                    HostState::Unreachable,
                    format!(
                        "{}: no complete observation within {} s; reconnecting",
                        host.name,
                        round_within.as_secs()
                    ),
                );
                tracing::info!(host = %host.name, "observation round timed out");
                if tx
                    .send(HostObservation::failed(&host, f, chrono::Utc::now()))
                    .await
                    .is_err()
                {
                    return;
                }
                break;
            };
            // What benches/status_vs_manual.sh reads for a warm refresh.
            tracing::debug!(host = %host.name, full, ms = began.elapsed().as_millis() as u64, "observation round");
            let state = obs.state;
            if full {
                last = Some(obs.clone());
            }
            if tx.send(obs).await.is_err() {
                link.close().await;
                return;
            }
            if state == HostState::Unreachable || (state != HostState::Up && !link.alive().await) {
                break;
            }
            // An event means a container changed: look again now, after a
            // short pause that lets a burst of events settle.
            // A sync completion (Bucardo's NOTIFY) means its row changed:
            // look again at once, without waiting for the poll.
            // The poll's timer runs from the last full round, so light
            // rounds never put off the full one.
            let since_full = last.as_ref().map_or(every, |l| {
                (chrono::Utc::now() - l.observed_at)
                    .to_std()
                    .unwrap_or_default()
            });
            light = false;
            let slave = host.role == Role::Slave;
            let wait = until_full(every, since_full, slave, last_light.map(|t| t.elapsed()));
            tokio::select! {
                () = token.cancelled() => {
                    publish(None);
                    link.close().await;
                    return;
                }
                () = tokio::time::sleep(wait) => {}
                Some(()) = events.next() => tokio::time::sleep(Duration::from_millis(200)).await,
                Some(e) = next_event(&mut bucardo_events) => {
                    tokio::time::sleep(EVENT_SETTLE).await;
                    // Completions change only the sync rows and heartbeat;
                    // a daemon started or stopped, or a run killed, is
                    // read in full.
                    let done = |e: &BucardoEvent| matches!(e, BucardoEvent::SyncDone(_));
                    light = done(&e) & drain(&mut bucardo_events).iter().all(done);
                }
            }
        }
        publish(None);
        // Lost or stuck: its master (kept or not) goes, so the next link
        // is a new handshake. Closing a dead session can hang on the mux;
        // do not wait for it.
        tokio::spawn(link.discard());
        let delay = backoff.next_delay();
        tracing::info!(host = %host.name, retry_in_ms = delay.as_millis(), "host link lost; reconnecting");
        if until(&token, tokio::time::sleep(delay)).await.is_none() {
            return;
        }
    }
}

/// `work`'s result, or `None` once `token` is cancelled (`work` dropped).
async fn until<T>(
    token: &CancellationToken,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        r = work => Some(r),
        () = token.cancelled() => None,
    }
}

async fn next_event(
    rx: &mut Option<mpsc::UnboundedReceiver<BucardoEvent>>,
) -> Option<BucardoEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The events already waiting.
fn drain(rx: &mut Option<mpsc::UnboundedReceiver<BucardoEvent>>) -> Vec<BucardoEvent> {
    let mut out = Vec::new();
    if let Some(rx) = rx {
        while let Ok(e) = rx.try_recv() {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::until_full;
    use std::time::Duration;

    const EVERY: Duration = Duration::from_secs(5);
    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    #[test]
    fn a_host_without_completions_is_read_in_full_every_poll() {
        assert_eq!(until_full(EVERY, s(1.0), true, None), s(4.0));
        assert_eq!(until_full(EVERY, s(6.0), true, None), s(0.0));
        // The master has no completions of its own to prove anything.
        assert_eq!(until_full(EVERY, s(1.0), false, Some(s(0.5))), s(4.0));
    }

    #[test]
    fn a_quiet_slave_is_read_in_full_six_polls_apart() {
        // The last completion 1 s ago: the next is overdue in 6 s, the
        // full round is due in 29 s; the overdue one comes first.
        assert_eq!(until_full(EVERY, s(1.0), true, Some(s(1.0))), s(6.0));
        // Completions keep coming: the full round is what is due.
        assert_eq!(until_full(EVERY, s(28.0), true, Some(s(1.0))), s(2.0));
    }

    #[test]
    fn a_completion_overdue_ends_the_quiet_at_once() {
        // 7 s without one (poll 5 s + slack 2 s): look in full now.
        assert_eq!(until_full(EVERY, s(3.0), true, Some(s(7.0))), s(0.0));
        assert_eq!(until_full(EVERY, s(20.0), true, Some(s(7.0))), s(0.0));
        // Past it the host is no longer quiet: every poll, as ever.
        assert_eq!(until_full(EVERY, s(3.0), true, Some(s(7.5))), s(2.0));
        assert_eq!(until_full(EVERY, s(6.0), true, Some(s(8.0))), s(0.0));
    }
}
