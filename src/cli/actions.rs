//! The headless action subcommands: kick, pause, resume, reload, recover,
//! restart, stop, start, deploy. They run the same code as the TUI's keys
//! (`actions::run::perform`); this module only asks and prints.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;

use super::prompt::confirmation_matches;
use archtui_core::config::Config;
use archtui_remote::actions::run::perform;
use archtui_remote::actions::Guard;
use archtui_remote::actions::{self, Action, Outcome, Status};
use archtui_remote::host::{next_link, Context, HostLink};

pub const EXIT_CODES: &str = "Exit codes: 0 done; 1 the action failed; 2 refused (read-only mode, \
not confirmed, no terminal to ask on without --yes, another action on the same target running, \
another operator holding the host's lock, bad arguments); 3 the host or database could not be \
reached, or the config is unusable; 4 done but the outcome did not arrive in time; 5 interrupted \
(SIGTERM, SIGINT, SIGHUP or a lost link) while a remote job ran: the job goes on on the host, run \
the same command again to follow it. Every action, refused ones included, appends one JSON \
line to $XDG_STATE_HOME/archtui/audit.log (default ~/.local/state/archtui/audit.log).";

#[derive(Subcommand, Debug)]
pub enum ActionCommand {
    /// Kick a sync; with --wait, wait for its run's outcome. No confirmation asked.
    #[command(after_help = EXIT_CODES)]
    Kick {
        sync: String,
        /// Wait up to SECS for the run to finish (LISTENs before kicking).
        #[arg(long, value_name = "SECS")]
        wait: Option<u64>,
        /// Accepted like every action's; kick never asks.
        #[arg(long, short)]
        yes: bool,
    },
    /// Pause a sync (remembered by archtui: Bucardo forgets it on a restart).
    #[command(after_help = EXIT_CODES)]
    Pause {
        sync: String,
        #[arg(long, short)]
        yes: bool,
    },
    /// Resume a paused sync. No confirmation asked.
    #[command(after_help = EXIT_CODES)]
    Resume {
        sync: String,
        /// Accepted like every action's; resume never asks.
        #[arg(long, short)]
        yes: bool,
    },
    /// Reload a slave's Bucardo daemon (every slave runs its own) and wait for it to say so.
    #[command(after_help = EXIT_CODES)]
    Reload {
        /// The slave whose daemon to reload.
        slave: String,
        #[arg(long, short)]
        yes: bool,
    },
    /// Bring a sync back from whatever state it is in, and wait for a good run.
    ///
    /// Reads the sync's state on its slave, then: paused -> resume; dropped,
    /// stalled, inactive, daemon down or stuck -> restart the slave's daemon
    /// (after setting a stalled or inactive sync active); not registered ->
    /// restart the slave's bucardo container, which registers it; daemon
    /// starting -> wait. Then waits for a good run and says what it did.
    #[command(after_help = EXIT_CODES)]
    Recover {
        sync: String,
        /// Restart the slave's daemon whatever the state says.
        #[arg(long)]
        reload: bool,
        #[arg(long, short)]
        yes: bool,
    },
    /// Restart a service's container on a host and wait until it is healthy.
    #[command(after_help = EXIT_CODES)]
    Restart {
        host: String,
        service: String,
        #[arg(long, short)]
        yes: bool,
    },
    /// Stop a service's container on a host.
    #[command(after_help = EXIT_CODES)]
    Stop {
        host: String,
        service: String,
        #[arg(long, short)]
        yes: bool,
    },
    /// Start a service's container on a host and wait until it is healthy.
    #[command(after_help = EXIT_CODES)]
    Start {
        host: String,
        service: String,
        #[arg(long, short)]
        yes: bool,
    },
    /// Deploy the stack from a checkout: plan, copy, then the role's runbook script on the host
    /// (./deploy.sh or ./deploy_slave.sh: `docker compose up -d --build`, wait healthy).
    #[command(after_help = EXIT_CODES)]
    Deploy {
        host: String,
        /// The checkout holding docker-compose.yml, .env, env.common, env.<role>, the deploy scripts and assets/.
        #[arg(long, value_name = "DIR", env = "ARCHTUI_CHECKOUT")]
        from: Option<PathBuf>,
        /// Show the plan only; change nothing.
        #[arg(long)]
        plan: bool,
        /// Deploy a master whose archive database is empty or new (deploy.sh refuses it otherwise).
        #[arg(long)]
        allow_empty: bool,
        #[arg(long, short)]
        yes: bool,
    },
}

impl ActionCommand {
    /// The action, and whether `--yes` was given.
    fn action(self) -> (Action, bool) {
        match self {
            ActionCommand::Kick { sync, wait, yes } => (
                Action::Kick {
                    sync,
                    wait_secs: wait,
                },
                yes,
            ),
            ActionCommand::Pause { sync, yes } => (Action::Pause { sync }, yes),
            ActionCommand::Resume { sync, yes } => (Action::Resume { sync }, yes),
            ActionCommand::Reload { slave, yes } => (Action::Reload { slave }, yes),
            ActionCommand::Recover { sync, reload, yes } => (Action::Recover { sync, reload }, yes),
            ActionCommand::Restart { host, service, yes } => {
                (Action::Restart { host, service }, yes)
            }
            ActionCommand::Stop { host, service, yes } => (Action::Stop { host, service }, yes),
            ActionCommand::Start { host, service, yes } => (Action::Start { host, service }, yes),
            ActionCommand::Deploy {
                host,
                from,
                plan,
                allow_empty,
                yes,
            } => (
                Action::Deploy {
                    host,
                    from: from.unwrap_or_default(),
                    plan_only: plan,
                    allow_empty,
                },
                yes,
            ),
        }
    }
}

pub async fn run(config: Config, cmd: ActionCommand, read_only_flag: bool) -> i32 {
    let (mut action, yes) = cmd.action();
    if let Action::Deploy { from, .. } = &mut action {
        if from.as_os_str().is_empty() {
            *from = actions::deploy::checkout_dir(config.checkout.clone());
        }
    }
    let given = Given {
        yes,
        typed: None,
        hint: "pass --yes to confirm",
    };
    run_action(config, action, given, read_only_flag).await
}

/// What the command line already said about the confirmation.
pub struct Given {
    /// `--yes`.
    pub yes: bool,
    /// A name given instead of typing it (`retire --confirm NAME`).
    pub typed: Option<String>,
    /// How to confirm without a terminal, for the refusal.
    pub hint: &'static str,
}

/// Any action headless: asks on the terminal unless the command line
/// answered, runs it through the shared runner, prints its output and
/// outcome; returns the exit code.
pub async fn run_action(config: Config, action: Action, given: Given, read_only_flag: bool) -> i32 {
    let read_only = (read_only_flag || config.read_only) && action.changes_fleet();
    let ctx = match Context::open(config) {
        Ok(c) => c,
        Err(e) => {
            super::warn(&format!("archtui: {e}"));
            return Status::Unreachable.exit_code();
        }
    };
    let (tx, printer) = crate::output::printer(crate::output::Style::PLAIN);
    let mut confirmed = given.yes || !action.needs_confirmation();
    // Asked only when the runner would act on the answer.
    if !confirmed && !read_only && action.validate().is_ok() {
        if let Ok(host) = action.resolve_host(&ctx.config) {
            let expect = action.type_to_confirm(&host);
            confirmed = match &given.typed {
                Some(answer) => confirmation_matches(answer, expect.as_deref()),
                None => {
                    if let Action::Deploy { from, .. } = &action {
                        show_plan(ctx.clone(), &host, from).await;
                    }
                    ask(&action, &host, given.hint, &tx).await
                }
            };
        }
    }
    let guard = Guard {
        read_only,
        confirmed,
    };
    let outcome = perform(ctx, &action, guard, &tx).await;
    drop(tx);
    let _ = printer.await;
    report(&outcome);
    outcome.status.exit_code()
}

/// The plan before the question, so the operator knows what they say yes
/// to: every line of it printed here, before `ask` prints the question
/// (not through the printer task, whose lines could come after it).
async fn show_plan(ctx: Arc<Context>, host: &archtui_core::config::Host, from: &std::path::Path) {
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    preview(ctx, host, from, &tx).await;
    drop(tx);
    while let Ok(line) = lines.try_recv() {
        crate::output::show(crate::output::Style::PLAIN, &line);
    }
}

async fn preview(
    ctx: Arc<Context>,
    host: &archtui_core::config::Host,
    from: &std::path::Path,
    tx: &actions::Progress,
) {
    match HostLink::open(ctx, host, next_link()).await {
        Err(f) => {
            let _ = tx.send(f.reason);
        }
        Ok(link) => {
            if let Some(s) = link.session() {
                if let Err(o) = actions::deploy::preview(&s, host, from, tx).await {
                    let _ = tx.send(o.message);
                }
            }
            link.close().await;
        }
    }
}

/// Asks on the terminal; without one, the answer is no. Default: Cancel.
async fn ask(
    action: &Action,
    host: &archtui_core::config::Host,
    hint: &str,
    tx: &actions::Progress,
) -> bool {
    let question = action.question(host);
    let expect = action.type_to_confirm(host);
    let prompt = match &expect {
        Some(name) => format!("{question}\nType the name ({name}) to confirm: "),
        None => format!("{question} [y/N] "),
    };
    super::prompt::confirm(prompt, expect.as_deref())
        .await
        .unwrap_or_else(|| {
            let _ = tx.send(format!("no terminal to ask on: {hint}"));
            false
        })
}

/// The outcome's line: stdout when done, stderr otherwise.
pub fn report(outcome: &Outcome) {
    if outcome.status == Status::Ok {
        super::say(&format!("archtui: {}", outcome.message));
    } else {
        super::warn(&format!("archtui: {}: {}", outcome.status, outcome.message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_defaults_to_cancel() {
        assert!(confirmation_matches("y", None));
        assert!(confirmation_matches("YES", None));
        assert!(!confirmation_matches("", None));
        assert!(!confirmation_matches("n", None));
        assert!(confirmation_matches("cavaforgepad", Some("cavaforgepad")));
        assert!(!confirmation_matches("y", Some("cavaforgepad")));
        assert!(!confirmation_matches("cavaforge", Some("cavaforgepad")));
    }

    #[test]
    fn subcommands_parse() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "archtui",
            "--read-only",
            "kick",
            "s1",
            "--wait",
            "30",
        ])
        .unwrap();
        assert!(cli.read_only);
        let cli = crate::cli::Cli::try_parse_from([
            "archtui", "deploy", "jukebox", "--plan", "--from", "/x",
        ]);
        assert!(cli.is_ok());
    }

    #[test]
    fn every_action_accepts_yes() {
        use clap::Parser;
        for args in [
            &["kick", "s1"][..],
            &["pause", "s1"],
            &["resume", "s1"],
            &["reload", "s"],
            &["recover", "s1"],
            &["restart", "h", "app"],
            &["stop", "h", "app"],
            &["start", "h", "app"],
            &["deploy", "h"],
            &["retire", "h"],
            &["provision", "h"],
        ] {
            for yes in ["--yes", "-y"] {
                let mut argv = vec!["archtui"];
                argv.extend(args);
                argv.push(yes);
                let parsed = crate::cli::Cli::try_parse_from(&argv);
                assert!(parsed.is_ok(), "{argv:?}: {}", parsed.err().unwrap());
            }
        }
    }
}
