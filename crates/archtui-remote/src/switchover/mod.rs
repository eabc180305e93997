//! Carrying out a switchover (`archtui_core::switchover` holds its steps,
//! plan and checks): the pre-checks' facts, then each step with its
//! postcondition, over the hosts' links. Every step is idempotent, so a
//! run killed in one runs it again and goes on.

mod facts;
pub mod flow;
mod journal;
mod rejoin;
mod sql;
mod steps;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::actions::deploy::compose_argv;
use crate::actions::{step, Outcome, Progress};
use crate::docker;
use crate::host::{next_link, Context, HostLink};
use crate::pg::Pg;
use crate::shell::{self, sh_ok};
use archtui_core::config::{Config, Host, Role};
use archtui_core::switchover::{HostEnv, Kind, Roles};

pub use facts::{gather as facts, gather_failover as failover_facts, verify_all};
pub use journal::{
    journal_path, load as load_journal, remove as remove_journal, save as save_journal,
};
pub use rejoin::{rejoin, save_rows, Rejoined};

/// The host lock's action of every job a switchover runs.
pub const ACTION: &str = "switchover";
/// How long the slaves get to apply every pending change.
const DRAIN_WITHIN: Duration = Duration::from_secs(180);
/// How long a bucardo container gets to stop before Docker kills it. Its
/// daemon's clean stop takes ~5 s; after the drain nothing is in flight,
/// so a kill loses nothing and its next start clears the leftovers.
const BUCARDO_STOP_SECS: &str = "3";
/// A stop of two containers, an exec: quieter than this is hung.
const SHORT_IDLE: Duration = Duration::from_secs(120);

/// Why a step did not reach its postcondition; the outcome says it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StepError(pub String);

impl From<crate::pg::PgError> for StepError {
    fn from(e: crate::pg::PgError) -> Self {
        StepError(e.to_string())
    }
}
impl From<shell::ShellError> for StepError {
    fn from(e: shell::ShellError) -> Self {
        StepError(e.to_string())
    }
}
impl From<Outcome> for StepError {
    fn from(o: Outcome) -> Self {
        StepError(o.message)
    }
}

/// The roles a config names for a switchover to `candidate`.
pub fn roles_of(config: &Config, candidate: &str) -> Result<Roles, String> {
    let hosts = config.hosts();
    let master = hosts
        .iter()
        .find(|h| h.role == Role::Master)
        .ok_or("the config has no master")?;
    if master.name == candidate {
        return Err(format!("{candidate} is already the master"));
    }
    // A host a failover replaced takes no role until it has rejoined.
    if config.is_fenced(candidate) {
        return Err(format!(
            "{candidate} is fenced (a failover replaced it) and cannot become the master: `archtui rejoin {candidate}` makes it a slave first"
        ));
    }
    let slaves: Vec<&Host> = hosts.iter().filter(|h| h.role == Role::Slave).collect();
    if !slaves.iter().any(|h| h.name == candidate) {
        let names: Vec<&str> = slaves.iter().map(|h| h.name.as_str()).collect();
        return Err(format!(
            "{candidate:?} is not a slave of the config (slaves: {})",
            names.join(", ")
        ));
    }
    Ok(Roles {
        old_master: master.name.clone(),
        candidate: candidate.to_string(),
        others: slaves
            .iter()
            .filter(|h| h.name != candidate)
            .map(|h| h.name.clone())
            .collect(),
        left_behind: Vec::new(),
    })
}

/// The same host under another role: which env file and deploy script it
/// is deployed with.
fn as_role(h: &Host, role: Role) -> Host {
    Host { role, ..h.clone() }
}

/// A switchover's hosts, links opened when a step needs them.
pub struct Run {
    pub ctx: Arc<Context>,
    pub kind: Kind,
    pub roles: Roles,
    hosts: BTreeMap<String, Host>,
    links: BTreeMap<String, HostLink>,
    pub progress: Progress,
}

impl Run {
    /// `config` is the one the run started with: its roles are the old ones.
    pub fn new(ctx: Arc<Context>, roles: Roles, progress: Progress) -> Run {
        let hosts = ctx
            .config
            .hosts()
            .into_iter()
            .map(|h| (h.name.clone(), h))
            .collect();
        Run {
            ctx,
            kind: Kind::Switchover,
            roles,
            hosts,
            links: BTreeMap::new(),
            progress,
        }
    }

    pub(crate) fn host(&self, name: &str) -> Result<Host, StepError> {
        self.hosts
            .get(name)
            .cloned()
            .ok_or_else(|| StepError(format!("{name} is not in the config")))
    }

    /// The host's link, opened on first use.
    pub(crate) async fn link(&mut self, name: &str) -> Result<&HostLink, StepError> {
        if !self.links.contains_key(name) {
            let host = self.host(name)?;
            let l = HostLink::open(self.ctx.clone(), &host, next_link())
                .await
                .map_err(|f| StepError(format!("{name}: {}", f.reason)))?;
            self.links.insert(name.to_string(), l);
        }
        Ok(&self.links[name])
    }

    pub(crate) async fn session(&mut self, name: &str) -> Result<Arc<openssh::Session>, StepError> {
        self.link(name)
            .await?
            .session()
            .ok_or_else(|| StepError(format!("{name}: no ssh session")))
    }

    pub(crate) async fn archive(&mut self, name: &str) -> Result<Pg, StepError> {
        let db = self.ctx.config.database.name.clone();
        Ok(self.link(name).await?.connect(&db).await?)
    }

    pub(crate) async fn control(&mut self, name: &str) -> Result<Pg, StepError> {
        let db = self.ctx.config.database.bucardo_db.clone();
        Ok(self.link(name).await?.connect(&db).await?)
    }

    pub async fn close(self) {
        for (_, l) in self.links {
            l.close().await;
        }
    }

    /// The deployed env files of `name` as it is deployed under `role`.
    pub async fn env(&mut self, name: &str, role: Role) -> Result<HostEnv, StepError> {
        let host = self.host(name)?;
        let s = self.session(name).await?;
        let read = |f: String| {
            let s = s.clone();
            let path = format!("{}/{f}", host.deploy_dir);
            async move {
                sh_ok(&s, r#"cat -- "$1""#, &[&path], shell::QUICK)
                    .await
                    .map_err(|e| StepError(format!("{name}: reading {path}: {e}")))
            }
        };
        let role_env = read(format!("env.{role}")).await?;
        let common = read("env.common".into()).await?;
        // Their secrets never leave the process from here on.
        archtui_core::credentials::remember_env(&role_env);
        archtui_core::credentials::remember_env(&common);
        Ok(HostEnv {
            deploy_dir: host.deploy_dir.clone(),
            role_env,
            common,
        })
    }

    /// Every host's env files as they are deployed before the swap (the
    /// sources of the new ones, which the swap never overwrites); a
    /// failover's lost master is not read.
    pub async fn envs(&mut self) -> Result<BTreeMap<String, HostEnv>, StepError> {
        let mut out = BTreeMap::new();
        if self.kind == Kind::Switchover {
            let m = self.roles.old_master.clone();
            out.insert(m.clone(), self.env(&m, Role::Master).await?);
        }
        let mut slaves = vec![self.roles.candidate.clone()];
        slaves.extend(self.roles.others.clone());
        for s in slaves {
            let e = self.env(&s, Role::Slave).await?;
            out.insert(s, e);
        }
        Ok(out)
    }

    /// A job in `name`'s deploy dir under the switchover's host lock.
    pub(crate) async fn job(
        &mut self,
        name: &str,
        role: Role,
        argv: Vec<String>,
        idle: Duration,
    ) -> Result<(), StepError> {
        let host = as_role(&self.host(name)?, role);
        let s = self.session(name).await?;
        let what = argv.join(" ");
        step(&self.progress, format!("{name}: {what}"));
        crate::job::run_or_follow(&s, &host, ACTION, argv, idle, &what, &self.progress)
            .await
            .map_err(|o| StepError(format!("{name}: {}", o.message)))
    }

    pub(crate) async fn compose(
        &mut self,
        name: &str,
        role: Role,
        args: &[&str],
    ) -> Result<(), StepError> {
        let host = as_role(&self.host(name)?, role);
        self.job(name, role, compose_argv(&host, args), SHORT_IDLE)
            .await
    }

    /// Services of `name` that are running, by service name.
    pub(crate) async fn running(&mut self, name: &str) -> Result<Vec<String>, StepError> {
        let project = self.host(name)?.compose_project;
        let d = self.link(name).await?.docker();
        let cs = docker::containers(&d, &project)
            .await
            .map_err(|e| StepError(format!("{name}: docker: {e}")))?;
        Ok(cs
            .into_iter()
            .filter(|c| c.state == "running")
            .map(|c| c.service)
            .collect())
    }

    pub(crate) async fn stopped(&mut self, name: &str, services: &[&str]) -> Result<(), StepError> {
        let up = self.running(name).await?;
        let still: Vec<&&str> = services
            .iter()
            .filter(|s| up.iter().any(|u| u == **s))
            .collect();
        if still.is_empty() {
            Ok(())
        } else {
            Err(StepError(format!("{name}: still running: {still:?}")))
        }
    }

    fn slaves(&self) -> Vec<String> {
        let mut v = vec![self.roles.candidate.clone()];
        v.extend(self.roles.others.clone());
        v
    }

    /// Reads a file of `name`'s deploy dir; None when it is not there.
    pub(crate) async fn read_optional(
        &mut self,
        name: &str,
        file: &str,
    ) -> Result<Option<String>, StepError> {
        let path = format!("{}/{file}", self.host(name)?.deploy_dir);
        let s = self.session(name).await?;
        let out = shell::sh(
            &s,
            r#"[ -f "$1" ] || exit 3; cat -- "$1""#,
            &[&path],
            shell::QUICK,
        )
        .await?;
        match out.status.code() {
            Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned())),
            Some(3) => Ok(None),
            _ => Err(StepError(format!(
                "{name}: reading {path}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }
}

/// The config after the run: the same hosts with the roles swapped.
pub fn swapped(config: &Config, roles: &Roles) -> Config {
    let mut c = config.clone();
    for h in &mut c.hosts {
        if h.name.get_ref() == &roles.old_master {
            h.role = Role::Slave;
        } else if h.name.get_ref() == &roles.candidate {
            h.role = Role::Master;
        }
    }
    c
}
