//! Executes the wizard's effects against the fleet: the pre-flight probes
//! (read-only) and the steps, each ending with its postcondition checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openssh::Session;

use super::input::Input;
use super::machine::{Effect, Event, Step};
use crate::actions::{deploy, Progress};
use crate::host::{Context, HostLink};
use crate::job;
use crate::pg::{Pg, PgError};
use archtui_core::config::{Host, Role};

mod preflight;
mod steps;

pub use steps::count_differences;

/// Ports the slave's stack publishes: PostgreSQL and the app.
pub const APP_PORT: u16 = 3000;
/// How long registration and the initial copy may take.
const REGISTER_WITHIN: Duration = Duration::from_secs(600);
const COUNTS_WITHIN: Duration = Duration::from_secs(120);
const HEARTBEAT_WITHIN: Duration = Duration::from_secs(60);

/// What the steps work with; links are opened when first needed.
pub struct Runner {
    pub ctx: Arc<Context>,
    pub config_path: PathBuf,
    pub from: PathBuf,
    pub progress: Progress,
    slave: Option<HostLink>,
    master: Option<HostLink>,
    /// The new host's lock, from the first step that changes it to the end.
    host_lock: Option<Box<job::HostLock>>,
}

/// The job (and lock) action of provisioning a host.
pub const PROVISION: &str = "provision";

/// Why a step failed or its postcondition does not hold. Its text is the
/// step's failure line in the wizard and the journal.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("no master named {0} in the config")]
    NoMaster(String),
    /// The host's link did not open (the failure's reason).
    #[error("{0}")]
    Unreachable(String),
    #[error("no link")]
    NoLink,
    #[error("ssh session closed")]
    SessionClosed,
    /// What the job layer said (its outcome's message).
    #[error("{0}")]
    Job(String),
    #[error("the host's lock is not held")]
    LockNotHeld,
    #[error("{0} still runs a provision job")]
    StillRunning(String),
    #[error("after the copy, {host} still differs: {files:?}")]
    StillDiffers {
        host: String,
        files: Vec<(String, archtui_core::actions::plan::FileChange)>,
    },
    #[error("env files on {host} are not 0600: {modes}")]
    NotPrivate { host: String, modes: String },
    #[error("docker: {0}")]
    Docker(#[from] bollard::errors::Error),
    #[error("no containers of project {0}")]
    NoContainers(String),
    /// `line`: the container's log line it cannot get past.
    #[error("the {service} container on {host} reports an error it cannot get past: {line}")]
    Fatal {
        service: String,
        host: String,
        line: String,
    },
    #[error("not registered and healthy within {secs} s: {waiting}")]
    NotRegistered { secs: u64, waiting: String },
    #[error("{0}'s relgroup archive has no tables")]
    NoTables(String),
    #[error("row counts differ: {0}")]
    CountsDiffer(String),
    #[error("no new heartbeat in {table} within {secs} s")]
    NoHeartbeat { table: String, secs: u64 },
    #[error("{} lists {name} {n} times", path.display())]
    ListedTimes {
        path: PathBuf,
        name: String,
        n: usize,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cp: {0}")]
    Cp(std::io::Error),
    #[error("copying the checkout {} failed", .0.display())]
    CopyCheckout(PathBuf),
    #[error("env.slave: {0}")]
    EnvSlave(std::io::Error),
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(transparent)]
    Shell(#[from] crate::shell::ShellError),
    #[error(transparent)]
    Spec(#[from] job::SpecError),
    #[error(transparent)]
    Deploy(#[from] deploy::DeployError),
    #[error(transparent)]
    Local(#[from] crate::local::LocalError),
    #[error(transparent)]
    Config(#[from] archtui_core::config::ConfigError),
}

impl From<StepError> for String {
    fn from(e: StepError) -> String {
        e.to_string()
    }
}

impl Runner {
    pub fn new(ctx: Arc<Context>, config_path: PathBuf, from: PathBuf, progress: Progress) -> Self {
        Self {
            ctx,
            config_path,
            from,
            progress,
            slave: None,
            master: None,
            host_lock: None,
        }
    }

    fn say(&self, line: impl Into<String>) {
        let _ = self.progress.send(line.into());
    }

    pub async fn close(&mut self) {
        if let Some(l) = self.host_lock.take() {
            l.release().await;
        }
        if let Some(l) = self.slave.take() {
            l.close().await;
        }
        if let Some(l) = self.master.take() {
            l.close().await;
        }
    }

    fn master_host(&self, input: &Input) -> Result<Host, StepError> {
        self.ctx
            .config
            .hosts()
            .into_iter()
            .find(|h| h.name == input.master && h.role == Role::Master)
            .ok_or_else(|| StepError::NoMaster(input.master.clone()))
    }

    /// The host a link is for: the master's, or the new host's.
    fn link_host(&self, input: &Input, master: bool) -> Result<Host, StepError> {
        if master {
            self.master_host(input)
        } else {
            Ok(input.host())
        }
    }

    fn slot(&mut self, master: bool) -> &mut Option<HostLink> {
        if master {
            &mut self.master
        } else {
            &mut self.slave
        }
    }

    async fn link(&mut self, input: &Input, master: bool) -> Result<&HostLink, StepError> {
        let slot_alive = match self.slot(master) {
            Some(l) => l.alive().await,
            None => false,
        };
        if !slot_alive {
            let host = self.link_host(input, master)?;
            let index = crate::host::next_link();
            let link = HostLink::open(self.ctx.clone(), &host, index)
                .await
                .map_err(|f| StepError::Unreachable(f.reason))?;
            if let Some(old) = self.slot(master).replace(link) {
                old.close().await;
            }
        }
        self.slot(master).as_ref().ok_or(StepError::NoLink)
    }

    async fn session(&mut self, input: &Input) -> Result<Arc<Session>, StepError> {
        self.link(input, false)
            .await?
            .session()
            .ok_or(StepError::SessionClosed)
    }

    /// Holds the new host's lock; a provision job that a killed run left
    /// running there comes back to be followed first (`Some`).
    async fn host_lock(&mut self, input: &Input) -> Result<Option<job::Meta>, StepError> {
        if self.host_lock.as_ref().is_some_and(|l| l.alive()) {
            return Ok(None);
        }
        self.host_lock = None;
        let session = self.session(input).await?;
        match job::acquire(&session, &input.host(), PROVISION, &self.progress).await {
            Ok(job::Acquired::Held(l)) => {
                self.host_lock = Some(l);
                Ok(None)
            }
            Ok(job::Acquired::Attach(meta)) => Ok(Some(meta)),
            Err(o) => Err(StepError::Job(o.message)),
        }
    }

    /// Follows a job left running to its end; its result as a step's.
    async fn follow(&mut self, input: &Input, meta: job::Meta) -> Result<job::Finished, StepError> {
        let session = self.session(input).await?;
        let r = job::follow(&session, &input.host(), meta, &self.progress).await;
        deploy::settle_up(r, &input.host()).map_err(|o| StepError::Job(o.message))
    }

    async fn pg(&mut self, input: &Input, master: bool, db: &str) -> Result<Pg, StepError> {
        let db = db.to_string();
        Ok(self.link(input, master).await?.connect(&db).await?)
    }

    /// Carries out an effect that needs the hosts and returns the event
    /// that answers it; the journal's effects are `journal::apply`'s.
    pub async fn answer(&mut self, input: &Input, effect: &Effect) -> Option<Event> {
        match effect {
            Effect::Preflight { resuming } => {
                Some(Event::Checked(self.preflight(input, *resuming).await))
            }
            Effect::Run(step) => Some(match self.run(input, *step).await {
                Ok(m) => Event::StepDone(*step, m),
                Err(e) => Event::StepFailed(*step, e.to_string()),
            }),
            Effect::SaveJournal(_) | Effect::Finished => None,
        }
    }

    /// Runs one step and checks its postcondition; the message says what
    /// was found.
    pub async fn run(&mut self, input: &Input, step: Step) -> Result<String, StepError> {
        match step {
            Step::Upload => self.upload(input).await,
            Step::ComposeUp => self.compose_up(input).await,
            Step::Registered => self.registered(input).await,
            Step::RowCounts => self.row_counts(input).await,
            Step::Heartbeat => self.heartbeat(input).await,
            Step::Config => self.add_to_config(input),
        }
    }
}

#[cfg(test)]
mod tests;
