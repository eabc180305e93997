//! `archtui check`: validates the config, then tries each layer of each
//! host (ssh, docker, postgres, bucardo) and says what works, what does
//! not, and the exact fix.

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use crate::cli::table::clean;
use crate::cli::EXIT_UNKNOWN;
use archtui_core::config::{self, Config, Host, Role};
use archtui_core::model::{HostFailure, HostState};
use archtui_remote::host::{connect_db, Context, OpenError};
use archtui_remote::{bucardo, docker, ssh};

/// A line on stdout through the sanitizer and the redactor; a closed
/// stdout (`archtui check | head`) is ignored.
macro_rules! say {
    ($($arg:tt)*) => {{
        crate::cli::say(&format!($($arg)*));
    }};
}

pub async fn run(path: &Path) -> i32 {
    let config = match Config::load(path) {
        Ok(c) => {
            super::start_log(None, None, c.log.file.as_deref());
            c
        }
        Err(e) => {
            say!("config  FAIL  {e}");
            say!("        fix: edit that line; `config.example.toml` documents every key");
            return EXIT_UNKNOWN;
        }
    };
    let mode = if config.read_only { ", read-only" } else { "" };
    say!(
        "config  ok    {} ({} hosts{mode})",
        path.display(),
        config.hosts.len()
    );
    let ctx = match Context::open(config) {
        Ok(c) => c,
        Err(e) => {
            let layer = match e {
                OpenError::Password(_) => "config",
                OpenError::RunDir(_) => "local ",
            };
            say!("{layer}  FAIL  {e}");
            return EXIT_UNKNOWN;
        }
    };
    let hosts = ctx.config.hosts();
    let reports = join_all(
        hosts
            .iter()
            .enumerate()
            .map(|(i, h)| check_host(ctx.clone(), h, i)),
    )
    .await;
    let mut failed = false;
    for (h, (ok, text)) in hosts.iter().zip(reports) {
        say!("\n{} ({}, ssh {})", h.name, h.role, h.ssh);
        say!("{}", text.trim_end_matches('\n'));
        failed |= !ok;
    }
    if failed {
        say!("\nsome checks failed");
        2
    } else {
        say!("\nall checks passed");
        0
    }
}

struct Report {
    text: String,
    ok: bool,
}

impl Report {
    fn pass(&mut self, layer: &str, what: impl AsRef<str>) {
        let _ = writeln!(self.text, "  {layer:<9} ok    {}", clean(what.as_ref()));
    }
    fn fail(&mut self, layer: &str, what: impl AsRef<str>, fix: impl AsRef<str>) {
        self.ok = false;
        let _ = writeln!(self.text, "  {layer:<9} FAIL  {}", clean(what.as_ref()));
        for line in fix.as_ref().lines() {
            let _ = writeln!(self.text, "            {}", clean(line));
        }
    }
}

async fn check_host(ctx: Arc<Context>, host: &Host, index: usize) -> (bool, String) {
    let mut r = Report {
        text: String::new(),
        ok: true,
    };
    let dir = ctx.run_dir.join(format!("c{index}"));
    if let Err(e) = archtui_remote::host::make_private_dir(&dir) {
        r.fail("local", format!("{}: {e}", dir.display()), "");
        return (false, r.text);
    }
    // A fresh handshake, never a kept master: check tests ssh as it is
    // now (a host key removed from known_hosts is asked about again).
    let session = match ssh::connect_anew(&ctx.config, host, &dir).await {
        Ok(s) => {
            r.pass("ssh", "connected");
            s
        }
        Err(f) => {
            let fix = ssh_fix(&ctx.config, host, &f).await;
            r.fail("ssh", format!("{}: {}", f.state.as_str(), f.reason), fix);
            for layer in ["docker", "postgres", "bucardo"] {
                let _ = writeln!(r.text, "  {layer:<9} skip  (needs ssh)");
            }
            return (false, r.text);
        }
    };
    let ends = ssh::Endpoints::new(&dir);
    let timeout = ctx.timeout();

    let docker_fix = format!(
        "check that docker_socket = {:?} exists on {} and that the ssh user may use it\n(root, or a member of the docker group): ssh {} docker version",
        host.docker_socket, host.name, host.ssh
    );
    match ssh::forward_docker(&session, &ends, &host.docker_socket).await {
        Err(f) => r.fail("docker", f.reason, &docker_fix),
        Ok(()) => match docker::connect(&ends.docker_socket, timeout).await {
            Err(f) => r.fail("docker", f.reason, &docker_fix),
            Ok(d) => match docker::containers(&d, &host.compose_project).await {
                Ok(c) => r.pass(
                    "docker",
                    format!(
                        "engine answers; project {:?} has {} containers",
                        host.compose_project,
                        c.len()
                    ),
                ),
                Err(e) => r.fail("docker", e.to_string(), &docker_fix),
            },
        },
    }

    let db = &ctx.config.database;
    let archive = match ssh::forward_postgres(&session, &ends, db.port).await {
        Err(f) => {
            r.fail("postgres", f.reason, "");
            None
        }
        Ok(()) => match connect_db(&ctx, host, &dir, &db.name).await {
            Ok(pg) => {
                r.pass(
                    "postgres",
                    format!("{}@{} on port {}", db.user, db.name, db.port),
                );
                Some(pg)
            }
            Err(e) => {
                let e = e.to_string();
                let fix = pg_fix(&ctx.config, host, &e);
                r.fail("postgres", e, fix);
                None
            }
        },
    };

    if host.role == Role::Master {
        if let Some(pg) = &archive {
            check_registry(pg, &db.heartbeat_table, &mut r).await;
        }
    } else if let Some(pg) = &archive {
        check_bucardo(&ctx, host, &dir, &mut r).await;
        match bucardo::heartbeat(pg, &db.heartbeat_table).await {
            Ok(Some(t)) => r.pass(
                "heartbeat",
                format!("{} last replicated at {t}", db.heartbeat_table),
            ),
            Ok(None) => r.fail(
                "heartbeat",
                format!("no {} row here yet", db.heartbeat_table),
                "this slave's sync has not copied it yet: see its bucardo line above",
            ),
            Err(e) => r.fail("heartbeat", e.to_string(), ""),
        }
    }
    drop(archive);
    ssh::unforward(&session, &ends, &host.docker_socket, db.port).await;
    ssh::release(session).await;
    (r.ok, r.text)
}

/// The master's registry of slaves: every slave registers itself there.
async fn check_registry(pg: &archtui_remote::pg::Pg, heartbeat_table: &str, r: &mut Report) {
    match bucardo::registry(pg, heartbeat_table).await {
        Ok(slaves) => {
            let names: Vec<String> = slaves
                .iter()
                .map(|s| match s.retired_at {
                    Some(_) => format!("{} (retired)", clean(&s.name)),
                    None => clean(&s.name),
                })
                .collect();
            r.pass(
                "registry",
                format!(
                    "{} slave(s) registered{}",
                    slaves.len(),
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", names.join(", "))
                    }
                ),
            );
        }
        Err(e) => r.fail("registry", e.to_string(), ""),
    }
}

/// A slave's own daemon: its control database answers, Bucardo is
/// installed there, and the daemon answers a ping.
async fn check_bucardo(ctx: &Context, host: &Host, dir: &Path, r: &mut Report) {
    let name = &ctx.config.database.bucardo_db;
    let pg = match connect_db(ctx, host, dir, name).await {
        Ok(pg) => pg,
        Err(e) => {
            let e = e.to_string();
            let fix = pg_fix(&ctx.config, host, &e);
            r.fail("bucardo", e, fix);
            return;
        }
    };
    if let Err(e) = bucardo::ensure_schema(&pg, name).await {
        r.fail("bucardo", e.to_string(), "");
        return;
    }
    let version = bucardo::version(&pg)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "?".into());
    let syncs = bucardo::syncs(&pg).await.map(|s| s.len());
    let alive = match bucardo::listen(&pg).await {
        Ok(()) => bucardo::ping(&pg, Duration::from_secs(3)).await,
        Err(e) => Err(e),
    };
    match (alive, syncs) {
        (Ok(true), Ok(n)) => r.pass(
            "bucardo",
            format!("daemon answers ping; version {version}; {n} syncs"),
        ),
        (Ok(false), _) => r.fail(
            "bucardo",
            "this slave's daemon does not answer bucardo_mcp_ping",
            format!(
                "start it: ssh {} 'cd {} && docker compose -p {} restart bucardo'",
                host.ssh, host.deploy_dir, host.compose_project
            ),
        ),
        (Err(e), _) | (_, Err(e)) => r.fail("bucardo", e.to_string(), ""),
    }
}

fn pg_fix(config: &Config, host: &Host, err: &str) -> String {
    let db = &config.database;
    if err.contains("password authentication failed") || err.contains("password") {
        let source = match (&db.password_env, &db.password_file) {
            (Some(v), _) => format!("the environment variable {}", v.get_ref()),
            (_, Some(f)) => format!("the file {}", f.display()),
            _ => "~/.pgpass (host localhost or *, port, database, user)".into(),
        };
        format!(
            "the password for user {:?} comes from {source}; set it to the role's password on {}",
            db.user, host.name
        )
    } else if err.contains("does not exist") {
        format!(
            "create it on {}, or fix [database] name/user/bucardo_db in the config",
            host.name
        )
    } else {
        format!(
            "is the db container running on {} with port {} published? ssh {} 'docker compose -p {} ps db'",
            host.name, db.port, host.ssh, host.compose_project
        )
    }
}

/// For host key problems: the offered key's fingerprint, the comparison
/// with the host's own (never a blind `ssh-keyscan >> known_hosts`), and
/// the command that trusts exactly that key through the ssh config.
async fn ssh_fix(config: &Config, host: &Host, f: &HostFailure) -> String {
    let dest = config::ssh_destination(&host.ssh).unwrap_or_else(|_| host.ssh.clone());
    let resolved = ssh_g(config, &host.ssh).await;
    let hostname = resolved
        .get("hostname")
        .cloned()
        .unwrap_or_else(|| dest.clone());
    let port = resolved.get("port").cloned().unwrap_or_else(|| "22".into());
    let known = resolved
        .get("userknownhostsfile")
        .and_then(|v| v.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "~/.ssh/known_hosts".into());
    let user = resolved.get("user").cloned().unwrap_or_default();
    let cfg = config
        .ssh
        .config_file
        .as_ref()
        .map(|p| format!(" -F {}", p.display()))
        .unwrap_or_default();
    let compare = "compare it out of band with the host's own key (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)";
    match f.state {
        HostState::HostKeyChanged => {
            let key_name = resolved.get("hostkeyalias").cloned().unwrap_or_else(|| {
                if port == "22" {
                    hostname.clone()
                } else {
                    format!("[{hostname}]:{port}")
                }
            });
            format!(
                "refused: the key the host offers is not the one in {known} (both fingerprints above).\n\
                 Someone may be in the middle; or the host was reinstalled: {compare}.\n\
                 Only if they match, remove the old key and trust the new one:\n  \
                 ssh-keygen -R '{key_name}' -f {known}\n  archtui trust-host-key {} SHA256:...",
                host.name
            )
        }
        HostState::HostKeyUnknown => {
            let prints = fingerprints(config, &host.ssh).await;
            let mut s = String::new();
            let _ = writeln!(s, "the host offers (through your ssh config):");
            for p in &prints {
                let _ = writeln!(s, "  {p}");
            }
            if prints.is_empty() {
                let _ = writeln!(s, "  (no key came back from {hostname}:{port})");
            }
            let fp = prints
                .iter()
                .find(|p| p.ends_with("(ED25519)"))
                .or(prints.first())
                .and_then(|p| p.split(' ').next())
                .unwrap_or("SHA256:...");
            let _ = write!(
                s,
                "{compare};\nonly if they match, trust exactly that key:\n  archtui trust-host-key {} {fp}",
                host.name
            );
            s
        }
        HostState::AuthFailed => format!(
            "{user}@{hostname} refuses our keys: check IdentityFile (ssh{cfg} -G {dest} | grep identityfile)\nor install the public key: ssh-copy-id{cfg} {dest}"
        ),
        _ => format!(
            "is {hostname} up and is sshd listening on port {port}? ssh{cfg} -G {dest} shows how ssh resolves it;\ntry: ssh{cfg} -v {dest} true"
        ),
    }
}

async fn ssh_g(config: &Config, dest: &str) -> std::collections::HashMap<String, String> {
    let text = archtui_remote::ssh::resolve(config, dest)
        .await
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn fingerprints(config: &Config, dest: &str) -> Vec<String> {
    ssh::scan_keys(config, dest, config.ssh.connect_timeout_secs)
        .await
        .iter()
        .map(|k| clean(&k.listing))
        .collect()
}
