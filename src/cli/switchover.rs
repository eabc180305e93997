//! `archtui switchover NEW_MASTER` and `archtui failover NEW_MASTER`:
//! pre-checks, plan, typed confirmation, then the journaled steps
//! (`archtui_remote::switchover`). The two share everything but their
//! pre-checks and the steps that need the old master.

use std::path::Path;
use std::time::Instant;

use clap::Args;

use archtui_core::config::Config;
use archtui_core::switchover::Kind;
use archtui_remote::actions::Outcome;
use archtui_remote::switchover::flow;

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
    let audit = |what: &str, o: &Outcome, took: std::time::Duration| {
        if let Some(w) = flow::audit_step(&cand, &audit_args, what, true, o, took) {
            super::warn(&format!("archtui: {w}"));
        }
    };
    let (o, confirmed) = match switch(config, config_path, &args, read_only, kind, &audit).await {
        Ok(o) => (o, true),
        Err(o) => (o, false),
    };
    if let Some(w) = flow::audit_step(
        &cand,
        &audit_args,
        kind.name(),
        confirmed,
        &o,
        clock.elapsed(),
    ) {
        super::warn(&format!("archtui: {w}"));
    }
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
    audit: &(dyn Fn(&str, &Outcome, std::time::Duration) + Sync),
) -> Result<Outcome, Outcome> {
    let cand = &args.new_master;
    let say = |l: &str| super::say(l);
    // A dry run reads only: read-only mode does not refuse it.
    let read_only = (read_only || config.read_only) && !args.dry_run;
    let p = flow::prepare(config, config_path, kind, cand, read_only, &say).await?;
    if args.dry_run {
        let o = p.dry_run();
        p.close().await;
        return Err(o);
    }
    if let Err(o) = confirm(args, kind).await {
        p.close().await;
        return Err(o);
    }
    let (tx, printer) = crate::output::printer(crate::output::Style {
        prefix: "  | ",
        ..crate::output::Style::PLAIN
    });
    let outcome = flow::execute(p, tx, &say, audit).await;
    let _ = printer.await;
    Ok(outcome)
}

/// The new master's name typed (or `--confirm NAME`, or `--yes`).
async fn confirm(args: &SwitchoverArgs, kind: Kind) -> Result<(), Outcome> {
    let cand = &args.new_master;
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
