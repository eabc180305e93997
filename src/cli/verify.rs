//! `archtui verify`: compares each slave's rows with the master's, and
//! with `--repair` has Bucardo send the differing rows again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use archtui_core::config::{Config, Role};
use archtui_core::credentials::Password;
use archtui_core::verify::report::{self, Report, SlaveReport};
use archtui_remote::actions::{Outcome, Status};
use archtui_remote::host::{next_link, Context, HostLink};
use archtui_remote::local::{audit, lock};
use archtui_remote::verify::engine::{self, Limits, Request};
use archtui_remote::verify::repair;

pub const VERIFY_HELP: &str = "Compares every replicated table (the sync's relgroup, less the \
heartbeat) of each slave with the master over primary-key ranges: both sides at once, each in a \
REPEATABLE READ READ ONLY snapshot with the same settings, by count(*) and a sum of 64-bit row \
hashes; chunks aim at 0.5 s; a range that differs is bisected down to rows. Keys with changes \
still pending for the slave in the master's delta tables are left out and rechecked once the \
slave's heartbeat has passed: rows in flight are never reported as differences. Verify pauses \
while the slave's lag is over the warning threshold and never writes on a slave. --repair shows \
a plan, asks (--yes does not), then re-sends exactly the missing and changed rows from the \
master (a no-op update of their keys, which Bucardo's trigger queues), or the whole table past \
--copy-above; extra rows on a slave are listed, never deleted. Every verify and repair appends an \
audit line; the last result per slave is kept for the metrics. --json: docs/verify-json.md. \
Exit codes: 0 equal; 1 differences; 2 refused or bad input (read-only mode for --repair, an \
unknown slave or table, the slave lagging too long, not confirmed); 3 unreachable or an unusable config.";

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Slaves to verify [default: every slave of the config].
    slaves: Vec<String>,
    /// Only these tables (comma-separated, `items` or `public.items`).
    #[arg(long, value_delimiter = ',', value_name = "T,...")]
    tables: Option<Vec<String>>,
    /// One JSON object on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    /// Re-send the missing and changed rows from the master (shows the plan, then asks).
    #[arg(long)]
    repair: bool,
    /// Do not ask before repairing.
    #[arg(long, short)]
    yes: bool,
    /// Differing rows in one table past which --repair re-sends the whole table.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    copy_above: u64,
    /// Each statement's limit, on the server too (statement_timeout).
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    statement_timeout: u64,
}

/// A slave's repair, as `--json` shows it.
#[derive(Debug, Serialize)]
struct RepairDone {
    slave: String,
    plan: repair::Plan,
    confirmed: bool,
    result: Status,
    message: String,
    /// The verify after the repair.
    after: Option<SlaveReport>,
}

#[derive(Debug, Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    verify: &'a Report,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    repairs: Vec<RepairDone>,
}

pub async fn run(config: Config, args: VerifyArgs, read_only_flag: bool) -> i32 {
    if let Some(bad) = args
        .tables
        .iter()
        .flatten()
        .find(|t| t.trim().is_empty() || t.chars().any(char::is_control))
    {
        super::warn(&format!("archtui: --tables: {bad:?} is not a table name"));
        return 2;
    }
    let req = Request {
        slaves: args.slaves.clone(),
        tables: args.tables.clone(),
    };
    if let Err(e) = engine::slaves_of(&config, &req) {
        super::warn(&format!("archtui: {e}"));
        return 2;
    }
    let read_only = read_only_flag || config.read_only;
    if args.repair && read_only {
        let why = "read-only mode (--read-only or read_only = true in the config): refusing verify --repair";
        let _ = audit::append_work(
            "repair",
            "-",
            audit_args(&args),
            false,
            &Outcome::refused(why),
            Duration::ZERO,
        );
        super::warn(&format!("archtui: refused: {why}"));
        return 2;
    }
    let mut limits = Limits::from_config(&config);
    limits.statement_timeout = Duration::from_secs(args.statement_timeout);
    let password = match Password::resolve(&config.database) {
        Ok(p) => p,
        Err(e) => {
            super::warn(&format!("archtui: {e}"));
            return 3;
        }
    };
    let ctx = match engine::context(&config, password, &limits) {
        Ok(c) => c,
        Err(e) => {
            super::warn(&format!(
                "archtui: cannot create a private run directory: {e}"
            ));
            return 3;
        }
    };
    let (tx, printer) = crate::output::printer(crate::output::Style {
        stderr: true,
        ..crate::output::Style::PLAIN
    });
    let clock = Instant::now();
    let report = engine::run(ctx.clone(), &req, limits, &tx).await;
    record(&report, &args, clock.elapsed());
    let mut code = report.exit_code;
    let mut repairs = Vec::new();
    if args.repair {
        for s in report.slaves.iter().filter(|s| s.differences() > 0) {
            let done = repair_slave(ctx.clone(), s, &args, limits, &tx).await;
            if let Some(after) = &done.after {
                code = Report::new(chrono::Utc::now(), vec![after.clone()]).exit_code;
            } else if done.result != Status::Ok {
                code = code.max(if done.result == Status::Unreachable {
                    3
                } else {
                    2
                });
            }
            repairs.push(done);
        }
    }
    drop(tx);
    let _ = printer.await;
    if args.json {
        crate::output::say_json(&Document {
            verify: &report,
            repairs,
        });
    } else {
        super::say(&report::text(&report));
        for r in &repairs {
            super::say(&format!(
                "repair of {}: {}: {}",
                r.slave, r.result, r.message
            ));
            if let Some(a) = &r.after {
                super::say(&report::slave_text(a).join("\n"));
            }
        }
    }
    code
}

fn audit_args(args: &VerifyArgs) -> Vec<String> {
    let mut a = args.slaves.clone();
    if let Some(t) = &args.tables {
        a.extend(["--tables".into(), t.join(",")]);
    }
    if args.repair {
        a.push("--repair".into());
    }
    a
}

/// The last result per slave (for the metrics) and one audit line each.
fn record(report: &Report, args: &VerifyArgs, took: Duration) {
    let mut a = audit_args(args);
    a.retain(|x| x != "--repair");
    for w in archtui_remote::verify::record(report, &a, took) {
        super::warn(&format!("archtui: {w}"));
    }
}

/// A repair of `s` without a question (the caller asked), for a rejoin:
/// its status and one line.
pub(super) async fn repair_now(
    ctx: Arc<Context>,
    s: &SlaveReport,
    limits: Limits,
    tx: &archtui_remote::actions::Progress,
) -> (Status, String) {
    let args = VerifyArgs {
        slaves: vec![s.slave.clone()],
        tables: None,
        json: false,
        repair: true,
        yes: true,
        copy_above: 10_000,
        statement_timeout: 30,
    };
    let d = repair_slave(ctx, s, &args, limits, tx).await;
    (d.result, d.message)
}

/// Plan, question, repair on the master, then the same tables verified
/// again once the slave has caught up; one audit line.
async fn repair_slave(
    ctx: Arc<Context>,
    s: &SlaveReport,
    args: &VerifyArgs,
    limits: Limits,
    tx: &archtui_remote::actions::Progress,
) -> RepairDone {
    let start = Instant::now();
    let plan = repair::plan(s, args.copy_above);
    for line in repair::lines(&plan) {
        let _ = tx.send(line);
    }
    let done = |confirmed, outcome: Outcome, after| {
        let mut a = vec![s.slave.clone()];
        a.extend(plan.tables.iter().map(|t| {
            format!(
                "{}:{}",
                t.table,
                match t.mode {
                    repair::Mode::Keys => format!("{} keys", t.keys.len()),
                    repair::Mode::WholeTable => "whole table".into(),
                }
            )
        }));
        if let Err(e) =
            audit::append_work("repair", &s.slave, a, confirmed, &outcome, start.elapsed())
        {
            let _ = tx.send(format!("warning: {e}"));
        }
        RepairDone {
            slave: s.slave.clone(),
            plan: plan.clone(),
            confirmed,
            result: outcome.status,
            message: outcome.message,
            after,
        }
    };
    if !plan.sends() {
        return done(
            false,
            Outcome::ok("nothing to re-send: only extra rows, which are kept"),
            None,
        );
    }
    let confirmed = args.yes || {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let q = format!(
            "Repair {} from the master as planned above? [y/N] ",
            s.slave
        );
        match super::prompt::confirm(q, None).await {
            Some(yes) => yes,
            None => {
                return done(
                    false,
                    Outcome::refused("not confirmed: no terminal to ask on: pass --yes to confirm"),
                    None,
                );
            }
        }
    };
    if !confirmed {
        return done(
            false,
            Outcome::refused("cancelled at the confirmation"),
            None,
        );
    }
    let _held = match lock::try_lock(&audit::state_dir(), &format!("repair-{}", s.slave)) {
        Ok(l) => l,
        Err(e) => return done(true, Outcome::refused(e), None),
    };
    let config = &ctx.config;
    let Some(master) = config.hosts().into_iter().find(|h| h.role == Role::Master) else {
        return done(true, Outcome::refused("the config has no master"), None);
    };
    let applied = async {
        let link = HostLink::open(ctx.clone(), &master, next_link())
            .await
            .map_err(|f| Outcome::new(Status::Unreachable, f.reason))?;
        let r = async {
            let pg = link
                .connect(&config.database.name)
                .await
                .map_err(|e| Outcome::new(Status::Unreachable, e))?;
            pg.execute_batch(&format!(
                "SET statement_timeout = {}; SET application_name = 'archtui repair'",
                limits.statement_timeout.as_millis()
            ))
            .await
            .map_err(Outcome::failed)?;
            let target = format!("dbgroup {}_grp", s.slave);
            repair::apply(&pg, &plan, &target, tx)
                .await
                .map_err(Outcome::failed)
        }
        .await;
        link.close().await;
        r
    };
    let at = match applied.await {
        Ok(t) => t,
        Err(o) => return done(true, o, None),
    };
    // The slave applies it: a whole table can take minutes (~14k rows/s).
    let whole = plan
        .tables
        .iter()
        .any(|t| t.mode == repair::Mode::WholeTable);
    let within = if whole {
        Duration::from_secs(1800)
    } else {
        limits.catch_up
    };
    let _ = tx.send(format!("waiting for {} to apply the repair", s.slave));
    if let Err(o) = caught_up(ctx.clone(), &s.slave, at, within).await {
        return done(true, o, None);
    }
    let again = Request {
        slaves: vec![s.slave.clone()],
        tables: Some(plan.tables.iter().map(|t| t.table.clone()).collect()),
    };
    let after = engine::run(ctx.clone(), &again, limits, tx).await;
    record(&after, args, start.elapsed());
    let after = after.slaves.into_iter().next();
    let message = match &after {
        Some(a) => {
            let left: u64 = a
                .tables
                .iter()
                .map(|t| t.missing.count + t.changed.count)
                .sum();
            let extra: u64 = a.tables.iter().map(|t| t.extra.count).sum();
            format!("re-sent; verified again: {left} missing or changed rows left, {extra} extra rows kept")
        }
        None => "re-sent".into(),
    };
    done(true, Outcome::ok(message), after)
}

/// Until the slave's heartbeat passes `at` (the repair's commit).
async fn caught_up(
    ctx: Arc<Context>,
    slave: &str,
    at: archtui_core::model::Time,
    within: Duration,
) -> Result<(), Outcome> {
    let host = ctx
        .config
        .hosts()
        .into_iter()
        .find(|h| h.name == slave)
        .ok_or_else(|| Outcome::refused(format!("no host {slave}")))?;
    let link = HostLink::open(ctx.clone(), &host, next_link())
        .await
        .map_err(|f| Outcome::new(Status::Unreachable, f.reason))?;
    let db = &ctx.config.database;
    let r = match link.connect(&db.name).await {
        Ok(pg) => engine::wait_heartbeat(&pg, slave, &db.heartbeat_table, at, within)
            .await
            .map_err(|e| Outcome::new(Status::Timeout, e)),
        Err(e) => Err(Outcome::new(Status::Unreachable, e)),
    };
    link.close().await;
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_parses() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "archtui",
            "verify",
            "jukebox",
            "turntable",
            "--tables",
            "items,public.files",
            "--json",
            "--repair",
            "-y",
        ])
        .unwrap();
        let Some(super::super::Command::Verify(a)) = cli.command else {
            panic!("not verify")
        };
        assert_eq!(a.slaves, ["jukebox", "turntable"]);
        assert_eq!(a.tables.unwrap(), ["items", "public.files"]);
        assert!(a.json && a.repair && a.yes);
        assert_eq!(a.copy_above, 10_000);
        assert!(
            crate::cli::Cli::try_parse_from(["archtui", "verify", "--statement-timeout", "0"])
                .is_err()
        );
    }
}
