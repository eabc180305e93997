//! Command-line interface: argument parsing and the headless subcommands.

mod actions;
mod check;
mod prompt;
mod provision;
mod status;
mod table;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, CONFIG_ENV};

/// archtui: operations console for a Bucardo-replicated PostgreSQL archive fleet.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Config file [default: $XDG_CONFIG_HOME/archtui/config.toml]
    #[arg(long, global = true, env = CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Refuse every action (also `read_only = true` in the config).
    #[arg(long, global = true)]
    read_only: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the fleet's state once (or every SECS); exit 0 ok, 1 warning, 2 critical, 3 unknown.
    Status(StatusArgs),
    /// Validate the config, then try every layer of every host and say how to fix what fails.
    Check,
    #[command(flatten)]
    Action(actions::ActionCommand),
    /// Turn a bare host into a verified replicating slave (pre-flight, plan, steps; resumable).
    Provision(provision::ProvisionArgs),
    /// Remove a slave from the master's Bucardo and the config; --stop also stops its stack.
    Retire(provision::RetireArgs),
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Repeat every SECS seconds, keeping the connections open.
    #[arg(long, value_name = "SECS")]
    watch: Option<f64>,
    /// Lag warning threshold in seconds [default: from the config].
    #[arg(long, value_name = "SECS")]
    warning: Option<f64>,
    /// Lag critical threshold in seconds [default: from the config].
    #[arg(long, value_name = "SECS")]
    critical: Option<f64>,
}

/// Exit code for anything that prevents a verdict (monitoring's UNKNOWN).
pub const EXIT_UNKNOWN: i32 = 3;

pub async fn run(cli: Cli) -> i32 {
    let path = cli.config.unwrap_or_else(config::default_path);
    match cli.command {
        Some(Command::Status(args)) => match load(&path) {
            Some(config) => status::run(config, args).await,
            None => EXIT_UNKNOWN,
        },
        Some(Command::Check) => check::run(&path).await,
        Some(Command::Action(cmd)) => match load(&path) {
            Some(config) => interruptible(actions::run(config, cmd, cli.read_only), false).await,
            None => EXIT_UNKNOWN,
        },
        Some(Command::Provision(args)) => match load(&path) {
            Some(config) => {
                let terminal = args.tui;
                let work = provision::provision(config, &path, args, cli.read_only);
                interruptible(work, terminal).await
            }
            None => EXIT_UNKNOWN,
        },
        Some(Command::Retire(args)) => match load(&path) {
            Some(config) => {
                let work = provision::retire_cmd(config, &path, args, cli.read_only);
                interruptible(work, false).await
            }
            None => EXIT_UNKNOWN,
        },
        None => match load(&path) {
            Some(mut config) => {
                config.read_only |= cli.read_only;
                interruptible(crate::tui::run(config, path.clone(), None), true).await
            }
            None => EXIT_UNKNOWN,
        },
    }
}

/// Runs `work` until it ends or SIGTERM, SIGINT or SIGHUP arrives (a
/// closed terminal, a killed session). Then every action under way gets its
/// `interrupted` audit line, naming the remote job it leaves running (jobs
/// run detached on their hosts and go on), the terminal is given back when
/// `terminal` says the console had it, and the exit code is 5.
async fn interruptible(work: impl std::future::Future<Output = i32>, terminal: bool) -> i32 {
    tokio::select! {
        code = work => code,
        name = signalled() => {
            if terminal {
                ratatui::restore();
            }
            let why = format!("interrupted by {name}");
            let said = crate::actions::audit::interrupted(&why, &crate::remote::job::in_flight());
            if said.is_empty() {
                eprintln!("archtui: {why}");
            }
            for line in said {
                eprintln!("archtui: interrupted: {line}");
            }
            crate::actions::Status::Interrupted.exit_code()
        }
    }
}

/// The first of SIGTERM, SIGINT, SIGHUP, by name; never, if none of them
/// can be watched.
async fn signalled() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let watch = |kind| signal(kind).ok();
    let (mut term, mut int, mut hup) = (
        watch(SignalKind::terminate()),
        watch(SignalKind::interrupt()),
        watch(SignalKind::hangup()),
    );
    async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        _ = next(&mut term) => "SIGTERM",
        _ = next(&mut int) => "SIGINT",
        _ = next(&mut hup) => "SIGHUP",
    }
}

fn load(path: &std::path::Path) -> Option<Config> {
    match Config::load(path) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("archtui: {e}");
            None
        }
    }
}
