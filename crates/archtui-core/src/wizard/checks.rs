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
    out.push(match &p.docker {
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
    });
    out.push(match &p.compose {
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
    });
    let path = p.disk_path.clone().unwrap_or_else(|| "/".into());
    out.push(match p.disk_kib {
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
    });
    let busy: Vec<String> = e
        .ports
        .iter()
        .filter(|port| p.listening.contains(port))
        .map(u16::to_string)
        .collect();
    let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
    out.push(if busy.is_empty() {
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
    });
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
mod tests {
    use super::*;

    #[test]
    fn copy_progress_reads_at_a_glance() {
        assert_eq!(
            copy_progress("items", 1_234_567, Some(5_000_000)),
            "initial copy: items 1,234,567 of ~5,000,000 rows (24%)"
        );
        assert_eq!(
            copy_progress("public.files", 12, Some(0)),
            "initial copy: public.files 12 rows so far"
        );
        // Estimates lag: never past 100 %.
        assert!(copy_progress("t", 150, Some(100)).ends_with("(100%)"));
        assert_eq!(
            copy_progress("t", 999, None),
            "initial copy: t 999 rows so far"
        );
    }

    const PROBE: &str = "docker=20.10.24+dfsg1\ncompose=2.26.1-4\ndisk=76245932\ndisk_path=/srv\n\
listen=0.0.0.0:22 [::]:22 127.0.0.1:631\nours=0\nmaster=ok\ntime=1000.5\nexisting=0\ngarbage\n";

    fn expect() -> Expect {
        Expect {
            ports: vec![5432, 3000],
            master: "10.77.0.1".into(),
            master_port: 5432,
            local_time: 1000.0,
            resuming: false,
        }
    }

    #[test]
    fn probe_parses() {
        let p = parse_probe(PROBE);
        assert_eq!(p.docker.as_deref(), Some("20.10.24+dfsg1"));
        assert_eq!(p.compose.as_deref(), Some("2.26.1-4"));
        assert_eq!(p.disk_kib, Some(76245932));
        assert_eq!(p.listening, [22, 631]);
        assert_eq!(p.master_reachable, Some(true));
        assert_eq!(p.time, Some(1000.5));
    }

    #[test]
    fn a_good_host_passes() {
        let c = host_checks(&parse_probe(PROBE), &expect());
        assert!(all_clear(&c), "{c:#?}");
        assert!(c.iter().all(|c| c.verdict == Verdict::Pass), "{c:#?}");
        assert!(c[0].detail.contains("20.10"));
        assert_eq!(c[1].detail, "v2.26.1-4");
        assert!(c[5].detail.contains("+0.5"));
    }

    #[test]
    fn a_hung_dockerd_is_named_as_hung_not_missing() {
        let text = PROBE.replace("docker=20.10.24+dfsg1", "docker_hung=1\ndocker=");
        let p = parse_probe(&text);
        assert!(p.docker_hung);
        let c = host_checks(&p, &expect());
        assert_eq!(c[0].verdict, Verdict::Fail);
        assert!(c[0].detail.contains("did not answer"), "{:?}", c[0]);
        let missing = host_checks(
            &parse_probe(&PROBE.replace("docker=20.10.24+dfsg1", "docker=")),
            &expect(),
        );
        assert!(
            missing[0].detail.contains("no answer from"),
            "{:?}",
            missing[0]
        );
    }

    #[test]
    fn each_problem_fails_with_a_fix() {
        let mut p = parse_probe(PROBE);
        p.compose = None;
        p.docker = None;
        p.disk_kib = Some(1024);
        p.listening = vec![5432];
        p.master_reachable = Some(false);
        p.time = Some(1200.0);
        let c = host_checks(&p, &expect());
        assert!(!all_clear(&c));
        let fails: Vec<&str> = c
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .map(|c| c.what.as_str())
            .collect();
        assert_eq!(
            fails,
            [
                "docker engine",
                "docker compose",
                "disk space",
                "ports",
                "master's database",
                "clock"
            ]
        );
        assert!(c
            .iter()
            .all(|c| c.verdict == Verdict::Pass || c.fix.is_some()));
        let mut p = parse_probe(PROBE);
        p.compose = Some("1.29.2".into());
        assert_eq!(host_checks(&p, &expect())[1].verdict, Verdict::Fail);
    }

    #[test]
    fn a_resumed_run_accepts_its_own_stack() {
        let mut p = parse_probe(PROBE);
        p.listening = vec![3000, 5432];
        p.ours = 3;
        p.existing_deploy = true;
        assert_eq!(host_checks(&p, &expect())[3].verdict, Verdict::Fail);
        let mut e = expect();
        e.resuming = true;
        let c = host_checks(&p, &e);
        assert_eq!(c[3].verdict, Verdict::Warn);
        assert!(all_clear(&c));
        assert_eq!(c.len(), 6);
    }

    #[test]
    fn placeholders_are_refused_by_name() {
        let shipped =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../env.common"))
                .unwrap();
        let c = placeholder_check(&shipped, "/co/env.common");
        assert_eq!(c.verdict, Verdict::Fail);
        for k in [
            "ARCHIVE_DB_PASSWORD",
            "POSTGRES_PASSWORD",
            "BUCARDO_PASSWORD",
            "SECRET_KEY_BASE",
        ] {
            assert!(c.detail.contains(k), "{k}: {}", c.detail);
        }
        assert!(c.fix.as_deref().unwrap_or("").contains("/co/env.common"));
        let good = "BUCARDO_PASSWORD=\"s3cret-long\"\nexport ARCHIVE_DB_PASSWORD=\nARCHIVE_DB_PASSWORD_FILE=/run/secrets/archive/a\n";
        assert_eq!(
            placeholder_check(good, "e").verdict,
            Verdict::Pass,
            "a file instead is fine"
        );
        let empty = "BUCARDO_PASSWORD=\n";
        assert_eq!(placeholder_check(empty, "e").verdict, Verdict::Fail);
    }

    #[test]
    fn the_fleet_must_share_its_env_common() {
        crate::credentials::remember("Fleet-Pw-1234");
        let master = "BUCARDO_PASSWORD=Fleet-Pw-1234\nDB_PORT=5432\nBUCARDO_LOG_LEVEL=terse\n";
        assert_eq!(fleet_check(master, master, "m").verdict, Verdict::Pass);
        let c = fleet_check(
            "BUCARDO_PASSWORD=Other-Pw-5678\nDB_PORT=5433\nBUCARDO_LOG_LEVEL=terse\n",
            master,
            "/srv/archive/env.common",
        );
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.detail.contains("~ DB_PORT: 5432 -> 5433"), "{}", c.detail);
        assert!(
            c.detail.contains("BUCARDO_PASSWORD: <redacted> (changed)"),
            "{}",
            c.detail
        );
        assert!(!c.detail.contains("Pw-"), "secrets shown: {}", c.detail);
        let c = fleet_check(
            "BUCARDO_PASSWORD=Fleet-Pw-1234\nDB_PORT=5432\nBUCARDO_LOG_LEVEL=debug\n",
            master,
            "m",
        );
        assert_eq!(c.verdict, Verdict::Warn, "{c:?}");
    }

    #[test]
    fn container_errors_that_cannot_pass_end_the_wait() {
        let lines: Vec<String> = [
            "archive-bucardo: slave turntable: local db ready",
            "archive-bucardo: error: MASTER_DB_HOST=10.77.0.1 (port 5432) is unreachable (x): check",
            "archive-bucardo: error: the master refused user bucardo at 10.77.0.1:5432: BUCARDO_PASSWORD must be the same as on the master (env.common)",
        ]
        .map(String::from)
        .to_vec();
        let (shown, fatal) = container_errors(&lines[..2]);
        assert_eq!(shown.len(), 1);
        assert_eq!(fatal, None, "unreachable is retried");
        let (shown, fatal) = container_errors(&lines);
        assert_eq!(shown.len(), 2);
        assert!(fatal.unwrap().contains("refused user bucardo"));
    }

    #[test]
    fn names_taken_in_bucardo() {
        assert_eq!(name_check("x", &[], false).verdict, Verdict::Pass);
        let taken = vec![
            "registry entry (10.0.0.2:5432)".to_string(),
            "4 delta targets".to_string(),
        ];
        let c = name_check("jukebox", &taken, false);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.detail
                .contains("registry entry (10.0.0.2:5432), 4 delta targets for jukebox"),
            "{}",
            c.detail
        );
        assert_eq!(name_check("x", &taken, true).verdict, Verdict::Warn);
    }

    #[test]
    fn clock_and_disk_thresholds() {
        assert_eq!(clock_check(1.0).verdict, Verdict::Pass);
        assert_eq!(clock_check(-5.0).verdict, Verdict::Warn);
        assert_eq!(clock_check(-61.0).verdict, Verdict::Fail);
        assert_eq!(human_kib(512 * 1024), "512 MiB");
        assert_eq!(human_kib(3 * 1024 * 1024), "3.0 GiB");
    }

    /// Property tests (cases per run: 512 each).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Whatever the probe printed, the checks come out, and each
            /// one that is not a pass says how to fix it.
            #[test]
            fn any_probe_output(text in "((docker|compose|disk|disk_path|listen|ours|master|time|existing)=.{0,30}\n){0,12}", done in any::<i64>(), est in proptest::option::of(any::<i64>())) {
                let p = parse_probe(&text);
                let e = Expect {
                    ports: vec![5432, 3000],
                    master: "m".into(),
                    master_port: 5432,
                    local_time: 1000.0,
                    resuming: false,
                };
                for c in host_checks(&p, &e) {
                    prop_assert!(c.verdict == Verdict::Pass || c.fix.is_some());
                }
                let _ = copy_progress("t", done, est);
            }

            /// Any env texts: the checks come out, secrets never shown.
            #[test]
            fn any_env_common(a in "((BUCARDO_PASSWORD|DB_PORT|X|SECRET_KEY_BASE)=[ -~]{0,12}\n){0,6}", b in "((BUCARDO_PASSWORD|DB_PORT|Y)=[ -~]{0,12}\n){0,6}") {
                let _ = placeholder_check(&a, "p");
                let c = fleet_check(&a, &b, "m");
                prop_assert!(c.verdict == Verdict::Pass || c.fix.is_some());
                let lines: Vec<String> = a.lines().chain(b.lines()).map(String::from).collect();
                let (shown, fatal) = container_errors(&lines);
                if let Some(f) = fatal {
                    prop_assert!(shown.contains(&f));
                }
            }
        }
    }
}
