//! Pre-flight: what was found on the new host and the master, turned into
//! checks that pass, warn or fail, each failure with its fix. Pure: the
//! probing itself is in `exec`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub what: String,
    pub verdict: Verdict,
    pub detail: String,
    /// How to fix a failure or a warning.
    pub fix: Option<String>,
    /// An unknown host key's fingerprint, which the operator may trust on
    /// the wizard's screen after comparing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<String>,
}

impl Check {
    pub fn pass(what: &str, detail: impl Into<String>) -> Self {
        Self::new(what, Verdict::Pass, detail, None)
    }
    pub fn warn(what: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(what, Verdict::Warn, detail, Some(fix.into()))
    }
    pub fn fail(what: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(what, Verdict::Fail, detail, Some(fix.into()))
    }
    fn new(what: &str, verdict: Verdict, detail: impl Into<String>, fix: Option<String>) -> Self {
        Self {
            what: what.to_string(),
            verdict,
            detail: detail.into(),
            fix,
            trust: None,
        }
    }

    /// Offers the fingerprint `fp` to be trusted.
    pub fn trusting(mut self, fp: impl Into<String>) -> Self {
        self.trust = Some(fp.into());
        self
    }
}

/// Nothing failed: the wizard may go on to the plan.
pub fn all_clear(checks: &[Check]) -> bool {
    !checks.is_empty() && checks.iter().all(|c| c.verdict != Verdict::Fail)
}

/// Free disk below this fails: the images alone take about 1 GB.
pub const DISK_FAIL_KIB: u64 = 2 * 1024 * 1024;
pub const DISK_WARN_KIB: u64 = 8 * 1024 * 1024;
/// Clock offsets beyond these warn / fail (Bucardo's lag and the
/// heartbeat are compared across hosts).
pub const CLOCK_WARN_SECS: f64 = 2.0;
pub const CLOCK_FAIL_SECS: f64 = 60.0;

/// One line of the initial copy's progress: the table being copied, its
/// rows so far and the master's estimate (`reltuples`; 0 or absent when
/// the master never analyzed it). Pure.
pub fn copy_progress(table: &str, done: i64, estimate: Option<i64>) -> String {
    let n = |v: i64| {
        let s = v.max(0).to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    match estimate.filter(|e| *e > 0) {
        Some(e) => format!(
            "initial copy: {table} {} of ~{} rows ({}%)",
            n(done),
            n(e),
            (done.max(0).saturating_mul(100) / e).min(100)
        ),
        None => format!("initial copy: {table} {} rows so far", n(done)),
    }
}

/// What one probe script on the new host printed (`key=value` lines).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    pub docker: Option<String>,
    /// `docker version` did not answer within the probe's 5 s: a dockerd
    /// that is stopped, hung or overloaded, not a missing one.
    pub docker_hung: bool,
    pub compose: Option<String>,
    pub disk_kib: Option<u64>,
    pub disk_path: Option<String>,
    /// TCP ports something listens on.
    pub listening: Vec<u16>,
    /// Containers of the stack's compose project already there.
    pub ours: u32,
    pub master_reachable: Option<bool>,
    /// The host's clock (seconds since the epoch).
    pub time: Option<f64>,
    pub existing_deploy: bool,
}

/// Parses the probe's output; unknown or garbled lines are ignored.
pub fn parse_probe(text: &str) -> Probe {
    let mut p = Probe::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let some = || (!v.is_empty()).then(|| v.chars().take(80).collect::<String>());
        match k.trim() {
            "docker" => p.docker = some(),
            "docker_hung" => p.docker_hung = v == "1",
            "compose" => p.compose = some(),
            "disk" => p.disk_kib = v.parse().ok(),
            "disk_path" => p.disk_path = some(),
            "listen" => p.listening.extend(v.split_whitespace().filter_map(port_of)),
            "ours" => p.ours = v.parse().unwrap_or(0),
            "master" => p.master_reachable = Some(v == "ok"),
            "time" => p.time = v.parse().ok().filter(|t: &f64| t.is_finite()),
            "existing" => p.existing_deploy = v == "1",
            _ => {}
        }
    }
    p.listening.sort_unstable();
    p.listening.dedup();
    p
}

/// The port of a listening address as `ss` prints it: `0.0.0.0:5432`,
/// `[::]:3000`, `*:22`.
fn port_of(addr: &str) -> Option<u16> {
    addr.rsplit_once(':')?.1.parse().ok()
}

/// What the checks are judged against.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub ports: Vec<u16>,
    pub master: String,
    pub master_port: u16,
    /// The operator's clock at the middle of the probe.
    pub local_time: f64,
    /// A journal says an earlier run of this wizard started the stack:
    /// its containers, ports and Bucardo rows are ours.
    pub resuming: bool,
}

/// The checks of the new host from its probe.
pub fn host_checks(p: &Probe, e: &Expect) -> Vec<Check> {
    let mut out = Vec::new();
    out.push(docker_check(p));
    out.push(compose_check(p));
    out.push(disk_check(p));
    out.push(ports_check(p, e));
    out.push(match p.master_reachable {
        Some(true) => Check::pass(
            "master's database",
            format!("{}:{} reachable from the new host", e.master, e.master_port),
        ),
        _ => Check::fail(
            "master's database",
            format!(
                "{}:{} not reachable from the new host",
                e.master, e.master_port
            ),
            "check MASTER_DB_HOST, the firewall, and DB_ALLOWED_CIDRS on the master",
        ),
    });
    out.push(match p.time {
        None => Check::warn(
            "clock",
            "could not read the host's clock",
            "install date/ntp",
        ),
        Some(t) => clock_check(t - e.local_time),
    });
    if p.existing_deploy && !e.resuming {
        out.push(Check::warn(
            "deploy dir",
            "a stack is already there",
            "its files will be replaced",
        ));
    }
    out
}

/// The Docker engine answers `docker version`.
fn docker_check(p: &Probe) -> Check {
    match &p.docker {
        Some(v) => Check::pass("docker engine", format!("version {v}")),
        None if p.docker_hung => Check::fail(
            "docker engine",
            "dockerd did not answer `docker version` within 5 s (stopped, hung or overloaded)",
            "look at dockerd on the host (systemctl status docker; restart it if it hangs), then run provision again",
        ),
        None => Check::fail(
            "docker engine",
            "no answer from `docker version`",
            "install Docker and make sure the SSH user may use it (group docker or root)",
        ),
    }
}

/// Compose v2 is there.
fn compose_check(p: &Probe) -> Check {
    match &p.compose {
        Some(v) if compose_v2(v) => {
            Check::pass("docker compose", format!("v{}", v.trim_start_matches('v')))
        }
        Some(v) => Check::fail(
            "docker compose",
            format!("version {v} is not compose v2"),
            "install the compose v2 plugin (docker-compose-plugin or Debian's docker-compose 2.x)",
        ),
        None => Check::fail(
            "docker compose",
            "`docker compose version` failed: compose v2 missing",
            "install the compose v2 plugin (docker-compose-plugin or Debian's docker-compose 2.x)",
        ),
    }
}

/// Free space where the deploy dir goes (or its nearest parent).
fn disk_check(p: &Probe) -> Check {
    let path = p.disk_path.clone().unwrap_or_else(|| "/".into());
    match p.disk_kib {
        Some(k) if k < DISK_FAIL_KIB => Check::fail(
            "disk space",
            format!("{} free on {path}", human_kib(k)),
            format!("free at least {} on {path}", human_kib(DISK_FAIL_KIB)),
        ),
        Some(k) if k < DISK_WARN_KIB => Check::warn(
            "disk space",
            format!("{} free on {path}", human_kib(k)),
            "the database will grow: consider more space",
        ),
        Some(k) => Check::pass("disk space", format!("{} free on {path}", human_kib(k))),
        None => Check::warn(
            "disk space",
            "could not read `df`",
            "check the free space by hand",
        ),
    }
}

/// The stack's ports free, or held by the stack this wizard started.
fn ports_check(p: &Probe, e: &Expect) -> Check {
    let busy: Vec<String> = e
        .ports
        .iter()
        .filter(|port| p.listening.contains(port))
        .map(u16::to_string)
        .collect();
    let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
    if busy.is_empty() {
        Check::pass("ports", format!("{} free", ports.join(", ")))
    } else if p.ours > 0 && e.resuming {
        Check::warn(
            "ports",
            format!("{} held by this wizard's earlier run", busy.join(", ")),
            "resuming: the running stack is reused",
        )
    } else if p.ours > 0 {
        Check::fail(
            "ports",
            format!(
                "{} in use by an archive stack already running there",
                busy.join(", ")
            ),
            "this host already runs the stack: retire it or `docker compose down` there first",
        )
    } else {
        Check::fail(
            "ports",
            format!("{} in use", busy.join(", ")),
            "stop what listens there (see `ss -ltnp`)",
        )
    }
}

fn clock_check(offset: f64) -> Check {
    let detail = format!("offset {offset:+.1} s");
    if offset.abs() > CLOCK_FAIL_SECS {
        Check::fail(
            "clock",
            detail,
            "set up NTP (systemd-timesyncd or chrony) on the host",
        )
    } else if offset.abs() > CLOCK_WARN_SECS {
        Check::warn("clock", detail, "set up NTP: lag figures compare clocks")
    } else {
        Check::pass("clock", detail)
    }
}

fn compose_v2(v: &str) -> bool {
    v.trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m >= 2)
}

fn human_kib(k: u64) -> String {
    let g = k as f64 / (1024.0 * 1024.0);
    if g >= 1.0 {
        format!("{g:.1} GiB")
    } else {
        format!("{:.0} MiB", k as f64 / 1024.0)
    }
}

/// Whether an env value is the shipped placeholder (or nothing at all).
pub fn is_placeholder(value: &str) -> bool {
    let v = crate::credentials::unquote(value).to_ascii_lowercase();
    v.is_empty() || v.ends_with("_change_me") || v.starts_with("change_me")
}

/// The secrets of the env.common about to be uploaded (`text`, read from
/// `path`): none may be a placeholder (`*_change_me`, `change_me...`) or
/// empty, unless its `_FILE` variant names a file instead.
pub fn placeholder_check(text: &str, path: &str) -> Check {
    let env = crate::envfile::parse_env(text);
    let bad: Vec<&str> = env
        .iter()
        .filter(|(k, _)| crate::envfile::is_secret_key(k) && !k.ends_with("_FILE"))
        .filter(|(k, v)| {
            let by_file = env
                .get(&format!("{k}_FILE"))
                .is_some_and(|f| !crate::credentials::unquote(f).is_empty());
            is_placeholder(v) && !(by_file && crate::credentials::unquote(v).is_empty())
        })
        .map(|(k, _)| k.as_str())
        .collect();
    if bad.is_empty() {
        Check::pass("env.common secrets", format!("no placeholder in {path}"))
    } else {
        Check::fail(
            "env.common secrets",
            format!(
                "{path}: {} still {} the shipped placeholder or nothing",
                bad.join(", "),
                if bad.len() == 1 { "holds" } else { "hold" }
            ),
            format!(
                "set {} in {path} to the fleet's values (the same as in the master's env.common), or set {}_FILE instead",
                bad.join(", "),
                bad[0]
            ),
        )
    }
}

/// env.common values every host of the fleet must share: a difference
/// fails pre-flight. Other differences only warn.
pub const FLEET_KEYS: [&str; 13] = [
    "COMPOSE_PROJECT_NAME",
    "ARCHIVE_DB_NAME",
    "ARCHIVE_DB_USER",
    "ARCHIVE_DB_PASSWORD",
    "POSTGRES_PASSWORD",
    "BUCARDO_DB_USER",
    "BUCARDO_DB_NAME",
    "BUCARDO_PASSWORD",
    "DB_PORT",
    "HEARTBEAT_INTERVAL",
    "SECRET_KEY_BASE",
    "BUCARDO_EXCLUDE_TABLES",
    "RAILS_ENV",
];

/// The env.common about to be uploaded (`new`) against the master's
/// (`master`, from `master_path`): the differences, secrets redacted.
pub fn fleet_check(new: &str, master: &str, master_path: &str) -> Check {
    use crate::actions::plan::EnvChange;
    let changes = crate::actions::plan::env_diff(master, new);
    let key = |c: &EnvChange| match c {
        EnvChange::Added { key, .. }
        | EnvChange::Removed { key }
        | EnvChange::Changed { key, .. } => key.clone(),
    };
    let shared =
        |k: &str| FLEET_KEYS.contains(&k) || FLEET_KEYS.contains(&k.trim_end_matches("_FILE"));
    let (must, may): (Vec<&EnvChange>, Vec<&EnvChange>) =
        changes.iter().partition(|c| shared(&key(c)));
    let list = |v: &[&EnvChange]| {
        v.iter()
            .map(|c| c.describe())
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !must.is_empty() {
        Check::fail(
            "fleet's env.common",
            format!(
                "differs from the master's {master_path} (master -> upload): {}",
                list(&must)
            ),
            "make these the same as the master's: every host of the fleet shares them",
        )
    } else if !may.is_empty() {
        Check::warn(
            "fleet's env.common",
            format!(
                "differs from the master's {master_path} (master -> upload): {}",
                list(&may)
            ),
            "keep env.common identical on all hosts unless a difference is meant",
        )
    } else {
        Check::pass(
            "fleet's env.common",
            format!("the same as the master's {master_path}"),
        )
    }
}

/// Error lines a stack container logged (`archive-bucardo: error: ...`)
/// and the first it cannot get past by retrying: a setting to change, a
/// password the master refuses. Pure.
pub fn container_errors(lines: &[String]) -> (Vec<String>, Option<String>) {
    const FATAL: [&str; 8] = [
        "refused user",
        "is invalid",
        "is not set",
        "is not a readable file",
        "keep only one of them",
        "must be the same",
        "does not accept this host",
        "password authentication failed",
    ];
    let errors: Vec<String> = lines
        .iter()
        .filter(|l| l.to_ascii_lowercase().contains("error:"))
        .map(|l| l.trim().to_string())
        .collect();
    let fatal = errors
        .iter()
        .find(|l| FATAL.iter().any(|f| l.contains(f)))
        .cloned();
    (errors, fatal)
}

/// The name in the master's Bucardo: `taken` lists what already carries it
/// (`db`, `dbgroup`, `sync`).
pub fn name_check(name: &str, taken: &[String], resuming: bool) -> Check {
    if taken.is_empty() {
        Check::pass("name in Bucardo", format!("{name} is free on the master"))
    } else if resuming {
        Check::warn(
            "name in Bucardo",
            format!(
                "{name} registered by this wizard's earlier run ({})",
                taken.join(", ")
            ),
            "resuming: the registration is reused",
        )
    } else {
        Check::fail(
            "name in Bucardo",
            format!("the master already has {} for {name}", taken.join(", ")),
            format!("pick another name, or `archtui retire {name}` first"),
        )
    }
}

#[cfg(test)]
mod tests;
