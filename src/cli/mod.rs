//! Command-line interface: argument parsing and the headless subcommands.

mod actions;
mod check;
mod observe;
mod prompt;
mod provision;
mod rejoin;
mod serve;
mod status;
mod switchover;
use archtui_core::switchover::Kind;
mod table;
mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::output::{json_out, need_terminal, say, warn, EXIT_UNKNOWN};

use archtui_core::config::{self, Config, CONFIG_ENV};

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
    /// Append a debug log (connects, timeouts, remote commands, action steps;
    /// secrets redacted) to FILE [also ARCHTUI_LOG=FILE, or 1 for
    /// $XDG_STATE_HOME/archtui/archtui.log; or `[log] file` in the config]
    #[arg(long, global = true, value_name = "FILE")]
    log_file: Option<PathBuf>,
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
    /// Serve the fleet's metrics for Prometheus (GET /metrics), keeping the connections open.
    #[command(after_help = serve::SERVE_HELP)]
    Serve(serve::ServeArgs),
    /// Compare each slave's rows with the master's; --repair re-sends the differing ones.
    #[command(after_help = verify::VERIFY_HELP)]
    Verify(verify::VerifyArgs),
    /// Trust a host's SSH key by its fingerprint, after comparing it with the host's own.
    #[command(after_help = TRUST_HELP)]
    TrustHostKey {
        /// A host of the config, or an ssh destination.
        host: String,
        /// The SHA256:... fingerprint you compared (`archtui check` shows the offered one).
        fingerprint: String,
    },
    /// Move the master's role to a slave with zero data loss (pre-checks, plan, typed name, resumable steps).
    #[command(after_help = switchover::SWITCHOVER_HELP)]
    Switchover(switchover::SwitchoverArgs),
    /// The master is gone: a slave takes its role (pre-checks rank the slaves by heartbeat, the bound on lost writes shown; resumable).
    #[command(after_help = switchover::FAILOVER_HELP)]
    Failover(switchover::SwitchoverArgs),
    /// Make a host a failover left behind (the fenced old master, an unreachable slave) a slave of the master again; rows only it holds are saved and reported.
    #[command(after_help = rejoin::REJOIN_HELP)]
    Rejoin(rejoin::RejoinArgs),
    /// Close the SSH connections kept open between commands ([ssh] persist_secs) and stop the observers one-shots left ([ssh] observer_persist_secs).
    #[command(after_help = DISCONNECT_HELP)]
    Disconnect,
    /// The background observer a one-shot `status` leaves ([ssh] observer_persist_secs).
    #[command(hide = true)]
    Observe,
}

const DISCONNECT_HELP: &str = "Each kept master is asked to stop: it ends once the sessions on it end (a running console reconnects on its own). Every observer a one-shot `status` left behind is stopped too; a running console, `status --watch` and `serve` go on. Use it after changing ssh settings or keys, or before leaving the machine. Needs no config. Exit codes: 0 done; 1 the masters' directory is unusable.";

const TRUST_HELP: &str = "The key is fetched through your ssh config (ProxyJump, HostKeyAlias, \
port), and only a key with exactly this fingerprint is added to the first UserKnownHostsFile, \
under the name ssh looks it up by, hashed when HashKnownHosts is set. A host already known with \
another key is refused: remove the old key first (ssh-keygen -R), only after checking why it \
changed. Appends an audit line. Exit codes: 0 trusted (or already); 2 refused; 3 the config is unusable.";

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// One JSON object instead of the table (the same as --format json).
    #[arg(long)]
    json: bool,
    /// table, json, or openmetrics (metrics text for a node_exporter textfile collector).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Repeat every SECS seconds (0.2 to 86400), keeping the connections open.
    #[arg(long, value_name = "SECS", value_parser = watch_secs)]
    watch: Option<f64>,
    /// Observe the hosts anew over this command's own connections, even
    /// when a running console, `status --watch`, `serve` or an observer a
    /// one-shot left ([ssh] observer_persist_secs) on the same config holds
    /// readings under 10 s old (which a one-shot otherwise prints, naming
    /// that observer); it leaves no observer either.
    #[arg(long, conflicts_with = "watch")]
    fresh: bool,
    /// Lag warning threshold in seconds [default: from the config].
    #[arg(long, value_name = "SECS", value_parser = threshold_secs)]
    warning: Option<f64>,
    /// Lag critical threshold in seconds [default: from the config].
    #[arg(long, value_name = "SECS", value_parser = threshold_secs)]
    critical: Option<f64>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Openmetrics,
}

/// Longest `--watch` period: a day.
pub const MAX_WATCH_SECS: f64 = 86_400.0;

/// `--watch SECS`: a finite number of seconds, 0.2 to a day (`inf`, NaN
/// and negatives are refused here, not by a panic in `Duration`).
fn watch_secs(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.2..=MAX_WATCH_SECS).contains(&v) => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds from 0.2 to {MAX_WATCH_SECS}"
        )),
    }
}

/// `--warning`/`--critical SECS`: a finite number of seconds above 0.
fn threshold_secs(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds above 0")),
    }
}

/// The exit code of a command line clap refused: 0 for --help and
/// --version; for `status` and `check`, whose 2 means critical / failed,
/// UNKNOWN; for the actions 2, refused (bad arguments), as documented.
pub fn usage_exit_code(e: &clap::Error, argv: impl IntoIterator<Item = String>) -> i32 {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return 0;
    }
    let sub = argv.into_iter().skip(1).find(|a| !a.starts_with('-'));
    match sub.as_deref() {
        Some("status" | "check" | "serve") | None => EXIT_UNKNOWN,
        _ => 2,
    }
}

pub async fn run(cli: Cli) -> i32 {
    let path = cli.config.unwrap_or_else(config::default_path);
    let env = std::env::var(crate::debuglog::LOG_ENV).ok();
    start_log(cli.log_file.as_deref(), env.as_deref(), None);
    match cli.command {
        Some(Command::Status(args)) => match load(&path) {
            Some(config) => status::run(config, &path, args).await,
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
        Some(Command::Serve(args)) => match load(&path) {
            Some(config) => serve::run(config, args).await,
            None => EXIT_UNKNOWN,
        },
        Some(Command::Verify(args)) => match load(&path) {
            Some(config) => interruptible(verify::run(config, args, cli.read_only), false).await,
            None => EXIT_UNKNOWN,
        },
        Some(Command::Switchover(args)) => match load(&path) {
            Some(config) => {
                let work = switchover::run(config, &path, args, cli.read_only, Kind::Switchover);
                interruptible(work, false).await
            }
            None => EXIT_UNKNOWN,
        },
        Some(Command::Failover(args)) => match load(&path) {
            Some(config) => {
                let work = switchover::run(config, &path, args, cli.read_only, Kind::Failover);
                interruptible(work, false).await
            }
            None => EXIT_UNKNOWN,
        },
        Some(Command::Rejoin(args)) => match load(&path) {
            Some(config) => {
                interruptible(rejoin::run(config, &path, args, cli.read_only), false).await
            }
            None => EXIT_UNKNOWN,
        },
        Some(Command::Disconnect) => disconnect().await,
        Some(Command::Observe) => match load(&path) {
            Some(config) => observe::run(config).await,
            None => EXIT_UNKNOWN,
        },
        Some(Command::TrustHostKey { host, fingerprint }) => match load(&path) {
            Some(config) => trust_host_key(&config, &host, &fingerprint).await,
            None => EXIT_UNKNOWN,
        },
        None => {
            if let Err(e) = need_terminal() {
                warn(&e.to_string());
                return EXIT_UNKNOWN;
            }
            match load(&path) {
                Some(mut config) => {
                    config.read_only |= cli.read_only;
                    interruptible(crate::tui::run(config, path, None), true).await
                }
                None => EXIT_UNKNOWN,
            }
        }
    }
}

/// Resolves at SIGTERM or SIGINT: the end of a command that runs until
/// told to stop (`status --watch`, `serve`, the observer).
pub(crate) async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `archtui trust-host-key HOST FINGERPRINT`, with its audit line.
async fn trust_host_key(config: &Config, host: &str, fp: &str) -> i32 {
    let start = std::time::Instant::now();
    let dest = config
        .hosts()
        .into_iter()
        .find(|h| h.name == host)
        .map_or_else(|| host.to_string(), |h| h.ssh);
    let r = archtui_remote::wizard::ssh_dest::trust_host_key(config, &dest, fp).await;
    let outcome = match &r {
        Ok(m) => archtui_remote::actions::Outcome::ok(m.clone()),
        Err(e) => archtui_remote::actions::Outcome::refused(e.to_string()),
    };
    let args = vec![dest, fp.to_string()];
    let took = start.elapsed();
    if let Err(e) = archtui_remote::local::audit::append_work(
        "trust-host-key",
        host,
        args,
        true,
        &outcome,
        took,
    ) {
        warn(&format!("archtui: warning: {e}"));
    }
    actions::report(&outcome);
    outcome.status.exit_code()
}

/// `archtui disconnect`: stops every kept SSH master, with its audit line.
async fn disconnect() -> i32 {
    let start = std::time::Instant::now();
    let observers = archtui_remote::served::stop_left_behind().await;
    let outcome = match archtui_remote::ssh::disconnect_all().await {
        Ok((n, dir)) => archtui_remote::actions::Outcome::ok(format!(
            "{n} kept ssh connection(s) asked to close, {observers} background observer(s) stopped; {} cleared",
            dir.display()
        )),
        Err(e) => archtui_remote::actions::Outcome::failed(format!(
            "the kept ssh connections' directory: {e}"
        )),
    };
    if let Err(e) = archtui_remote::local::audit::append_work(
        "disconnect",
        "-",
        Vec::new(),
        true,
        &outcome,
        start.elapsed(),
    ) {
        warn(&format!("archtui: warning: {e}"));
    }
    actions::report(&outcome);
    outcome.status.exit_code()
}

/// Runs `work` until it ends or SIGTERM, SIGINT or SIGHUP arrives (a
/// closed terminal, a killed session). Then every action under way gets its
/// `interrupted` audit line, naming the remote job it leaves running (jobs
/// run detached on their hosts and go on), the terminal is given back when
/// `terminal` says the console had it, and the exit code is 5.
async fn interruptible(work: impl std::future::Future<Output = i32>, terminal: bool) -> i32 {
    let (tx, said) = tokio::sync::oneshot::channel();
    // On a task of its own: a console whose terminal died is stuck inside
    // crossterm's read of it (a dead tty stays readable and read returns 0
    // or EIO, which crossterm retries for ever: crossterm #793), so a
    // branch of the console's own task would never run. The audit lines
    // are written here at once, while `work` (whose guards list the
    // actions under way) is still alive.
    let watcher = tokio::spawn(async move {
        let name = signalled(terminal).await;
        let why = format!("interrupted by {name}");
        let lines =
            archtui_remote::local::audit::interrupted(&why, &archtui_remote::job::in_flight());
        let _ = tx.send((why.clone(), lines.clone()));
        // `work` did not end: its task is stuck; end the process.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        interrupted(terminal, &why, &lines);
        std::process::exit(archtui_remote::actions::Status::Interrupted.exit_code());
    });
    tokio::select! {
        code = work => {
            watcher.abort();
            code
        }
        Ok((why, lines)) = said => {
            watcher.abort();
            interrupted(terminal, &why, &lines);
            archtui_remote::actions::Status::Interrupted.exit_code()
        }
    }
}

/// The terminal given back (if the console had it) and why it ended.
fn interrupted(terminal: bool, why: &str, said: &[String]) {
    if terminal {
        ratatui::restore();
    }
    if said.is_empty() {
        warn(&format!("archtui: {why}"));
    }
    for line in said {
        warn(&format!("archtui: interrupted: {line}"));
    }
}

/// Resolves once stdin, a terminal, has hung up: a console left without
/// one (its window closed while SIGHUP went elsewhere) ends instead of
/// spinning. Polls without reading, so no key is taken.
async fn terminal_gone() {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let gone = tokio::task::spawn_blocking(|| {
            let stdin = rustix::stdio::stdin();
            let mut fds = [PollFd::new(&stdin, PollFlags::empty())];
            let zero = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            poll(&mut fds, Some(&zero)).is_ok()
                && fds[0]
                    .revents()
                    .intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL)
        })
        .await
        .unwrap_or(false);
        if gone {
            return;
        }
    }
}

/// The first of SIGTERM, SIGINT, SIGHUP (or, for the console, its
/// terminal gone), by name; never, if none of them can be watched.
async fn signalled(terminal: bool) -> &'static str {
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
        () = next(&mut term) => "SIGTERM",
        () = next(&mut int) => "SIGINT",
        () = next(&mut hup) => "SIGHUP",
        () = async {
            if terminal {
                terminal_gone().await;
            } else {
                std::future::pending::<()>().await;
            }
        } => "its terminal hanging up",
    }
}

/// Starts the debug log if the command line, the environment or the
/// config asks for one; a log that cannot be opened is a warning.
pub(crate) fn start_log(
    flag: Option<&std::path::Path>,
    env: Option<&str>,
    config: Option<&std::path::Path>,
) {
    if crate::debuglog::started() {
        return;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Some(file) = crate::debuglog::choose(flag, env, config, home.as_deref()) {
        if let Err(e) = crate::debuglog::start(&file) {
            warn(&format!("archtui: debug log {}: {e}", file.display()));
        }
    }
}

fn load(path: &std::path::Path) -> Option<Config> {
    match Config::load(path) {
        Ok(c) => {
            start_log(None, None, c.log.file.as_deref());
            Some(c)
        }
        Err(e) => {
            warn(&format!("archtui: {e}"));
            None
        }
    }
}
