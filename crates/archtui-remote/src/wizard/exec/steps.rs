//! The steps of a provision, each ending with its postcondition checked:
//! upload, compose up, registration and the initial copy, row counts, the
//! heartbeat, the config entry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Runner, StepError, COUNTS_WITHIN, HEARTBEAT_WITHIN, PROVISION, REGISTER_WITHIN};
use crate::actions::{clean, deploy};
use crate::host::make_private_dir;
use crate::pg::{col, first, Pg, PgError};
use crate::shell::sh_ok;
use crate::wizard::checks;
use crate::wizard::input::Input;
use crate::wizard::{config_edit, render};
use crate::{bucardo, docker};
use archtui_core::config::Config;
use archtui_core::model::{Container, Time};
use bollard::Docker;

impl Runner {
    pub(super) async fn upload(&mut self, input: &Input) -> Result<String, StepError> {
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

    pub(super) async fn compose_up(&mut self, input: &Input) -> Result<String, StepError> {
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

    pub(super) async fn registered(&mut self, input: &Input) -> Result<String, StepError> {
        let start = Instant::now();
        let sync = input.sync();
        let mut last_said = Instant::now()
            .checked_sub(Duration::from_secs(60))
            .unwrap_or_else(Instant::now);
        let mut seen: HashMap<String, Time> = HashMap::new();
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
            let waiting = waiting_for(&cs);
            self.container_errors(input, &d, &cs, &mut seen).await?;
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
                self.say(registration_line(input, &sync, &state, &waiting));
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

    /// The containers' own error lines since last seen (`seen`: the last
    /// line's time per container), said as they come; one they cannot get
    /// past ends the wait now, not at the time limit.
    async fn container_errors(
        &self,
        input: &Input,
        d: &Docker,
        cs: &[Container],
        seen: &mut HashMap<String, Time>,
    ) -> Result<(), StepError> {
        for c in cs {
            let since = seen
                .get(&c.name)
                .copied()
                .or(c.started_at)
                .map_or(0, |t| t.timestamp());
            let lines = docker::recent_logs(d, &c.name, since)
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
        Ok(())
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

    pub(super) async fn row_counts(&mut self, input: &Input) -> Result<String, StepError> {
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

    pub(super) async fn heartbeat(&mut self, input: &Input) -> Result<String, StepError> {
        let db = self.ctx.config.database.name.clone();
        let table = self.ctx.config.database.heartbeat_table.clone();
        let slave = self.pg(input, false, &db).await?;
        let first = bucardo::heartbeat(&slave, &table).await?;
        let start = Instant::now();
        // A beat written now, not up to HEARTBEAT_INTERVAL away; failing
        // that (an older stack), the master's next one.
        // The first newer beat counts, asked for or periodic: the message
        // says it was asked for, not that it is the one asked for.
        let asked = match self.beat_now(input).await {
            Ok(()) => "after the master was asked for one",
            Err(e) => {
                self.say(format!("waiting for the master's next heartbeat ({e})"));
                "after the step began (the master's periodic beat)"
            }
        };
        loop {
            let now = bucardo::heartbeat(&slave, &table).await?;
            if let Some(t) = now {
                if first.is_none_or(|f| t > f) {
                    return Ok(format!(
                        "heartbeat {} arrived {:.1} s {asked}",
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

    /// Has the master's bucardo container write its heartbeat now.
    async fn beat_now(&mut self, input: &Input) -> Result<(), String> {
        let link = self.link(input, true).await.map_err(|e| e.to_string())?;
        bucardo::ctl::ctl(link, &["heartbeat"], crate::shell::QUICK)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub(super) fn add_to_config(&self, input: &Input) -> Result<String, StepError> {
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
}

/// The stack for the new host in a private local directory: the checkout's
/// files and the rendered env.slave. The caller removes it. `cp -a` runs
/// as a child the runtime awaits, so a large checkout never blocks it.
pub(super) async fn stage(
    from: &Path,
    run_dir: &Path,
    input: &Input,
) -> Result<PathBuf, StepError> {
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

/// The containers not yet running and healthy, as "service state".
fn waiting_for(cs: &[Container]) -> Vec<String> {
    cs.iter()
        .filter(|c| c.state != "running" || c.health.as_deref().is_some_and(|h| h != "healthy"))
        .map(|c| format!("{} {}", c.service, c.health.as_deref().unwrap_or(&c.state)))
        .collect()
}

/// Where registration stands: the sync's state on the new slave's Bucardo
/// and the containers still waited for.
fn registration_line(
    input: &Input,
    sync: &str,
    state: &Result<Option<bucardo::provision::SyncState>, StepError>,
    waiting: &[String],
) -> String {
    let s = match state {
        Ok(Some(s)) => format!("sync {sync}: {}", s.text),
        Ok(None) => format!("sync {sync}: not registered yet"),
        Err(e) => format!("{}'s Bucardo: {e}", input.name),
    };
    let c = if waiting.is_empty() {
        String::new()
    } else {
        format!("; waiting for {}", waiting.join(", "))
    };
    format!("{s}{c}")
}
