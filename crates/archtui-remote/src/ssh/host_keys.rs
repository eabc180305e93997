//! What ssh says about a failed connection (the host state, a changed
//! key with both fingerprints), known_hosts entries and fingerprints, and
//! the host keys a destination offers, reached as the operator's ssh
//! reaches it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use archtui_core::config::{self, Config};
use archtui_core::model::{HostFailure, HostState};

/// Maps openssh's error (ssh's own stderr, mostly) to a host state. A
/// changed key is refused and shown with both fingerprints: the one
/// known_hosts holds and the one the host offers now.
pub fn classify(dest: &str, err: &openssh::Error) -> HostFailure {
    let text = match err {
        openssh::Error::Connect(e) => e.to_string(),
        other => other.to_string(),
    };
    let (state, hint) = classify_text(&text);
    if state == HostState::HostKeyChanged {
        let c = changed_key(&text);
        let known = c
            .offending
            .iter()
            .find_map(|(file, line)| known_fingerprint(file, *line).map(|fp| (file, line, fp)));
        let known = match known {
            Some((file, line, fp)) => format!("{fp} ({}:{line})", file.display()),
            None => "a different key".to_string(),
        };
        let offered = c.offered.as_deref().unwrap_or("an unknown key");
        return HostFailure::new(
            state,
            format!(
                "ssh {dest}: host key changed, connection refused: known_hosts has {known}, the host now offers {offered}"
            ),
        );
    }
    let text = last_meaningful_line(&text);
    HostFailure::new(state, format!("ssh {dest}: {text}{hint}"))
}

/// What ssh printed about a changed host key. Pure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangedKey {
    /// `SHA256:...` of the key the host sent.
    pub offered: Option<String>,
    /// `Offending KEY key in FILE:LINE`: where the known key is.
    pub offending: Vec<(PathBuf, usize)>,
}

pub fn changed_key(text: &str) -> ChangedKey {
    let mut c = ChangedKey::default();
    let mut after_mark = false;
    for line in text.lines().map(str::trim) {
        if line.contains("key sent by the remote host is") {
            after_mark = true;
            if let Some(fp) = line.split_whitespace().find(|w| w.starts_with("SHA256:")) {
                c.offered = Some(fp.trim_end_matches('.').to_string());
                after_mark = false;
            }
            continue;
        }
        if after_mark && line.starts_with("SHA256:") {
            c.offered = Some(line.trim_end_matches('.').to_string());
            after_mark = false;
        }
        if let Some(rest) = line.strip_prefix("Offending ") {
            if let Some((_, at)) = rest.split_once(" key in ") {
                if let Some((file, n)) = at.rsplit_once(':') {
                    if let Ok(n) = n.trim().parse::<usize>() {
                        c.offending.push((PathBuf::from(file), n));
                    }
                }
            }
        }
    }
    c
}

/// The fingerprint of the key on line `line` (from 1) of a known_hosts file.
fn known_fingerprint(file: &Path, line: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (_, _, key) = known_hosts_entry(l)?;
    key_fingerprint(key)
}

/// A known_hosts line as (names, key type, base64 key); None for comments,
/// blanks, markers (`@revoked`, `@cert-authority`) and garbage. Pure.
pub fn known_hosts_entry(line: &str) -> Option<(&str, &str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
        return None;
    }
    let mut w = line.split_whitespace();
    let (names, kind, key) = (w.next()?, w.next()?, w.next()?);
    key_fingerprint(key)?;
    Some((names, kind, key))
}

/// `SHA256:...` of a base64 public key, as `ssh-keygen -l` prints it. Pure.
pub fn key_fingerprint(b64: &str) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .filter(|b| !b.is_empty())?;
    let digest = sha2::Sha256::digest(&blob);
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    ))
}

/// The key type's short name in a fingerprint listing.
fn type_label(kind: &str) -> String {
    match kind {
        "ssh-ed25519" => "ED25519".into(),
        "ssh-rsa" => "RSA".into(),
        k if k.starts_with("ecdsa-") => "ECDSA".into(),
        k => k.to_ascii_uppercase(),
    }
}

pub(super) fn classify_text(text: &str) -> (HostState, &'static str) {
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
pub(super) fn last_meaningful_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("@@@"))
        .unwrap_or("ssh failed")
        .to_string()
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
    tracing::debug!(program = "ssh -G", "local command");
    let out = tokio::time::timeout(Duration::from_secs(3), cmd.output())
        .await
        .ok()?
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One host key the host offered.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedKey {
    /// Key type and base64 key, as a known_hosts line ends.
    pub key: String,
    /// `SHA256:... (TYPE)`.
    pub listing: String,
}

impl ScannedKey {
    pub fn fingerprint(&self) -> &str {
        self.listing.split(' ').next().unwrap_or("")
    }
}

/// Host key algorithms asked for one at a time, so every kind of key the
/// host has is seen (ssh itself records only the one it negotiates).
const KEY_KINDS: [&str; 3] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521",
    "rsa-sha2-512,rsa-sha2-256,ssh-rsa",
];

/// The host keys `dest` offers, reached the way ssh reaches it: through
/// the operator's ssh config (ProxyJump, ProxyCommand, HostKeyAlias, port,
/// user), which `ssh-keyscan` ignores. Each kind is learned by ssh itself
/// into a private, empty known_hosts file (accept-new there only), with
/// no authentication attempted and no command run; empty when the host
/// does not answer within `timeout_secs`.
pub async fn scan_keys(config: &Config, dest: &str, timeout_secs: u64) -> Vec<ScannedKey> {
    let Ok(dest) = config::ssh_destination(dest) else {
        return Vec::new();
    };
    let Ok(dir) = tempfile::Builder::new().prefix("archtui-keys-").tempdir() else {
        return Vec::new();
    };
    let scans = KEY_KINDS.iter().enumerate().map(|(i, kinds)| {
        let file = dir.path().join(format!("known_hosts{i}"));
        let dest = dest.clone();
        async move {
            let mut cmd = tokio::process::Command::new("ssh");
            if let Some(f) = &config.ssh.config_file {
                cmd.arg("-F").arg(f);
            }
            let mut known = std::ffi::OsString::from("UserKnownHostsFile=");
            known.push(&file);
            cmd.args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=accept-new",
            ])
            .arg("-o")
            .arg(known)
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "HashKnownHosts=no",
                "-o",
                "CheckHostIP=no",
                "-o",
                "UpdateHostKeys=no",
                "-o",
                "PreferredAuthentications=none",
                "-o",
                "ControlMaster=no",
                "-o",
                "ControlPath=none",
                "-o",
                "LogLevel=ERROR",
                "-o",
            ])
            .arg(format!("ConnectTimeout={timeout_secs}"))
            .arg("-o")
            .arg(format!("HostKeyAlgorithms={kinds}"))
            .arg(&dest)
            .arg("true")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
            let limit = Duration::from_secs(timeout_secs + 2);
            let _ = tokio::time::timeout(limit, cmd.status()).await;
            std::fs::read_to_string(&file).unwrap_or_default()
        }
    });
    let texts = futures_util::future::join_all(scans).await;
    let mut keys: Vec<ScannedKey> = Vec::new();
    for text in texts {
        for (_, kind, key) in text.lines().filter_map(known_hosts_entry) {
            let Some(fp) = key_fingerprint(key) else {
                continue;
            };
            if keys.iter().all(|k| k.fingerprint() != fp) {
                keys.push(ScannedKey {
                    key: format!("{kind} {key}"),
                    listing: format!("{fp} ({})", type_label(kind)),
                });
            }
        }
    }
    keys
}
