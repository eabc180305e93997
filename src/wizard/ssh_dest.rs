//! What ssh makes of a destination: its address (the default APP_HOST and
//! MASTER_DB_HOST), its host key's fingerprint, and trusting that key on
//! the operator's explicit word.

use super::input::{self, Input};
use crate::actions::clean;
use crate::config::{Config, Role};

use crate::remote::ssh::{resolve as ssh_g, scan_keys};

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

/// The host key's fingerprint as `ssh-keyscan | ssh-keygen -lf -` shows it.
pub async fn fingerprint(config: &Config, dest: &str) -> String {
    let Some(g) = ssh_g(config, dest).await else {
        return "(fingerprint unavailable: ssh -G failed)".into();
    };
    let host = input::hostname_from_ssh_g(&g).unwrap_or_default();
    let port = ssh_g_value(&g, "port").unwrap_or("22").to_string();
    let keys = scan_keys(&host, &port, 5).await;
    // The ED25519 key, the one a fresh sshd prints on its console first.
    match keys
        .iter()
        .find(|k| k.listing.ends_with("(ED25519)"))
        .or(keys.first())
    {
        Some(k) => clean(&k.listing),
        None => "(fingerprint unavailable: ssh-keyscan failed)".into(),
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

/// Trusts the new host's key, explicitly: only a key whose fingerprint is
/// `want` (which the operator compared) is added to the user's
/// known_hosts file from the ssh config. Nothing happens when the host is
/// already known.
pub async fn trust_host_key(config: &Config, dest: &str, want: &str) -> Result<String, String> {
    let g = ssh_g(config, dest)
        .await
        .ok_or_else(|| format!("ssh -G {dest} failed"))?;
    let host = input::hostname_from_ssh_g(&g).ok_or("no hostname in ssh -G")?;
    let port = ssh_g_value(&g, "port").unwrap_or("22").to_string();
    let file = ssh_g_value(&g, "userknownhostsfile")
        .and_then(|v| v.split_whitespace().next())
        .map(|f| match f.strip_prefix("~/") {
            Some(rest) => std::env::var("HOME").unwrap_or_default() + "/" + rest,
            None => f.to_string(),
        })
        .ok_or("no UserKnownHostsFile in ssh -G")?;
    let lookup = if port == "22" {
        host.clone()
    } else {
        format!("[{host}]:{port}")
    };
    let known = tokio::process::Command::new("ssh-keygen")
        .args(["-F", &lookup, "-f", &file])
        .output()
        .await
        .map_err(|e| format!("ssh-keygen: {e}"))?;
    if known.status.success() && !known.stdout.is_empty() {
        return Ok(format!("{host} is already in {file}"));
    }
    let mut seen = Vec::new();
    for key in scan_keys(&host, &port, 5).await {
        let Some(fp) = fingerprint_of(&key.listing) else {
            continue;
        };
        if fp == want {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .map_err(|e| format!("{file}: {e}"))?;
            writeln!(f, "{}", key.line).map_err(|e| format!("{file}: {e}"))?;
            return Ok(format!("trusted {host}'s key {fp}: added to {file}"));
        }
        seen.push(fp.to_string());
    }
    Err(format!(
        "no host key of {host} has fingerprint {want} (it offers {}); nothing trusted",
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        }
    ))
}

/// `trust_host_key` for the new slave of `input`, with its audit line
/// (a line that cannot be written is a warning on the message).
pub async fn trust_audited(config: &Config, input: &Input, fp: &str) -> Result<String, String> {
    let start = std::time::Instant::now();
    let r = trust_host_key(config, &input.ssh, fp).await;
    let outcome = match &r {
        Ok(m) => crate::actions::Outcome::ok(m.clone()),
        Err(e) => crate::actions::Outcome::refused(e.clone()),
    };
    let args = vec![input.ssh.clone(), fp.to_string()];
    let took = start.elapsed();
    match crate::actions::audit::append_work(
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
    fn ssh_g_and_fingerprints_parse() {
        let g = "hostname 10.77.0.3\nport 2222\nuserknownhostsfile /a/known /b/known2\n";
        assert_eq!(ssh_g_value(g, "port"), Some("2222"));
        assert_eq!(
            ssh_g_value(g, "userknownhostsfile"),
            Some("/a/known /b/known2")
        );
        assert_eq!(ssh_g_value(g, "user"), None);
        let kg = "256 SHA256:abcDEF+/12 10.77.0.3 (ED25519)";
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
