//! One switchover or failover from its pre-checks to its outcome, for
//! either front-end: `prepare` runs the pre-checks (or reads the journal
//! of a run to resume) and the plan, the front-end asks for the typed
//! name, `execute` runs the remaining steps. Lines for the operator go to
//! `say`; step details to the run's progress channel.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{self as so, Run};
use crate::actions::{Outcome, Status};
use crate::host::Context;
use crate::local::audit;
use crate::verify::engine::Request;
use crate::Progress;
use archtui_core::config::Config;
use archtui_core::switchover::{self as plan, Journal, Kind, Roles, Step};
use archtui_core::wizard::checks::{Check, Verdict};

/// Where the operator's lines go (stdout, or the console's screen).
pub type Say<'a> = &'a (dyn Fn(&str) + Sync);

/// A run past its pre-checks and plan, waiting for the typed name.
pub struct Prepared {
    pub run: Run,
    /// The journal of a run to resume; None: a new one.
    pub journal: Option<Journal>,
    /// A failover's bound on lost writes (the candidate's heartbeat age).
    bound: Option<f64>,
    pub config_path: PathBuf,
    pub plan: Vec<String>,
}

impl Prepared {
    pub fn kind(&self) -> Kind {
        self.run.kind
    }
    pub fn candidate(&self) -> &str {
        &self.run.roles.candidate
    }
    /// The dry run's outcome: nothing changed.
    pub fn dry_run(&self) -> Outcome {
        Outcome::ok(if self.journal.is_some() {
            format!(
                "dry run: a {k} is under way; run it without --dry-run to finish it; nothing changed",
                k = self.kind().name()
            )
        } else {
            "dry run: every pre-check passed, plan shown; nothing changed".to_string()
        })
    }
    pub async fn close(self) {
        self.run.close().await;
    }
}

/// One audit line per step (and the caller's for the whole run).
pub fn audit_step(
    cand: &str,
    args: &[String],
    what: &str,
    confirmed: bool,
    o: &Outcome,
    took: Duration,
) -> Option<String> {
    audit::append_work(what, cand, args.to_vec(), confirmed, o, took)
        .err()
        .map(|e| format!("warning: {e}"))
}

/// The journal or the pre-checks, then the plan. Err: refused, or the
/// state is unreadable; nothing was changed. `read_only`: `--read-only`
/// or the config's `read_only`, for a run that is to change things (a dry
/// run passes false).
pub async fn prepare(
    config: Config,
    config_path: &Path,
    kind: Kind,
    cand: &str,
    read_only: bool,
    say: Say<'_>,
) -> Result<Prepared, Outcome> {
    let jpath = so::journal_path(&audit::state_dir());
    let (roles, journal) = opened(&config, cand, &jpath, kind)?;
    if read_only {
        return Err(Outcome::refused(format!(
            "read-only mode (--read-only or read_only = true in the config): refusing {}",
            kind.name()
        )));
    }
    let ctx = Context::open(config.clone())
        .map_err(|e| Outcome::new(Status::Unreachable, e.to_string()))?;
    let (tx, mut early) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut run = Run::new(ctx, roles, tx);
    run.kind = kind;
    let mut bound = None;
    let checked = match &journal {
        Some(j) => {
            say(&format!(
                "Resuming the {} to {cand} started {}: done {}",
                kind.name(),
                j.started_at,
                if j.done.is_empty() {
                    "nothing yet".to_string()
                } else {
                    j.done
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
            Ok(())
        }
        None if kind == Kind::Failover => {
            failover_prechecks(&mut run, say).await.map(|b| bound = b)
        }
        None => prechecks(&mut run, &config, say).await,
    };
    while let Ok(l) = early.try_recv() {
        tracing::debug!(line = %l, "pre-check progress");
    }
    if let Err(o) = checked {
        run.close().await;
        return Err(o);
    }
    let envs = match run.envs().await {
        Ok(e) => e,
        Err(e) => {
            run.close().await;
            return Err(Outcome::failed(format!("reading the env files: {e}")));
        }
    };
    let lines = plan::plan(kind, &run.roles, &envs);
    for l in &lines {
        say(l);
    }
    Ok(Prepared {
        run,
        journal,
        bound,
        config_path: config_path.to_path_buf(),
        plan: lines,
    })
}

/// The steps, once the operator confirmed; the run's links are closed.
pub async fn execute(
    p: Prepared,
    progress: Progress,
    say: Say<'_>,
    audit: &(dyn Fn(&str, &Outcome, Duration) + Sync),
) -> Outcome {
    let Prepared {
        mut run,
        journal,
        bound,
        config_path,
        ..
    } = p;
    run.progress = progress.clone();
    let kind = run.kind;
    let mut j = journal.unwrap_or_else(|| {
        let mut j = Journal::new(run.roles.clone(), chrono::Utc::now().to_rfc3339());
        j.kind = kind;
        j.lost_writes_bound_secs = bound;
        j
    });
    let jpath = so::journal_path(&audit::state_dir());
    let o = steps(
        &mut run,
        &mut j,
        &jpath,
        &config_path,
        &progress,
        say,
        audit,
    )
    .await;
    run.close().await;
    o
}

/// The roles: a journal's for the same candidate (a resume), else the
/// config's. A journal open for another candidate refuses.
fn opened(
    config: &Config,
    cand: &str,
    jpath: &Path,
    kind: Kind,
) -> Result<(Roles, Option<Journal>), Outcome> {
    match so::load_journal(jpath).map_err(Outcome::failed)? {
        Some(j) if j.roles.candidate == cand && j.kind == kind => Ok((j.roles.clone(), Some(j))),
        Some(j) => Err(Outcome::refused(format!(
            "a {k} to {} is under way ({}): finish it first with `archtui {k} {}`",
            j.roles.candidate,
            jpath.display(),
            j.roles.candidate,
            k = j.kind.name()
        ))),
        None => Ok((so::roles_of(config, cand).map_err(Outcome::refused)?, None)),
    }
}

/// Every pre-check printed with its verdict, and the fix under a failure.
async fn prechecks(run: &mut Run, config: &Config, say: Say<'_>) -> Result<(), Outcome> {
    say("Pre-checks (nothing is changed):");
    let facts = so::facts(run).await;
    let checks = plan::checks(&run.roles, &facts, config.thresholds.lag_warning_secs);
    verdicts(&checks, say)
}

/// A failover's pre-checks; the other slaves that cannot be reached are
/// left behind. Ok: the bound on lost writes (the candidate's heartbeat
/// age).
async fn failover_prechecks(run: &mut Run, say: Say<'_>) -> Result<Option<f64>, Outcome> {
    say("Pre-checks (nothing is changed):");
    let facts = so::failover_facts(run).await;
    for (i, (name, age)) in plan::rank(&facts).iter().enumerate() {
        say(&format!(
            "  candidate #{}: {name}, heartbeat {age:.1} s old",
            i + 1
        ));
    }
    // One heartbeat interval or so: slaves that close are equally good.
    let checks = plan::failover_checks(&run.roles, &facts, 5.0);
    verdicts(&checks, say)?;
    let gone: Vec<String> = facts
        .slaves
        .iter()
        .filter(|s| s.down.is_some() && s.name != run.roles.candidate)
        .map(|s| s.name.clone())
        .collect();
    run.roles.others.retain(|o| !gone.contains(o));
    run.roles.left_behind = gone;
    Ok(facts
        .slaves
        .iter()
        .find(|s| s.name == run.roles.candidate)
        .and_then(|s| s.heartbeat_age.clone().ok()))
}

fn verdicts(checks: &[Check], say: Say<'_>) -> Result<(), Outcome> {
    for c in checks {
        let pass = c.verdict == Verdict::Pass;
        let mark = if pass { "PASS" } else { "FAIL" };
        say(&format!("  {mark} {:<22} {}", c.what, c.detail));
        if let (false, Some(f)) = (pass, &c.fix) {
            say(&format!("       fix: {f}"));
        }
    }
    if plan::all_pass(checks) {
        return Ok(());
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .map(|c| c.what.as_str())
        .collect();
    Err(Outcome::refused(format!(
        "pre-check failed: {}; nothing was changed",
        failed.join(", ")
    )))
}

/// Every step not done yet, in order; the journal is saved after each.
async fn steps(
    run: &mut Run,
    j: &mut Journal,
    jpath: &Path,
    config_path: &Path,
    tx: &Progress,
    say: Say<'_>,
    audit_step: &(dyn Fn(&str, &Outcome, Duration) + Sync),
) -> Outcome {
    let kind = j.kind;
    let total = kind.steps().len();
    let started = Instant::now();
    if let Err(e) = so::save_journal(jpath, j) {
        return Outcome::failed(format!("journal: {e}; nothing was changed"));
    }
    for s in j.remaining() {
        let n = kind.number(s);
        say(&format!("[{n}/{total}] {} ...", kind.title(s)));
        let t = Instant::now();
        let r = match s {
            Step::MarkFenced => mark_fenced(run, config_path),
            Step::Verify => verify_after(run, tx).await,
            Step::Config => config_after(run, config_path),
            _ => run.step(s, j).await.map_err(|e| e.0),
        };
        let what = format!("{}:{}", kind.name(), s.name());
        match r {
            Ok(msg) => {
                j.mark(s);
                audit_step(&what, &Outcome::ok(msg.clone()), t.elapsed());
                if let Err(e) = so::save_journal(jpath, j) {
                    return Outcome::failed(format!("journal: {e}"));
                }
                say(&format!(
                    "[{n}/{total}] ok ({:.1} s): {msg}",
                    t.elapsed().as_secs_f64()
                ));
            }
            Err(e) => {
                let o = Outcome::failed(format!(
                    "step {} ({}) failed: {e}. Fix it and run `archtui {} {}` again to resume",
                    s.name(),
                    kind.title(s),
                    kind.name(),
                    run.roles.candidate
                ));
                audit_step(&what, &o, t.elapsed());
                return o;
            }
        }
    }
    if let Err(e) = so::remove_journal(jpath) {
        return Outcome::failed(format!("done, but the journal: {e}"));
    }
    let r = &run.roles;
    let followers: Vec<&str> = (kind == Kind::Switchover)
        .then_some(r.old_master.as_str())
        .into_iter()
        .chain(r.others.iter().map(String::as_str))
        .collect();
    let after = match kind {
        Kind::Switchover => j
            .refused_secs()
            .map(|s| format!("; writes were refused for {s:.1} s"))
            .unwrap_or_default(),
        Kind::Failover => format!(
            "; {} is fenced: `archtui rejoin {}` once it is back{}{}",
            r.old_master,
            r.old_master,
            j.lost_writes_bound_secs
                .map(|s| format!("; writes of its last {s:.0} s may be lost"))
                .unwrap_or_default(),
            if r.left_behind.is_empty() {
                String::new()
            } else {
                format!(
                    "; left behind (unreachable): {}: `archtui rejoin NAME` each once back",
                    r.left_behind.join(", ")
                )
            }
        ),
    };
    Outcome::ok(format!(
        "{} is the master; {}{after}; this run took {:.1} s",
        r.candidate,
        if followers.is_empty() {
            "no other host replicates from it yet".to_string()
        } else {
            format!("{} replicate(s) from it", followers.join(", "))
        },
        started.elapsed().as_secs_f64()
    ))
}

/// A failover's first step: the lost master fenced in the config.
fn mark_fenced(run: &Run, path: &Path) -> Result<String, String> {
    let m = &run.roles.old_master;
    let changed = crate::local::config_file::update(path, |t| {
        archtui_core::wizard::config_edit::set_fenced(t, m, true)
    })
    .map_err(|e| e.to_string())?;
    Ok(format!(
        "{}: {m} fenced{}",
        path.display(),
        if changed { "" } else { " (already)" }
    ))
}

/// Verify of every slave against the new master (the config as it will be).
async fn verify_after(run: &Run, tx: &Progress) -> Result<String, String> {
    let config = so::swapped(&run.ctx.config, &run.roles);
    let req = match run.kind {
        Kind::Switchover => Request::default(),
        // The lost master and the slaves left behind are not asked.
        Kind::Failover if run.roles.others.is_empty() => {
            return Ok("no other slave to verify".into())
        }
        Kind::Failover => Request {
            slaves: run.roles.others.clone(),
            tables: None,
        },
    };
    let ctx = Context::new(config, run.ctx.password.clone())
        .map_err(|e| format!("cannot create a private run directory: {e}"))?;
    so::verify_all(Arc::clone(&ctx), &req, tx).await
}

/// The roles swapped in the config file (a `.bak` is kept).
fn config_after(run: &Run, path: &Path) -> Result<String, String> {
    let r = &run.roles;
    let changed = crate::local::config_file::update(path, |t| {
        let t = archtui_core::wizard::config_edit::set_role(t, &r.old_master, "slave")?;
        archtui_core::wizard::config_edit::set_role(&t, &r.candidate, "master")
    })
    .map_err(|e| e.to_string())?;
    Ok(if changed {
        format!(
            "{}: {} master, {} slave",
            path.display(),
            r.candidate,
            r.old_master
        )
    } else {
        format!("{}: already says so", path.display())
    })
}
