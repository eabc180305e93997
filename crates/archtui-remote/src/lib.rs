//! archtui's edge: everything that talks to the fleet (SSH sessions and
//! forwards, Docker, PostgreSQL and Bucardo, remote jobs) and to this
//! machine's state (audit log, locks, journals), and the executors of
//! actions and of the wizard's effects. Failures become observations and
//! outcomes, never exits. It emits its own event types (observations, log
//! tail events, output lines); the front-end maps them into the core's
//! `Msg`.

pub mod actions;
pub mod backoff;
pub mod bucardo;
pub mod docker;
pub mod host;
pub mod job;
pub mod local;
pub mod logtail;
pub mod pg;
pub mod served;
pub mod shell;
pub mod sqltext;
pub mod ssh;
pub mod ssh_masters;
pub mod supervisor;
pub mod switchover;
pub mod tasks;
pub mod verify;
pub mod wizard;

/// Where a long piece of work's live output goes, line by line (compose
/// output, a deploy's plan, a verify's progress): the console shows it in
/// a pane, headless prints it.
pub type Progress = tokio::sync::mpsc::UnboundedSender<String>;

use std::sync::Arc;

use futures_util::future::join_all;

use archtui_core::observation::HostObservation;
use host::{Context, HostLink};

/// One observation of every host, all hosts at once: a dead host costs
/// its own timeout, never the others'.
pub async fn observe_once(ctx: Arc<Context>) -> Vec<HostObservation> {
    let hosts = ctx.config.hosts();
    join_all(hosts.iter().enumerate().map(|(i, host)| {
        let ctx = ctx.clone();
        async move {
            match HostLink::open(ctx, host, i).await.map(HostLink::once) {
                Ok(mut link) => {
                    let obs = link.observe().await;
                    link.close().await;
                    obs
                }
                Err(f) => HostObservation::failed(host, f, chrono::Utc::now()),
            }
        }
    }))
    .await
}
