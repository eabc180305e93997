//! Runs one action the same way for the TUI and the headless subcommands:
//! checks, read-only refusal, one action per target, the work itself over
//! the host's link, and one audit line whatever happened.

use std::sync::Arc;
use std::time::Instant;

use super::{container, deploy, sync, Action, Guard, Outcome, Progress, Status};
use crate::host::{Context, HostLink};
use crate::local::{audit, lock};

/// Runs `action` and appends its audit line; returns what came of it.
pub async fn perform(
    ctx: Arc<Context>,
    action: &Action,
    guard: Guard,
    progress: &Progress,
) -> Outcome {
    let start = Instant::now();
    let host_name = action
        .resolve_host(&ctx.config)
        .map_or_else(|_| "-".into(), |h| h.name);
    // Written as `interrupted` if a signal ends archtui before the line below.
    let _open = audit::begin(action.name(), &host_name, action.args(), guard.confirmed);
    tracing::info!(action = action.name(), host = %host_name, confirmed = guard.confirmed, "action begins");
    let outcome = match action.resolve_host(&ctx.config) {
        Err(e) => Outcome::refused(e),
        Ok(host) => checked(ctx.clone(), action, guard, &host, progress).await,
    };
    tracing::info!(
        action = action.name(),
        host = %host_name,
        status = ?outcome.status,
        message = %outcome.message,
        took_ms = start.elapsed().as_millis(),
        "action ends"
    );
    if let Err(e) = audit(
        &ctx.config,
        action,
        guard.confirmed,
        &outcome,
        start.elapsed(),
    ) {
        let _ = progress.send(format!(
            "warning: audit log {} not written: {}",
            e.path.display(),
            e.source
        ));
    }
    outcome
}

/// The audit line of an action the operator cancelled at its confirmation.
pub fn audit_cancelled(config: &archtui_core::config::Config, action: &Action) {
    let cancelled = Outcome::refused("cancelled at the confirmation");
    let _ = audit(config, action, false, &cancelled, std::time::Duration::ZERO);
}

/// The audit line of an action whose task panicked: `perform` never
/// wrote one, and its `interrupted` entry unwound with it.
pub fn audit_panicked(
    config: &archtui_core::config::Config,
    action: &Action,
    confirmed: bool,
    panic: &str,
) {
    let lost = Outcome::failed(format!("archtui's task panicked: {panic}"));
    let _ = audit(config, action, confirmed, &lost, std::time::Duration::ZERO);
}

/// Appends `action`'s audit line, naming the host it runs on (or `-`).
fn audit(
    config: &archtui_core::config::Config,
    action: &Action,
    confirmed: bool,
    outcome: &Outcome,
    took: std::time::Duration,
) -> Result<(), audit::AuditError> {
    let host = action
        .resolve_host(config)
        .map_or_else(|_| "-".into(), |h| h.name);
    let rec = audit::record(
        chrono::Utc::now(),
        &audit::local_user(),
        &host,
        action,
        confirmed,
        outcome,
        took,
    );
    audit::append_logged(&rec)
}

async fn checked(
    ctx: Arc<Context>,
    action: &Action,
    guard: Guard,
    host: &archtui_core::config::Host,
    progress: &Progress,
) -> Outcome {
    if let Err(e) = action.validate() {
        return Outcome::refused(e);
    }
    if guard.read_only && action.changes_fleet() {
        return super::read_only_refusal(action);
    }
    if action.needs_confirmation() && !guard.confirmed {
        return Outcome::refused(format!("not confirmed: {}", action.question(host)));
    }
    let _lock = match lock::try_lock(&audit::state_dir(), &action.target()) {
        Ok(l) => l,
        Err(e) => return Outcome::refused(e),
    };
    if let Action::Retire {
        name,
        stop,
        config_path,
    } = action
    {
        // Opens its own links: the master's, then the slave's to stop it.
        let state = audit::state_dir();
        return crate::actions::retire::run(ctx, config_path, &state, name, *stop, progress).await;
    }
    let index = crate::host::next_link();
    let mut link = match HostLink::open(ctx.clone(), host, index).await {
        Ok(l) => l,
        Err(f) => return Outcome::new(Status::Unreachable, f.reason),
    };
    let outcome = on_link(&ctx, action, &mut link, progress).await;
    link.close().await;
    outcome
}

async fn on_link(
    ctx: &Context,
    action: &Action,
    link: &mut HostLink,
    progress: &Progress,
) -> Outcome {
    let project = &link.host.compose_project;
    match action {
        Action::Restart { service, .. }
        | Action::Stop { service, .. }
        | Action::Start { service, .. } => {
            let op = match action {
                Action::Restart { .. } => container::Op::Restart,
                Action::Stop { .. } => container::Op::Stop,
                _ => container::Op::Start,
            };
            container::run(&link.docker(), project, service, op).await
        }
        Action::Deploy {
            from,
            plan_only,
            allow_empty,
            ..
        } => match link.session() {
            Some(session) => {
                let docker = link.docker();
                deploy::run(
                    &session,
                    &docker,
                    &link.host,
                    from,
                    *plan_only,
                    *allow_empty,
                    progress,
                )
                .await
            }
            None => Outcome::new(Status::Unreachable, "ssh session closed"),
        },
        Action::Kick { .. }
        | Action::Pause { .. }
        | Action::Resume { .. }
        | Action::Reload { .. }
        | Action::Recover { .. } => on_bucardo(ctx, action, link).await,
        // `checked` hands it to wizard::retire, which opens its own links.
        Action::Retire { .. } => Outcome::failed("retire does not run on one link"),
    }
}

/// The sync actions, over the slave's own control database. Pause and
/// resume name the operator in pg_stat_activity, so the slave's
/// supervisor records who paused.
async fn on_bucardo(ctx: &Context, action: &Action, link: &mut HostLink) -> Outcome {
    let db = &ctx.config.database.bucardo_db;
    let pg = match action {
        Action::Pause { .. } | Action::Resume { .. } => link.connect_as_operator(db).await,
        _ => link.connect(db).await,
    };
    let pg = match pg {
        Ok(pg) => pg,
        Err(e) => {
            return Outcome::new(
                Status::Unreachable,
                format!("{}'s control database: {e}", link.host.name),
            )
        }
    };
    match action {
        Action::Kick { sync: s, wait_secs } => {
            sync::kick(&pg, s, wait_secs.map(std::time::Duration::from_secs)).await
        }
        Action::Pause { sync: s } => sync::pause(&pg, s, true).await,
        Action::Resume { sync: s } => sync::pause(&pg, s, false).await,
        Action::Recover { sync: s, reload } => super::recover::run(link, &pg, s, *reload).await,
        _ => sync::reload(&pg).await,
    }
}
