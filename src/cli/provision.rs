//! `archtui provision` and `archtui retire`: the wizard headless. The
//! same state machine as the TUI screen; this module asks and prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use archtui_core::config::Config;
use archtui_core::wizard::checks::Verdict;
use archtui_core::wizard::machine::{Effect, Event, Phase, Wizard};

use crate::wizard::driver::{Driver, Turn};
use archtui_core::wizard::plan;
use archtui_remote::actions::{self, Outcome, Status};
use archtui_remote::host::Context;
use archtui_remote::local::audit;
use archtui_remote::local::journal;
use archtui_remote::wizard::ssh_dest;

pub const PROVISION_HELP: &str = "Pre-flight checks change nothing; the plan is confirmed (or --yes) \
before any change. Each completed step is journaled in $XDG_STATE_HOME/archtui/provision/NAME.json: \
run the same command again after an interruption and it resumes. Undo: archtui retire NAME. \
Exit codes: 0 provisioned; 1 a step failed; 2 refused (bad input, a failed pre-flight check, not \
confirmed, read-only, the host locked by another operator); 3 unreachable or the config unusable; \
5 interrupted while a remote job ran (it goes on; run again to follow it). In the console, W opens the same wizard.";

pub const RETIRE_HELP: &str = "Removes sync archive_NAME, dbgroup NAME_grp, db NAME and its \
bucardo_delta_targets rows from the master's Bucardo (archive-retire-slave), purges the deltas only \
it still needed, and removes NAME from the config (the old file kept as .bak). Asks for the name to \
be typed (or --confirm NAME, or --yes); every run appends an audit line. Idempotent: a second run finds \
nothing to remove. Without --stop the slave's stack keeps running and its bucardo container \
registers it again at its next start. In the console, X retires the selected slave. Exit codes: \
0 retired; 1 failed; 2 refused (not confirmed, read-only, bad name, the host locked by another \
operator); 3 the master unreachable; 5 interrupted while a remote job ran.";

#[derive(Args, Debug)]
#[command(after_help = PROVISION_HELP)]
pub struct ProvisionArgs {
    /// The slave's name (its Bucardo db, dbgroup NAME_grp, sync archive_NAME).
    pub name: String,
    /// SSH destination of the new host [default: NAME].
    #[arg(long, value_name = "DEST")]
    pub ssh: Option<String>,
    /// The new host's LAN address for env.slave APP_HOST [default: from `ssh -G`].
    #[arg(long, value_name = "ADDR")]
    pub app_host: Option<String>,
    /// The master's name in the config [default: the config's master].
    #[arg(long, value_name = "HOST")]
    pub master: Option<String>,
    /// The master's address as the new host reaches it [default: from `ssh -G`].
    #[arg(long, value_name = "ADDR")]
    pub master_db_host: Option<String>,
    /// Deploy directory on the new host [default: from the config].
    #[arg(long, value_name = "DIR")]
    pub deploy_dir: Option<String>,
    /// The checkout with the operator's env.common, docker-compose.yml, env.slave and assets/.
    #[arg(long, value_name = "DIR", env = "ARCHTUI_CHECKOUT")]
    pub from: Option<PathBuf>,
    /// Run the pre-flight checks and show the plan only.
    #[arg(long)]
    pub check: bool,
    /// Confirm the plan without asking.
    #[arg(long, short)]
    pub yes: bool,
    /// Trust the new host's SSH key with this fingerprint (SHA256:...), compared by you
    /// with the host's own; pre-flight shows the fingerprint of an unknown key.
    #[arg(long, value_name = "FINGERPRINT")]
    pub trust_host_key: Option<String>,
    /// The wizard full-screen; when done, the console opens on the fleet.
    #[arg(long, conflicts_with_all = ["yes", "check"])]
    pub tui: bool,
}

#[derive(Args, Debug)]
#[command(after_help = RETIRE_HELP)]
pub struct RetireArgs {
    /// The slave's name.
    pub name: String,
    /// Also stop its stack (`docker compose down`, volumes kept).
    #[arg(long)]
    pub stop: bool,
    /// Confirm by naming the slave again (instead of typing it at the prompt).
    #[arg(long, value_name = "NAME")]
    pub confirm: Option<String>,
    /// Confirm without asking, like every action's --yes.
    #[arg(long, short)]
    pub yes: bool,
}

fn context(config: Config) -> Result<Arc<Context>, i32> {
    Context::open(config).map_err(|e| {
        crate::cli::warn(&format!("archtui: {e}"));
        crate::cli::EXIT_UNKNOWN
    })
}

/// The steps' output, indented under the step's line.
const STEP_OUTPUT: crate::output::Style = crate::output::Style {
    prefix: "  | ",
    stderr: false,
    skip_blank: true,
};

fn audit_line(
    action: &str,
    host: &str,
    args: Vec<String>,
    confirmed: bool,
    o: &Outcome,
    took: std::time::Duration,
) {
    if let Err(e) = audit::append_work(action, host, args, confirmed, o, took) {
        crate::cli::warn(&format!("archtui: warning: {e}"));
    }
}

pub async fn provision(
    config: Config,
    config_path: &Path,
    args: ProvisionArgs,
    read_only: bool,
) -> i32 {
    let start = Instant::now();
    let name = args.name.clone();
    let audit_args = vec![name.clone()];
    let mut confirmed = false;
    let open = audit::begin("provision", &name, audit_args.clone(), false);
    let outcome =
        provision_inner(config, config_path, args, read_only, &mut confirmed, &open).await;
    super::actions::report(&outcome);
    audit_line(
        "provision",
        &name,
        audit_args,
        confirmed,
        &outcome,
        start.elapsed(),
    );
    drop(open);
    outcome.status.exit_code()
}

async fn provision_inner(
    config: Config,
    config_path: &Path,
    args: ProvisionArgs,
    read_only: bool,
    // Set once the operator confirms the plan (for the audit line).
    confirmed: &mut bool,
    open: &audit::Pending,
) -> Outcome {
    if args.tui {
        if let Err(e) = super::need_terminal() {
            return Outcome::new(Status::Unreachable, e.reason());
        }
    }
    if (read_only || config.read_only) && !args.check {
        return Outcome::refused("read-only mode: refusing to provision");
    }
    let state = audit::state_dir();
    let jpath = journal::path(&state, &args.name);
    let resumed = match journal::resume(&jpath) {
        Ok(w) => w,
        Err(e) => return Outcome::refused(e),
    };
    let wizard = match resumed {
        Some(w) => {
            crate::cli::say(&format!(
                "Resuming the provisioning of {} (journal {}; done: {})",
                w.input.name,
                jpath.display(),
                w.done.len()
            ));
            let given = args.ssh.is_some()
                || args.app_host.is_some()
                || args.master.is_some()
                || args.master_db_host.is_some()
                || args.deploy_dir.is_some();
            if given {
                crate::cli::say(&format!(
                    "note: the journal's input is used, not the options given; `archtui retire {}` starts over",
                    w.input.name
                ));
            }
            w
        }
        None => {
            let ssh = args.ssh.clone().unwrap_or_else(|| args.name.clone());
            let mut input =
                ssh_dest::defaults(&config, &args.name, &ssh, args.master.as_deref()).await;
            if let Some(a) = args.app_host.clone() {
                input.app_host = a;
            }
            if let Some(m) = args.master_db_host.clone() {
                input.master_db_host = m;
            }
            if let Some(d) = args.deploy_dir.clone() {
                input.deploy_dir = d;
            }
            Wizard::new(input)
        }
    };
    if let Some(fp) = &args.trust_host_key {
        match ssh_dest::trust_audited(&config, &wizard.input, fp).await {
            Ok(m) => crate::cli::say(&m),
            Err(e) => return Outcome::refused(e),
        }
    }
    let from = actions::deploy::checkout_dir(args.from.clone());
    let Ok(ctx) = context(config) else {
        return Outcome::new(Status::Unreachable, "no credentials or run dir");
    };
    let (tx, printer) = crate::output::printer(STEP_OUTPUT);
    // The full screen shows the steps' output itself.
    let output = (!args.tui).then_some(tx);
    let tasks = archtui_remote::tasks::Tasks::new();
    let mut d = Driver::new(
        ctx,
        config_path.to_path_buf(),
        from,
        state,
        wizard,
        output,
        tasks,
    );
    d.strict_journal = !args.tui;
    if let Err(e) = d.take_lock() {
        d.close(false).await;
        return Outcome::refused(e);
    }
    if args.tui {
        let mut terminal = match ratatui::try_init() {
            Ok(t) => t,
            Err(e) => {
                ratatui::restore();
                d.close(false).await;
                return Outcome::new(
                    Status::Unreachable,
                    format!("cannot set up the terminal: {e}"),
                );
            }
        };
        let panics = crate::term::task_panics_logged();
        let ended = crate::wizard::tui::run(&mut terminal, d).await;
        drop(panics);
        ratatui::restore();
        let _ = printer.await;
        if ended.open_console {
            if let Ok(c) = Config::load(config_path) {
                crate::tui::run(c, config_path.to_path_buf(), Some(ended.name)).await;
            }
        }
        *confirmed = ended.confirmed;
        return ended.outcome;
    }
    let outcome = headless(&mut d, &args, confirmed, open).await;
    let phase = d.wizard.phase.clone();
    let input = d.wizard.input.clone();
    for lost in d.close(true).await {
        super::warn(&format!("archtui: {lost}"));
    }
    let _ = printer.await;
    if let Some(o) = outcome {
        return o;
    }
    match &phase {
        Phase::Done => {
            Outcome::ok(format!(
                "{} is a replicating slave of {} and in the config: `archtui status` shows it",
                input.name, input.master
            ))
        }
        Phase::Refused => Outcome::refused("a pre-flight check failed; nothing was changed"),
        Phase::Cancelled => Outcome::refused("not confirmed; nothing was changed"),
        Phase::Failed { step, error } => Outcome::failed(format!(
            "step {:?} ({}) failed: {error}. Fix it and run the same command again to resume; `archtui retire {}` undoes",
            step,
            step.title(),
            input.name
        )),
        other => Outcome::failed(format!("stopped in {other:?}")),
    }
}

/// The wizard headless: submits, then prints what each effect starts and
/// what each answer says, asks at the review (or takes `--yes`), until
/// nothing waits. `Some` when it ends with an outcome of its own.
async fn headless(
    d: &mut Driver,
    args: &ProvisionArgs,
    confirmed: &mut bool,
    open: &audit::Pending,
) -> Option<Outcome> {
    let steps = archtui_core::wizard::Step::ALL.len();
    let submit = d.submit_event();
    let fx = d.feed(submit);
    if d.wizard.phase == Phase::Input {
        return Some(Outcome::refused(format!(
            "bad input: {}",
            d.wizard.problems.join("; ")
        )));
    }
    let mut started = Instant::now();
    let announce = |fx: &[Effect], started: &mut Instant| {
        for f in fx {
            match f {
                Effect::Preflight { .. } => {
                    crate::cli::say("Pre-flight checks (nothing is changed):");
                }
                Effect::Run(step) => {
                    crate::cli::say(&format!("[{}/{steps}] {} ...", step.number(), step.title()));
                }
                Effect::SaveJournal(_) | Effect::Finished => {}
            }
            *started = Instant::now();
        }
    };
    announce(&fx, &mut started);
    while !d.idle() || d.journal_error.is_some() {
        if let Some(e) = d.journal_error.take() {
            return Some(Outcome::failed(format!("journal: {e}")));
        }
        let Some(turn) = d.next().await else { break };
        let Turn::Answered(event, fx) = turn else {
            continue;
        };
        match &event {
            Event::Checked(checks) => print_checks(checks),
            Event::StepDone(step, msg) => crate::cli::say(&format!(
                "[{}/{steps}] ok ({:.1} s): {msg}",
                step.number(),
                started.elapsed().as_secs_f64()
            )),
            _ => {}
        }
        announce(&fx, &mut started);
        if d.wizard.phase == Phase::Review {
            for l in plan::lines(&d.wizard.input, &d.from, &d.config_path, &d.wizard.done) {
                crate::cli::say(&l);
            }
            if args.check {
                return Some(Outcome::ok(
                    "pre-flight passed; plan shown; nothing changed",
                ));
            }
            let yes = args.yes || ask(&format!("Provision {}? [y/N] ", d.wizard.input.name)).await;
            *confirmed = yes;
            if yes {
                open.confirmed();
            }
            let fx = d.feed(if yes { Event::Confirm } else { Event::Cancel });
            announce(&fx, &mut started);
        }
    }
    None
}

/// The pre-flight checks, one line each, with the fix under a failure.
fn print_checks(checks: &[archtui_core::wizard::checks::Check]) {
    for c in checks {
        let mark = match c.verdict {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        };
        crate::cli::say(&format!("  {mark} {:<18} {}", c.what, c.detail));
        if c.verdict != Verdict::Pass {
            if let Some(f) = &c.fix {
                crate::cli::say(&format!("       fix: {f}"));
            }
        }
    }
}

/// Asks on the terminal; no terminal means no.
async fn ask(prompt: &str) -> bool {
    super::prompt::confirm(prompt.to_string(), None)
        .await
        .unwrap_or_else(|| {
            crate::cli::warn("archtui: no terminal to ask on: pass --yes");
            false
        })
}

pub async fn retire_cmd(
    config: Config,
    config_path: &Path,
    args: RetireArgs,
    read_only: bool,
) -> i32 {
    let action = actions::Action::Retire {
        name: args.name,
        stop: args.stop,
        config_path: config_path.to_path_buf(),
    };
    let given = super::actions::Given {
        yes: args.yes,
        typed: args.confirm,
        hint: "pass --confirm NAME or --yes",
    };
    super::actions::run_action(config, action, given, read_only).await
}
