//! Everything that talks to the fleet: SSH sessions and forwards, Docker,
//! PostgreSQL and Bucardo. Failures become observations, never exits.

pub mod backoff;
pub mod bucardo;
pub mod docker;
pub mod health;
pub mod host;
pub mod job;
pub mod logtail;
pub mod pg;
pub mod shell;
pub mod ssh;
pub mod supervisor;

use std::sync::Arc;

use futures_util::future::join_all;

use crate::observation::HostObservation;
use host::{Context, HostLink};

/// One observation of every host, all hosts at once: a dead host costs
/// its own timeout, never the others'.
pub async fn observe_once(ctx: Arc<Context>) -> Vec<HostObservation> {
    let hosts = ctx.config.hosts();
    join_all(hosts.iter().enumerate().map(|(i, host)| {
        let ctx = ctx.clone();
        async move {
            match HostLink::open(ctx, host, i).await {
                Ok(mut link) => {
                    let obs = link.observe().await;
                    link.close().await;
                    obs
                }
                Err(f) => HostObservation::failed(host, f),
            }
        }
    }))
    .await
}
