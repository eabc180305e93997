//! `archtui rejoin HOST`: a host a failover left behind becomes a slave of
//! the master again; what only it holds is saved and reported, never
//! dropped.

use std::path::Path;
use std::time::Instant;

use clap::Args;

use archtui_core::config::{Config, Role};
use archtui_remote::actions::{Outcome, Status};
use archtui_remote::host::Context;
use archtui_remote::local::audit;
use archtui_remote::switchover::{self as so, Run};
use archtui_remote::verify::engine::{self, Limits, Request};

#[derive(Args, Debug)]
pub struct RejoinArgs {
    /// The host: the old master a failover fenced, or a slave it left behind.
    pub host: String,
    /// Do not ask (scripts).
    #[arg(long)]
    pub yes: bool,
    /// The host's name, typed in advance instead of at the prompt.
    #[arg(long, value_name = "NAME")]
    pub confirm: Option<String>,
}

pub const REJOIN_HELP: &str = "For a host a failover left behind: the old master (fenced in the config) once it is back, or a slave that was unreachable. Its data stays; it registers with the master without a copy.

Steps (each idempotent: run the command again after a failure):
  1 its app and bucardo stop (no more writes there)
  2 its env.slave points at the master (the old file kept as env.slave.before-switchover)
  3 ./deploy_slave.sh --allow-data --role-change: it registers with the master, no copy
  4 a verify of it against the master. Rows only it holds, and its own versions of rows that differ, are saved whole as JSON lines to $XDG_STATE_HOME/archtui/rejoin/HOST-TIME.jsonl (0600) and listed. Rows only it holds stay on it: insert them on the master or delete them there, as you decide. Rows it lacks or holds in another version are re-sent from the master.
  5 the config: fenced removed

Exit codes: 0 done; 1 a step failed (fix it and run the command again); 2 refused (the confirmation, read-only, a switchover or failover under way, the host is the master); 3 the config or the password is unusable.";

pub async fn run(config: Config, config_path: &Path, args: RejoinArgs, read_only: bool) -> i32 {
    let clock = Instant::now();
    let (o, confirmed) = match rejoin(config, config_path, &args, read_only).await {
        Ok(o) => (o, true),
        Err(o) => (o, false),
    };
    let a = vec![args.host.clone()];
    if let Err(e) = audit::append_work("rejoin", &args.host, a, confirmed, &o, clock.elapsed()) {
        super::warn(&format!("archtui: warning: {e}"));
    }
    super::actions::report(&o);
    o.status.exit_code()
}

/// Err: it ended before the operator confirmed.
async fn rejoin(
    config: Config,
    config_path: &Path,
    args: &RejoinArgs,
    read_only: bool,
) -> Result<Outcome, Outcome> {
    let x = args.host.as_str();
    let hosts = config.hosts();
    let Some(h) = hosts.iter().find(|h| h.name == x) else {
        return Err(Outcome::refused(format!(
            "no host named {x:?} in the config"
        )));
    };
    let Some(m) = hosts.iter().find(|h| h.role == Role::Master) else {
        return Err(Outcome::refused("the config has no master"));
    };
    if h.role == Role::Master {
        return Err(Outcome::refused(format!(
            "{x} is the config's master: rejoin makes a host a slave of the master"
        )));
    }
    let jpath = so::journal_path(&audit::state_dir());
    if let Some(j) = so::load_journal(&jpath).map_err(Outcome::failed)? {
        return Err(Outcome::refused(format!(
            "a {k} to {c} is under way: finish it first with `archtui {k} {c}`",
            k = j.kind.name(),
            c = j.roles.candidate
        )));
    }
    if read_only || config.read_only {
        return Err(Outcome::refused(
            "read-only mode (--read-only or read_only = true in the config): refusing rejoin",
        ));
    }
    let fenced = config.is_fenced(x);
    let m = m.name.clone();
    let saved = audit::state_dir().join("rejoin").join(format!(
        "{x}-{}.jsonl",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    super::say(&format!(
        "Rejoin: {x}{} becomes a slave of {m}:",
        if fenced {
            " (fenced by a failover)"
        } else {
            ""
        }
    ));
    for l in [
        format!("  1 {x}: docker compose stop -t 3 app bucardo"),
        format!("  2 {x}: env.slave with MASTER_DB_HOST of {m}, SLAVE_NAME={x}"),
        format!("  3 {x}: ./deploy_slave.sh --allow-data --role-change (no copy)"),
        format!(
            "  4 verify {x} against {m}: rows only on {x} and its versions of differing rows saved to {}; missing and differing rows re-sent from {m}",
            saved.display()
        ),
        "  5 the config: fenced removed".to_string(),
    ] {
        super::say(&l);
    }
    let confirmed = args.yes
        || match &args.confirm {
            Some(t) => t == x,
            None => super::prompt::confirm(
                format!("Type the host's name ({x}) to rejoin it: "),
                Some(x),
            )
            .await
            .ok_or_else(|| {
                Outcome::refused(
                    "no terminal to ask on: pass --confirm NAME or --yes; nothing was changed",
                )
            })?,
        };
    if !confirmed {
        return Err(Outcome::refused(format!(
            "the name typed is not {x}; nothing was changed"
        )));
    }
    let ctx = Context::open(config.clone())
        .map_err(|e| Outcome::new(Status::Unreachable, e.to_string()))?;
    let (tx, printer) = crate::output::printer(crate::output::Style {
        prefix: "  | ",
        ..crate::output::Style::PLAIN
    });
    let mut run = Run::for_rejoin(ctx.clone(), x, &m, tx.clone());
    let o = steps(&mut run, fenced, &saved, config_path, &tx).await;
    run.close().await;
    drop(tx);
    let _ = printer.await;
    Ok(o)
}

async fn steps(
    run: &mut Run,
    fenced: bool,
    saved: &Path,
    config_path: &Path,
    tx: &archtui_remote::Progress,
) -> Outcome {
    let x = run.roles.old_master.clone();
    let m = run.roles.candidate.clone();
    let done = match so::rejoin(run, fenced).await {
        Ok(d) => d,
        Err(e) => {
            return Outcome::failed(format!("{e}; fix it and run `archtui rejoin {x}` again"))
        }
    };
    for l in &done.lines {
        super::say(&format!("  {l}"));
    }
    super::say(&format!("  verifying {x} against {m} ..."));
    let limits = Limits::from_config(&run.ctx.config);
    let req = Request {
        slaves: vec![x.clone()],
        tables: None,
    };
    let rep = engine::run(run.ctx.clone(), &req, limits, tx).await;
    let Some(s) = rep.slaves.into_iter().next() else {
        return Outcome::failed(format!("the verify of {x} returned nothing"));
    };
    if s.error.is_some() && s.tables.is_empty() {
        return Outcome::failed(format!(
            "{x} replicates from {m}, but its verify failed: {}; run `archtui verify {x}`, then `archtui rejoin {x}` again to finish",
            s.error.clone().unwrap_or_default()
        ));
    }
    let (only_here, differs) = match so::save_rows(run, &s, saved).await {
        Ok(n) => n,
        Err(e) => {
            return Outcome::failed(format!(
                "saving the rows only {x} holds: {e}; nothing was re-sent; run `archtui rejoin {x}` again"
            ))
        }
    };
    let missing: u64 = s.tables.iter().map(|t| t.missing.count).sum();
    let mut said = vec![format!("{x} replicates from {m}")];
    if only_here + differs > 0 {
        said.push(format!(
            "{only_here} row(s) only on {x} (kept there) and {differs} of its differing row(s) saved to {}: insert them on {m} or delete them on {x}, as you decide",
            saved.display()
        ));
    } else {
        said.push(format!("no row only on {x}"));
    }
    if missing + differs > 0 {
        let (status, msg) = super::verify::repair_now(run.ctx.clone(), &s, limits, tx).await;
        if status != Status::Ok {
            return Outcome::failed(format!(
                "{}; the repair of {x}: {msg}; `archtui verify {x} --repair` retries it",
                said.join("; ")
            ));
        }
        said.push(format!(
            "{missing} missing and {differs} differing row(s) re-sent from {m}: {msg}"
        ));
    }
    let changed = archtui_remote::local::config_file::update(config_path, |t| {
        archtui_core::wizard::config_edit::set_fenced(t, &x, false)
    });
    if let Err(e) = changed {
        return Outcome::failed(format!("{}; the config: {e}", said.join("; ")));
    }
    if fenced {
        said.push(format!(
            "{x} is no longer fenced in {}",
            config_path.display()
        ));
    }
    Outcome::ok(said.join("; "))
}
