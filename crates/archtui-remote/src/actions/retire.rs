//! The way back: a slave removed from the master's Bucardo (sync, dbgroup,
//! db, its delta-target rows, its deltas purged), optionally its stack
//! stopped, and the host removed from the config.

use std::path::Path;
use std::sync::Arc;

use crate::actions::deploy::compose_argv;
use crate::actions::{Outcome, Progress, Status};
use crate::host::{Context, HostLink};
use crate::job;
use crate::local::journal;
use crate::pg::PgError;
use archtui_core::config::{Config, Host, Role};
use archtui_core::wizard::config_edit;

/// archive-retire-slave waits up to 60 s, silently, for Bucardo's reload;
/// compose down stops three containers. Quieter than this is hung.
const RETIRE_IDLE: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs `docker compose ARGS` on `host` as a job under the host's lock for
/// `action` (or follows the one a killed run of it left running).
async fn compose_job(
    session: &Arc<openssh::Session>,
    host: &Host,
    action: &str,
    args: &[&str],
    progress: &Progress,
) -> Result<(), Outcome> {
    let what = format!("docker compose {}", args.join(" "));
    job::run_or_follow(
        session,
        host,
        action,
        compose_argv(host, args),
        RETIRE_IDLE,
        &what,
        progress,
    )
    .await
}

/// Where the slave is: the config's host, else an interrupted wizard's journal.
pub fn slave_host(config: &Config, name: &str, state_dir: &Path) -> Option<Host> {
    config
        .hosts()
        .into_iter()
        .find(|h| h.name == name && h.role == Role::Slave)
        .or_else(|| {
            journal::load(&journal::path(state_dir, name))
                .ok()
                .flatten()
                .map(|j| j.input.host())
        })
}

/// Retires `name`. Every part is idempotent: a second run finds nothing to
/// remove and says so.
pub async fn run(
    ctx: Arc<Context>,
    config_path: &Path,
    state_dir: &Path,
    name: &str,
    stop: bool,
    progress: &Progress,
) -> Outcome {
    if !archtui_core::config::valid_host_name(name) {
        return Outcome::refused(format!("{name:?} is not a slave name"));
    }
    let Some(master) = ctx
        .config
        .hosts()
        .into_iter()
        .find(|h| h.role == Role::Master)
    else {
        return Outcome::refused("no master in the config");
    };
    if master.name == name {
        return Outcome::refused(format!("{name} is the master"));
    }
    let slave = slave_host(&ctx.config, name, state_dir);
    let link = match HostLink::open(ctx.clone(), &master, crate::host::next_link()).await {
        Ok(l) => l,
        Err(f) => return Outcome::new(Status::Unreachable, f.reason),
    };
    let result = on_master(&ctx, &link, name, progress).await;
    link.close().await;
    if let Err(o) = result {
        return o;
    }
    let mut notes = Vec::new();
    if stop {
        match &slave {
            Some(h) => match stop_stack(&ctx, h, progress).await {
                Ok(()) => notes.push(format!("stack on {} stopped", h.name)),
                Err(o) => {
                    return Outcome::new(
                        o.status,
                        format!("retired on the master, but {}", o.message),
                    )
                }
            },
            None => notes.push(format!("{name} not in the config: no stack stopped")),
        }
    } else {
        notes.push(
            "its stack still runs: stop it (`docker compose down` there), or its bucardo container registers it again at its next start"
                .to_string(),
        );
    }
    match remove_from_config(config_path, name) {
        Ok(true) => notes.push(format!("removed from {}", config_path.display())),
        Ok(false) => {}
        Err(e) => return Outcome::failed(format!("retired, but the config: {e}")),
    }
    if let Err(e) = journal::remove(&journal::path(state_dir, name)) {
        notes.push(format!("journal: {e}"));
    }
    Outcome::ok(format!(
        "retired {name} from {}; {}",
        master.name,
        notes.join("; ")
    ))
}

async fn on_master(
    ctx: &Context,
    link: &HostLink,
    name: &str,
    progress: &Progress,
) -> Result<(), Outcome> {
    let session = link
        .session()
        .ok_or_else(|| Outcome::new(Status::Unreachable, "ssh session to the master closed"))?;
    compose_job(
        &session,
        &link.host,
        &retire_action(name),
        &["exec", "-T", "bucardo", "archive-retire-slave", name],
        progress,
    )
    .await?;
    postconditions(ctx, link, name, progress)
        .await
        .map_err(|e| Outcome::failed(e.to_string()))
}

/// The job (and lock) action of retiring `name`, on the master and on the
/// slave alike.
pub fn retire_action(name: &str) -> String {
    format!("retire {name}")
}

/// Why the master has not forgotten a retired slave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostconditionError {
    #[error(transparent)]
    Pg(#[from] PgError),
    /// What the registry or the delta targets still hold for `name`.
    #[error("the master still has {left} for {name}")]
    Left { left: String, name: String },
}

/// The control database and the delta targets have forgotten `name`.
async fn postconditions(
    ctx: &Context,
    link: &HostLink,
    name: &str,
    progress: &Progress,
) -> Result<(), PostconditionError> {
    // Postconditions: the registry and the delta targets forget it.
    let archive = link.connect(&ctx.config.database.name).await?;
    let left = crate::bucardo::provision::taken(&archive, name).await?;
    if !left.is_empty() {
        return Err(PostconditionError::Left {
            left: left.join(", "),
            name: name.to_string(),
        });
    }
    super::step(
        progress,
        format!("{name}: gone from the master's registry and its delta targets"),
    );
    Ok(())
}

async fn stop_stack(ctx: &Arc<Context>, host: &Host, progress: &Progress) -> Result<(), Outcome> {
    let dir = ctx.run_dir.join("retire");
    crate::host::make_private_dir(&dir).map_err(|e| Outcome::failed(e.to_string()))?;
    let session = crate::ssh::connect(&ctx.config, host, &dir)
        .await
        .map_err(|f| Outcome::new(Status::Unreachable, f.reason))?;
    let session = Arc::new(session);
    let name = host.name.clone();
    let r = compose_job(&session, host, &retire_action(&name), &["down"], progress).await;
    if let Some(s) = Arc::into_inner(session) {
        crate::ssh::release(s).await;
    }
    r
}

/// True when the host was in the config and is now removed (with a `.bak`).
pub fn remove_from_config(path: &Path, name: &str) -> Result<bool, crate::local::LocalError> {
    crate::local::config_file::update(path, |old| config_edit::remove_host(old, name))
}
