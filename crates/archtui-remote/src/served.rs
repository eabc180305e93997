//! A running observer's latest readings, shared with one-shot `status`
//! commands on the same config over a Unix socket in the user's private
//! masters' directory (`archtui_core::served` decides whether they may
//! stand for "now"). A warm one-shot then costs the fleet nothing: the
//! observer's links, backends and caches are already open.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use archtui_core::config::{Config, Host};
use archtui_core::observation::HostObservation;
use archtui_core::served::{Served, VERSION};

/// A client that does not read its answer within this is dropped.
const WRITE_WITHIN: Duration = Duration::from_secs(2);
/// No fleet's readings come near this; a peer sending more is not ours.
const MAX_BYTES: u64 = 64 << 20;

/// Each host's latest observation, in config order, as the observer's
/// loop records them.
#[derive(Clone)]
pub struct Shelf {
    names: Arc<[String]>,
    latest: Arc<Mutex<Vec<Option<HostObservation>>>>,
}

impl Shelf {
    pub fn new(hosts: &[Host]) -> Shelf {
        Shelf {
            names: hosts.iter().map(|h| h.name.clone()).collect(),
            latest: Arc::new(Mutex::new(vec![None; hosts.len()])),
        }
    }

    /// Keeps `obs` as its host's latest (a host not configured: nothing).
    pub fn put(&self, obs: &HostObservation) {
        let Some(i) = self.names.iter().position(|n| *n == obs.host.name) else {
            return;
        };
        if let Ok(mut v) = self.latest.lock() {
            if let Some(slot) = v.get_mut(i) {
                *slot = Some(obs.clone());
            }
        }
    }

    pub fn snapshot(&self) -> Vec<Option<HostObservation>> {
        // A poisoned lock still holds whole observations.
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The socket of observers of `config`: named by everything in it (and
/// this build, and the directory when it names files relative to it), so
/// a one-shot only ever reads an observer of the same hosts, reached the
/// same way. Short: a socket path fits in 108 bytes.
pub fn socket_path(config: &Config) -> Option<PathBuf> {
    let dir = crate::ssh::user_dir()?;
    let mut h = Sha256::new();
    h.update(b"archtui-observer-v1\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\0");
    h.update(format!("{config:?}").as_bytes());
    // Relative paths mean other files from another directory.
    let relative = [&config.ssh.config_file, &config.database.password_file]
        .into_iter()
        .flatten()
        .any(|p| p.is_relative());
    if relative {
        h.update(format!("\0{:?}", std::env::current_dir().ok()).as_bytes());
    }
    let key: String = h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(dir.join(format!("o-{key}")))
}

/// Serves `shelf` while it lives; dropped, it stops and removes its
/// socket (only its own: a newer observer may have taken the name).
pub struct Server {
    task: JoinHandle<()>,
    path: PathBuf,
    inode: u64,
    last_client: Arc<Mutex<Instant>>,
}

impl Server {
    /// How long since a one-shot last read these readings (or since the
    /// server started).
    pub fn idle(&self) -> Duration {
        self.last_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        if inode(&self.path) == Some(self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn inode(p: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).ok().map(|m| m.ino())
}

/// Starts serving `shelf` for `config`'s one-shots. None when another
/// live observer of the same config already does (it goes on serving),
/// or the socket cannot be made (one-shots then observe for themselves).
pub fn serve(config: &Config, shelf: Shelf, kind: &'static str) -> Option<Server> {
    let path = socket_path(config)?;
    // Connecting to a Unix socket never waits on the peer's loop.
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        tracing::debug!(path = %path.display(), "another observer serves this config");
        return None;
    }
    // A socket left by an observer that was killed.
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot serve readings to one-shot commands");
            return None;
        }
    };
    let inode = inode(&path)?;
    let pid = std::process::id();
    let last_client = Arc::new(Mutex::new(Instant::now()));
    let seen = last_client.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut peer, _)) = listener.accept().await else {
                // Out of descriptors, say: not a reason to spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            *seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            let doc = Served {
                version: VERSION,
                kind: kind.into(),
                pid,
                observations: shelf.snapshot(),
            };
            tokio::spawn(async move {
                let Ok(text) = serde_json::to_vec(&doc) else {
                    return;
                };
                let write = async {
                    peer.write_all(&text).await?;
                    peer.shutdown().await
                };
                let _ = tokio::time::timeout(WRITE_WITHIN, write).await;
            });
        }
    });
    tracing::debug!(path = %path.display(), "serving readings to one-shot commands");
    Some(Server {
        task,
        path,
        inode,
        last_client,
    })
}

/// Passes `observations` on unchanged, keeping each host's latest on a
/// shelf served to one-shots while the returned server lives.
pub fn relay(
    config: &Config,
    mut observations: mpsc::Receiver<HostObservation>,
    kind: &'static str,
) -> (mpsc::Receiver<HostObservation>, Option<Server>) {
    let shelf = Shelf::new(&config.hosts());
    let server = serve(config, shelf.clone(), kind);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        while let Some(obs) = observations.recv().await {
            shelf.put(&obs);
            if tx.send(obs).await.is_err() {
                break;
            }
        }
    });
    (rx, server)
}

/// The kind of observer a one-shot `status` leaves behind
/// (`[ssh] observer_persist_secs`); `archtui disconnect` stops these.
pub const LEFT_BEHIND: &str = "observer";

/// Stops every observer a one-shot left behind for this user (any
/// config): each is asked over its own socket who it is, and the process
/// on the other end of that socket (the kernel says which) is sent
/// SIGTERM. Consoles, watches and `serve` are the operator's own and go
/// on. The number stopped.
pub async fn stop_left_behind() -> usize {
    let Some(dir) = crate::ssh::user_dir() else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut stopped = 0;
    for e in entries.filter_map(Result::ok) {
        if !e.file_name().to_str().is_some_and(|n| n.starts_with("o-")) {
            continue;
        }
        let ask = async {
            let (doc, pid) = read(&e.path()).await?;
            (doc.kind == LEFT_BEHIND && u32::try_from(pid).ok() == Some(doc.pid)).then_some(pid)
        };
        let Ok(Some(pid)) = tokio::time::timeout(Duration::from_secs(2), ask).await else {
            continue;
        };
        let Some(pid) = rustix::process::Pid::from_raw(pid) else {
            continue;
        };
        if rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok() {
            stopped += 1;
        }
    }
    stopped
}

/// A live observer's readings of `config`'s hosts, if one answers within
/// `within`: a stale socket refuses at once, a stopped observer costs
/// `within`, never a hang. Whether they are fresh is the caller's call.
pub async fn fetch(config: &Config, within: Duration) -> Option<Served> {
    let path = socket_path(config)?;
    let answer = tokio::time::timeout(within, read(&path)).await;
    answer.ok().flatten().map(|(doc, _)| doc)
}

/// What the observer on `path` answers, and its pid as the kernel knows
/// the socket's other end.
async fn read(path: &Path) -> Option<(Served, i32)> {
    let peer = UnixStream::connect(path).await.ok()?;
    let pid = peer.peer_cred().ok()?.pid()?;
    let mut buf = Vec::new();
    peer.take(MAX_BYTES).read_to_end(&mut buf).await.ok()?;
    match serde_json::from_slice::<Served>(&buf) {
        Ok(s) => Some((s, pid)),
        Err(e) => {
            tracing::debug!(error = %e, "an observer's answer does not read");
            None
        }
    }
}
