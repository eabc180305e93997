//! What the pre-checks look at, read before anything changes: the old
//! master and the candidate up, the candidate's heartbeat and pending
//! rows, every host's migrations, a verify of the candidate, the other
//! slaves reachable. Reading only: nothing here changes a host.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{sql, Run};
use crate::bucardo;
use crate::verify::engine::{self, Limits, Request};
use archtui_core::switchover::{Facts, FailoverFacts, SlaveFacts};

/// How often the candidate's pending rows are read before they count:
/// under writes a change is pending for a moment, which is no reason to
/// refuse; rows that stay pending are.
const PENDING_LOOKS: usize = 4;

fn unknown<T>(why: &str) -> Result<T, String> {
    Err(why.to_string())
}

pub async fn gather(run: &mut Run) -> Facts {
    let (m, c) = (run.roles.old_master.clone(), run.roles.candidate.clone());
    let hb = run.ctx.config.database.heartbeat_table.clone();
    let master_down = run.archive(&m).await.err().map(|e| e.0);
    let (mut candidate_down, candidate_unhealthy) = candidate_services(run, &c).await;
    let cand = if candidate_down.is_none() {
        match run.archive(&c).await {
            Ok(pg) => Some(pg),
            Err(e) => {
                candidate_down = Some(e.0);
                None
            }
        }
    } else {
        None
    };
    let heartbeat_age = match &cand {
        None => unknown("the candidate is down"),
        Some(pg) => heartbeat_age_of(pg, &hb)
            .await
            .map_err(|e| format!("{e} on the candidate")),
    };
    let sync_state = sync_state(run, &c).await;
    let pending = pending(run, &m, &c, &hb).await;
    let (migrations, unreachable) = migrations(run).await;
    let verify = if candidate_down.is_some() || master_down.is_some() {
        unknown("not run: a host is down")
    } else {
        verify_candidate(run, &c).await
    };
    Facts {
        master_down,
        candidate_down,
        candidate_unhealthy,
        heartbeat_age,
        pending,
        sync_state,
        migrations,
        verify,
        unreachable,
    }
}

/// A failover's facts: whether the master answers, and every slave's
/// state and heartbeat (the candidate's rank and the bound on lost writes).
pub async fn gather_failover(run: &mut Run) -> FailoverFacts {
    let m = run.roles.old_master.clone();
    let hb = run.ctx.config.database.heartbeat_table.clone();
    let master_down = run.archive(&m).await.err().map(|e| e.0);
    let mut slaves = Vec::new();
    let mut migrations = BTreeMap::new();
    let mut names = vec![run.roles.candidate.clone()];
    names.extend(run.roles.others.clone());
    for n in names {
        let (mut down, unhealthy) = candidate_services(run, &n).await;
        let mut heartbeat_age = unknown("the host is down");
        if down.is_none() {
            match run.archive(&n).await {
                Err(e) => down = Some(e.0),
                Ok(pg) => {
                    heartbeat_age = heartbeat_age_of(&pg, &hb).await;
                    let r = sql::migrations(&pg).await.map_err(|e| e.to_string());
                    migrations.insert(n.clone(), r);
                }
            }
        }
        slaves.push(SlaveFacts {
            name: n,
            down,
            unhealthy,
            heartbeat_age,
        });
    }
    FailoverFacts {
        master_down,
        slaves,
        migrations,
    }
}

/// Seconds since the newest heartbeat the host holds.
async fn heartbeat_age_of(pg: &crate::pg::Pg, table: &str) -> Result<f64, String> {
    match bucardo::heartbeat(pg, table).await {
        Ok(Some(t)) => Ok((chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0),
        Ok(None) => unknown("no heartbeat row"),
        Err(e) => Err(e.to_string()),
    }
}

/// Why the candidate is down (None: it answers), and its services that
/// are not running and healthy.
async fn candidate_services(run: &mut Run, c: &str) -> (Option<String>, Vec<String>) {
    let l = match run.link(c).await {
        Err(e) => return (Some(e.0), Vec::new()),
        Ok(l) => l,
    };
    let project = l.host.compose_project.clone();
    match crate::docker::containers(&l.docker(), &project).await {
        Err(e) => (Some(format!("docker: {e}")), Vec::new()),
        Ok(cs) if cs.is_empty() => (
            Some(format!("no containers of project {project}")),
            Vec::new(),
        ),
        Ok(cs) => {
            let bad = cs
                .iter()
                .filter(|x| {
                    x.state != "running" || x.health.as_deref().is_some_and(|h| h != "healthy")
                })
                .map(|x| {
                    let health = x
                        .health
                        .as_ref()
                        .map(|h| format!("/{h}"))
                        .unwrap_or_default();
                    format!("{} {}{health}", x.service, x.state)
                })
                .collect();
            (None, bad)
        }
    }
}

/// The candidate's sync as its own control database says.
async fn sync_state(run: &mut Run, c: &str) -> Result<String, String> {
    let ctl = run.control(c).await.map_err(|e| e.0)?;
    match bucardo::control::state(&ctl, &format!("archive_{c}")).await {
        Ok(Some(s)) if s.stalled() => Ok("stalled".to_string()),
        Ok(Some(s)) => Ok(s.status),
        Ok(None) => unknown("no such sync on the candidate"),
        Err(e) => Err(e.to_string()),
    }
}

/// Rows pending for the candidate on the master: 0 at any of a few looks
/// a second apart counts as 0 (under writes a row is pending for a moment).
async fn pending(run: &mut Run, m: &str, c: &str, hb: &str) -> Result<i64, String> {
    let master = run.archive(m).await.map_err(|e| e.0)?;
    let (sync, group) = (format!("archive_{c}"), format!("{c}_grp"));
    let mut last = Ok(0);
    for i in 0..PENDING_LOOKS {
        last = match bucardo::pending(&master, &sync, &group, hb).await {
            Ok(Some(p)) => Ok(p.rows),
            Ok(None) => unknown("the sync has never run"),
            Err(e) => Err(e.to_string()),
        };
        if matches!(last, Ok(0)) || i + 1 == PENDING_LOOKS {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    last
}

type Migrations = BTreeMap<String, Result<String, String>>;

/// Every host's `schema_migrations`; the other slaves that cannot be
/// reached are listed apart.
async fn migrations(run: &mut Run) -> (Migrations, Vec<(String, String)>) {
    let mut migrations = BTreeMap::new();
    let mut unreachable = Vec::new();
    let mut all = vec![run.roles.old_master.clone(), run.roles.candidate.clone()];
    all.extend(run.roles.others.clone());
    for h in &all {
        let r = match run.archive(h).await {
            Ok(pg) => sql::migrations(&pg).await.map_err(|e| e.to_string()),
            Err(e) if run.roles.others.contains(h) => {
                unreachable.push((h.clone(), e.0));
                continue;
            }
            Err(e) => Err(e.0),
        };
        migrations.insert(h.clone(), r);
    }
    (migrations, unreachable)
}

/// Verify of the candidate against the master, as `archtui verify C`.
pub async fn verify_candidate(run: &Run, c: &str) -> Result<String, String> {
    let req = Request {
        slaves: vec![c.to_string()],
        tables: None,
    };
    verify_all(run.ctx.clone(), &req, &run.progress).await
}

/// Runs verify; Ok(summary) when every table is equal.
pub async fn verify_all(
    ctx: std::sync::Arc<crate::host::Context>,
    req: &Request,
    progress: &crate::Progress,
) -> Result<String, String> {
    let limits = Limits::from_config(&ctx.config);
    let report = engine::run(ctx, req, limits, progress).await;
    let tables: usize = report.slaves.iter().map(|s| s.tables.len()).sum();
    let diffs: u64 = report.slaves.iter().map(|s| s.differences()).sum();
    if report.exit_code == 0 {
        Ok(format!("{tables} table(s) equal"))
    } else {
        let why: Vec<String> = report
            .slaves
            .iter()
            .filter(|s| s.outcome != archtui_core::verify::report::Outcome::Equal)
            .map(|s| {
                let why = if s.differences() > 0 {
                    format!("{} row(s) differ", s.differences())
                } else {
                    s.error.clone().unwrap_or_else(|| {
                        format!("{:?} (`archtui verify {}` says why)", s.outcome, s.slave)
                            .to_lowercase()
                    })
                };
                format!("{}: {why}", s.slave)
            })
            .collect();
        Err(if why.is_empty() {
            format!("{diffs} row(s) differ")
        } else {
            why.join("; ")
        })
    }
}
