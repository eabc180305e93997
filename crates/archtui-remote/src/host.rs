//! One host's live link: SSH session, forwards, Docker and PostgreSQL
//! clients; one round of observation over them is in `observe`, what
//! every link shares in `context`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use openssh::Session;
use tokio::sync::mpsc;

use crate::bucardo::BucardoEvent;
use crate::pg::{self, Pg, PgError};
use crate::{docker, ssh};
use archtui_core::config::Host;
use archtui_core::model::{HostFailure, HostState};

mod context;
mod observe;

pub use context::{make_private_dir, next_link, Context, OpenError};

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
    /// The heartbeat table's timestamp column, looked up once per link.
    heartbeat_column: Option<String>,
    /// Whether announcements are listened for at all: a one-shot command
    /// observes once and hears none of them, so it spends no round trip.
    notified: bool,
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
                    notified: true,
                    heartbeat_column: None,
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

    /// For a single observation: no LISTEN for announcements that would
    /// never be heard.
    pub fn once(mut self) -> Self {
        self.notified = false;
        self
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
