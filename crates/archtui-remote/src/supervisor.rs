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
use archtui_core::config::Host;
use archtui_core::model::{HostFailure, HostState};
use archtui_core::observation::HostObservation;

/// Lets a burst of Bucardo notifications arrive before looking.
const EVENT_SETTLE: Duration = Duration::from_millis(50);

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
        loop {
            let light_round = match (light, &last) {
                (true, Some(l)) => link.observe_syncs(l).await,
                _ => None,
            };
            let full = light_round.is_none();
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
            tokio::select! {
                () = token.cancelled() => {
                    publish(None);
                    link.close().await;
                    return;
                }
                () = tokio::time::sleep(every.saturating_sub(since_full)) => {}
                Some(()) = events.next() => tokio::time::sleep(Duration::from_millis(200)).await,
                Some(_) = next_event(&mut bucardo_events) => {
                    tokio::time::sleep(EVENT_SETTLE).await;
                    drain(&mut bucardo_events);
                    light = true;
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

fn drain(rx: &mut Option<mpsc::UnboundedReceiver<BucardoEvent>>) {
    if let Some(rx) = rx {
        while rx.try_recv().is_ok() {}
    }
}
