//! Runs a verify over the hosts' links: the tables of each slave's
//! relgroup, chunk by chunk, then the recheck of every key that looked
//! different or was in flight. See `super` for the method; the pure
//! rules are in `chunk`, `sql` and `settle`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chunk::{self, Digest, Key, Range};
use super::report::{Outcome, Report, SlaveReport, TableReport};
use super::settle::{self, Open, Seen, Verdict};
use super::sql::{self, Column, Query, TableSpec};
use crate::actions::Progress;
use crate::bucardo;
use crate::host::{next_link, Context, HostLink};
use crate::pg::{col, first, Pg, PgError};
use archtui_core::config::{Config, Host, Role};
use archtui_core::credentials::Password;
use archtui_core::model::Time;

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
    let db = &ctx.config.database;
    let unreachable = |e: String| SlaveReport::failed(&name, started, Outcome::Unreachable, e);
    let (master, slave, control) = tokio::join!(
        session(mlink, &db.name, &limits),
        session(slink, &db.name, &limits),
        session(slink, &db.bucardo_db, &limits)
    );
    let master = match master {
        Ok(p) => p,
        Err(e) => return unreachable(format!("master: {e}")),
    };
    let (slave, control) = match (slave, control) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => return unreachable(e.to_string()),
    };
    let sync = archtui_core::fleet::sync_of(&name);
    let names = match relgroup(&control, &sync, &db.heartbeat_table, req).await {
        Ok(n) => n,
        Err(e) => return SlaveReport::failed(&name, started, Outcome::Refused, e.into()),
    };
    drop(control);
    let mut v = Verifier {
        master,
        slave,
        target: format!("dbgroup {name}_grp"),
        sync,
        name: name.clone(),
        heartbeat: db.heartbeat_table.clone(),
        limits,
        progress: progress.clone(),
        lag_checked: None,
        said: None,
    };
    let mut out = SlaveReport::new(&name, started);
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
                return out;
            }
            Err(Stop::Lagging(e)) => {
                out.tables.push(rep);
                out.error = Some(e);
                out.outcome = Outcome::Refused;
                return out;
            }
        };
        rep.seconds = clock.elapsed().as_secs_f64();
        tables.push((spec, rep, open));
    }
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

struct Verifier {
    master: Pg,
    slave: Pg,
    /// `dbgroup <slave>_grp`: the track tables' name for this slave.
    target: String,
    sync: String,
    name: String,
    heartbeat: String,
    limits: Limits,
    progress: Progress,
    lag_checked: Option<Instant>,
    said: Option<Instant>,
}

/// Where a chunk ends: after so many rows (found with one scan of the
/// master's key index), or at a key value (integer keys).
enum End {
    Rows(i64),
    /// `None`: open-ended, to the table's end.
    Key(Option<Key>),
}

/// The value of a key of one integer column.
fn int_of(k: &Key) -> Option<i64> {
    match k.as_slice() {
        [one] => one.parse().ok(),
        _ => None,
    }
}

/// The integer key a one-row key query found, if any.
fn int_row(rows: &[tokio_postgres::Row]) -> Result<Option<i64>, PgError> {
    Ok(keyed(rows, 1, false)?.pop().and_then(|(k, _)| int_of(&k)))
}

/// A query's rows as keys (the first `width` columns) and, when `hash`,
/// the row hash after them.
fn keyed(
    rows: &[tokio_postgres::Row],
    width: usize,
    hash: bool,
) -> Result<Vec<(Key, i64)>, PgError> {
    rows.iter()
        .map(|r| {
            let key = (0..width)
                .map(|i| col::<Option<String>, _>(r, i).map(Option::unwrap_or_default))
                .collect::<Result<Key, PgError>>()?;
            let h = if hash { col::<i64, _>(r, width)? } else { 0 };
            Ok((key, h))
        })
        .collect()
}

impl Verifier {
    fn say(&mut self, line: String, force: bool) {
        if force || self.said.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            self.said = Some(Instant::now());
            let _ = self.progress.send(line);
        }
    }

    /// A failed query: the slave or master gone is the end of this slave's
    /// verify; anything else (a timeout, a type error) ends the table.
    fn stop(&self, e: impl std::fmt::Display) -> Stop {
        if self.master.is_closed() {
            Stop::Unreachable(format!("master: {e}"))
        } else if self.slave.is_closed() {
            Stop::Unreachable(format!("{}: {e}", self.name))
        } else {
            Stop::Refused(e.to_string())
        }
    }

    async fn run(&self, pg: &Pg, q: &Query) -> Result<Vec<tokio_postgres::Row>, PgError> {
        pg.query(&q.sql, &q.refs()).await
    }

    /// The table's key, columns and delta tables, from the master; the
    /// slave must have the same columns (in any order).
    async fn spec(&self, schema: &str, table: &str) -> Result<TableSpec, VerifyError> {
        let qualified = format!("{}.{}", crate::pg::ident(schema), crate::pg::ident(table));
        let columns = |rows: Vec<tokio_postgres::Row>| -> Result<Vec<Column>, PgError> {
            rows.iter()
                .map(|r| {
                    Ok(Column {
                        name: col(r, 0)?,
                        ty: col(r, 1)?,
                    })
                })
                .collect()
        };
        let p: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&qualified];
        let (m, s, k) = tokio::join!(
            self.master.query(sql::COLUMNS, &p),
            self.slave.query(sql::COLUMNS, &p),
            self.master.query(sql::PRIMARY_KEY, &p)
        );
        let (m, s, key) = (columns(m?)?, columns(s?)?, columns(k?)?);
        if m.is_empty() {
            return Err(VerifyError::NoMasterTable);
        }
        if s.is_empty() {
            return Err(VerifyError::NoSlaveTable(self.name.clone()));
        }
        if key.is_empty() {
            return Err(VerifyError::NoPrimaryKey);
        }
        let mut ms: Vec<&Column> = m.iter().collect();
        let mut ss: Vec<&Column> = s.iter().collect();
        ms.sort_by(|a, b| a.name.cmp(&b.name));
        ss.sort_by(|a, b| a.name.cmp(&b.name));
        if ms != ss {
            let show = |v: &[&Column]| {
                v.iter()
                    .map(|c| format!("{} {}", c.name, c.ty))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(VerifyError::ColumnsDiffer {
                master: show(&ms),
                name: self.name.clone(),
                slave: show(&ss),
            });
        }
        let plain = format!("{schema}.{table}");
        let names = self
            .master
            .query(
                bucardo::verify::DELTA_NAMES,
                &[&self.sync, &plain, &qualified],
            )
            .await?;
        let delta = match names.first() {
            Some(r) => Some((col(r, 0)?, col(r, 1)?)),
            None => None,
        };
        Ok(TableSpec {
            schema: schema.to_string(),
            name: table.to_string(),
            key,
            columns: m,
            delta,
        })
    }

    /// Both snapshots, the slave's first; the master's time.
    async fn begin(&self) -> Result<Time, VerifyError> {
        self.slave
            .execute_batch(&format!("{}; SELECT 1", sql::BEGIN))
            .await?;
        self.master.execute_batch(sql::BEGIN).await?;
        let rows = self.master.query("SELECT now()", &[]).await?;
        first::<Time>(&rows)?.ok_or(VerifyError::NoTime)
    }

    async fn end(&self) {
        let _ = tokio::join!(
            self.slave.execute_batch("ROLLBACK"),
            self.master.execute_batch("ROLLBACK")
        );
    }

    /// Pauses while the slave's lag (from the master's delta and track
    /// tables) is at or over the warning threshold; gives up past
    /// `max_pause`.
    async fn pause_if_lagging(&mut self) -> Result<(), Stop> {
        if self.lag_checked.is_some_and(|t| t.elapsed() < LAG_EVERY) {
            return Ok(());
        }
        let since = Instant::now();
        loop {
            let p = bucardo::pending(
                &self.master,
                &self.sync,
                &format!("{}_grp", self.name),
                &self.heartbeat,
            )
            .await
            .map_err(|e| self.stop(format!("the lag of {}: {e}", self.sync)))?;
            self.lag_checked = Some(Instant::now());
            let lag = p.map_or(0.0, |p| p.lag_seconds);
            if lag < self.limits.lag_warning_secs {
                return Ok(());
            }
            if since.elapsed() >= self.limits.max_pause {
                return Err(Stop::Lagging(format!(
                    "{}'s lag stayed at or over {} s for {} s (now {lag:.0} s): verify needs a slave that keeps up; see archtui status",
                    self.name,
                    self.limits.lag_warning_secs,
                    self.limits.max_pause.as_secs()
                )));
            }
            self.say(
                format!(
                    "{}: paused: lag {lag:.0} s >= {} s (warning threshold); waiting",
                    self.name, self.limits.lag_warning_secs
                ),
                false,
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    async fn digest(&self, pg: &Pg, q: &Query) -> Result<(Digest, Duration), VerifyError> {
        let start = Instant::now();
        let rows = self.run(pg, q).await?;
        let r = rows.first().ok_or(VerifyError::NoDigest)?;
        let d = Digest {
            rows: col(r, 0)?,
            sum: chunk::parse_sum(&col::<String, _>(r, 1)?)?,
        };
        Ok((d, start.elapsed()))
    }

    /// Both sides' digests of a range, at once.
    async fn digests(&self, q: &Query) -> Result<(Digest, Digest, Duration), VerifyError> {
        let (m, s) = tokio::join!(self.digest(&self.master, q), self.digest(&self.slave, q));
        let ((m, tm), (s, ts)) = (m?, s?);
        Ok((m, s, tm.max(ts)))
    }

    /// The largest key on either side (a key of one integer column).
    async fn top_key(&self, spec: &TableSpec) -> Result<Option<i64>, VerifyError> {
        let q = sql::last_key(spec, &Range { lo: None, hi: None });
        let (m, s) = tokio::join!(self.run(&self.master, &q), self.run(&self.slave, &q));
        Ok(int_row(&m?)?.max(int_row(&s?)?))
    }

    /// Just before the first key past `after` on either side, or `top`
    /// when neither has one: where the next range starts.
    async fn before_next(
        &self,
        spec: &TableSpec,
        after: &Key,
        top: Option<i64>,
    ) -> Result<Key, VerifyError> {
        let past = Range {
            lo: Some(after.clone()),
            hi: None,
        };
        let q = sql::key_at(spec, &past, 0);
        let (m, s) = tokio::join!(self.run(&self.master, &q), self.run(&self.slave, &q));
        let next = match (int_row(&m?)?, int_row(&s?)?) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let at = match (next, top) {
            (Some(n), _) => n.saturating_sub(1),
            (None, Some(top)) => top,
            (None, None) => return Ok(after.clone()),
        };
        // Never backwards: the range already compared stays compared.
        let after_int = int_of(after).unwrap_or(i64::MIN);
        Ok(vec![at.max(after_int).to_string()])
    }

    /// One table, chunk by chunk; returns the keys to settle.
    async fn scan(
        &mut self,
        spec: &TableSpec,
        rep: &mut TableReport,
    ) -> Result<HashMap<Key, Open>, Stop> {
        let estimate = self
            .master
            .query(sql::ESTIMATE, &[&sql::qualified(spec)])
            .await
            .ok()
            .and_then(|r| first::<i64>(&r).ok().flatten())
            .unwrap_or(0);
        let mut open = HashMap::new();
        let mut lo: Option<Key> = None;
        let mut size = chunk::FIRST_CHUNK;
        // A key of one integer column: after the first chunk, each chunk is
        // a range of key values, so finding its end costs no scan (the
        // master read every chunk twice, for its end, then its digest).
        // Past the largest key either side had at the start, the last chunk
        // is open-ended, as before.
        let top = if spec.integer_key() {
            self.top_key(spec).await.map_err(|e| self.stop(e))?
        } else {
            None
        };
        let mut span = chunk::FIRST_CHUNK;
        loop {
            self.pause_if_lagging().await?;
            let end = match (top, lo.as_ref().and_then(int_of)) {
                (Some(top), Some(at)) => {
                    let hi = at.saturating_add(span);
                    End::Key((hi < top).then(|| vec![hi.to_string()]))
                }
                _ => End::Rows(size),
            };
            let keyed_range = matches!(end, End::Key(_));
            let t = self.begin().await.map_err(|e| self.stop(e))?;
            let done = self.chunk(spec, &lo, end, t, rep, &mut open).await;
            self.end().await;
            let (hi, rows, took) = done.map_err(|e| self.stop(e))?;
            if keyed_range {
                span = chunk::next_span(rows, span, took);
            } else {
                size = chunk::next_size(rows, size, took);
                span = size;
            }
            // A gap in the keys is jumped, not walked.
            let hi = match hi {
                Some(h) if keyed_range && rows == 0 => Some(
                    self.before_next(spec, &h, top)
                        .await
                        .map_err(|e| self.stop(e))?,
                ),
                h => h,
            };
            let pct = if estimate > 0 {
                format!(
                    " of ~{estimate} ({}%)",
                    (rep.rows * 100 / estimate).min(100)
                )
            } else {
                String::new()
            };
            self.say(
                format!(
                    "{}: {}: {} rows{pct}, {} chunks, next {}; {} keys to recheck",
                    self.name,
                    rep.table,
                    rep.rows,
                    rep.chunks,
                    if top.is_some() && lo.is_some() {
                        format!("{span} keys")
                    } else {
                        format!("{size} rows")
                    },
                    open.len()
                ),
                hi.is_none(),
            );
            match hi {
                Some(h) => lo = Some(h),
                None => return Ok(open),
            }
        }
    }

    /// One chunk from `lo`, in the open snapshots: its end, its rows on
    /// the master and the slower side's time.
    async fn chunk(
        &self,
        spec: &TableSpec,
        lo: &Option<Key>,
        end: End,
        t: Time,
        rep: &mut TableReport,
        open: &mut HashMap<Key, Open>,
    ) -> Result<(Option<Key>, i64, Duration), VerifyError> {
        let hi = match end {
            End::Key(hi) => hi,
            End::Rows(size) => {
                let from = Range {
                    lo: lo.clone(),
                    hi: None,
                };
                let end = self
                    .run(&self.master, &sql::key_at(spec, &from, size - 1))
                    .await?;
                keyed(&end, spec.key.len(), false)?.pop().map(|(k, _)| k)
            }
        };
        let range = Range {
            lo: lo.clone(),
            hi: hi.clone(),
        };
        let txntimes: Vec<String> =
            match bucardo::verify::pending_txntimes(spec, &self.target, MAX_PENDING + 1) {
                Some(q) => keyed(&self.run(&self.master, &q).await?, 1, false)?
                    .into_iter()
                    .filter_map(|(k, _)| k.into_iter().next())
                    .collect(),
                None => Vec::new(),
            };
        if txntimes.len() as i64 > MAX_PENDING {
            return Err(VerifyError::PendingTransactions {
                max: MAX_PENDING,
                name: self.name.clone(),
            });
        }
        let pending: Vec<Key> = match bucardo::verify::pending_in_range(spec, &range, &txntimes) {
            Some(q) if !txntimes.is_empty() => {
                keyed(&self.run(&self.master, &q).await?, spec.key.len(), false)?
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect()
            }
            _ => Vec::new(),
        };
        if pending.len() as i64 > MAX_PENDING {
            return Err(VerifyError::PendingChanges {
                max: MAX_PENDING,
                name: self.name.clone(),
            });
        }
        let (m, s, took) = self.digests(&sql::digest(spec, &range, &pending)).await?;
        rep.rows += m.rows;
        rep.chunks += 1;
        for k in &pending {
            open.insert(
                k.clone(),
                Open {
                    at: t,
                    seen: Seen::Pending,
                },
            );
        }
        if m != s {
            self.bisect(spec, range, (m, s), &pending, t, rep, open)
                .await?;
        }
        Ok((hi, m.rows, took))
    }

    /// Narrows a differing range down to its differing rows.
    #[allow(clippy::too_many_arguments)]
    async fn bisect(
        &self,
        spec: &TableSpec,
        range: Range,
        digests: (Digest, Digest),
        pending: &[Key],
        t: Time,
        rep: &mut TableReport,
        open: &mut HashMap<Key, Open>,
    ) -> Result<(), VerifyError> {
        let width = spec.key.len();
        let mut stack = vec![(range, digests.0, digests.1)];
        while let Some((r, m, s)) = stack.pop() {
            if m == s {
                continue;
            }
            let found = open.values().filter(|o| o.seen != Seen::Pending).count();
            if found >= MAX_DIFFS {
                rep.incomplete = true;
                continue;
            }
            let one_sided = m.rows == 0 || s.rows == 0;
            if !one_sided && (m.rows > LEAF || s.rows > LEAF) {
                let (side, n) = if m.rows >= s.rows {
                    (&self.master, m.rows)
                } else {
                    (&self.slave, s.rows)
                };
                let mid = self.run(side, &sql::key_at(spec, &r, n / 2 - 1)).await?;
                let mid = keyed(&mid, width, false)?.pop().map(|(k, _)| k);
                if let Some(mid) = mid.filter(|k| Some(k) != r.hi.as_ref()) {
                    let (a, b) = r.split_at(mid);
                    let (am, asl, _) = self.digests(&sql::digest(spec, &a, pending)).await?;
                    stack.push((b, m - am, s - asl));
                    stack.push((a, am, asl));
                    continue;
                }
            }
            // Row by row: both sides' rows, or the one side that has any.
            let limit = (MAX_DIFFS - found) as i64 + 1;
            let q = sql::rows(spec, &r, pending, limit);
            let (rm, rs) = match (m.rows, s.rows) {
                (0, _) => (Vec::new(), self.run(&self.slave, &q).await?),
                (_, 0) => (self.run(&self.master, &q).await?, Vec::new()),
                _ => {
                    let (a, b) =
                        tokio::join!(self.run(&self.master, &q), self.run(&self.slave, &q));
                    (a?, b?)
                }
            };
            let (rm, rs) = (keyed(&rm, width, true)?, keyed(&rs, width, true)?);
            if rm.len() as i64 >= limit || rs.len() as i64 >= limit {
                rep.incomplete = true;
            }
            for (k, seen) in settle::compare_rows(&rm, &rs) {
                open.insert(k, Open { at: t, seen });
            }
        }
        Ok(())
    }

    /// Waits until the slave has caught up to `at` (see `wait_heartbeat`).
    async fn caught_up(&self, at: Time) -> Result<(), Stop> {
        match wait_heartbeat(
            &self.slave,
            &self.name,
            &self.heartbeat,
            at,
            self.limits.catch_up,
        )
        .await
        {
            Ok(()) => Ok(()),
            Err(e) if self.slave.is_closed() => Err(Stop::Unreachable(e.to_string())),
            Err(e) => Err(Stop::Refused(e.to_string())),
        }
    }

    /// Looks at every open key again, until each is settled or the looks
    /// run out; what is left is unsettled.
    async fn recheck(
        &mut self,
        tables: &mut [(TableSpec, TableReport, HashMap<Key, Open>)],
    ) -> Result<(), Stop> {
        let mut result = Ok(());
        for round in 0..ROUNDS {
            let Some(need) = tables
                .iter()
                .flat_map(|(_, _, o)| o.values().map(|o| o.at))
                .max()
            else {
                break;
            };
            let left: usize = tables.iter().map(|(_, _, o)| o.len()).sum();
            self.say(
                format!(
                    "{}: rechecking {left} keys (look {} of {ROUNDS}) once the slave has caught up to {}",
                    self.name,
                    round + 1,
                    need.format("%H:%M:%S%.3f UTC")
                ),
                true,
            );
            if let Err(e) = self.caught_up(need).await {
                result = Err(e);
                break;
            }
            for (spec, rep, open) in tables.iter_mut() {
                if let Err(e) = self.look(spec, rep, open).await {
                    match self.stop(e) {
                        Stop::Refused(e) | Stop::Lagging(e) => {
                            rep.error = Some(format!("recheck: {e}"));
                        }
                        u @ Stop::Unreachable(_) => return Err(u),
                    }
                }
            }
        }
        for (_, rep, open) in tables.iter_mut() {
            let mut left: Vec<Key> = open.drain().map(|(k, _)| k).collect();
            left.sort();
            for k in left {
                rep.unsettled.push(k);
            }
        }
        match result {
            Err(Stop::Refused(e) | Stop::Lagging(e)) => {
                for (_, rep, _) in tables.iter_mut().filter(|(_, r, _)| r.unsettled.count > 0) {
                    rep.error.get_or_insert_with(|| format!("recheck: {e}"));
                }
                Ok(())
            }
            other => other,
        }
    }

    /// One more look at a table's open keys.
    async fn look(
        &self,
        spec: &TableSpec,
        rep: &mut TableReport,
        open: &mut HashMap<Key, Open>,
    ) -> Result<(), VerifyError> {
        let width = spec.key.len();
        let keys: Vec<Key> = open.keys().cloned().collect();
        for batch in keys.chunks(BATCH) {
            let t = self.begin().await?;
            let read = async {
                let pending: Vec<Key> =
                    match bucardo::verify::pending_among(spec, batch, &self.target) {
                        Some(q) => keyed(&self.run(&self.master, &q).await?, width, false)?
                            .into_iter()
                            .map(|(k, _)| k)
                            .collect(),
                        None => Vec::new(),
                    };
                let q = sql::rows_by_keys(spec, batch);
                let (m, s) = tokio::join!(self.run(&self.master, &q), self.run(&self.slave, &q));
                Ok::<_, VerifyError>((pending, keyed(&m?, width, true)?, keyed(&s?, width, true)?))
            };
            let read = read.await;
            self.end().await;
            let (pending, m, s) = read?;
            let m: HashMap<Key, i64> = m.into_iter().collect();
            let s: HashMap<Key, i64> = s.into_iter().collect();
            for k in batch {
                let now = if pending.contains(k) {
                    Seen::Pending
                } else {
                    Seen::of(m.get(k).copied(), s.get(k).copied())
                };
                let Some(before) = open.get(k).map(|o| o.seen) else {
                    continue;
                };
                match settle::settle(before, now) {
                    Verdict::Resolved => {
                        open.remove(k);
                    }
                    Verdict::Confirmed(kind) => {
                        open.remove(k);
                        rep.keys_mut(kind).push(k.clone());
                    }
                    Verdict::Again => {
                        open.insert(k.clone(), Open { at: t, seen: now });
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
