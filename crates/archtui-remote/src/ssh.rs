//! The SSH session to one host (openssh, native-mux) and the forwards the
//! Docker and PostgreSQL clients ride on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::num::NonZeroUsize;

use openssh::{ControlPersist, ForwardType, KnownHosts, Session, SessionBuilder, Socket};

use crate::ssh_masters::{self, Masters};

use archtui_core::config::{self, Config, Host};
use archtui_core::model::{HostFailure, HostState};

mod host_keys;

#[cfg(test)]
use host_keys::{classify_text, last_meaningful_line};

pub use host_keys::{
    changed_key, classify, key_fingerprint, known_hosts_entry, resolve, scan_keys, ChangedKey,
    ScannedKey,
};

/// Local endpoints of a host's forwards, inside its private directory.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub docker_socket: PathBuf,
    /// Directory holding `.s.PGSQL.<port>`, the form libpq and
    /// tokio-postgres use for unix sockets.
    pub pg_dir: PathBuf,
}

impl Endpoints {
    pub fn new(dir: &Path) -> Self {
        Self {
            docker_socket: dir.join("docker.sock"),
            pg_dir: dir.to_path_buf(),
        }
    }

    pub fn pg_socket(&self, port: u16) -> PathBuf {
        self.pg_dir.join(format!(".s.PGSQL.{port}"))
    }
}

fn builder(config: &Config, control_dir: &Path) -> SessionBuilder {
    let mut b = SessionBuilder::default();
    // Not strict means accept-new: unknown keys are learned, a changed key
    // is refused all the same. Never `no`, which would hand the database
    // password to whoever answers in the host's place.
    b.known_hosts_check(if config.ssh.strict_host_key_checking {
        KnownHosts::Strict
    } else {
        KnownHosts::Add
    })
    .connect_timeout(Duration::from_secs(config.ssh.connect_timeout_secs))
    // Drops the session when the host stops answering, within about the
    // connect timeout (ssh gives up after ServerAliveCountMax, default 3,
    // missed keepalives) instead of TCP's minutes.
    .server_alive_interval(keepalive_interval(config.ssh.connect_timeout_secs))
    .control_directory(control_dir);
    if let Some(file) = &config.ssh.config_file {
        b.config_file(file);
    }
    b
}

/// Keepalive interval so that a dead link is noticed within about
/// `connect_timeout` seconds.
pub fn keepalive_interval(connect_timeout_secs: u64) -> Duration {
    Duration::from_secs((connect_timeout_secs / 3).max(1))
}

/// The handshakes in flight, process-wide, sized by the first config that
/// connects (`[ssh] max_parallel_connects`).
static CONNECTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();

/// A turn to connect. Uncontended, at once; when every permit is taken, a
/// random 0-200 ms wait first, so that many hosts queued together do not
/// reach their sshd in one burst when permits free up.
async fn connect_turn(max: usize) -> Option<tokio::sync::SemaphorePermit<'static>> {
    take_turn(CONNECTS.get_or_init(|| tokio::sync::Semaphore::new(max.max(1)))).await
}

async fn take_turn(sem: &tokio::sync::Semaphore) -> Option<tokio::sync::SemaphorePermit<'_>> {
    if let Ok(p) = sem.try_acquire() {
        return Some(p);
    }
    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..200))).await;
    sem.acquire().await.ok()
}

/// The user's shared masters, or why there are none (then every command
/// connects and closes its own session, as with `persist_secs = 0`).
fn masters() -> Option<&'static Masters> {
    static MASTERS: std::sync::OnceLock<Option<Masters>> = std::sync::OnceLock::new();
    MASTERS
        .get_or_init(|| match user_masters() {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(error = %e, "ssh masters are not kept between commands");
                None
            }
        })
        .as_ref()
}

/// The private per-user directory of kept masters (where observers'
/// sockets live too), if there is one.
pub fn user_dir() -> Option<PathBuf> {
    masters().map(|m| m.dir().to_path_buf())
}

/// This user's masters' directory, from `$XDG_RUNTIME_DIR`.
fn user_masters() -> std::io::Result<Masters> {
    Masters::for_user(std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from))
}

/// How a session was had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A kept master, alive locally but not yet proven to reach its host.
    Kept,
    /// A handshake just now.
    Handshake,
}

/// Opens the session: a live master kept from an earlier command (or a
/// running console) when `[ssh] persist_secs` allows, proven with one
/// command on the host, else a handshake. The whole handshake is bounded,
/// not only the TCP connect, so a host that accepts and then hangs cannot
/// stall the caller. The bound starts once the host's turn to connect has
/// come.
pub async fn connect(
    config: &Config,
    host: &Host,
    control_dir: &Path,
) -> Result<Session, HostFailure> {
    let (session, via) = open(config, host, control_dir).await?;
    if via == Via::Handshake || reaches(config, &session).await {
        return Ok(session);
    }
    tracing::info!(host = %host.name, "kept ssh master does not reach its host");
    discard(session).await;
    connect_anew(config, host, control_dir).await
}

/// Like `connect`, without the proof: the caller's own first round trip
/// proves a kept master (a PostgreSQL or Docker forward is far cheaper than
/// a command, which costs the host a login session), and on failure it
/// calls `discard` and `connect_anew`.
pub async fn open(
    config: &Config,
    host: &Host,
    control_dir: &Path,
) -> Result<(Session, Via), HostFailure> {
    let dest = config::ssh_destination(&host.ssh)
        .map_err(|e| HostFailure::new(HostState::Unreachable, e))?;
    let shared = (config.ssh.persist_secs > 0).then(masters).flatten();
    if let Some(m) = shared {
        if let Some(session) = resume(host, m, &ssh_masters::key(&config.ssh, &dest)).await {
            return Ok((session, Via::Kept));
        }
    }
    Ok((
        connect_anew(config, host, control_dir).await?,
        Via::Handshake,
    ))
}

/// A handshake, whatever is kept (what `check` and pre-flight use: they
/// test ssh and the host key as they are now); the new master is kept
/// when `[ssh] persist_secs` allows.
pub async fn connect_anew(
    config: &Config,
    host: &Host,
    control_dir: &Path,
) -> Result<Session, HostFailure> {
    let dest = config::ssh_destination(&host.ssh)
        .map_err(|e| HostFailure::new(HostState::Unreachable, e))?;
    let shared = (config.ssh.persist_secs > 0).then(masters).flatten();
    let Some(m) = shared else {
        return handshake(config, host, &dest, builder(config, control_dir)).await;
    };
    let mut b = builder(config, m.dir());
    b.control_persist(ControlPersist::IdleFor(
        NonZeroUsize::new(usize::try_from(config.ssh.persist_secs).unwrap_or(usize::MAX))
            .unwrap_or(NonZeroUsize::MIN),
    ));
    let session = handshake(config, host, &dest, b).await?;
    // Detached, the master outlives this process; the resumed handle
    // leaves it running when dropped (`release`), unlike the owner's.
    let (ctl, log) = session.detach();
    if let Err(e) = m.adopt(&ssh_masters::key(&config.ssh, &dest), &ctl) {
        tracing::warn!(host = %host.name, error = %e, "ssh master not kept");
    }
    Ok(Session::resume_mux(ctl, log))
}

/// The bound on proving a kept master: a third of the connect timeout,
/// so a dead link behind it costs little more than the connect itself.
pub fn kept_proof_within(config: &Config) -> Duration {
    keepalive_interval(config.ssh.connect_timeout_secs)
}

/// Does the session reach its host? One command there, bounded.
pub async fn reaches(config: &Config, session: &Session) -> bool {
    let within = kept_proof_within(config);
    let run = crate::shell::sh_ok(session, "true", &[], within);
    matches!(tokio::time::timeout(within, run).await, Ok(Ok(_)))
}

/// The kept master for `key`, when its mux answers within a second (a
/// local socket: a live one answers at once); else it is stopped and
/// forgotten.
async fn resume(host: &Host, m: &Masters, key: &str) -> Option<Session> {
    let (ctl, log) = m.find(key)?;
    let session = Session::resume_mux(ctl.into(), Some(log.into()));
    match tokio::time::timeout(Duration::from_secs(1), session.check()).await {
        Ok(Ok(())) => {
            tracing::debug!(host = %host.name, "ssh master resumed");
            Some(session)
        }
        answer => {
            tracing::info!(host = %host.name, timed_out = answer.is_err(), "kept ssh master is stale");
            let _ = tokio::time::timeout(Duration::from_secs(1), session.close()).await;
            m.forget(key);
            None
        }
    }
}

async fn handshake(
    config: &Config,
    host: &Host,
    dest: &str,
    b: SessionBuilder,
) -> Result<Session, HostFailure> {
    let limit = Duration::from_secs(config.ssh.connect_timeout_secs + 3);
    let _turn = connect_turn(config.ssh.max_parallel_connects).await;
    tracing::debug!(host = %host.name, ssh = %host.ssh, "ssh connect");
    match tokio::time::timeout(limit, b.connect_mux(dest)).await {
        Err(_) => {
            tracing::warn!(host = %host.name, limit_s = limit.as_secs(), "ssh connect timed out");
            Err(HostFailure::new(
                HostState::Unreachable,
                format!("ssh {}: no answer within {} s", host.ssh, limit.as_secs()),
            ))
        }
        Ok(Err(e)) => {
            let f = classify(&host.ssh, &e);
            tracing::warn!(host = %host.name, state = ?f.state, reason = %f.reason, "ssh connect failed");
            Err(f)
        }
        Ok(Ok(session)) => {
            tracing::info!(host = %host.name, "ssh connected");
            Ok(session)
        }
    }
}

/// Is this session on a master kept for other commands?
pub fn is_shared(session: &Session) -> bool {
    masters().is_some_and(|m| m.holds(session.control_socket()))
}

/// The end of a command's use of a session that worked: a kept master
/// stays for the next command; a session of its own is closed.
pub async fn release(session: Session) {
    if !is_shared(&session) {
        let _ = tokio::time::timeout(Duration::from_secs(3), session.close()).await;
    }
}

/// The end of a session found dead or stuck: closed even when it is a kept
/// master, so the next command makes a new one instead of resuming it.
pub async fn discard(session: Session) {
    let ctl = session.control_socket().to_path_buf();
    let _ = tokio::time::timeout(Duration::from_secs(3), session.close()).await;
    if let Some(m) = masters() {
        m.forget_master(&ctl);
    }
}

/// Closes the forwards a command asked for on a kept master, which would
/// otherwise keep listening (on files already gone) as long as it lives.
pub async fn unforward(session: &Session, ends: &Endpoints, docker_socket: &str, port: u16) {
    if !is_shared(session) {
        return;
    }
    let docker = session.close_port_forward(
        ForwardType::Local,
        Socket::from(ends.docker_socket.clone()),
        Socket::from(PathBuf::from(docker_socket)),
    );
    let pg = session.close_port_forward(
        ForwardType::Local,
        Socket::from(ends.pg_socket(port)),
        Socket::new("127.0.0.1", port),
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = docker.await;
        let _ = pg.await;
    })
    .await;
}

/// `archtui disconnect`: asks every kept master to stop (each ends once
/// the sessions on it end) and clears the directory. Returns how many
/// answered and the directory; a master that does not answer within a
/// second is only forgotten.
pub async fn disconnect_all() -> std::io::Result<(usize, PathBuf)> {
    let m = user_masters()?;
    let mut stopped = 0;
    for ctl in m.all() {
        let session = Session::resume_mux(ctl.into_boxed_path(), None);
        if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(1), session.close()).await {
            stopped += 1;
        }
    }
    m.sweep();
    Ok((stopped, m.dir().to_path_buf()))
}

/// Forwards a local unix socket to the host's Docker socket. A stale file
/// from an earlier run would make the master's bind fail.
pub async fn forward_docker(
    session: &Session,
    ends: &Endpoints,
    remote_socket: &str,
) -> Result<(), HostFailure> {
    let _ = std::fs::remove_file(&ends.docker_socket);
    let asked = session.request_port_forward(
        ForwardType::Local,
        Socket::from(ends.docker_socket.clone()),
        Socket::from(PathBuf::from(remote_socket)),
    );
    match tokio::time::timeout(FORWARD_WITHIN, asked).await {
        Ok(r) => r.map_err(|e| {
            HostFailure::new(
                HostState::DockerUnavailable,
                format!("forward to {remote_socket}: {e}"),
            )
        }),
        Err(_) => Err(HostFailure::new(
            HostState::Unreachable,
            format!(
                "forward to {remote_socket}: ssh's control master did not answer within {} s",
                FORWARD_WITHIN.as_secs()
            ),
        )),
    }
}

/// A forward request is one round trip to the local ssh control master;
/// one that does not answer must not leave a host "connecting" for ever.
const FORWARD_WITHIN: Duration = Duration::from_secs(10);

/// Forwards a local unix socket to the host's published PostgreSQL port.
pub async fn forward_postgres(
    session: &Session,
    ends: &Endpoints,
    port: u16,
) -> Result<(), HostFailure> {
    let local = ends.pg_socket(port);
    let _ = std::fs::remove_file(&local);
    let asked = session.request_port_forward(
        ForwardType::Local,
        Socket::from(local),
        Socket::new("127.0.0.1", port),
    );
    match tokio::time::timeout(FORWARD_WITHIN, asked).await {
        Ok(r) => r.map_err(|e| {
            HostFailure::new(
                HostState::DatabaseUnavailable,
                format!("forward to port {port}: {e}"),
            )
        }),
        Err(_) => Err(HostFailure::new(
            HostState::Unreachable,
            format!(
                "forward to port {port}: ssh's control master did not answer within {} s",
                FORWARD_WITHIN.as_secs()
            ),
        )),
    }
}

#[cfg(test)]
mod tests;
