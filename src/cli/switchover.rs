//! `archtui switchover NEW_MASTER` and `archtui failover NEW_MASTER`:
//! pre-checks, plan, typed confirmation, then the journaled steps
//! (`archtui_remote::switchover`). The two share everything but their
//! pre-checks and the steps that need the old master.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use archtui_core::config::Config;
use archtui_core::switchover::{self as plan, Journal, Kind, Roles, Step};
use archtui_core::wizard::checks::Verdict;
use archtui_remote::actions::{Outcome, Status};
use archtui_remote::host::Context;
use archtui_remote::local::audit;
use archtui_remote::switchover::{self as so, Run};
use archtui_remote::verify::engine::Request;

#[derive(Args, Debug)]
pub struct SwitchoverArgs {
    /// The slave that becomes the master.
    pub new_master: String,
    /// Run the pre-checks and print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask: go on once every pre-check passes (scripts).
    #[arg(long)]
    pub yes: bool,
    /// The new master's name, typed in advance instead of at the prompt.
    #[arg(long, value_name = "NAME")]
    pub confirm: Option<String>,
}

pub const SWITCHOVER_HELP: &str = "A planned switchover with zero data loss; the old master must be up.

Pre-checks (each PASS or FAIL with its reason; nothing changes unless all pass): the old master and the candidate are up and healthy, the candidate's heartbeat is fresh, nothing is pending for it, every host has the same schema_migrations, a verify of the candidate finds every table equal, every other slave is reachable.

Steps, each checked and journaled ($XDG_STATE_HOME/archtui/switchover.json), so a run that is killed or fails resumes where it stopped when run again:
  1 fence      the old master's app and heartbeat writer stopped, its app role read-only
  2 drain      every slave has applied every change
  3 prepare    the candidate's fleet registry (archive-bucardo-ctl prepare-master)
  4 stop       Bucardo stopped on every slave
  5 sequences  the candidate's sequences set past every key
  6 swap-env   the candidate gets env.master, the old master env.slave (copies kept as *.before-switchover)
  7 repoint    the other slaves, then the old master, deploy_slave.sh: they register with the candidate (no copy)
  8 promote    the candidate's deploy.sh: it serves as the master
  9 verify     every slave against the new master
 10 config     the roles swapped in the config (the old one kept as .bak)
Writes are refused from step 1 until step 8 ends; the run says for how long.

Exit codes: 0 done (or --dry-run passed); 1 a step failed: fix what it says and run the same command again; 2 refused (a pre-check, the confirmation, read-only, another switchover open); 3 the config or the password is unusable; 5 interrupted (run it again to resume).";

pub const FAILOVER_HELP: &str = "An unplanned failover: the master is unreachable, and a slave takes its role. Writes the master took after the candidate's last heartbeat are not on the candidate: the pre-checks show that bound, and pick the slave that lost the fewest (the freshest heartbeat).

Pre-checks (each PASS or FAIL with its reason; nothing changes unless all pass): the master does not answer (with it up, use switchover), the candidate is up and healthy, its heartbeat is the freshest of the slaves, the reachable hosts have the same schema_migrations. Other slaves that cannot be reached are listed and left as they are: `archtui rejoin NAME` once they are back.

Steps, each checked and journaled like a switchover's (run the same command again to resume):
  1 mark-fenced  the lost master gets fenced = true in the config: archtui refuses it as the master and refuses actions on it but stop
  2 prepare      the candidate's fleet registry (archive-bucardo-ctl prepare-master)
  3 stop         Bucardo stopped on the candidate and the reachable slaves
  4 sequences    the candidate's sequences set past every key plus a gap, so rows only the lost master holds keep their ids
  5 swap-env     the candidate gets env.master (its own, else from its env.slave), the other slaves point at it
  6 repoint      the other slaves deploy_slave.sh: they register with the candidate (no copy)
  7 promote      the candidate's deploy.sh: it serves as the master
  8 verify       every other slave against the new master
  9 config       the roles swapped in the config; the lost master stays fenced
When the lost master is back, `archtui rejoin NAME` makes it a slave after a verify, and saves the rows only it holds.

Exit codes as for switchover: 0 done (or --dry-run passed); 1 a step failed; 2 refused; 3 the config or the password is unusable; 5 interrupted.";

pub async fn run(
    config: Config,
    config_path: &Path,
    args: SwitchoverArgs,
    read_only: bool,
    kind: Kind,
) -> i32 {
    let clock = Instant::now();
    let cand = args.new_master.clone();
    let mut audit_args = vec![cand.clone()];
    if args.dry_run {
        audit_args.push("--dry-run".into());
    }
    let audit_step = |what: &str, confirmed: bool, o: &Outcome, took: std::time::Duration| {
        if let Err(e) = audit::append_work(what, &cand, audit_args.clone(), confirmed, o, took) {
            super::warn(&format!("archtui: warning: {e}"));
        }
    };
    let (o, confirmed) =
        match switch(config, config_path, &args, read_only, kind, &audit_step).await {
            Ok(o) => (o, true),
            Err(o) => (o, false),
        };
    audit_step(kind.name(), confirmed, &o, clock.elapsed());
    super::actions::report(&o);
    o.status.exit_code()
}

/// Everything up to the confirmation, then the steps. Err: it ended
/// before the operator confirmed (refused, a dry run, unreadable state).
async fn switch(
    config: Config,
    config_path: &Path,
    args: &SwitchoverArgs,
    read_only: bool,
    kind: Kind,
    audit_step: &impl Fn(&str, bool, &Outcome, std::time::Duration),
) -> Result<Outcome, Outcome> {
    let cand = &args.new_master;
    let jpath = so::journal_path(&audit::state_dir());
    let (roles, journal) = opened(&config, cand, &jpath, kind)?;
    if (read_only || config.read_only) && !args.dry_run {
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
    let ready = ready(&mut run, &config, args, journal.as_ref(), &mut bound).await;
    while let Ok(l) = early.try_recv() {
        tracing::debug!(line = %l, "pre-check progress");
    }
    if let Err(o) = ready {
        run.close().await;
        return Err(o);
    }
    let (tx, printer) = crate::output::printer(crate::output::Style {
        prefix: "  | ",
        ..crate::output::Style::PLAIN
    });
    run.progress = tx.clone();
    let mut j = journal.unwrap_or_else(|| {
        let mut j = Journal::new(run.roles.clone(), chrono::Utc::now().to_rfc3339());
        j.kind = kind;
        j.lost_writes_bound_secs = bound;
        j
    });
    let outcome = steps(&mut run, &mut j, &jpath, config_path, &tx, audit_step).await;
    run.close().await;
    drop(tx);
    let _ = printer.await;
    Ok(outcome)
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

/// Pre-checks (or the resume's state), the plan, the confirmation: Ok
/// once the steps may run.
async fn ready(
    run: &mut Run,
    config: &Config,
    args: &SwitchoverArgs,
    journal: Option<&Journal>,
    bound: &mut Option<f64>,
) -> Result<(), Outcome> {
    let cand = &args.new_master;
    let kind = run.kind;
    match journal {
        Some(j) => super::say(&format!(
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
        )),
        None if kind == Kind::Failover => *bound = failover_prechecks(run).await?,
        None => prechecks(run, config).await?,
    }
    let envs = run
        .envs()
        .await
        .map_err(|e| Outcome::failed(format!("reading the env files: {e}")))?;
    for l in plan::plan(kind, &run.roles, &envs) {
        super::say(&l);
    }
    if args.dry_run {
        return Err(Outcome::ok(if journal.is_some() {
            format!(
                "dry run: a {k} is under way; run it without --dry-run to finish it; nothing changed",
                k = kind.name()
            )
        } else {
            "dry run: every pre-check passed, plan shown; nothing changed".to_string()
        }));
    }
    let confirmed = args.yes
        || match &args.confirm {
            Some(t) => t == cand,
            None => super::prompt::confirm(
                format!(
                    "Type the new master's name ({cand}) to {}: ",
                    match kind {
                        Kind::Switchover => "switch over",
                        Kind::Failover => "fail over",
                    }
                ),
                Some(cand),
            )
            .await
            .ok_or_else(|| {
                Outcome::refused(
                    "no terminal to ask on: pass --confirm NAME or --yes; nothing was changed",
                )
            })?,
        };
    if confirmed {
        Ok(())
    } else {
        Err(Outcome::refused(format!(
            "the name typed is not {cand}; nothing was changed"
        )))
    }
}

/// Every pre-check printed with its verdict, and the fix under a failure.
async fn prechecks(run: &mut Run, config: &Config) -> Result<(), Outcome> {
    super::say("Pre-checks (nothing is changed):");
    let facts = so::facts(run).await;
    let checks = plan::checks(&run.roles, &facts, config.thresholds.lag_warning_secs);
    verdicts(&checks)
}

/// A failover's pre-checks; the other slaves that cannot be reached are
/// left behind. Ok: the bound on lost writes (the candidate's heartbeat
/// age).
async fn failover_prechecks(run: &mut Run) -> Result<Option<f64>, Outcome> {
    super::say("Pre-checks (nothing is changed):");
    let facts = so::failover_facts(run).await;
    for (i, (name, age)) in plan::rank(&facts).iter().enumerate() {
        super::say(&format!(
            "  candidate #{}: {name}, heartbeat {age:.1} s old",
            i + 1
        ));
    }
    // One heartbeat interval or so: slaves that close are equally good.
    let checks = plan::failover_checks(&run.roles, &facts, 5.0);
    verdicts(&checks)?;
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

fn verdicts(checks: &[archtui_core::wizard::checks::Check]) -> Result<(), Outcome> {
    for c in checks {
        let pass = c.verdict == Verdict::Pass;
        let mark = if pass { "PASS" } else { "FAIL" };
        super::say(&format!("  {mark} {:<22} {}", c.what, c.detail));
        if let (false, Some(f)) = (pass, &c.fix) {
            super::say(&format!("       fix: {f}"));
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
    tx: &archtui_remote::Progress,
    audit_step: &impl Fn(&str, bool, &Outcome, std::time::Duration),
) -> Outcome {
    let kind = j.kind;
    let total = kind.steps().len();
    let started = Instant::now();
    if let Err(e) = so::save_journal(jpath, j) {
        return Outcome::failed(format!("journal: {e}; nothing was changed"));
    }
    for s in j.remaining() {
        let n = kind.number(s);
        super::say(&format!("[{n}/{total}] {} ...", kind.title(s)));
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
                audit_step(&what, true, &Outcome::ok(msg.clone()), t.elapsed());
                if let Err(e) = so::save_journal(jpath, j) {
                    return Outcome::failed(format!("journal: {e}"));
                }
                super::say(&format!(
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
                audit_step(&what, true, &o, t.elapsed());
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
        "{} is the master; {} replicate(s) from it{after}; this run took {:.1} s",
        r.candidate,
        if followers.is_empty() {
            "no other host".to_string()
        } else {
            followers.join(", ")
        },
        started.elapsed().as_secs_f64()
    ))
}

/// A failover's first step: the lost master fenced in the config.
fn mark_fenced(run: &Run, path: &Path) -> Result<String, String> {
    let m = &run.roles.old_master;
    let changed = archtui_remote::local::config_file::update(path, |t| {
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
async fn verify_after(run: &Run, tx: &archtui_remote::Progress) -> Result<String, String> {
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
    let changed = archtui_remote::local::config_file::update(path, |t| {
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
