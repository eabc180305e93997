//! What ssh makes of a destination: its address (the default APP_HOST and
//! MASTER_DB_HOST), its host key's fingerprint, and trusting that key on
//! the operator's explicit word.

use super::input::{self, Input};
use crate::actions::clean;
use archtui_core::config::{Config, Role};

use crate::ssh::{resolve as ssh_g, scan_keys};
use std::path::Path;

/// The address ssh resolves a destination to (the default APP_HOST and
/// MASTER_DB_HOST); empty when it cannot say.
pub async fn address(config: &Config, dest: &str) -> String {
    ssh_g(config, dest)
        .await
        .and_then(|t| input::hostname_from_ssh_g(&t))
        .unwrap_or_default()
}

/// Fills what the operator left out: APP_HOST from the new host's SSH
/// address, MASTER_DB_HOST from the master's, the rest from the config.
pub async fn defaults(config: &Config, name: &str, ssh: &str, master: Option<&str>) -> Input {
    let master_host = config
        .hosts()
        .into_iter()
        .find(|h| master.map_or(h.role == Role::Master, |m| h.name == m));
    let app_host = address(config, ssh).await;
    let master_db_host = match &master_host {
        Some(h) => address(config, &h.ssh).await,
        None => String::new(),
    };
    Input {
        name: name.to_string(),
        ssh: ssh.to_string(),
        app_host,
        master: master_host
            .map(|h| h.name)
            .or(master.map(str::to_string))
            .unwrap_or_default(),
        master_db_host,
        db_port: config.database.port,
        deploy_dir: config.defaults.deploy_dir.clone(),
        compose_project: config.defaults.compose_project.clone(),
        docker_socket: config.defaults.docker_socket.clone(),
    }
}

/// The host key's fingerprint as ssh reaches the host (its config, its
/// ProxyJump): the ED25519 one when there is one, `SHA256:... (TYPE)`.
pub async fn fingerprint(config: &Config, dest: &str) -> String {
    let keys = scan_keys(config, dest, config.ssh.connect_timeout_secs).await;
    // The ED25519 key, the one a fresh sshd prints on its console first.
    match keys
        .iter()
        .find(|k| k.listing.ends_with("(ED25519)"))
        .or(keys.first())
    {
        Some(k) => clean(&k.listing),
        None => "(fingerprint unavailable: the host offered no key through ssh)".into(),
    }
}

/// `key value` of one option in `ssh -G` output. Pure.
pub fn ssh_g_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then_some(v.trim())
    })
}

/// The SHA256 fingerprint in a line of `ssh-keygen -lf` output. Pure.
pub fn fingerprint_of(line: &str) -> Option<&str> {
    line.split_whitespace().find(|w| w.starts_with("SHA256:"))
}

/// How ssh looks a destination's key up (`ssh -G`): under which name,
/// in which files, hashed or not.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyLookup {
    /// HostKeyAlias, else the host name (`[host]:port` off port 22).
    pub name: String,
    /// UserKnownHostsFile, `~` expanded; ssh writes to the first.
    pub files: Vec<String>,
    /// HashKnownHosts: new entries are written hashed.
    pub hashed: bool,
}

/// Why a host key was not trusted. Its text is the operator's.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{0:?} is not a fingerprint: give the SHA256:... that ssh-keygen -l prints")]
    NotAFingerprint(String),
    #[error("ssh -G {0} failed")]
    SshG(String),
    /// `ssh -G` printed no value for this option.
    #[error("no {0} in ssh -G")]
    NoOption(&'static str),
    #[error(
        "{file} already has another key for {name} ({other}); refusing to trust {want} over it. \
             If the host was reinstalled, compare {want} with its own key on its console, \
             then remove the old one (ssh-keygen -R '{name}' -f {file}) and trust again"
    )]
    OtherKnown {
        file: String,
        name: String,
        other: String,
        want: String,
    },
    /// `offered`: the fingerprints the host offers, or "none".
    #[error("no host key of {dest} has fingerprint {want} (it offers {offered}); nothing trusted")]
    NotOffered {
        dest: String,
        want: String,
        offered: String,
    },
    #[error("a private temp dir: {0}")]
    TempDir(std::io::Error),
    #[error("{file}: {source}")]
    File {
        file: String,
        source: std::io::Error,
    },
    #[error("ssh-keygen -H: {0}")]
    Keygen(std::io::Error),
    #[error("ssh-keygen -H did not hash the entry")]
    NotHashed,
}

impl From<TrustError> for String {
    fn from(e: TrustError) -> String {
        e.to_string()
    }
}

/// The lookup from `ssh -G` text and `$HOME`. Pure.
pub fn key_lookup(g: &str, home: &str) -> Result<KeyLookup, TrustError> {
    let host = input::hostname_from_ssh_g(g).ok_or(TrustError::NoOption("hostname"))?;
    let port = ssh_g_value(g, "port").unwrap_or("22");
    let name = match ssh_g_value(g, "hostkeyalias").filter(|a| !a.is_empty() && *a != "none") {
        // ssh looks an alias up as it is, whatever the port.
        Some(alias) => alias.to_string(),
        None if port == "22" => host,
        None => format!("[{host}]:{port}"),
    };
    let files: Vec<String> = ssh_g_value(g, "userknownhostsfile")
        .unwrap_or("~/.ssh/known_hosts")
        .split_whitespace()
        .map(|f| match f.strip_prefix("~/") {
            Some(rest) => format!("{home}/{rest}"),
            None => f.to_string(),
        })
        .collect();
    if files.is_empty() {
        return Err(TrustError::NoOption("UserKnownHostsFile"));
    }
    let hashed = ssh_g_value(g, "hashknownhosts") == Some("yes");
    Ok(KeyLookup {
        name,
        files,
        hashed,
    })
}

/// Fingerprints of the keys `file` holds for `name` (hashed entries too).
async fn known_keys(file: &str, name: &str) -> Vec<String> {
    let out = tokio::process::Command::new("ssh-keygen")
        .args(["-F", name, "-f", file])
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    let Ok(out) = out else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(crate::ssh::known_hosts_entry)
        .filter_map(|(_, _, key)| crate::ssh::key_fingerprint(key))
        .collect()
}

/// A known_hosts line for `name`, hashed the way ssh hashes (`ssh-keygen
/// -H` on a private copy) when the user's config asks for it.
async fn entry_line(name: &str, key: &str, hashed: bool) -> Result<String, TrustError> {
    let line = format!("{name} {key}");
    if !hashed {
        return Ok(line);
    }
    let dir = tempfile::Builder::new()
        .prefix("archtui-hash-")
        .tempdir()
        .map_err(TrustError::TempDir)?;
    let f = dir.path().join("known_hosts");
    std::fs::write(&f, format!("{line}\n")).map_err(|source| TrustError::File {
        file: f.display().to_string(),
        source,
    })?;
    let out = tokio::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&f)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(TrustError::Keygen)?;
    let text = std::fs::read_to_string(&f).unwrap_or_default();
    match text.lines().find(|l| l.starts_with("|1|")) {
        Some(h) if out.status.success() => Ok(h.to_string()),
        _ => Err(TrustError::NotHashed),
    }
}

/// Trusts a host's key, explicitly: only a key whose fingerprint is `want`
/// (which the operator compared with the host's own) is added, under the
/// name ssh looks it up by (HostKeyAlias or host, port), hashed when the
/// config hashes, to the first UserKnownHostsFile; the key is fetched the
/// way ssh reaches the host (ProxyJump included). A host already known
/// with that key is left alone; one known with another key is refused:
/// a changed key is never replaced here.
pub async fn trust_host_key(config: &Config, dest: &str, want: &str) -> Result<String, TrustError> {
    let want = want.trim();
    if !want.starts_with("SHA256:") {
        return Err(TrustError::NotAFingerprint(want.to_string()));
    }
    let g = ssh_g(config, dest)
        .await
        .ok_or_else(|| TrustError::SshG(dest.to_string()))?;
    let look = key_lookup(&g, &std::env::var("HOME").unwrap_or_default())?;
    for file in &look.files {
        let known = known_keys(file, &look.name).await;
        if known.iter().any(|k| k == want) {
            return Ok(format!(
                "{} is already trusted with {want} in {file}",
                look.name
            ));
        }
        if let Some(other) = known.first() {
            return Err(TrustError::OtherKnown {
                file: file.clone(),
                name: look.name.clone(),
                other: other.clone(),
                want: want.to_string(),
            });
        }
    }
    let offered = scan_keys(config, dest, config.ssh.connect_timeout_secs).await;
    let Some(key) = offered.iter().find(|k| k.fingerprint() == want) else {
        let seen: Vec<&str> = offered.iter().map(|k| k.fingerprint()).collect();
        return Err(TrustError::NotOffered {
            dest: dest.to_string(),
            want: want.to_string(),
            offered: if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join(", ")
            },
        });
    };
    let line = entry_line(&look.name, &key.key, look.hashed).await?;
    let file = &look.files[0];
    append_known_host(Path::new(file), &line).map_err(|source| TrustError::File {
        file: file.clone(),
        source,
    })?;
    Ok(format!(
        "trusted {}'s key {want}: added to {file}{}",
        look.name,
        if look.hashed { " (hashed)" } else { "" }
    ))
}

/// Appends one line to a known_hosts file (made 0600, its dir 0700, when
/// new), on a line of its own.
fn append_known_host(file: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let ends_open = std::fs::read(file).is_ok_and(|t| t.last().is_some_and(|b| *b != b'\n'));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    let text = if ends_open {
        format!("\n{line}\n")
    } else {
        format!("{line}\n")
    };
    f.write_all(text.as_bytes())
}

/// `trust_host_key` for the new slave of `input`, with its audit line
/// (a line that cannot be written is a warning on the message).
pub async fn trust_audited(config: &Config, input: &Input, fp: &str) -> Result<String, TrustError> {
    let start = std::time::Instant::now();
    let r = trust_host_key(config, &input.ssh, fp).await;
    let outcome = match &r {
        Ok(m) => crate::actions::Outcome::ok(m.clone()),
        Err(e) => crate::actions::Outcome::refused(e.to_string()),
    };
    let args = vec![input.ssh.clone(), fp.to_string()];
    let took = start.elapsed();
    match crate::local::audit::append_work(
        "trust-host-key",
        &input.name,
        args,
        true,
        &outcome,
        took,
    ) {
        Ok(()) => r,
        Err(e) => r.map(|m| format!("{m} (warning: {e})")),
    }
}

#[cfg(test)]
mod trust_tests {
    use super::*;

    #[test]
    fn keys_are_looked_up_as_ssh_does() {
        let g = "hostname 10.77.0.3\nport 22\nuserknownhostsfile ~/.ssh/known_hosts ~/.ssh/known_hosts2\nhashknownhosts no\n";
        let l = key_lookup(g, "/home/u").unwrap();
        assert_eq!(l.name, "10.77.0.3");
        assert_eq!(
            l.files,
            ["/home/u/.ssh/known_hosts", "/home/u/.ssh/known_hosts2"]
        );
        assert!(!l.hashed);
        let g = "hostname 10.77.0.3\nport 2222\nuserknownhostsfile /k\nhashknownhosts yes\n";
        let l = key_lookup(g, "/h").unwrap();
        assert_eq!((l.name.as_str(), l.hashed), ("[10.77.0.3]:2222", true));
        // HostKeyAlias wins, and is looked up without the port.
        let g =
            "hostname 10.77.0.3\nport 2222\nhostkeyalias turntable.lan\nuserknownhostsfile /k\n";
        assert_eq!(key_lookup(g, "/h").unwrap().name, "turntable.lan");
        let e = key_lookup("port 22\n", "/h").unwrap_err();
        assert_eq!(e.to_string(), "no hostname in ssh -G");
    }

    #[test]
    fn a_changed_key_is_refused_in_one_sentence() {
        let e = TrustError::OtherKnown {
            file: "/k".into(),
            name: "h".into(),
            other: "SHA256:old".into(),
            want: "SHA256:new".into(),
        };
        assert_eq!(
            e.to_string(),
            "/k already has another key for h (SHA256:old); refusing to trust SHA256:new over it. \
             If the host was reinstalled, compare SHA256:new with its own key on its console, \
             then remove the old one (ssh-keygen -R 'h' -f /k) and trust again"
        );
        assert!(!e.to_string().contains("  "));
    }

    #[tokio::test]
    async fn hashed_entries_match_what_ssh_looks_up() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAtORs734sin02NP1BoBRkCcA72pIWZV+VVaQsek1ukf";
        let line = entry_line("[10.77.0.3]:2222", key, true).await.unwrap();
        assert!(
            line.starts_with("|1|") && !line.contains("10.77.0.3"),
            "{line}"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("kh");
        append_known_host(&f, &line).unwrap();
        let fps = known_keys(f.to_str().unwrap(), "[10.77.0.3]:2222").await;
        assert_eq!(fps, ["SHA256:MQtsnAoY2QvEPjaRCSXT4I7LjJkR/bFMW0WBI6fWOv4"]);
        assert!(known_keys(f.to_str().unwrap(), "10.77.0.3")
            .await
            .is_empty());
        let plain = entry_line("h", key, false).await.unwrap();
        assert_eq!(plain, format!("h {key}"));
    }

    #[test]
    fn ssh_g_and_fingerprints_parse() {
        let g = "hostname 10.77.0.3\nport 2222\nuserknownhostsfile /a/known /b/known2\n";
        assert_eq!(ssh_g_value(g, "port"), Some("2222"));
        assert_eq!(
            ssh_g_value(g, "userknownhostsfile"),
            Some("/a/known /b/known2")
        );
        assert_eq!(ssh_g_value(g, "user"), None);
        let kg = "SHA256:abcDEF+/12 (ED25519)";
        assert_eq!(fingerprint_of(kg), Some("SHA256:abcDEF+/12"));
        assert_eq!(fingerprint_of("garbage"), None);
    }

    /// Property tests (cases per run: 512 each).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any `ssh -G` text: a value is found when its line is there.
            #[test]
            fn ssh_g_any_text(text in "(.{0,40}\n){0,8}", port in 1u16..) {
                let _ = ssh_g_value(&text, "port");
                let _ = input::hostname_from_ssh_g(&text);
                let with = format!("port {port}\n{text}");
                let want = port.to_string();
                prop_assert_eq!(ssh_g_value(&with, "port"), Some(want.as_str()));
            }

            /// Any `ssh-keygen -l` line: a fingerprint is a SHA256: word.
            #[test]
            fn fingerprints_any_text(text in ".{0,80}", b64 in "[A-Za-z0-9+/]{43}") {
                if let Some(fp) = fingerprint_of(&text) {
                    prop_assert!(fp.starts_with("SHA256:"));
                }
                let line = format!("256 SHA256:{b64} host (ED25519)");
                let want = format!("SHA256:{b64}");
                prop_assert_eq!(fingerprint_of(&line), Some(want.as_str()));
            }
        }
    }
}
