//! `archtui rejoin HOST`: a host a failover left behind (the lost master,
//! fenced, or a slave that was unreachable) becomes a slave of the current
//! master again. Its data stays: it registers without a copy, and what
//! only it holds is for the caller's verify to report and save.

use super::{steps::write_file, Run, StepError};
use crate::actions::step;
use archtui_core::config::Role;
use archtui_core::switchover::{rejoin_env, Kind, Roles};

/// What the rejoin did, for the caller's report.
#[derive(Debug, Clone)]
pub struct Rejoined {
    pub host: String,
    pub master: String,
    pub lines: Vec<String>,
}

/// Makes `host` a replicating slave of `run.roles.candidate` (the current
/// master): its app and Bucardo stop (no more writes there), its env.slave
/// points at the master, `deploy_slave.sh --allow-data --role-change`
/// registers it without a copy. Every part is idempotent.
pub async fn rejoin(run: &mut Run, fenced: bool) -> Result<Rejoined, StepError> {
    let (x, m) = (run.roles.old_master.clone(), run.roles.candidate.clone());
    let mut lines = Vec::new();
    // Which env files its stack runs with: a fenced host was the master.
    let was = if fenced { Role::Master } else { Role::Slave };
    let was_file = format!("env.{was}");
    let Some(was_env) = run.read_optional(&x, &was_file).await? else {
        return Err(StepError(format!(
            "{x}: no {was_file} in its deploy dir: is it the host the failover left?"
        )));
    };
    archtui_core::credentials::remember_env(&was_env);
    run.compose(
        &x,
        was,
        &["stop", "-t", super::BUCARDO_STOP_SECS, "app", "bucardo"],
    )
    .await?;
    run.stopped(&x, &["app", "bucardo"]).await?;
    lines.push(format!(
        "{x}: app and bucardo stopped (no more writes there)"
    ));

    let x_env = run.env(&x, was).await?;
    let x_addr = x_env.address().ok_or_else(|| {
        StepError(format!(
            "{x}: its {was_file} has no APP_HOST: set it to {x}'s LAN address"
        ))
    })?;
    let m_env = run.env(&m, Role::Master).await?;
    let m_addr = m_env
        .address()
        .ok_or_else(|| StepError(format!("{m}: its env.master has no APP_HOST")))?;
    // The fleet's env.slave: the master's own from when it was a slave, else
    // the host's.
    let source = match run.read_optional(&m, "env.slave").await? {
        Some(t) => t,
        None => run.read_optional(&x, "env.slave").await?.ok_or_else(|| {
            StepError(format!(
                "neither {m} nor {x} has an env.slave to start from"
            ))
        })?,
    };
    archtui_core::credentials::remember_env(&source);
    let text = rejoin_env(&source, &x, &x_addr, &m_addr, &m_env.db_port());
    let dir = run.host(&x)?.deploy_dir;
    let s = run.session(&x).await?;
    write_file(&s, &format!("{dir}/env.slave"), &text)
        .await
        .map_err(|e| StepError(format!("{x}: {e}")))?;
    lines.push(format!(
        "{x}: {dir}/env.slave: APP_HOST={x_addr} MASTER_DB_HOST={m_addr} SLAVE_NAME={x}"
    ));
    run.copy_script(&m, &x, "deploy_slave.sh").await?;

    // A fence a switchover left on its app role goes with the role.
    run.redeploy_as_slave(&x, &x_env.app_user()).await?;
    run.validated(&x, &m).await?;
    step(&run.progress, format!("{x}: replicates from {m}"));
    lines.push(format!(
        "{x}: deploy_slave.sh --allow-data: registered with {m} (no copy)"
    ));
    Ok(Rejoined {
        host: x,
        master: m,
        lines,
    })
}

/// The run of a rejoin: `host` in the old master's place, the config's
/// master as the candidate.
pub fn rejoin_roles(host: &str, master: &str) -> Roles {
    Roles {
        old_master: host.to_string(),
        candidate: master.to_string(),
        others: Vec::new(),
        left_behind: Vec::new(),
    }
}

impl Run {
    /// A run for a rejoin (see `rejoin`).
    pub fn for_rejoin(
        ctx: std::sync::Arc<crate::host::Context>,
        host: &str,
        master: &str,
        progress: crate::Progress,
    ) -> Run {
        let mut r = Run::new(ctx, rejoin_roles(host, master), progress);
        r.kind = Kind::Failover;
        r
    }
}

/// Rows only the host holds (`extra`) and its own versions of rows that
/// differ from the master's (`changed`), as a verify of it found them:
/// each whole as JSON, a line per row, to `path` (mode 0600), before any
/// repair replaces them. Returns how many of each were written.
pub async fn save_rows(
    run: &mut Run,
    report: &archtui_core::verify::report::SlaveReport,
    path: &std::path::Path,
) -> Result<(u64, u64), StepError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let x = run.roles.old_master.clone();
    let pg = run.archive(&x).await?;
    let mut out = Vec::new();
    let (mut extra, mut changed) = (0u64, 0u64);
    for t in &report.tables {
        let Some(spec) = &t.spec else { continue };
        for (kind, keys, n) in [
            ("only_here", &t.extra.all, &mut extra),
            ("differs", &t.changed.all, &mut changed),
        ] {
            for batch in keys.chunks(500) {
                let q = crate::verify::sql::rows_json_by_keys(spec, batch);
                for r in pg.query(&q.sql, &q.refs()).await? {
                    let row: String = crate::pg::col(&r, 0)?;
                    let line = serde_json::json!({
                        "host": x,
                        "table": t.table,
                        "kind": kind,
                        "row": serde_json::from_str::<serde_json::Value>(&row)
                            .unwrap_or(serde_json::Value::String(row)),
                    });
                    out.push(line.to_string());
                    *n += 1;
                }
            }
        }
    }
    if out.is_empty() {
        return Ok((0, 0));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StepError(format!("{}: {e}", dir.display())))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StepError(format!("{}: {e}", path.display())))?;
    for l in &out {
        writeln!(f, "{l}").map_err(|e| StepError(format!("{}: {e}", path.display())))?;
    }
    f.sync_all()
        .map_err(|e| StepError(format!("{}: {e}", path.display())))?;
    Ok((extra, changed))
}
