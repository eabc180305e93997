//! `archtui switchover NEW_MASTER`: pre-checks, plan, typed confirmation,
//! then the journaled steps (`archtui_remote::switchover`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use archtui_core::config::Config;
use archtui_core::switchover::{self as plan, Journal, Roles, Step};
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

pub async fn run(config: Config, config_path: &Path, args: SwitchoverArgs, read_only: bool) -> i32 {
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
    let (o, confirmed) = match switch(config, config_path, &args, read_only, &audit_step).await {
        Ok(o) => (o, true),
        Err(o) => (o, false),
    };
    audit_step("switchover", confirmed, &o, clock.elapsed());
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
    audit_step: &impl Fn(&str, bool, &Outcome, std::time::Duration),
) -> Result<Outcome, Outcome> {
    let cand = &args.new_master;
    let jpath = so::journal_path(&audit::state_dir());
    let (roles, journal) = opened(&config, cand, &jpath)?;
    if (read_only || config.read_only) && !args.dry_run {
        return Err(Outcome::refused(
            "read-only mode (--read-only or read_only = true in the config): refusing switchover",
        ));
    }
    let ctx = Context::open(config.clone())
        .map_err(|e| Outcome::new(Status::Unreachable, e.to_string()))?;
    let (tx, mut early) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut run = Run::new(ctx, roles.clone(), tx);
    let ready = ready(&mut run, &config, args, journal.as_ref()).await;
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
    let mut j =
        journal.unwrap_or_else(|| Journal::new(roles.clone(), chrono::Utc::now().to_rfc3339()));
    let outcome = steps(&mut run, &mut j, &jpath, config_path, &tx, audit_step).await;
    run.close().await;
    drop(tx);
    let _ = printer.await;
    Ok(outcome)
}

/// The roles: a journal's for the same candidate (a resume), else the
/// config's. A journal open for another candidate refuses.
fn opened(config: &Config, cand: &str, jpath: &Path) -> Result<(Roles, Option<Journal>), Outcome> {
    match so::load_journal(jpath).map_err(Outcome::failed)? {
        Some(j) if j.roles.candidate == cand => Ok((j.roles.clone(), Some(j))),
        Some(j) => Err(Outcome::refused(format!(
            "a switchover to {} is under way ({}): finish it first with `archtui switchover {}`",
            j.roles.candidate,
            jpath.display(),
            j.roles.candidate
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
) -> Result<(), Outcome> {
    let cand = &args.new_master;
    match journal {
        Some(j) => super::say(&format!(
            "Resuming the switchover to {cand} started {}: done {}",
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
        None => prechecks(run, config).await?,
    }
    let envs = run
        .envs()
        .await
        .map_err(|e| Outcome::failed(format!("reading the env files: {e}")))?;
    for l in plan::plan(&run.roles, &envs) {
        super::say(&l);
    }
    if args.dry_run {
        return Err(Outcome::ok(if journal.is_some() {
            "dry run: a switchover is under way; run it without --dry-run to finish it; nothing changed"
        } else {
            "dry run: every pre-check passed, plan shown; nothing changed"
        }));
    }
    let confirmed = args.yes
        || match &args.confirm {
            Some(t) => t == cand,
            None => super::prompt::confirm(
                format!("Type the new master's name ({cand}) to switch over: "),
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
    for c in &checks {
        let pass = c.verdict == Verdict::Pass;
        let mark = if pass { "PASS" } else { "FAIL" };
        super::say(&format!("  {mark} {:<22} {}", c.what, c.detail));
        if let (false, Some(f)) = (pass, &c.fix) {
            super::say(&format!("       fix: {f}"));
        }
    }
    if plan::all_pass(&checks) {
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
    let total = Step::ALL.len();
    let started = Instant::now();
    if let Err(e) = so::save_journal(jpath, j) {
        return Outcome::failed(format!("journal: {e}; nothing was changed"));
    }
    for s in Step::remaining(&j.done) {
        super::say(&format!("[{}/{total}] {} ...", s.number(), s.title()));
        let t = Instant::now();
        let r = match s {
            Step::Verify => verify_after(run, tx).await,
            Step::Config => config_after(run, config_path),
            _ => run.step(s, j).await.map_err(|e| e.0),
        };
        let what = format!("switchover:{}", s.name());
        match r {
            Ok(msg) => {
                j.mark(s);
                audit_step(&what, true, &Outcome::ok(msg.clone()), t.elapsed());
                if let Err(e) = so::save_journal(jpath, j) {
                    return Outcome::failed(format!("journal: {e}"));
                }
                super::say(&format!(
                    "[{}/{total}] ok ({:.1} s): {msg}",
                    s.number(),
                    t.elapsed().as_secs_f64()
                ));
            }
            Err(e) => {
                let o = Outcome::failed(format!(
                    "step {} ({}) failed: {e}. Fix it and run `archtui switchover {}` again to resume",
                    s.name(),
                    s.title(),
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
    Outcome::ok(format!(
        "{} is the master; {} replicate(s) from it{}; this run took {:.1} s",
        r.candidate,
        std::iter::once(r.old_master.as_str())
            .chain(r.others.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", "),
        j.refused_secs()
            .map(|s| format!("; writes were refused for {s:.1} s"))
            .unwrap_or_default(),
        started.elapsed().as_secs_f64()
    ))
}

/// Verify of every slave against the new master (the config as it will be).
async fn verify_after(run: &Run, tx: &archtui_remote::Progress) -> Result<String, String> {
    let config = so::swapped(&run.ctx.config, &run.roles);
    let ctx = Context::new(config, run.ctx.password.clone())
        .map_err(|e| format!("cannot create a private run directory: {e}"))?;
    so::verify_all(Arc::clone(&ctx), &Request::default(), tx).await
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
