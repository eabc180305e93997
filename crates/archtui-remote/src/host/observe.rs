//! One round of observation over a host's link: containers, heartbeat,
//! a slave's Bucardo daemon, the master's registry, and both's health.

use std::path::Path;

use tokio::sync::{broadcast, mpsc};

use super::{connect_db, session_lost, Context, HostLink, SESSION_WATCH};
use crate::bucardo::health;
use crate::bucardo::{self, BucardoEvent};
use crate::docker;
use crate::pg::{Pg, PgError};
use archtui_core::config::{Host, Role};
use archtui_core::health::HealthRead;
use archtui_core::model::{BucardoStatus, Container, DaemonState, HostFailure, HostState, Time};
use archtui_core::observation::{BucardoRead, FleetRead, HostObservation};

impl HostLink {
    /// One round over every layer. The SSH session is watched meanwhile:
    /// once it is dead or silent the host is unreachable, whatever the
    /// layers above it would have said, and the round stops there.
    pub async fn observe(&mut self) -> HostObservation {
        let host = self.host.clone();
        let Some(session) = self.session.clone() else {
            let closed = HostFailure::new(HostState::Unreachable, "ssh session closed");
            return HostObservation::failed(&host, closed, chrono::Utc::now());
        };
        let watch = async {
            loop {
                tokio::time::sleep(SESSION_WATCH).await;
                if let Some(reason) = session_lost(&session, &host).await {
                    return reason;
                }
            }
        };
        let obs = tokio::select! {
            obs = self.observe_layers() => obs,
            reason = watch => {
                return HostObservation::failed(&host, HostFailure::new(HostState::Unreachable, reason), chrono::Utc::now());
            }
        };
        // A layer that failed may have failed because the session died
        // under it: say so rather than blame Docker or PostgreSQL.
        if obs.state != HostState::Up {
            if let Some(reason) = session_lost(&session, &host).await {
                return HostObservation::failed(
                    &host,
                    HostFailure::new(HostState::Unreachable, reason),
                    chrono::Utc::now(),
                );
            }
        }
        obs
    }

    /// After a sync completion (Bucardo's NOTIFY) on a slave: only what a
    /// sync run changes, its rows and the heartbeat it carried, read again
    /// on the open connections and put into `last`; the rest (containers,
    /// processes, health) stands as the last full round read it, which the
    /// poll and Docker's events keep current. None: a read failed, or
    /// there is no full round to start from; the caller does a full one.
    pub async fn observe_syncs(&mut self, last: &HostObservation) -> Option<HostObservation> {
        if self.host.role != Role::Slave || last.state != HostState::Up {
            return None;
        }
        let bucardo = last.bucardo.as_ref()?;
        if bucardo.status.error.is_some() {
            return None;
        }
        let (control, archive) = (self.control.as_ref()?, self.archive.as_ref()?);
        let table = &self.ctx.config.database.heartbeat_table;
        let within = self.ctx.timeout();
        let column = &mut self.heartbeat_column;
        let reads = async {
            tokio::join!(
                bucardo::syncs(control),
                read_heartbeat(archive, table, column)
            )
        };
        let (syncs, heartbeat) = tokio::time::timeout(within, reads).await.ok()?;
        let (syncs, heartbeat) = (syncs.ok()?, heartbeat.ok()?);
        let mut obs = last.clone();
        let now = chrono::Utc::now();
        obs.observed_at = now;
        obs.heartbeat = heartbeat;
        if let Some(b) = obs.bucardo.as_mut() {
            b.syncs = syncs;
            b.status.observed_at = now;
        }
        Some(obs)
    }

    async fn observe_layers(&mut self) -> HostObservation {
        let ctx = self.ctx.clone();
        let project = self.host.compose_project.clone();
        let containers = async {
            tokio::time::timeout(ctx.timeout(), docker::containers(&self.docker, &project))
                .await
                .map_err(|_| format!("docker: {}", docker::NO_ANSWER))
                .and_then(|r| r.map_err(|e| format!("docker: {e}")))
        };
        let (host, dir, slot) = (&self.host, &self.dir, &mut self.archive);
        let column = &mut self.heartbeat_column;
        let heartbeat = async {
            let pg = ensure_db(slot, &ctx, host, dir, &ctx.config.database.name).await?;
            let db = &ctx.config.database;
            read_heartbeat(pg, &db.heartbeat_table, column)
                .await
                .map_err(|e| format!("postgres {}@{}: {e}", db.user, db.name))
        };
        // A slave's control connection is opened meanwhile, not after.
        let control = async {
            match host.role {
                Role::Slave => {
                    let (slot, listening) = (&mut self.control, &mut self.listening);
                    let events = self.notified.then_some(&self.events_tx);
                    ensure_control(slot, listening, events, &ctx, host, dir).await
                }
                Role::Master => Ok(()),
            }
        };
        let (containers, heartbeat, control) = tokio::join!(containers, heartbeat, control);
        let mut obs = first_layers(&self.host, containers, heartbeat);
        if obs.state != HostState::Up {
            return obs;
        }
        self.observe_bucardo_layer(&mut obs, control).await;
        obs
    }

    /// Over hosts whose Docker and database answer: a slave's daemon and
    /// health, the master's registry and health.
    async fn observe_bucardo_layer(
        &mut self,
        obs: &mut HostObservation,
        control: Result<(), String>,
    ) {
        match self.host.role {
            Role::Slave => {
                let bucardo_container = obs
                    .containers
                    .iter()
                    .find(|c| c.service == "bucardo")
                    .map(|c| c.name.clone());
                let control_ok = control.is_ok();
                // Independent reads, on two connections (each pipelines
                // its own queries): the round costs the slowest, not the sum.
                let bucardo = async {
                    match control {
                        Ok(()) => self.observe_bucardo(bucardo_container.clone()).await,
                        Err(e) => (bucardo_failed(&self.host.name, e), Vec::new()),
                    }
                };
                let health = self.observe_health(control_ok, bucardo_container.clone());
                let ((bucardo, syncs), health) = tokio::join!(bucardo, health);
                obs.bucardo = Some(bucardo);
                obs.health = Some(health);
                self.listen(&syncs).await;
            }
            Role::Master => {
                let (fleet, mut health) =
                    tokio::join!(self.observe_registry(), self.observe_health(false, None));
                obs.fleet = Some(fleet);
                self.delta_growth(&mut health);
                obs.health = Some(health);
            }
        }
    }

    /// The growth of the master's delta tables against this link's
    /// earlier readings.
    fn delta_growth(&mut self, h: &mut HealthRead) {
        let rows: Vec<(String, i64)> = h
            .delta
            .iter()
            .map(|d| (d.table.clone(), d.delta_rows))
            .collect();
        let window = self.ctx.config.thresholds.delta_growth_window_secs;
        let growth = self
            .delta_history
            .observe(chrono::Utc::now(), &rows, window);
        for (d, g) in h.delta.iter_mut().zip(growth) {
            d.growth = g;
        }
    }

    /// LISTENs on the completions of syncs not yet listened to. Not fatal:
    /// without it completions show at the next poll.
    async fn listen(&mut self, syncs: &[String]) {
        let Some(control) = self.control.as_ref().filter(|_| self.notified) else {
            return;
        };
        if let Ok(new) = bucardo::listen_syncs(control, syncs, &self.listening).await {
            self.listening.extend(new);
        }
    }

    /// Bucardo's health as this host shows it: the master its delta and
    /// track tables (growth against this link's earlier readings) and row
    /// estimates; a slave its conflicts, one-time copy and COPY under way;
    /// every host its key sequences. What fails is said, the rest kept.
    async fn observe_health(&self, control: bool, container: Option<String>) -> HealthRead {
        let mut h = HealthRead::default();
        let mut errors = Vec::new();
        let schema = self
            .ctx
            .config
            .database
            .heartbeat_table
            .split_once('.')
            .map_or("public", |(s, _)| s)
            .to_string();
        let Some(pg) = self.archive.as_ref() else {
            h.error = Some("archive database not connected".into());
            return h;
        };
        match self.host.role {
            Role::Master => master_health(pg, &schema, &mut h, &mut errors).await,
            Role::Slave => {
                self.slave_health(pg, &schema, control, container, &mut h, &mut errors)
                    .await;
            }
        }
        if !errors.is_empty() {
            h.error = Some(errors.join("; "));
        }
        h
    }

    /// A slave's health: key sequences, the COPY under way, and (with its
    /// control connection) conflicts, each with the tables its daemon's
    /// log names, and the one-time copy.
    async fn slave_health(
        &self,
        pg: &Pg,
        schema: &str,
        control: bool,
        container: Option<String>,
        h: &mut HealthRead,
        errors: &mut Vec<String>,
    ) {
        let ctl = self.control.as_ref().filter(|_| control);
        let control_read = async {
            match ctl {
                Some(ctl) => Some(health::control(ctl).await),
                None => None,
            }
        };
        let (seq, copy, control_read) = tokio::join!(
            health::sequences(pg, schema),
            health::copy(pg),
            control_read
        );
        match seq {
            Ok(s) => h.sequences = s,
            Err(e) => errors.push(e.to_string()),
        }
        match copy {
            Ok(c) => h.copy = c,
            Err(e) => errors.push(e.to_string()),
        }
        match control_read {
            None => {}
            Some(Ok((conflicts, otc))) => {
                h.onetimecopy = otc;
                for (mut c, first) in conflicts {
                    if let (true, Some(first), Some(name)) = (c.total > 0, first, &container) {
                        let since = first.timestamp() - 60;
                        let read = docker::recent_logs(&self.docker, name, since);
                        if let Ok(Ok(lines)) = tokio::time::timeout(self.ctx.timeout(), read).await
                        {
                            c.tables =
                                health::conflict_tables(lines.iter().map(|(_, l)| l.as_str()));
                        }
                    }
                    h.conflicts.push(c);
                }
            }
            Some(Err(e)) => errors.push(e.to_string()),
        }
    }

    /// The master's registry, with each slave's pending changes.
    async fn observe_registry(&self) -> FleetRead {
        let table = &self.ctx.config.database.heartbeat_table;
        let read = match self.archive.as_ref() {
            Some(pg) => bucardo::registry(pg, table).await,
            None => Err(PgError::Unexpected("archive database not connected".into())),
        };
        let (slaves, error) = match read {
            Ok(s) => (s, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        FleetRead { slaves, error }
    }

    /// A slave's own daemon: its control database, its supervisor's
    /// record, and its bucardo container's process titles (which say
    /// whether the MCP runs, which syncs it runs and which have a
    /// controller: no ping, whose answer waits a daemon loop).
    /// Also the names of its syncs, to LISTEN on.
    async fn observe_bucardo(&self, container: Option<String>) -> (BucardoRead, Vec<String>) {
        let host = self.host.name.clone();
        let ctx = self.ctx.clone();
        let failed = |e: String| bucardo_failed(&host, e);
        let docker = self.docker.clone();
        let Some(control) = self.control.as_ref() else {
            return (failed("control database not connected".into()), Vec::new());
        };
        let processes = async {
            match &container {
                Some(c) => tokio::time::timeout(ctx.timeout(), docker::process_titles(&docker, c))
                    .await
                    .ok()
                    .and_then(Result::ok),
                None => None,
            }
        };
        // Pipelined on the one connection.
        let reads = async {
            let (version, syncs, ops) = tokio::join!(
                bucardo::version(control),
                bucardo::syncs(control),
                bucardo::ops(control)
            );
            // ops is not fatal: without it states are judged from
            // processes alone.
            Ok::<_, String>((version?, syncs?, ops.ok().flatten()))
        };
        let (processes, reads) = tokio::join!(processes, reads);
        let names: Vec<String> = match &reads {
            Ok((_, syncs, _)) => syncs.iter().map(|s| s.name.clone()).collect(),
            Err(_) => Vec::new(),
        };
        let read = match reads {
            Err(e) => failed(e),
            Ok((version, syncs, ops)) => BucardoRead {
                status: BucardoStatus {
                    host,
                    // Judged in fleet::assemble from processes and ops.
                    daemon: DaemonState::Unknown,
                    detail: None,
                    since: None,
                    version,
                    error: None,
                    observed_at: chrono::Utc::now(),
                },
                syncs,
                processes,
                ops,
            },
        };
        (read, names)
    }
}

/// Hands Bucardo's announcements on `pg` to `tx` until either side closes.
fn forward_events(pg: &Pg, tx: mpsc::UnboundedSender<BucardoEvent>) {
    let mut rx = pg.subscribe();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(n) => {
                    let event = bucardo::event_of(n.channel());
                    if event.is_some_and(|e| tx.send(e).is_err()) {
                        return;
                    }
                }
                // Missed some: the next one still triggers a full refresh.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

fn bucardo_failed(host: &str, e: String) -> BucardoRead {
    BucardoRead {
        status: BucardoStatus {
            host: host.to_string(),
            daemon: DaemonState::Unknown,
            detail: None,
            since: None,
            version: None,
            error: Some(e),
            observed_at: chrono::Utc::now(),
        },
        syncs: Vec::new(),
        processes: None,
        ops: None,
    }
}

/// A slave's control connection in `slot`, (re)opened if missing or
/// closed: schema checked and, with `events`, LISTENing, its announcements
/// forwarded there.
async fn ensure_control(
    slot: &mut Option<Pg>,
    listening: &mut Vec<String>,
    events: Option<&mpsc::UnboundedSender<BucardoEvent>>,
    ctx: &Context,
    host: &Host,
    dir: &Path,
) -> Result<(), String> {
    if slot.as_ref().is_some_and(|c| !c.is_closed()) {
        return Ok(());
    }
    *slot = None;
    let name = &ctx.config.database.bucardo_db;
    let pg = connect_db(ctx, host, dir, name)
        .await
        .map_err(|e| format!("control database {name:?}: {e}"))?;
    // The check and the LISTEN pipelined: one round trip.
    let listen = async {
        match events {
            Some(_) => bucardo::listen(&pg).await,
            None => Ok(()),
        }
    };
    let (schema, listened) = tokio::join!(bucardo::ensure_schema(&pg, name), listen);
    schema?;
    listened?;
    if let Some(events) = events {
        forward_events(&pg, events.clone());
    }
    listening.clear();
    *slot = Some(pg);
    Ok(())
}

/// The heartbeat, through the column name `column` keeps (looked up when
/// it keeps none, forgotten when the read fails, e.g. a table made anew).
async fn read_heartbeat(
    pg: &Pg,
    table: &str,
    column: &mut Option<String>,
) -> Result<Option<Time>, PgError> {
    let name = match column.as_ref() {
        Some(c) => c.clone(),
        None => match bucardo::heartbeat_column(pg, table).await? {
            Some(c) => column.insert(c).clone(),
            None => return Ok(None),
        },
    };
    let read = bucardo::heartbeat_at(pg, table, &name).await;
    if read.is_err() {
        *column = None;
    }
    read
}

/// The client in `slot`, reconnected first if it is missing or closed.
async fn ensure_db<'a>(
    slot: &'a mut Option<Pg>,
    ctx: &Context,
    host: &Host,
    dir: &Path,
    dbname: &str,
) -> Result<&'a Pg, String> {
    if slot.as_ref().is_none_or(Pg::is_closed) {
        *slot = None;
        *slot = Some(connect_db(ctx, host, dir, dbname).await?);
    }
    Ok(slot.as_ref().expect("connected above"))
}

/// The master's health: key sequences, delta and track tables, row
/// estimates; what fails goes to `errors`.
async fn master_health(pg: &Pg, schema: &str, h: &mut HealthRead, errors: &mut Vec<String>) {
    let (seq, delta, estimates) = tokio::join!(
        health::sequences(pg, schema),
        health::delta_tables(pg),
        health::estimates(pg, schema)
    );
    match seq {
        Ok(s) => h.sequences = s,
        Err(e) => errors.push(e.to_string()),
    }
    match delta {
        Ok(d) => h.delta = d,
        Err(e) => errors.push(e.to_string()),
    }
    match estimates {
        Ok(e) => h.estimates = e,
        Err(e) => errors.push(e.to_string()),
    }
}

/// A round's first layers, Docker's containers and the database's
/// heartbeat: the host is up when both answered, else the first failure.
fn first_layers(
    host: &Host,
    containers: Result<Vec<Container>, String>,
    heartbeat: Result<Option<Time>, String>,
) -> HostObservation {
    let mut obs = HostObservation {
        host: host.clone(),
        state: HostState::Up,
        error: None,
        observed_at: chrono::Utc::now(),
        containers: Vec::new(),
        heartbeat: None,
        bucardo: None,
        fleet: None,
        health: None,
    };
    match containers {
        Ok(c) => obs.containers = c,
        Err(e) => {
            obs.state = HostState::DockerUnavailable;
            obs.error = Some(e);
        }
    }
    match heartbeat {
        Ok(h) => obs.heartbeat = h,
        Err(e) if obs.state == HostState::Up => {
            obs.state = HostState::DatabaseUnavailable;
            obs.error = Some(e);
        }
        Err(_) => {}
    }
    obs
}
