//! Executes the wizard's effects against the fleet: the pre-flight probes
//! (read-only) and the steps, each ending with its postcondition checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssh::Session;

use super::checks::{self, Check, Expect};
use super::input::Input;
use super::machine::{Effect, Event, Step};
use super::ssh_dest::fingerprint;
use super::{config_edit, render};
use crate::actions::{clean, deploy, Progress};
use crate::host::{make_private_dir, Context, HostLink};
use crate::pg::{col, first, Pg, PgError};
use crate::shell::sh_ok;
use crate::{bucardo, docker, job, ssh};
use archtui_core::config::{Config, Host, Role};
use archtui_core::model::HostState;

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

    async fn link(&mut self, input: &Input, master: bool) -> Result<&HostLink, StepError> {
        let slot_alive = match if master { &self.master } else { &self.slave } {
            Some(l) => l.alive().await,
            None => false,
        };
        if !slot_alive {
            let host = if master {
                self.master_host(input)?
            } else {
                input.host()
            };
            let index = crate::host::next_link();
            let link = HostLink::open(self.ctx.clone(), &host, index)
                .await
                .map_err(|f| StepError::Unreachable(f.reason))?;
            let slot = if master {
                &mut self.master
            } else {
                &mut self.slave
            };
            if let Some(old) = slot.replace(link) {
                old.close().await;
            }
        }
        let slot = if master { &self.master } else { &self.slave };
        slot.as_ref().ok_or(StepError::NoLink)
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

    async fn upload(&mut self, input: &Input) -> Result<String, StepError> {
        let host = input.host();
        if let Some(meta) = self.host_lock(input).await? {
            // An earlier run's compose: let it end before copying under it.
            let _ = self.follow(input, meta).await;
            if self.host_lock(input).await?.is_some() {
                return Err(StepError::StillRunning(host.name.clone()));
            }
        }
        let staging = stage(&self.from, &self.ctx.run_dir, input).await?;
        let session = self.session(input).await?;
        self.say(format!(
            "copying the stack to {}:{}",
            host.name, host.deploy_dir
        ));
        let copied = deploy::copy(&session, &host, &staging).await;
        let checked = match copied {
            Ok(()) => deploy::make_plan(&session, &host, &staging).await,
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_dir_all(&staging);
        let plan = checked?;
        if plan.changes_files() {
            return Err(StepError::StillDiffers {
                host: host.name.clone(),
                files: plan.files,
            });
        }
        let modes = sh_ok(
            &session,
            r#"cd "$1" && stat -c %a env.common env.slave"#,
            &[&host.deploy_dir],
            crate::shell::QUICK,
        )
        .await?;
        if modes.split_whitespace().any(|m| m != "600") {
            return Err(StepError::NotPrivate {
                host: host.name.clone(),
                modes,
            });
        }
        Ok(format!(
            "{} files on {}:{}, checksums match, env files 0600",
            plan.files.len(),
            host.name,
            host.deploy_dir
        ))
    }

    async fn compose_up(&mut self, input: &Input) -> Result<String, StepError> {
        let host = input.host();
        match self.host_lock(input).await? {
            Some(meta) => {
                self.follow(input, meta).await?;
            }
            None => {
                let spec = deploy::up_spec(&host, PROVISION, false)?;
                self.say(
                    "./deploy_slave.sh (docker compose up -d --build, then wait until healthy)",
                );
                let lock = self.host_lock.as_mut().ok_or(StepError::LockNotHeld)?;
                let r = lock.run(&spec, &self.progress).await;
                deploy::settle_up(r, &host).map_err(|o| StepError::Job(o.message))?;
            }
        }
        let d = self.link(input, false).await?.docker();
        let cs = docker::containers(&d, &host.compose_project).await?;
        if cs.is_empty() {
            return Err(StepError::NoContainers(host.compose_project.clone()));
        }
        let names: Vec<String> = cs.iter().map(|c| c.service.clone()).collect();
        Ok(format!("containers: {}", names.join(", ")))
    }

    async fn registered(&mut self, input: &Input) -> Result<String, StepError> {
        let start = Instant::now();
        let sync = input.sync();
        let mut last_said = Instant::now()
            .checked_sub(Duration::from_secs(60))
            .unwrap_or_else(Instant::now);
        let mut seen: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> =
            std::collections::HashMap::new();
        loop {
            // The new slave's own daemon runs its sync: read its control db.
            let ctl = self.ctx.config.database.bucardo_db.clone();
            let state = match self.pg(input, false, &ctl).await {
                Ok(pg) => bucardo::provision::sync_state(&pg, &sync)
                    .await
                    .map_err(StepError::from),
                Err(e) => Err(e),
            };
            let d = self.link(input, false).await?.docker();
            let cs = docker::containers(&d, &input.compose_project)
                .await
                .unwrap_or_default();
            let waiting: Vec<String> = cs
                .iter()
                .filter(|c| {
                    c.state != "running" || c.health.as_deref().is_some_and(|h| h != "healthy")
                })
                .map(|c| format!("{} {}", c.service, c.health.as_deref().unwrap_or(&c.state)))
                .collect();
            // The containers' own error lines, as they come; one they
            // cannot get past ends the wait now, not at the time limit.
            for c in &cs {
                let since = seen
                    .get(&c.name)
                    .copied()
                    .or(c.started_at)
                    .map_or(0, |t| t.timestamp());
                let lines = docker::recent_logs(&d, &c.name, since)
                    .await
                    .unwrap_or_default();
                let mut fresh = Vec::new();
                for (ts, line) in lines {
                    match (ts, seen.get(&c.name)) {
                        (Some(t), Some(last)) if t <= *last => continue,
                        (Some(t), _) => {
                            seen.insert(c.name.clone(), t);
                        }
                        _ => {}
                    }
                    fresh.push(line);
                }
                let (errors, fatal) = checks::container_errors(&fresh);
                for e in &errors {
                    self.say(format!("{} container: {e}", c.service));
                }
                if let Some(f) = fatal {
                    return Err(StepError::Fatal {
                        service: c.service.clone(),
                        host: input.name.clone(),
                        line: f,
                    });
                }
            }
            let good = matches!(&state, Ok(Some(s)) if s.ok);
            if good && !cs.is_empty() && waiting.is_empty() {
                return Ok(format!(
                    "sync {sync} registered and its initial copy done; every container healthy ({:.0} s)",
                    start.elapsed().as_secs_f64()
                ));
            }
            if last_said.elapsed() >= Duration::from_secs(3) {
                last_said = Instant::now();
                if let Some(p) = self.copy_progress(input).await {
                    self.say(p);
                }
                let s = match &state {
                    Ok(Some(s)) => format!("sync {sync}: {}", s.text),
                    Ok(None) => format!("sync {sync}: not registered yet"),
                    Err(e) => format!("{}'s Bucardo: {e}", input.name),
                };
                let c = if waiting.is_empty() {
                    String::new()
                } else {
                    format!("; waiting for {}", waiting.join(", "))
                };
                self.say(format!("{s}{c}"));
            }
            if start.elapsed() > REGISTER_WITHIN {
                return Err(StepError::NotRegistered {
                    secs: REGISTER_WITHIN.as_secs(),
                    waiting: waiting.join(", "),
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The initial copy as the slave's server sees it: the COPY under way
    /// (pg_stat_progress_copy) against the master's row estimate. None
    /// when no copy runs or the slave's database is not up yet.
    async fn copy_progress(&mut self, input: &Input) -> Option<String> {
        let db = self.ctx.config.database.name.clone();
        let slave = self.pg(input, false, &db).await.ok()?;
        let rows = slave
            .query(
                "SELECT relid::regclass::text, tuples_processed FROM pg_stat_progress_copy \
                 WHERE datname = current_database() AND command = 'COPY FROM'",
                &[],
            )
            .await
            .ok()?;
        let r = rows.first()?;
        let (table, done): (String, i64) = (col(r, 0).ok()?, col(r, 1).ok()?);
        let estimate = match self.pg(input, true, &db).await {
            Ok(master) => master
                .query(
                    "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass($1)",
                    &[&table],
                )
                .await
                .ok()
                .and_then(|r| first::<i64>(&r).ok().flatten()),
            Err(_) => None,
        };
        Some(checks::copy_progress(&clean(&table), done, estimate))
    }

    async fn row_counts(&mut self, input: &Input) -> Result<String, StepError> {
        let ctl = self.ctx.config.database.bucardo_db.clone();
        let db = self.ctx.config.database.name.clone();
        let tables = {
            let pg = self.pg(input, false, &ctl).await?;
            bucardo::provision::replicated_tables(&pg).await?
        };
        if tables.is_empty() {
            return Err(StepError::NoTables(input.name.clone()));
        }
        let master = self.pg(input, true, &db).await?;
        let slave = self.pg(input, false, &db).await?;
        let start = Instant::now();
        loop {
            let m = counts(&master, &tables).await?;
            let s = counts(&slave, &tables).await.unwrap_or_default();
            let differ = count_differences(&tables, &m, &s);
            if differ.is_empty() {
                let total: i64 = m.iter().sum();
                return Ok(format!(
                    "{} tables, {total} rows, equal on both",
                    tables.len()
                ));
            }
            if start.elapsed() > COUNTS_WITHIN {
                return Err(StepError::CountsDiffer(differ.join(", ")));
            }
            self.say(format!("waiting for rows: {}", differ.join(", ")));
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    async fn heartbeat(&mut self, input: &Input) -> Result<String, StepError> {
        let db = self.ctx.config.database.name.clone();
        let table = self.ctx.config.database.heartbeat_table.clone();
        let slave = self.pg(input, false, &db).await?;
        let first = bucardo::heartbeat(&slave, &table).await?;
        let start = Instant::now();
        loop {
            let now = bucardo::heartbeat(&slave, &table).await?;
            if let Some(t) = now {
                if first.is_none_or(|f| t > f) {
                    return Ok(format!(
                        "heartbeat {} arrived after {:.1} s",
                        t.format("%H:%M:%S%.3f"),
                        start.elapsed().as_secs_f64()
                    ));
                }
            }
            if start.elapsed() > HEARTBEAT_WITHIN {
                return Err(StepError::NoHeartbeat {
                    table,
                    secs: HEARTBEAT_WITHIN.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn add_to_config(&self, input: &Input) -> Result<String, StepError> {
        let path = &self.config_path;
        let dir = (input.deploy_dir != self.ctx.config.defaults.deploy_dir)
            .then_some(input.deploy_dir.as_str());
        crate::local::config_file::update(path, |old| {
            Some(config_edit::add_host(old, &input.name, &input.ssh, dir))
        })?;
        let c = Config::load(path)?;
        let n = c.hosts().iter().filter(|h| h.name == input.name).count();
        if n != 1 {
            return Err(StepError::ListedTimes {
                path: path.clone(),
                name: input.name.clone(),
                n,
            });
        }
        Ok(format!(
            "{} added to {} (backup {})",
            input.name,
            path.display(),
            config_edit::backup_path(path).display()
        ))
    }

    /// Every pre-flight check; nothing is changed anywhere.
    pub async fn preflight(&mut self, input: &Input, resuming: bool) -> Vec<Check> {
        let mut out = Vec::new();
        out.push(match deploy::check_checkout(&self.from, &input.host()) {
            Ok(()) => Check::pass("checkout", self.from.display().to_string()),
            Err(e) => Check::fail(
                "checkout",
                e,
                "pass --from DIR: a checkout with the operator's env.common",
            ),
        });
        // What will be uploaded: its secrets known to the redactor from
        // here on, and none of them a placeholder.
        let env_path = self.from.join("env.common");
        let env_text = std::fs::read_to_string(&env_path).ok();
        if let Some(t) = &env_text {
            archtui_core::credentials::remember_env(t);
            out.push(checks::placeholder_check(
                t,
                &env_path.display().to_string(),
            ));
        }
        let session = match self.ssh_check(input).await {
            Ok((s, check)) => {
                out.push(check);
                s
            }
            Err(check) => {
                out.push(check);
                out.push(self.name_check(input, resuming).await);
                return out;
            }
        };
        let before = now_secs();
        let probe = sh_ok(
            &session,
            PROBE,
            &[
                &input.deploy_dir,
                &input.compose_project,
                &input.master_db_host,
                &input.db_port.to_string(),
            ],
            PROBE_WITHIN,
        )
        .await;
        let after = now_secs();
        let mut reachable = false;
        match probe {
            Ok(text) => {
                let p = checks::parse_probe(&text);
                reachable = p.master_reachable == Some(true);
                let e = Expect {
                    ports: vec![input.db_port, APP_PORT],
                    master: input.master_db_host.clone(),
                    master_port: input.db_port,
                    local_time: (before + after) / 2.0,
                    resuming,
                };
                out.extend(checks::host_checks(&p, &e));
            }
            Err(e) => out.push(Check::fail("probe", e, "check the host's shell and tools")),
        }
        if let Some(t) = &env_text {
            if reachable {
                out.push(self.master_login(&session, input, t).await);
            }
            out.push(self.fleet_env_check(input, t).await);
        }
        out.push(self.name_check(input, resuming).await);
        out
    }

    /// The new host logs in to the master's control database, as its
    /// bucardo container will, with exactly the BUCARDO_PASSWORD about to
    /// be uploaded: a forward through the new host's SSH session (the
    /// connection starts there, so the master's pg_hba sees the new host),
    /// the password handed to the client in this process: never on a
    /// command line, never in a file on the host.
    async fn master_login(&self, session: &Session, input: &Input, env_text: &str) -> Check {
        let what = "master login";
        let env = archtui_core::envfile::parse_env(env_text);
        let get = |k: &str| {
            env.get(k)
                .map(|v| archtui_core::credentials::unquote(v).to_string())
                .filter(|v| !v.is_empty())
        };
        let user = get("BUCARDO_DB_USER").unwrap_or_else(|| "bucardo".into());
        let db = get("BUCARDO_DB_NAME").unwrap_or_else(|| "bucardo".into());
        let password =
            match (get("BUCARDO_PASSWORD"), get("BUCARDO_PASSWORD_FILE")) {
                (Some(p), _) => p,
                (None, Some(f)) => {
                    // The checkout's copy of the secrets dir, when it has one.
                    let dir = get("SECRETS_DIR").unwrap_or_else(|| "./secrets".into());
                    let name = Path::new(&f).file_name().unwrap_or_default();
                    let local = self.from.join(dir).join(name);
                    match std::fs::read_to_string(&local) {
                    Ok(t) => t.lines().next().unwrap_or("").to_string(),
                    Err(_) => return Check::warn(
                        what,
                        format!(
                            "not tested: BUCARDO_PASSWORD_FILE={f} and no {} here",
                            local.display()
                        ),
                        "make sure that file on the new host holds the master's BUCARDO_PASSWORD",
                    ),
                }
                }
                (None, None) => return Check::fail(
                    what,
                    "BUCARDO_PASSWORD is not set in env.common",
                    "set BUCARDO_PASSWORD (or BUCARDO_PASSWORD_FILE) in env.common to the master's",
                ),
            };
        let at = format!("{}:{}", input.master_db_host, input.db_port);
        let dir = self
            .ctx
            .run_dir
            .join(format!("m{}", crate::host::next_link()));
        if let Err(e) = make_private_dir(&dir) {
            return Check::fail(what, format!("{}: {e}", dir.display()), "check the run dir");
        }
        let local = dir.join(format!(".s.PGSQL.{}", input.db_port));
        let remote = openssh::Socket::new(&input.master_db_host, input.db_port);
        let forward = session
            .request_port_forward(
                openssh::ForwardType::Local,
                openssh::Socket::from(local.clone()),
                remote.clone(),
            )
            .await;
        if let Err(e) = forward {
            return Check::fail(
                what,
                format!("no forward through the new host to {at}: {e}"),
                "allow TCP forwarding in the new host's sshd (AllowTcpForwarding)",
            );
        }
        let login = Pg::connect(crate::pg::Params {
            application_name: None,
            socket_dir: &dir,
            port: input.db_port,
            user: &user,
            dbname: &db,
            password: Some(archtui_core::credentials::Secret::known(password)),
            timeout: self.ctx.timeout(),
        })
        .await;
        let _ = session
            .close_port_forward(
                openssh::ForwardType::Local,
                openssh::Socket::from(local),
                remote,
            )
            .await;
        let env_file = self.from.join("env.common").display().to_string();
        match login {
            Ok(pg) => {
                drop(pg);
                Check::pass(
                    what,
                    format!("the master's database at {at} accepts user {user} with the BUCARDO_PASSWORD of {env_file}, from the new host"),
                )
            }
            Err(e) if e.to_string().contains("password authentication failed") => Check::fail(
                what,
                format!("the master at {at} refused user {user} with the BUCARDO_PASSWORD of {env_file}"),
                format!("set BUCARDO_PASSWORD in {env_file} to the fleet's (the master's env.common): it must be the same on every host"),
            ),
            Err(e) if e.to_string().contains("no pg_hba.conf entry") => Check::fail(
                what,
                format!("the master at {at} does not accept the new host: {e}"),
                "add the new host's network to DB_ALLOWED_CIDRS in the master's env.common, then restart its db",
            ),
            Err(e) => Check::fail(
                what,
                format!("logging in to {db} at {at} from the new host: {e}"),
                "check MASTER_DB_HOST, the master's db, and BUCARDO_DB_USER / BUCARDO_DB_NAME in env.common",
            ),
        }
    }

    /// The env.common about to be uploaded against the master's deploy
    /// dir's, read over the master's SSH session; secrets redacted.
    async fn fleet_env_check(&mut self, input: &Input, env_text: &str) -> Check {
        let what = "fleet's env.common";
        let master = match self.master_host(input) {
            Ok(m) => m,
            Err(e) => return Check::warn(what, e, "compare env.common with the master's by hand"),
        };
        let session = match self.link(input, true).await {
            Ok(l) => l.session(),
            Err(e) => {
                return Check::warn(
                    what,
                    format!("master {}: {e}", master.name),
                    "compare env.common with the master's by hand",
                )
            }
        };
        let Some(session) = session else {
            return Check::warn(what, "ssh session to the master closed", "run again");
        };
        let path = format!("{}/env.common", master.deploy_dir);
        match sh_ok(&session, r#"cat "$1""#, &[&path], crate::shell::QUICK).await {
            Ok(text) => {
                archtui_core::credentials::remember_env(&text);
                checks::fleet_check(env_text, &text, &format!("{}:{path}", master.name))
            }
            Err(e) => Check::warn(
                what,
                format!("cannot read {}:{path}: {e}", master.name),
                "compare env.common with the master's by hand",
            ),
        }
    }

    async fn ssh_check(&mut self, input: &Input) -> Result<(Arc<Session>, Check), Check> {
        let host = input.host();
        let dir = self
            .ctx
            .run_dir
            .join(format!("p{}", crate::host::next_link()));
        make_private_dir(&dir).map_err(|e| Check::fail("ssh", e.to_string(), "check /tmp"))?;
        // A fresh handshake, never a kept master: pre-flight checks the
        // host key as known_hosts holds it now.
        match ssh::connect_anew(&self.ctx.config, &host, &dir).await {
            Ok(session) => {
                let session = Arc::new(session);
                let who = sh_ok(&session, "id -un; uname -n", &[], crate::shell::QUICK)
                    .await
                    .unwrap_or_default();
                let who = who.split_whitespace().collect::<Vec<_>>().join("@");
                // Later steps open their own link; this one goes when dropped.
                Ok((
                    session,
                    Check::pass("ssh", format!("{} as {who}", input.ssh)),
                ))
            }
            Err(f) if f.state == HostState::HostKeyUnknown => {
                let line = fingerprint(&self.ctx.config, &input.ssh).await;
                let fp = super::ssh_dest::fingerprint_of(&line).map(str::to_string);
                let check = Check::fail(
                    "ssh",
                    format!("unknown host key: {line}"),
                    format!(
                        "compare it with the host's own (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console), then trust it: t on the wizard's screen, or run again with --trust-host-key '{}'",
                        fp.as_deref().unwrap_or("SHA256:...")
                    ),
                );
                Err(match fp {
                    Some(fp) => check.trusting(fp),
                    None => check,
                })
            }
            Err(f) => Err(Check::fail(
                "ssh",
                f.reason,
                "check the address, that sshd runs, the link, and your key (ssh -v)",
            )),
        }
    }

    async fn name_check(&mut self, input: &Input, resuming: bool) -> Check {
        let db = self.ctx.config.database.name.clone();
        let pg = match self.pg(input, true, &db).await {
            Ok(pg) => pg,
            Err(e) => {
                return Check::fail(
                    "name in Bucardo",
                    format!("master {}: {e}", input.master),
                    "the master must be up: `archtui check`",
                )
            }
        };
        match bucardo::provision::taken(&pg, &input.name).await {
            Ok(t) => checks::name_check(&input.name, &t, resuming),
            Err(e) => Check::fail("name in Bucardo", e, "the master's stack must be deployed"),
        }
    }
}

/// The probe's own waits are 5 s each (dockerd's answers, the master's
/// port); this bounds the whole probe should the host itself hang.
const PROBE_WITHIN: Duration = Duration::from_secs(30);

/// Read-only probe of the new host: `key=value` lines (see checks::parse_probe).
/// $1 deploy dir, $2 compose project, $3 master address, $4 its port.
const PROBE: &str = r#"
v=$(timeout 5 docker version --format '{{.Server.Version}}' 2>/dev/null); [ $? = 124 ] && echo docker_hung=1
echo "docker=$v"
echo "compose=$(timeout 5 docker compose version --short 2>/dev/null)"
d=$1; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
echo "disk_path=$d"
echo "disk=$(df -Pk "$d" 2>/dev/null | awk 'NR==2{print $4}')"
echo "listen=$(ss -Hltn 2>/dev/null | awk '{print $4}' | tr '\n' ' ')"
echo "ours=$(timeout 5 docker ps -q --filter "label=com.docker.compose.project=$2" 2>/dev/null | wc -l)"
if timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$3" "$4" 2>/dev/null; then echo master=ok; else echo master=fail; fi
echo "time=$(date +%s.%N)"
[ -f "$1/docker-compose.yml" ] && echo existing=1
exit 0
"#;

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The stack for the new host in a private local directory: the checkout's
/// files and the rendered env.slave. The caller removes it. `cp -a` runs
/// as a child the runtime awaits, so a large checkout never blocks it.
async fn stage(from: &Path, run_dir: &Path, input: &Input) -> Result<PathBuf, StepError> {
    let dir = run_dir.join(format!("stage-{}", input.name));
    make_private_dir(&dir).map_err(|source| StepError::Io {
        path: dir.clone(),
        source,
    })?;
    let status = tokio::process::Command::new("cp")
        .arg("-a")
        .arg(from.join("docker-compose.yml"))
        .arg(from.join(".env"))
        .arg(from.join("env.common"))
        .arg(from.join("deploy_slave.sh"))
        .arg(from.join("assets"))
        .arg(&dir)
        .kill_on_drop(true)
        .status()
        .await
        .map_err(StepError::Cp)?;
    if !status.success() {
        return Err(StepError::CopyCheckout(from.to_path_buf()));
    }
    let template = tokio::fs::read_to_string(from.join("env.slave"))
        .await
        .map_err(|source| StepError::Io {
            path: from.join("env.slave"),
            source,
        })?;
    tokio::fs::write(dir.join("env.slave"), render::env_slave(&template, input))
        .await
        .map_err(StepError::EnvSlave)?;
    Ok(dir)
}

async fn counts(pg: &Pg, tables: &[(String, String)]) -> Result<Vec<i64>, PgError> {
    let mut out = Vec::with_capacity(tables.len());
    for (schema, table) in tables {
        let sql = format!(
            "SELECT count(*) FROM {}.{}",
            crate::pg::ident(schema),
            crate::pg::ident(table)
        );
        let rows = pg.query(&sql, &[]).await?;
        let n = first::<i64>(&rows).map_err(|e| e.within(format!("count of {schema}.{table}")))?;
        out.push(n.unwrap_or(-1));
    }
    Ok(out)
}

/// `table master/slave` for every table whose counts differ. Pure.
pub fn count_differences(tables: &[(String, String)], m: &[i64], s: &[i64]) -> Vec<String> {
    tables
        .iter()
        .enumerate()
        .filter_map(|(i, (_, t))| {
            let (a, b) = (m.get(i).copied(), s.get(i).copied());
            (a != b).then(|| {
                let show = |v: Option<i64>| v.map_or("?".into(), |n| n.to_string());
                format!("{t} {}/{}", show(a), show(b))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
