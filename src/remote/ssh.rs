//! The SSH session to one host (openssh, native-mux) and the forwards the
//! Docker and PostgreSQL clients ride on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use openssh::{ForwardType, KnownHosts, Session, SessionBuilder, Socket};

use crate::config::{self, Config, Host};
use crate::model::{HostFailure, HostState};

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
    b.known_hosts_check(if config.ssh.strict_host_key_checking {
        KnownHosts::Strict
    } else {
        KnownHosts::Accept
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

/// Opens the session. The whole handshake is bounded, not only the TCP
/// connect, so a host that accepts and then hangs cannot stall the caller.
pub async fn connect(
    config: &Config,
    host: &Host,
    control_dir: &Path,
) -> Result<Session, HostFailure> {
    let dest = config::ssh_destination(&host.ssh)
        .map_err(|e| HostFailure::new(HostState::Unreachable, e))?;
    let limit = Duration::from_secs(config.ssh.connect_timeout_secs + 3);
    let b = builder(config, control_dir);
    match tokio::time::timeout(limit, b.connect_mux(&dest)).await {
        Err(_) => Err(HostFailure::new(
            HostState::Unreachable,
            format!("ssh {}: no answer within {} s", host.ssh, limit.as_secs()),
        )),
        Ok(Err(e)) => Err(classify(&host.ssh, &e)),
        Ok(Ok(session)) => Ok(session),
    }
}

/// Maps openssh's error (ssh's own stderr, mostly) to a host state.
pub fn classify(dest: &str, err: &openssh::Error) -> HostFailure {
    let text = match err {
        openssh::Error::Connect(e) => e.to_string(),
        other => other.to_string(),
    };
    let (state, hint) = classify_text(&text);
    let text = last_meaningful_line(&text);
    HostFailure::new(state, format!("ssh {dest}: {text}{hint}"))
}

fn classify_text(text: &str) -> (HostState, &'static str) {
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || text.contains("Host key for") && text.contains("has changed")
    {
        (HostState::HostKeyChanged, " (host key changed)")
    } else if text.contains("No ") && text.contains("host key is known")
        || text.contains("Host key verification failed")
    {
        (HostState::HostKeyUnknown, " (host key not in known_hosts)")
    } else if text.contains("Permission denied")
        || text.contains("Too many authentication failures")
    {
        (HostState::AuthFailed, "")
    } else {
        (HostState::Unreachable, "")
    }
}

/// ssh prints banners of `@@@` lines; the last real line says what failed.
fn last_meaningful_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("@@@"))
        .unwrap_or("ssh failed")
        .to_string()
}

/// Forwards a local unix socket to the host's Docker socket. A stale file
/// from an earlier run would make the master's bind fail.
pub async fn forward_docker(
    session: &Session,
    ends: &Endpoints,
    remote_socket: &str,
) -> Result<(), HostFailure> {
    let _ = std::fs::remove_file(&ends.docker_socket);
    session
        .request_port_forward(
            ForwardType::Local,
            Socket::from(ends.docker_socket.clone()),
            Socket::from(PathBuf::from(remote_socket)),
        )
        .await
        .map_err(|e| {
            HostFailure::new(
                HostState::DockerUnavailable,
                format!("forward to {remote_socket}: {e}"),
            )
        })
}

/// Forwards a local unix socket to the host's published PostgreSQL port.
pub async fn forward_postgres(
    session: &Session,
    ends: &Endpoints,
    port: u16,
) -> Result<(), HostFailure> {
    let local = ends.pg_socket(port);
    let _ = std::fs::remove_file(&local);
    session
        .request_port_forward(
            ForwardType::Local,
            Socket::from(local),
            Socket::new("127.0.0.1", port),
        )
        .await
        .map_err(|e| {
            HostFailure::new(
                HostState::DatabaseUnavailable,
                format!("forward to port {port}: {e}"),
            )
        })
}

/// `ssh -G DEST`: how the operator's ssh (and the config's ssh config
/// file) resolves a destination, as `key value` lines; None when ssh
/// fails or takes over 3 s. The destination goes in as
/// `config::ssh_destination` spells it, so `user@host:port` keeps its port.
pub async fn resolve(config: &Config, dest: &str) -> Option<String> {
    let dest = config::ssh_destination(dest).ok()?;
    let mut cmd = tokio::process::Command::new("ssh");
    if let Some(f) = &config.ssh.config_file {
        cmd.arg("-F").arg(f);
    }
    cmd.arg("-G").arg(dest).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(3), cmd.output())
        .await
        .ok()?
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One host key as `ssh-keyscan` offers it.
pub struct ScannedKey {
    /// The known_hosts line.
    pub line: String,
    /// `ssh-keygen -lf` of it: bits, `SHA256:...`, host, (type).
    pub listing: String,
}

/// The host keys `host:port` offers, each with its fingerprint listing;
/// empty when the host does not answer within `timeout_secs`.
pub async fn scan_keys(host: &str, port: &str, timeout_secs: u64) -> Vec<ScannedKey> {
    use tokio::io::AsyncWriteExt;
    let scan = tokio::process::Command::new("ssh-keyscan")
        .args(["-T", &timeout_secs.to_string(), "-p", port, host])
        .kill_on_drop(true)
        .output();
    let limit = Duration::from_secs(timeout_secs + 2);
    let Ok(Ok(out)) = tokio::time::timeout(limit, scan).await else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let Ok(mut kg) = tokio::process::Command::new("ssh-keygen")
            .args(["-lf", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        else {
            return keys;
        };
        if let Some(mut stdin) = kg.stdin.take() {
            let _ = stdin.write_all(format!("{line}\n").as_bytes()).await;
        }
        if let Ok(o) = kg.wait_with_output().await {
            let listing = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if !listing.is_empty() {
                keys.push(ScannedKey {
                    line: line.to_string(),
                    listing,
                });
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_follows_the_connect_timeout() {
        assert_eq!(keepalive_interval(5), Duration::from_secs(1));
        assert_eq!(keepalive_interval(1), Duration::from_secs(1));
        assert_eq!(keepalive_interval(30), Duration::from_secs(10));
    }

    #[test]
    fn classifies_ssh_failures() {
        let unknown = "No ED25519 host key is known for 10.77.0.2 and you have requested strict checking.\nHost key verification failed.";
        assert_eq!(classify_text(unknown).0, HostState::HostKeyUnknown);
        let changed = "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@\nHost key verification failed.";
        assert_eq!(classify_text(changed).0, HostState::HostKeyChanged);
        assert_eq!(
            classify_text("root@10.77.0.2: Permission denied (publickey).").0,
            HostState::AuthFailed
        );
        assert_eq!(
            classify_text("connect to host 10.77.0.2 port 22: Connection timed out").0,
            HostState::Unreachable
        );
        assert_eq!(
            last_meaningful_line(changed),
            "Host key verification failed."
        );
    }

    /// Property tests (cases per run: 512 each).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any ssh stderr: one state and one line, never a panic.
            #[test]
            fn any_ssh_stderr(text in "(.{0,60}\n){0,8}") {
                let _ = classify_text(&text);
                let l = last_meaningful_line(&text);
                prop_assert!(!l.contains('\n'));
            }
        }
    }
}
