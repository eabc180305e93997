//! One host's live link: SSH session, forwards, Docker and PostgreSQL
//! clients, and one round of observation over them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use openssh::Session;
use tokio::sync::{broadcast, mpsc};

use crate::bucardo::health;
use crate::bucardo::{self, BucardoEvent};
use crate::pg::{self, Pg, PgError};
use crate::{docker, ssh};
use archtui_core::config::{Config, Host, Role};
use archtui_core::credentials::Password;
use archtui_core::health::HealthRead;
use archtui_core::model::{BucardoStatus, DaemonState, HostFailure, HostState};
use archtui_core::observation::{BucardoRead, FleetRead, HostObservation};

/// What every host link shares.
pub struct Context {
    pub config: Config,
    pub password: Password,
    /// Private directory for control sockets and forwards; short, because
    /// unix socket paths are limited to 108 bytes.
    pub run_dir: PathBuf,
}

impl Context {
    pub fn new(config: Config, password: Password) -> std::io::Result<Arc<Context>> {
        // One dir per process, one subdir per context: the console makes a
        // new context when its config changes while actions of the old one
        // may still run, and each removes only its own dir.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Under the process dir's lock, so that the last context's drop
        // cannot remove the process dir while this one is being made in it.
        let mut process = PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        let run_dir = process_dir(&mut process.0)?.join(n.to_string());
        make_private_dir(&run_dir)?;
        crate::local::files::check_private(&run_dir)?;
        process.1 += 1;
        drop(process);
        Ok(Arc::new(Context {
            config,
            password,
            run_dir,
        }))
    }

    /// The password resolved and the run dir made, for the commands; the
    /// error is one line that says which failed.
    pub fn open(config: Config) -> Result<Arc<Context>, OpenError> {
        let password =
            Password::resolve(&config.database).map_err(|e| OpenError::Password(e.to_string()))?;
        Context::new(config, password)
            .map_err(|e| OpenError::RunDir(format!("cannot create a private run directory: {e}")))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.database.query_timeout_secs)
    }
}

/// Why `Context::open` failed: the config's password, or this machine.
#[derive(Debug)]
pub enum OpenError {
    Password(String),
    RunDir(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Password(e) | OpenError::RunDir(e) => f.write_str(e),
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let mut process = PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        let _ = std::fs::remove_dir_all(&self.run_dir);
        process.1 = process.1.saturating_sub(1);
        // Only when no other context of this process is left.
        if process.1 == 0 {
            if let Some(parent) = self.run_dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

/// The process dir (once made) and how many contexts live in it.
static PROCESS: std::sync::Mutex<(Option<PathBuf>, usize)> = std::sync::Mutex::new((None, 0));

/// Longest run dir: a control socket inside it
/// (`h1000/.ssh-connectionXXXXXX/master.` and ssh's 16-character suffix)
/// and the forwards must stay under the 108 bytes of a unix socket path.
const MAX_RUN_DIR: usize = 48;

/// This process's private directory: `$XDG_RUNTIME_DIR/archtui/<random>`
/// (the `archtui` dir made 0700, its owner and mode checked, refused when
/// another user could enter it), else a random `mkdtemp` dir in the temp
/// dir; never a name another user can guess and prepare. Made again when
/// the last context removed it.
fn process_dir(dir: &mut Option<PathBuf>) -> std::io::Result<PathBuf> {
    if let Some(d) = dir.as_ref().filter(|d| d.is_dir()) {
        crate::local::files::check_private(d)?;
        return Ok(d.clone());
    }
    let made = make_process_dir(std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from))?;
    *dir = Some(made.clone());
    Ok(made)
}

/// A new random private dir under `$XDG_RUNTIME_DIR/archtui` (`runtime`),
/// or under the temp dir.
fn make_process_dir(runtime: Option<PathBuf>) -> std::io::Result<PathBuf> {
    let runtime = runtime
        .filter(|p| p.is_absolute())
        .map(|p| p.join("archtui"));
    let base = match runtime {
        Some(r) if r.as_os_str().len() + 8 <= MAX_RUN_DIR => {
            crate::local::files::private_dir(&r)?;
            r
        }
        // Too long for socket paths (or unset): the temp dir, else /tmp.
        _ if std::env::temp_dir().as_os_str().len() + 16 <= MAX_RUN_DIR => std::env::temp_dir(),
        _ => PathBuf::from("/tmp"),
    };
    let made = tempfile::Builder::new()
        .prefix("archtui-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(&base)?
        .keep();
    crate::local::files::check_private(&made)?;
    Ok(made)
}

/// A fresh directory only the user can enter (whatever was there is gone);
/// only ever called inside the checked run dir.
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A link number for `HostLink::open` (its private dir): the observers use
/// their host's place in the config; everything else takes one from here.
pub fn next_link() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1000);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub struct HostLink {
    pub host: Host,
    /// Shared with the watch that runs beside each observation.
    session: Option<Arc<Session>>,
    docker: Docker,
    /// Connected lazily, so containers show even while the db is down.
    archive: Option<Pg>,
    control: Option<Pg>,
    /// Channels LISTENed on over the current `control` connection.
    listening: Vec<String>,
    /// The master's delta table sizes at earlier observations.
    delta_history: archtui_core::health::History,
    /// What the daemon announces on the control connection.
    events_tx: mpsc::UnboundedSender<BucardoEvent>,
    events_rx: Option<mpsc::UnboundedReceiver<BucardoEvent>>,
    dir: PathBuf,
    ctx: Arc<Context>,
}

/// How often the session is checked while an observation runs.
const SESSION_WATCH: Duration = Duration::from_millis(500);
/// A healthy mux answers its alive check at once: it is a local socket.
const SESSION_CHECK: Duration = Duration::from_secs(1);

impl HostLink {
    /// Opens every layer in order; the first that fails names the state.
    pub async fn open(
        ctx: Arc<Context>,
        host: &Host,
        index: usize,
    ) -> Result<HostLink, HostFailure> {
        let dir = ctx.run_dir.join(format!("h{index}"));
        make_private_dir(&dir).map_err(|e| {
            HostFailure::new(HostState::Unreachable, format!("{}: {e}", dir.display()))
        })?;
        let (mut session, via) = ssh::open(&ctx.config, host, &dir).await?;
        let opened = if via == ssh::Via::Kept {
            // The Docker forward's first answer proves the kept master. No
            // answer soon: a command on the host tells a dead link (a new
            // handshake then, so the host shows unreachable, not as a
            // Docker failure) from a slow dockerd (the master stays: a
            // console on it must not lose its link for that).
            let within = ssh::kept_proof_within(&ctx.config);
            match tokio::time::timeout(within, Self::open_clients(&ctx, host, &session, &dir)).await
            {
                Ok(Err(f)) if f.state != HostState::Unreachable => Err(f),
                Ok(Ok(d)) => Ok(d),
                _ => {
                    let ends = ssh::Endpoints::new(&dir);
                    let port = ctx.config.database.port;
                    ssh::unforward(&session, &ends, &host.docker_socket, port).await;
                    if !ssh::reaches(&ctx.config, &session).await {
                        tracing::info!(host = %host.name, "kept ssh master does not reach its host");
                        ssh::discard(session).await;
                        session = ssh::connect_anew(&ctx.config, host, &dir).await?;
                    }
                    Self::open_clients(&ctx, host, &session, &dir).await
                }
            }
        } else {
            Self::open_clients(&ctx, host, &session, &dir).await
        };
        match opened {
            Ok(docker) => {
                let (events_tx, events_rx) = mpsc::unbounded_channel();
                Ok(HostLink {
                    host: host.clone(),
                    session: Some(Arc::new(session)),
                    docker,
                    archive: None,
                    control: None,
                    listening: Vec::new(),
                    delta_history: Default::default(),
                    events_tx,
                    events_rx: Some(events_rx),
                    dir,
                    ctx,
                })
            }
            Err(f) => {
                // An unreachable verdict means the master is no good; a
                // layer above ssh failing leaves a kept master as it is.
                let ends = ssh::Endpoints::new(&dir);
                ssh::unforward(
                    &session,
                    &ends,
                    &host.docker_socket,
                    ctx.config.database.port,
                )
                .await;
                if f.state == HostState::Unreachable {
                    ssh::discard(session).await;
                } else {
                    ssh::release(session).await;
                }
                Err(f)
            }
        }
    }

    async fn open_clients(
        ctx: &Context,
        host: &Host,
        session: &Session,
        dir: &Path,
    ) -> Result<Docker, HostFailure> {
        let ends = ssh::Endpoints::new(dir);
        // The forward must exist before bollard checks the socket file.
        ssh::forward_docker(session, &ends, &host.docker_socket).await?;
        let docker = docker::connect(&ends.docker_socket, ctx.timeout()).await?;
        let db = &ctx.config.database;
        ssh::forward_postgres(session, &ends, db.port).await?;
        Ok(docker)
    }

    /// The Docker client over this link's forward (cheap to clone).
    pub fn docker(&self) -> Docker {
        self.docker.clone()
    }

    /// Is the link still usable? A dead session means reconnecting.
    pub async fn alive(&self) -> bool {
        match &self.session {
            Some(s) => session_lost(s, &self.host).await.is_none(),
            None => false,
        }
    }

    /// Sync completions and daemon starts/stops announced by Bucardo (on
    /// a slave, once its control database has been read). Taken once.
    pub fn take_bucardo_events(&mut self) -> Option<mpsc::UnboundedReceiver<BucardoEvent>> {
        self.events_rx.take()
    }

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
        let heartbeat = async {
            let pg = ensure_db(slot, &ctx, host, dir, &ctx.config.database.name).await?;
            let db = &ctx.config.database;
            bucardo::heartbeat(pg, &db.heartbeat_table)
                .await
                .map_err(|e| format!("postgres {}@{}: {e}", db.user, db.name))
        };
        // A slave's control connection is opened meanwhile, not after.
        let control = async {
            match host.role {
                Role::Slave => {
                    let (slot, listening) = (&mut self.control, &mut self.listening);
                    ensure_control(slot, listening, &self.events_tx, &ctx, host, dir).await
                }
                Role::Master => Ok(()),
            }
        };
        let (containers, heartbeat, control) = tokio::join!(containers, heartbeat, control);

        let mut obs = HostObservation {
            host: self.host.clone(),
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
        if obs.state != HostState::Up {
            return obs;
        }
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
        obs
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
        let Some(control) = self.control.as_ref() else {
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
            Role::Master => {
                let (seq, delta, estimates) = tokio::join!(
                    health::sequences(pg, &schema),
                    health::delta_tables(pg),
                    health::estimates(pg, &schema)
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
            Role::Slave => {
                let ctl = self.control.as_ref().filter(|_| control);
                let control_read = async {
                    match ctl {
                        Some(ctl) => Some(health::control(ctl).await),
                        None => None,
                    }
                };
                let (seq, copy, control_read) = tokio::join!(
                    health::sequences(pg, &schema),
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
                            if let (true, Some(first), Some(name)) =
                                (c.total > 0, first, &container)
                            {
                                let since = first.timestamp() - 60;
                                let read = docker::recent_logs(&self.docker, name, since);
                                if let Ok(Ok(lines)) =
                                    tokio::time::timeout(self.ctx.timeout(), read).await
                                {
                                    c.tables = health::conflict_tables(
                                        lines.iter().map(|(_, l)| l.as_str()),
                                    );
                                }
                            }
                            h.conflicts.push(c);
                        }
                    }
                    Some(Err(e)) => errors.push(e.to_string()),
                }
            }
        }
        if !errors.is_empty() {
            h.error = Some(errors.join("; "));
        }
        h
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

    /// Container events of this host's project, filtered on the server.
    /// The stream ends when the link breaks.
    pub fn container_events(&self) -> impl futures_util::Stream<Item = ()> + Unpin + use<> {
        use futures_util::StreamExt;
        let opts = docker::events_options(&self.host.compose_project);
        Box::pin(
            self.docker
                .events(Some(opts))
                .take_while(|e| std::future::ready(e.is_ok()))
                .map(|_| ()),
        )
    }

    /// The end of a link that worked: its forwards closed, a kept master
    /// left for the next command.
    pub async fn close(mut self) {
        if let Some(s) = self.session.take().and_then(Arc::into_inner) {
            self.unforward(&s).await;
            ssh::release(s).await;
        }
    }

    /// The end of a link found dead or stuck: its master is stopped even
    /// when kept, so that the next link is a new handshake.
    pub async fn discard(mut self) {
        if let Some(s) = self.session.take().and_then(Arc::into_inner) {
            self.unforward(&s).await;
            ssh::discard(s).await;
        }
    }

    async fn unforward(&self, s: &Session) {
        let ends = ssh::Endpoints::new(&self.dir);
        let port = self.ctx.config.database.port;
        ssh::unforward(s, &ends, &self.host.docker_socket, port).await;
    }
}

/// Why the session is dead or silent, or `None` while it answers. The mux
/// master drops the session when the host misses its keepalives (see
/// `ssh::builder`), so a dead link shows here within a few seconds.
async fn session_lost(session: &Session, host: &Host) -> Option<String> {
    match tokio::time::timeout(SESSION_CHECK, session.check()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("ssh {}: connection lost: {e}", host.ssh)),
        Err(_) => Some(format!(
            "ssh {}: connection not answering within {} s",
            host.ssh,
            SESSION_CHECK.as_secs()
        )),
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
/// closed: schema checked, LISTENing, its announcements forwarded.
async fn ensure_control(
    slot: &mut Option<Pg>,
    listening: &mut Vec<String>,
    events: &mpsc::UnboundedSender<BucardoEvent>,
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
    bucardo::ensure_schema(&pg, name).await?;
    bucardo::listen(&pg).await?;
    forward_events(&pg, events.clone());
    listening.clear();
    *slot = Some(pg);
    Ok(())
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

pub async fn connect_db(
    ctx: &Context,
    host: &Host,
    dir: &Path,
    dbname: &str,
) -> Result<Pg, PgError> {
    connect_db_as(ctx, host, dir, dbname, None).await
}

async fn connect_db_as(
    ctx: &Context,
    host: &Host,
    dir: &Path,
    dbname: &str,
    application_name: Option<&str>,
) -> Result<Pg, PgError> {
    let db = &ctx.config.database;
    let password = ctx
        .password
        .for_db(&[&host.name, "localhost"], db.port, dbname, &db.user);
    Pg::connect(pg::Params {
        socket_dir: dir,
        port: db.port,
        user: &db.user,
        dbname,
        password,
        timeout: ctx.timeout(),
        application_name,
    })
    .await
    .map_err(|e| e.within(format!("postgres {}@{dbname}", db.user)))
}

/// What actions (src/actions) use of a link: their own connections, so
/// an action never disturbs the observing ones.
impl HostLink {
    /// A new connection to `dbname` on this host over the link's forward.
    pub async fn connect(&self, dbname: &str) -> Result<Pg, PgError> {
        connect_db(&self.ctx, &self.host, &self.dir, dbname).await
    }

    /// Like `connect`, naming the operator in pg_stat_activity: what a
    /// slave's supervisor records as who paused or resumed its sync.
    pub async fn connect_as_operator(&self, dbname: &str) -> Result<Pg, PgError> {
        let app = format!("archtui ({})", crate::job::operator());
        let app: String = app
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(60)
            .collect();
        connect_db_as(&self.ctx, &self.host, &self.dir, dbname, Some(&app)).await
    }

    /// The SSH session, for commands run on the host.
    pub fn session(&self) -> Option<Arc<Session>> {
        self.session.clone()
    }
}

#[cfg(test)]
mod run_dir_tests;
