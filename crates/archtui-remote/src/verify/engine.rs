//! Runs a verify over the hosts' links: the tables of each slave's
//! relgroup, chunk by chunk, then the recheck of every key that looked
//! different or was in flight. See `super` for the method; the pure
//! rules are in `chunk`, `sql` and `settle`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chunk::{self, Key};
use super::report::{Outcome, Report, SlaveReport, TableReport};
use super::settle::Open;
use super::sql::{self, TableSpec};
use crate::actions::Progress;
use crate::bucardo;
use crate::host::{next_link, Context, HostLink};
use crate::pg::{col, Pg, PgError};
use archtui_core::config::{Config, Host, Role};
use archtui_core::credentials::Password;
use archtui_core::model::Time;

mod recheck;
mod scan;
mod verifier;

use verifier::Verifier;

/// Rows a range may hold on each side to be compared row by row.
pub const LEAF: i64 = 256;
/// Differing keys followed per table; past it the table is reported as
/// incomplete (its counts are lower bounds) and a repair copies it whole.
pub const MAX_DIFFS: usize = 20_000;
/// Keys in flight for one chunk past which the slave is too far behind
/// to compare that chunk.
pub const MAX_PENDING: i64 = 50_000;
/// Keys per recheck query.
const BATCH: usize = 1_000;
/// Looks at an unsettled key, after the first.
pub const ROUNDS: usize = 4;
/// How often the slave's lag is read between chunks.
const LAG_EVERY: Duration = Duration::from_secs(5);
/// Progress lines at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What to verify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Slaves of the config; empty: every slave.
    pub slaves: Vec<String>,
    /// `table` or `schema.table`; None: the whole relgroup.
    pub tables: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Verify pauses while the slave's lag is at or over this.
    pub lag_warning_secs: f64,
    /// And gives up when it stays there this long.
    pub max_pause: Duration,
    /// How long a recheck waits for the slave's heartbeat to pass a time.
    pub catch_up: Duration,
    /// Every statement's limit, on the server (statement_timeout) too.
    pub statement_timeout: Duration,
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        let lag = config.thresholds.lag_warning_secs;
        Limits {
            lag_warning_secs: lag,
            max_pause: Duration::from_secs(600),
            catch_up: Duration::from_secs_f64((lag * 2.0).clamp(60.0, 3600.0)),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// The context verify runs in: the config's, with the client's query
/// bound a little over the server's statement_timeout (the server stops
/// a slow statement first, and says why).
pub fn context(
    config: &Config,
    password: Password,
    limits: &Limits,
) -> std::io::Result<Arc<Context>> {
    let mut c = config.clone();
    c.database.query_timeout_secs = limits.statement_timeout.as_secs().max(1) + 5;
    Context::new(c, password)
}

/// The slaves a request names, from the config; an unknown one is bad input.
/// A verify request that names no slave of the config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlavesError {
    #[error("the config has no slave to verify")]
    None,
    #[error("{name:?} is not a slave of the config (slaves: {slaves})")]
    NotASlave { name: String, slaves: String },
}

impl From<SlavesError> for String {
    fn from(e: SlavesError) -> String {
        e.to_string()
    }
}

pub fn slaves_of(config: &Config, req: &Request) -> Result<Vec<Host>, SlavesError> {
    let slaves: Vec<Host> = config
        .hosts()
        .into_iter()
        .filter(|h| h.role == Role::Slave)
        .collect();
    if req.slaves.is_empty() {
        if slaves.is_empty() {
            return Err(SlavesError::None);
        }
        return Ok(slaves);
    }
    req.slaves
        .iter()
        .map(|n| {
            slaves
                .iter()
                .find(|h| &h.name == n)
                .cloned()
                .ok_or_else(|| {
                    let names: Vec<&str> = slaves.iter().map(|h| h.name.as_str()).collect();
                    SlavesError::NotASlave {
                        name: n.clone(),
                        slaves: names.join(", "),
                    }
                })
        })
        .collect()
}

/// Verifies every slave the request names, one after the other.
pub async fn run(ctx: Arc<Context>, req: &Request, limits: Limits, progress: &Progress) -> Report {
    let started = chrono::Utc::now();
    let slaves = match slaves_of(&ctx.config, req) {
        Ok(s) => s,
        Err(e) => {
            return Report::new(
                started,
                vec![SlaveReport::failed(
                    "-",
                    started,
                    Outcome::Refused,
                    e.into(),
                )],
            )
        }
    };
    let Some(master) = ctx
        .config
        .hosts()
        .into_iter()
        .find(|h| h.role == Role::Master)
    else {
        let e = "the config has no master".to_string();
        return Report::new(
            started,
            vec![SlaveReport::failed("-", started, Outcome::Refused, e)],
        );
    };
    let mlink = match HostLink::open(ctx.clone(), &master, next_link()).await {
        Ok(l) => l,
        Err(f) => {
            let why = format!("master {}: {}", master.name, f.reason);
            let all = slaves
                .iter()
                .map(|s| SlaveReport::failed(&s.name, started, Outcome::Unreachable, why.clone()))
                .collect();
            return Report::new(started, all);
        }
    };
    let mut reports = Vec::new();
    for s in &slaves {
        let begun = chrono::Utc::now();
        let clock = Instant::now();
        let mut r = match HostLink::open(ctx.clone(), s, next_link()).await {
            Err(f) => SlaveReport::failed(&s.name, begun, Outcome::Unreachable, f.reason),
            Ok(slink) => {
                let r = slave(&ctx, &mlink, &slink, req, limits, progress).await;
                slink.close().await;
                r
            }
        };
        r.seconds = clock.elapsed().as_secs_f64();
        let _ = progress.send(super::report::slave_text(&r).join("\n"));
        reports.push(r);
    }
    mlink.close().await;
    Report::new(started, reports)
}

/// Why a table (or a slave's relgroup) could not be compared. Its text
/// goes into the report as it reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(transparent)]
    Sum(#[from] chunk::NotASum),
    #[error("sync {0} has no tables in its relgroup (is it registered? docker compose logs bucardo on the slave)")]
    EmptyRelgroup(String),
    /// `tables`: the relgroup's tables, listed.
    #[error("table {table:?} is not replicated by {sync} (its relgroup: {tables})")]
    NotReplicated {
        table: String,
        sync: String,
        tables: String,
    },
    /// `at`: the master time it waited for, as shown.
    #[error("{name}'s heartbeat did not reach {at} within {secs} s (is its sync running? archtui status)")]
    HeartbeatBehind { name: String, at: String, secs: u64 },
    #[error("the master has no such table")]
    NoMasterTable,
    #[error("{0} has no such table: run the same migrations as the master")]
    NoSlaveTable(String),
    #[error("no primary key on the master: Bucardo cannot replicate it either")]
    NoPrimaryKey,
    /// Both sides' columns, `name type` listed.
    #[error(
        "its columns differ: master ({master}), {name} ({slave}): run the same migrations on both"
    )]
    ColumnsDiffer {
        master: String,
        name: String,
        slave: String,
    },
    #[error("now() returned nothing")]
    NoTime,
    #[error("the digest returned no row")]
    NoDigest,
    #[error(
        "more than {max} transactions are pending for {name}: it is too far behind to compare"
    )]
    PendingTransactions { max: i64, name: String },
    #[error("more than {max} changes of one chunk are pending for {name}: it is too far behind to compare")]
    PendingChanges { max: i64, name: String },
}

impl From<VerifyError> for String {
    fn from(e: VerifyError) -> String {
        e.to_string()
    }
}

/// Why a slave's verify stopped before its end.
enum Stop {
    /// This table cannot be compared (a timeout, a type error).
    Refused(String),
    /// The slave lagged too long: no table of it can be.
    Lagging(String),
    Unreachable(String),
}

/// A verify session: the verify settings, read-only, bounded statements,
/// and a transaction left open by a killed archtui ends by itself.
pub async fn session(link: &HostLink, db: &str, limits: &Limits) -> Result<Pg, PgError> {
    let pg = link.connect(db).await?;
    let ms = limits.statement_timeout.as_millis();
    pg.execute_batch(&format!(
        "{}; {}; SET statement_timeout = {ms}; SET idle_in_transaction_session_timeout = {}",
        sql::SESSION,
        sql::READ_ONLY,
        ms.saturating_mul(2).max(60_000)
    ))
    .await?;
    Ok(pg)
}

async fn slave(
    ctx: &Context,
    mlink: &HostLink,
    slink: &HostLink,
    req: &Request,
    limits: Limits,
    progress: &Progress,
) -> SlaveReport {
    let name = slink.host.name.clone();
    let started = chrono::Utc::now();
    let (mut v, names) = match open_verifier(ctx, mlink, slink, req, limits, progress).await {
        Ok(v) => v,
        Err((outcome, e)) => return SlaveReport::failed(&name, started, outcome, e),
    };
    let mut out = SlaveReport::new(&name, started);
    let Some(mut tables) = scan_tables(&mut v, names, &mut out).await else {
        return out;
    };
    if let Err(Stop::Unreachable(e)) = v.recheck(&mut tables).await {
        out.error = Some(e);
        out.outcome = Outcome::Unreachable;
    }
    for (spec, mut rep, _) in tables {
        for k in [
            &mut rep.missing,
            &mut rep.extra,
            &mut rep.changed,
            &mut rep.unsettled,
        ] {
            k.sort();
        }
        rep.spec = Some(spec);
        out.tables.push(rep);
    }
    out.tables.sort_by(|a, b| a.table.cmp(&b.table));
    out.conclude();
    out
}

/// A slave's tables to compare, each with what its scan left open.
type Scanned = Vec<(TableSpec, TableReport, HashMap<Key, Open>)>;

/// The verifier of one slave: sessions on the master, the slave and its
/// Bucardo control database, and the relgroup's tables (read from the
/// latter, closed after); or why the slave cannot be verified.
async fn open_verifier(
    ctx: &Context,
    mlink: &HostLink,
    slink: &HostLink,
    req: &Request,
    limits: Limits,
    progress: &Progress,
) -> Result<(Verifier, Vec<(String, String)>), (Outcome, String)> {
    let name = slink.host.name.clone();
    let db = &ctx.config.database;
    let unreachable = |e: String| (Outcome::Unreachable, e);
    let (master, slave, control) = tokio::join!(
        session(mlink, &db.name, &limits),
        session(slink, &db.name, &limits),
        session(slink, &db.bucardo_db, &limits)
    );
    let master = master.map_err(|e| unreachable(format!("master: {e}")))?;
    let (slave, control) = match (slave, control) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => return Err(unreachable(e.to_string())),
    };
    let sync = archtui_core::fleet::sync_of(&name);
    let names = relgroup(&control, &sync, &db.heartbeat_table, req)
        .await
        .map_err(|e| (Outcome::Refused, e.into()))?;
    drop(control);
    let v = Verifier {
        master,
        slave,
        target: format!("dbgroup {name}_grp"),
        sync,
        name,
        heartbeat: db.heartbeat_table.clone(),
        limits,
        progress: progress.clone(),
        lag_checked: None,
        said: None,
    };
    Ok((v, names))
}

/// Scans each table in turn; None when the slave's verify stopped (gone,
/// or lagging too long), then `out` says why and holds the table it
/// stopped in.
async fn scan_tables(
    v: &mut Verifier,
    names: Vec<(String, String)>,
    out: &mut SlaveReport,
) -> Option<Scanned> {
    let mut tables = Vec::new();
    for (schema, table) in names {
        let mut rep = TableReport {
            table: format!("{schema}.{table}"),
            ..Default::default()
        };
        let clock = Instant::now();
        let spec = match v.spec(&schema, &table).await {
            Ok(s) => s,
            Err(e) => {
                rep.error = Some(e.to_string());
                out.tables.push(rep);
                continue;
            }
        };
        rep.key_columns = spec.key.iter().map(|c| c.name.clone()).collect();
        let open = match v.scan(&spec, &mut rep).await {
            Ok(o) => o,
            Err(Stop::Refused(e)) => {
                rep.error = Some(e);
                HashMap::new()
            }
            Err(Stop::Unreachable(e)) => {
                out.tables.push(rep);
                out.error = Some(e);
                out.outcome = Outcome::Unreachable;
                return None;
            }
            Err(Stop::Lagging(e)) => {
                out.tables.push(rep);
                out.error = Some(e);
                out.outcome = Outcome::Refused;
                return None;
            }
        };
        rep.seconds = clock.elapsed().as_secs_f64();
        tables.push((spec, rep, open));
    }
    Some(tables)
}

/// Waits until the slave's heartbeat (`table`, read on the slave) is at
/// or past `at`, a master time: the master writes it every few seconds and
/// a sync run applies every change committed before the heartbeat it
/// carries, so then the slave holds everything the master had at `at`.
pub async fn wait_heartbeat(
    slave: &Pg,
    name: &str,
    table: &str,
    at: Time,
    within: Duration,
) -> Result<(), VerifyError> {
    let since = Instant::now();
    loop {
        let hb = bucardo::heartbeat(slave, table)
            .await
            .map_err(|e| e.within(format!("{name}'s heartbeat")))?;
        if hb.is_some_and(|h| h >= at) {
            return Ok(());
        }
        if since.elapsed() >= within {
            return Err(VerifyError::HeartbeatBehind {
                name: name.to_string(),
                at: at.format("%H:%M:%S%.3f UTC").to_string(),
                secs: within.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The sync's relgroup tables (less the heartbeat, whose lag is measured
/// on its own), or those of them the request names.
async fn relgroup(
    control: &Pg,
    sync: &str,
    heartbeat: &str,
    req: &Request,
) -> Result<Vec<(String, String)>, VerifyError> {
    let rows = control
        .query(bucardo::verify::RELGROUP_TABLES, &[&sync])
        .await
        .map_err(|e| e.within(format!("the relgroup of {sync}")))?;
    let all: Vec<(String, String)> = rows
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect::<Result<_, PgError>>()
        .map_err(|e| e.within("bucardo.goat"))?;
    if all.is_empty() {
        return Err(VerifyError::EmptyRelgroup(sync.to_string()));
    }
    let all: Vec<(String, String)> = all
        .into_iter()
        .filter(|(s, t)| format!("{s}.{t}") != heartbeat)
        .collect();
    let Some(wanted) = &req.tables else {
        return Ok(all);
    };
    wanted
        .iter()
        .map(|w| {
            all.iter()
                .find(|(s, t)| w == t || *w == format!("{s}.{t}"))
                .cloned()
                .ok_or_else(|| {
                    let names: Vec<String> = all.iter().map(|(s, t)| format!("{s}.{t}")).collect();
                    VerifyError::NotReplicated {
                        table: w.clone(),
                        sync: sync.to_string(),
                        tables: names.join(", "),
                    }
                })
        })
        .collect()
}

#[cfg(test)]
mod tests;
