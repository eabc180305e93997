//! `archtui status`: one look at the fleet, as a table or JSON.

use std::io::Write;
use std::time::Duration;

use crate::cli::{self as super_cli, table, Format, StatusArgs, EXIT_UNKNOWN};
use archtui_core::config::{Config, Thresholds};
use archtui_core::fleet;
use archtui_core::fleet::FleetStatus;
use archtui_core::observation::HostObservation;
use archtui_remote::served::Shelf;
use archtui_remote::{host::Context, supervisor};

pub async fn run(config: Config, path: &std::path::Path, args: StatusArgs) -> i32 {
    let thresholds = Thresholds {
        lag_warning_secs: args.warning.unwrap_or(config.thresholds.lag_warning_secs),
        lag_critical_secs: args.critical.unwrap_or(config.thresholds.lag_critical_secs),
        ..config.thresholds
    };
    if !(thresholds.lag_warning_secs > 0.0
        && thresholds.lag_warning_secs < thresholds.lag_critical_secs)
    {
        crate::cli::warn("archtui: need 0 < --warning < --critical");
        return EXIT_UNKNOWN;
    }
    let ctx = match Context::open(config) {
        Ok(c) => c,
        Err(e) => {
            crate::cli::warn(&format!("archtui: {e}"));
            return EXIT_UNKNOWN;
        }
    };
    match args.watch {
        None => {
            let (observations, by, leave_one) = match served(&ctx, args.fresh).await {
                Served::Used(o, by) => (o, Some(by), false),
                Served::NotUsed { leave_one } => (
                    archtui_remote::observe_once(ctx.clone()).await,
                    None,
                    leave_one,
                ),
            };
            let mut status = with_journal(fleet::assemble(
                &ctx.config,
                thresholds,
                &observations,
                chrono::Utc::now(),
            ));
            status.observed_by = by;
            print(&status, format(&args));
            if leave_one {
                super::observe::leave_behind(path, &ctx.config);
            }
            status.verdict.exit_code
        }
        Some(secs) => {
            // The flag's parser bounds it; this never panics either way.
            let every = Duration::try_from_secs_f64(secs.clamp(0.2, super_cli::MAX_WATCH_SECS))
                .unwrap_or(Duration::from_secs(5));
            watch(ctx, thresholds, every, format(&args)).await
        }
    }
}

enum Served {
    Used(Vec<HostObservation>, archtui_core::served::ObservedBy),
    /// The one-shot observes for itself; `leave_one`: no observer
    /// answered, so it may leave one for the next (not after `--fresh`,
    /// which did not ask).
    NotUsed {
        leave_one: bool,
    },
}

/// A running observer's readings of this config's hosts (the console,
/// `status --watch`, `serve`, or one a one-shot left), when every one is
/// fresh and newer than the last operator action in the audit log: the
/// one-shot then opens nothing. `--fresh`, no observer, or a stale
/// reading: the one-shot observes for itself.
async fn served(ctx: &Context, fresh: bool) -> Served {
    use archtui_core::served;
    if fresh {
        return Served::NotUsed { leave_one: false };
    }
    let Some(doc) = archtui_remote::served::fetch(&ctx.config, SERVED_WITHIN).await else {
        return Served::NotUsed { leave_one: true };
    };
    let hosts = ctx.config.hosts();
    let last_action = std::fs::metadata(archtui_remote::local::audit::log_path())
        .and_then(|m| m.modified())
        .ok()
        .map(chrono::DateTime::<chrono::Utc>::from);
    let now = chrono::Utc::now();
    match served::accept(doc, &hosts, now, served::MAX_AGE_SECS, last_action) {
        Ok((o, by)) => Served::Used(o, by),
        Err(why) => {
            tracing::debug!(why, "a running observer's readings are not used");
            Served::NotUsed { leave_one: false }
        }
    }
}

/// An observer answers from memory at once; one that does not within
/// this is stopped or overloaded, and the one-shot looks for itself.
const SERVED_WITHIN: Duration = Duration::from_millis(500);

/// The fleet's status with what the local journals add: an open
/// switchover is in the verdict (critical while it refuses writes). A
/// journal that cannot be read says so, as unknown.
pub fn with_journal(mut status: FleetStatus<'_>) -> FleetStatus<'_> {
    use archtui_core::verdict::{Finding, Level};
    let path = archtui_remote::switchover::journal_path(&archtui_remote::local::audit::state_dir());
    let more = match archtui_remote::switchover::load_journal(&path) {
        Ok(None) => return status,
        Ok(Some(j)) => archtui_core::switchover::finding(&j),
        Err(e) => Finding {
            level: Level::Unknown,
            message: e,
        },
    };
    status.verdict = status.verdict.with(vec![more]);
    status
}

fn format(args: &StatusArgs) -> Format {
    if args.json {
        Format::Json
    } else {
        args.format
    }
}

fn print(status: &FleetStatus, format: Format) {
    let mut out = std::io::stdout().lock();
    let text = match format {
        Format::Json => crate::cli::json_out(status) + "\n",
        Format::Table => table::render(status, chrono::Utc::now()),
        Format::Openmetrics => {
            let last = archtui_remote::verify::store::load(&archtui_remote::verify::store::path());
            archtui_core::metrics::render(status, &last)
        }
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Prints every `every` from long-lived per-host supervisors, until
/// Ctrl-C; the exit code is the last verdict's. JSON output is one
/// object per line.
async fn watch(
    ctx: std::sync::Arc<Context>,
    thresholds: Thresholds,
    every: Duration,
    format: Format,
) -> i32 {
    let hosts = ctx.config.hosts();
    let (mut rx, handles) = supervisor::spawn_all(&ctx, every);
    // The latest readings, which one-shot `status` commands on this
    // config read too.
    let shelf = Shelf::new(&hosts);
    let _served = archtui_remote::served::serve(&ctx.config, shelf.clone(), "watch");
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    // SIGTERM ends it as Ctrl-C does: its socket goes with it.
    let stop = super_cli::stop_signal();
    tokio::pin!(stop);
    let mut code = EXIT_UNKNOWN;
    loop {
        tokio::select! {
            Some(obs) = rx.recv() => {
                shelf.put(&obs);
            }
            _ = tick.tick() => {
                let current = HostObservation::latest_or_connecting(&shelf.snapshot(), &hosts, chrono::Utc::now());
                let status = with_journal(fleet::assemble(
                    &ctx.config,
                    thresholds,
                    &current,
                    chrono::Utc::now(),
                ));
                code = status.verdict.exit_code;
                if format == Format::Table {
                    let _ = writeln!(std::io::stdout());
                }
                print(&status, format);
            }
            () = &mut stop => break,
        }
    }
    for h in handles {
        h.abort();
    }
    code
}
