//! A planned switchover: the master's role moves to a slave with zero data
//! loss. What is pure is here: the steps and their order, the journal that
//! makes a killed run resumable, the plan shown before anything changes,
//! the env files each host gets and the pre-checks' verdict. Carrying the
//! steps out is `archtui_remote::switchover`.
//!
//! The order keeps every write replicated: the old master is fenced first
//! (its app stopped, its app role read-only, its heartbeat writer stopped),
//! every slave drains, and the other slaves (the old master among them)
//! register with the candidate *before* its app starts as the master's, so
//! Bucardo's delta triggers exist on it before its first write.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envfile::{parse_env, set_env};
use crate::wizard::checks::{Check, Verdict};

/// The steps, in order; each is idempotent and checks its postcondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Fence,
    Drain,
    PrepareCandidate,
    StopReplication,
    Sequences,
    SwapEnv,
    Repoint,
    Promote,
    Verify,
    Config,
}

impl Step {
    pub const ALL: [Step; 10] = [
        Step::Fence,
        Step::Drain,
        Step::PrepareCandidate,
        Step::StopReplication,
        Step::Sequences,
        Step::SwapEnv,
        Step::Repoint,
        Step::Promote,
        Step::Verify,
        Step::Config,
    ];

    pub fn number(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    /// The name in the journal, the audit log and `--help`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Fence => "fence",
            Step::Drain => "drain",
            Step::PrepareCandidate => "prepare-candidate",
            Step::StopReplication => "stop-replication",
            Step::Sequences => "sequences",
            Step::SwapEnv => "swap-env",
            Step::Repoint => "repoint",
            Step::Promote => "promote",
            Step::Verify => "verify",
            Step::Config => "config",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Fence => "fence the old master (app stopped, writes refused, heartbeat stopped)",
            Step::Drain => "drain: every slave has applied every change",
            Step::PrepareCandidate => "prepare the candidate's registry and heartbeat table",
            Step::StopReplication => "stop Bucardo on every slave",
            Step::Sequences => "set the candidate's sequences past every key",
            Step::SwapEnv => "swap the roles in the env files",
            Step::Repoint => "re-register the old master and the other slaves with the candidate",
            Step::Promote => "deploy the candidate as the master",
            Step::Verify => "verify every slave against the new master",
            Step::Config => "swap the roles in the archtui config",
        }
    }

    /// The steps after `done`, in order.
    pub fn remaining(done: &[Step]) -> Vec<Step> {
        Step::ALL
            .iter()
            .copied()
            .filter(|s| !done.contains(s))
            .collect()
    }
}

/// Who is who, fixed when the run starts (the config changes at its end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    pub old_master: String,
    pub candidate: String,
    /// The other slaves, which follow the candidate.
    pub others: Vec<String>,
}

/// The journal of a switchover under way: one file, rewritten after every
/// step, so a killed run resumes at the step it was in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub roles: Roles,
    /// RFC 3339, when the first step started.
    pub started_at: String,
    pub done: Vec<Step>,
    /// Unix ms when the fence took effect: writes are refused from here
    /// until the candidate's app serves as the master's.
    #[serde(default)]
    pub fenced_at_ms: Option<i64>,
    #[serde(default)]
    pub writable_at_ms: Option<i64>,
}

impl Journal {
    pub fn new(roles: Roles, started_at: String) -> Journal {
        Journal {
            roles,
            started_at,
            done: Vec::new(),
            fenced_at_ms: None,
            writable_at_ms: None,
        }
    }

    pub fn next(&self) -> Option<Step> {
        Step::remaining(&self.done).into_iter().next()
    }

    pub fn mark(&mut self, step: Step) {
        if !self.done.contains(&step) {
            self.done.push(step);
        }
    }

    /// How long writes were refused, once the candidate took them.
    pub fn refused_secs(&self) -> Option<f64> {
        Some((self.writable_at_ms? - self.fenced_at_ms?) as f64 / 1000.0)
    }
}

/// The verdict's line while a journal is open: critical while writes are
/// refused (fenced, the candidate not serving yet), a warning after.
pub fn finding(j: &Journal) -> crate::verdict::Finding {
    use crate::verdict::{Finding, Level};
    let done = if j.done.is_empty() {
        "no step done yet".to_string()
    } else {
        format!(
            "done: {}",
            j.done
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let refusing = j.fenced_at_ms.is_some() && j.writable_at_ms.is_none();
    Finding {
        level: if refusing {
            Level::Critical
        } else {
            Level::Warning
        },
        message: format!(
            "switchover in progress: {} to {} ({done}){}; `archtui switchover {}` resumes it",
            j.roles.old_master,
            j.roles.candidate,
            if refusing {
                "; writes are refused until it ends"
            } else {
                ""
            },
            j.roles.candidate
        ),
    }
}

/// What the plan and the env rewrites need of a host's deployed env files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostEnv {
    pub deploy_dir: String,
    /// The role's env file as deployed (env.master on the master, env.slave
    /// on a slave).
    pub role_env: String,
    /// env.common as deployed.
    pub common: String,
}

impl HostEnv {
    fn get(&self, key: &str) -> Option<String> {
        let mut all = parse_env(&self.common);
        all.extend(parse_env(&self.role_env));
        all.get(key).map(|v| unquote(v))
    }

    /// The host's LAN address (`APP_HOST`): the others reach its db there.
    pub fn address(&self) -> Option<String> {
        self.get("APP_HOST").filter(|a| !a.is_empty())
    }

    pub fn db_port(&self) -> String {
        self.get("DB_PORT").unwrap_or_else(|| "5432".into())
    }

    /// The archive app's database role (`ARCHIVE_DB_USER`).
    pub fn app_user(&self) -> String {
        self.get("ARCHIVE_DB_USER")
            .unwrap_or_else(|| "archive".into())
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// Why the env files cannot be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("{host}'s env files have no APP_HOST: set it to the host's LAN address in its env.{role} under {dir}")]
    NoAddress {
        host: String,
        role: &'static str,
        dir: String,
    },
}

/// The env files each host gets: file name relative to the deploy dir,
/// then its text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewEnv {
    pub files: BTreeMap<String, Vec<(String, String)>>,
}

/// The candidate gets the old master's env.master with its own address;
/// the old master the candidate's env.slave with its own address and name,
/// pointing at the candidate; every other slave its env.slave pointing at
/// the candidate. The files they replace are left as they are, so the way
/// back reads them again.
pub fn new_env(roles: &Roles, envs: &BTreeMap<String, HostEnv>) -> Result<NewEnv, EnvError> {
    let env = |name: &str| envs.get(name).cloned().unwrap_or_default();
    let addr = |name: &str, role: &'static str| {
        let e = env(name);
        e.address().ok_or(EnvError::NoAddress {
            host: name.to_string(),
            role,
            dir: e.deploy_dir.clone(),
        })
    };
    let (old, cand) = (env(&roles.old_master), env(&roles.candidate));
    let old_addr = addr(&roles.old_master, "master")?;
    let cand_addr = addr(&roles.candidate, "slave")?;
    let cand_port = cand.db_port();
    let mut out = NewEnv::default();
    let master = set_env(&old.role_env, "APP_HOST", &cand_addr);
    out.files
        .entry(roles.candidate.clone())
        .or_default()
        .push(("env.master".into(), master));
    let mut slave = cand.role_env.clone();
    for (k, v) in [
        ("APP_HOST", old_addr.as_str()),
        ("MASTER_DB_HOST", cand_addr.as_str()),
        ("MASTER_DB_PORT", cand_port.as_str()),
        ("SLAVE_NAME", roles.old_master.as_str()),
    ] {
        slave = set_env(&slave, k, v);
    }
    out.files
        .entry(roles.old_master.clone())
        .or_default()
        .push(("env.slave".into(), slave));
    for o in &roles.others {
        let mut t = env(o).role_env;
        t = set_env(&t, "MASTER_DB_HOST", &cand_addr);
        t = set_env(&t, "MASTER_DB_PORT", &cand_port);
        out.files
            .entry(o.clone())
            .or_default()
            .push(("env.slave".into(), t));
    }
    Ok(out)
}

/// The plan: every change on every host, in the order it is made.
pub fn plan(roles: &Roles, envs: &BTreeMap<String, HostEnv>) -> Vec<String> {
    let dir = |n: &str| {
        envs.get(n)
            .map_or_else(|| "?".into(), |e| e.deploy_dir.clone())
    };
    let addr = |n: &str| {
        envs.get(n)
            .and_then(HostEnv::address)
            .unwrap_or_else(|| "?".into())
    };
    let (m, c) = (&roles.old_master, &roles.candidate);
    let slaves: Vec<&str> = std::iter::once(c.as_str())
        .chain(roles.others.iter().map(String::as_str))
        .collect();
    let mut l = vec![format!(
        "Switchover: {c} ({}) becomes the master; {m} ({}) becomes its slave{}.",
        addr(c),
        addr(m),
        if roles.others.is_empty() {
            String::new()
        } else {
            format!("; {} follow {c}", roles.others.join(", "))
        }
    )];
    let app_user = envs.get(m).map(HostEnv::app_user).unwrap_or_default();
    let step = |s: Step| format!("[{}/{}] {}", s.number(), Step::ALL.len(), s.title());
    l.push(step(Step::Fence));
    l.push(format!("      {m}: docker compose stop app, then bucardo (in {}); ALTER ROLE {app_user} IN DATABASE ... SET default_transaction_read_only = on; its sessions ended", dir(m)));
    l.push(step(Step::Drain));
    l.push(format!(
        "      kick {} and wait until 0 changes are pending",
        slaves
            .iter()
            .map(|s| format!("archive_{s}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    l.push(step(Step::PrepareCandidate));
    l.push(format!(
        "      {c}: archive-bucardo-ctl prepare-master (schema archive_fleet, the heartbeat table)"
    ));
    l.push(step(Step::StopReplication));
    l.push(format!(
        "      {}: docker compose stop -t 3 bucardo (drained: nothing is in flight)",
        slaves.join(", ")
    ));
    l.push(step(Step::Sequences));
    l.push(format!(
        "      {c}: setval of every sequence to the highest of its value on {m} and its column's maximum"
    ));
    l.push(step(Step::SwapEnv));
    l.push(format!(
        "      {c}: write {}/env.master: {m}'s, with APP_HOST={}",
        dir(c),
        addr(c)
    ));
    l.push(format!(
        "      {m}: write {}/env.slave: {c}'s, with APP_HOST={} MASTER_DB_HOST={} SLAVE_NAME={m}",
        dir(m),
        addr(m),
        addr(c)
    ));
    for o in &roles.others {
        l.push(format!(
            "      {o}: {}/env.slave: MASTER_DB_HOST={}",
            dir(o),
            addr(c)
        ));
    }
    l.push("      (each file replaced keeps a copy: <file>.before-switchover)".into());
    l.push(step(Step::Repoint));
    for o in &roles.others {
        l.push(format!(
            "      {o}: ./deploy_slave.sh (its bucardo registers with {c}; no copy)"
        ));
    }
    l.push(format!(
        "      {m}: writes allowed again for its app (now a slave's); ./deploy_slave.sh --allow-data --role-change (registers with {c}; its data is already there: no copy)"
    ));
    l.push(step(Step::Promote));
    l.push(format!(
        "      {c}: ./deploy.sh --role-change (db, app and bucardo restart as the master's; writes are taken again once its app is healthy)"
    ));
    l.push(step(Step::Verify));
    l.push(format!("      archtui verify of {} against {c}", {
        let mut v: Vec<&str> = vec![m.as_str()];
        v.extend(roles.others.iter().map(String::as_str));
        v.join(", ")
    }));
    l.push(step(Step::Config));
    l.push(format!(
        "      the config: {c} role = \"master\", {m} role = \"slave\" (the old one kept as <config>.bak)"
    ));
    l
}

/// What the pre-checks found, gathered by the remote side.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// Why the old master cannot be reached; a switchover needs it.
    pub master_down: Option<String>,
    /// Why the candidate is not up; None: it answered (ssh, docker, db).
    pub candidate_down: Option<String>,
    /// Services of the candidate not running and healthy.
    pub candidate_unhealthy: Vec<String>,
    /// Age of the heartbeat as the candidate holds it; Err: why unknown.
    pub heartbeat_age: Result<f64, String>,
    /// Changes of the candidate's sync not applied yet; Err: why unknown.
    pub pending: Result<i64, String>,
    /// The candidate's sync state word (as `status` says it).
    pub sync_state: Result<String, String>,
    /// Each host's `schema_migrations` digest; Err: why unreadable.
    pub migrations: BTreeMap<String, Result<String, String>>,
    /// The candidate's verify: Ok(summary) when equal, Err(why) otherwise.
    pub verify: Result<String, String>,
    /// Other slaves that cannot be reached, with why.
    pub unreachable: Vec<(String, String)>,
}

/// The pre-checks, each with its verdict and reason. Nothing is changed
/// unless every one passes.
pub fn checks(roles: &Roles, facts: &Facts, heartbeat_max_secs: f64) -> Vec<Check> {
    let c = &roles.candidate;
    let m = &roles.old_master;
    let mut out = Vec::new();
    out.push(match &facts.master_down {
        Some(why) => Check::fail(
            "master up",
            format!("{m}: {why}"),
            format!("a switchover fences {m} and drains it: bring it back, or, if it is lost, `archtui failover {c}`"),
        ),
        None => Check::pass("master up", format!("{m}: ssh and its db answer")),
    });
    out.push(match &facts.candidate_down {
        Some(why) => Check::fail(
            "candidate up",
            format!("{c}: {why}"),
            format!("`archtui check` says what fails on {c}"),
        ),
        None if !facts.candidate_unhealthy.is_empty() => Check::fail(
            "candidate up",
            format!("{c}: not healthy: {}", facts.candidate_unhealthy.join(", ")),
            format!("wait for or repair {c}'s services (docker compose ps there)"),
        ),
        None => Check::pass(
            "candidate up",
            format!("{c}: ssh, docker and its db answer; every service healthy"),
        ),
    });
    out.push(match &facts.heartbeat_age {
        Ok(a) if *a <= heartbeat_max_secs => Check::pass(
            "heartbeat fresh",
            format!("{c} holds the master's heartbeat of {a:.1} s ago"),
        ),
        Ok(a) => Check::fail(
            "heartbeat fresh",
            format!(
                "{c}'s copy of the heartbeat is {a:.0} s old (limit {heartbeat_max_secs:.0} s)"
            ),
            format!("{c} is behind: `archtui recover archive_{c}`, then try again"),
        ),
        Err(why) => Check::fail(
            "heartbeat fresh",
            format!("unknown: {why}"),
            format!("`archtui status` says what {c} lacks"),
        ),
    });
    out.push(match (&facts.pending, &facts.sync_state) {
        (Ok(0), Ok(s)) if s == "active" => Check::pass(
            "nothing pending",
            format!("0 pending rows for {c}; sync archive_{c} {s}, 0 conflicts (a one-way sync has none)"),
        ),
        (Ok(n), Ok(s)) if *n > 0 => Check::fail(
            "nothing pending",
            format!("{n} row(s) written on the master are not on {c} yet (sync archive_{c} {s})"),
            format!("kick it (`archtui kick archive_{c} --wait`) or recover it, then try again"),
        ),
        (Ok(_), Ok(s)) => Check::fail(
            "nothing pending",
            format!("sync archive_{c} is {s}"),
            format!("`archtui recover archive_{c}`, then try again"),
        ),
        (Err(why), _) | (_, Err(why)) => Check::fail(
            "nothing pending",
            format!("unknown: {why}"),
            "`archtui status` says what cannot be read".to_string(),
        ),
    });
    out.push(migrations_check(&facts.migrations));
    out.push(match &facts.verify {
        Ok(s) => Check::pass("verify", format!("{c}: {s}")),
        Err(why) => Check::fail(
            "verify",
            format!("{c}: {why}"),
            format!("`archtui verify {c} --repair`, then try again"),
        ),
    });
    out.push(if facts.unreachable.is_empty() {
        Check::pass(
            "other slaves reachable",
            if roles.others.is_empty() {
                "no other slave".to_string()
            } else {
                roles.others.join(", ")
            },
        )
    } else {
        let names: Vec<String> = facts
            .unreachable
            .iter()
            .map(|(n, why)| format!("{n} ({why})"))
            .collect();
        Check::fail(
            "other slaves reachable",
            format!("unreachable: {}", names.join("; ")),
            "a switchover re-points every slave: bring them back, or retire them first".to_string(),
        )
    });
    out
}

fn migrations_check(m: &BTreeMap<String, Result<String, String>>) -> Check {
    let bad: Vec<String> = m
        .iter()
        .filter_map(|(h, r)| r.as_ref().err().map(|e| format!("{h}: {e}")))
        .collect();
    if !bad.is_empty() {
        return Check::fail(
            "same migrations",
            format!("unreadable: {}", bad.join("; ")),
            "every host's app must have applied its migrations (docker compose logs app)",
        );
    }
    let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (h, r) in m {
        if let Ok(d) = r {
            by.entry(d.as_str()).or_default().push(h.as_str());
        }
    }
    if by.len() <= 1 {
        let d = by.keys().next().copied().unwrap_or("none");
        Check::pass(
            "same migrations",
            format!("schema_migrations equal on {} host(s): {d}", m.len()),
        )
    } else {
        let groups: Vec<String> = by
            .iter()
            .map(|(d, hs)| format!("{} has {d}", hs.join(", ")))
            .collect();
        Check::fail(
            "same migrations",
            groups.join("; "),
            "deploy the same app version everywhere first (`archtui deploy HOST`)",
        )
    }
}

pub fn all_pass(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.verdict == Verdict::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> Roles {
        Roles {
            old_master: "cavaforgepad".into(),
            candidate: "jukebox".into(),
            others: vec!["turntable".into()],
        }
    }

    fn envs() -> BTreeMap<String, HostEnv> {
        let common =
            "export DB_PORT=5432\nexport ARCHIVE_DB_USER=archive\nexport BUCARDO_PASSWORD=s3cret\n";
        let mut m = BTreeMap::new();
        m.insert(
            "cavaforgepad".into(),
            HostEnv {
                deploy_dir: "/srv/archive".into(),
                role_env: "export ARCHIVE_ROLE=master\nexport APP_HOST=10.77.0.1\nexport BUCARDO_SYNC_DIRECTION=master_to_slaves\nexport APP_PORT=80\n".into(),
                common: common.into(),
            },
        );
        for (n, a) in [("jukebox", "10.77.0.2"), ("turntable", "10.77.0.3")] {
            m.insert(
                n.into(),
                HostEnv {
                    deploy_dir: "/srv/archive".into(),
                    role_env: format!("export ARCHIVE_ROLE=slave\nexport APP_HOST={a}\nexport BUCARDO_SYNC_DIRECTION=slave_from_master\nexport MASTER_DB_HOST=10.77.0.1\nexport MASTER_DB_PORT=5432\nexport APP_PORT=3000\nexport SLAVE_NAME={n}\n"),
                    common: common.into(),
                },
            );
        }
        m
    }

    #[test]
    fn env_files_swap_roles_and_point_at_the_candidate() {
        let n = new_env(&roles(), &envs()).unwrap();
        let get = |h: &str, f: &str| {
            let (_, t) = n.files[h].iter().find(|(name, _)| name == f).unwrap();
            parse_env(t)
        };
        let j = get("jukebox", "env.master");
        assert_eq!(j["ARCHIVE_ROLE"], "master");
        assert_eq!(j["APP_HOST"], "10.77.0.2");
        assert_eq!(j["APP_PORT"], "80");
        let m = get("cavaforgepad", "env.slave");
        assert_eq!(m["ARCHIVE_ROLE"], "slave");
        assert_eq!(m["APP_HOST"], "10.77.0.1");
        assert_eq!(m["MASTER_DB_HOST"], "10.77.0.2");
        assert_eq!(m["SLAVE_NAME"], "cavaforgepad");
        let t = get("turntable", "env.slave");
        assert_eq!(t["MASTER_DB_HOST"], "10.77.0.2");
        assert_eq!(t["APP_HOST"], "10.77.0.3");
        assert_eq!(t["SLAVE_NAME"], "turntable");
        // Nothing else is written: the replaced files stay for the way back.
        assert_eq!(n.files.values().map(Vec::len).sum::<usize>(), 3);
    }

    #[test]
    fn a_host_without_an_address_is_named() {
        let mut e = envs();
        e.get_mut("jukebox").unwrap().role_env = "export ARCHIVE_ROLE=slave\n".into();
        let err = new_env(&roles(), &e).unwrap_err();
        assert!(
            err.to_string()
                .contains("jukebox's env files have no APP_HOST"),
            "{err}"
        );
    }

    #[test]
    fn the_plan_names_every_host_and_no_secret() {
        let p = plan(&roles(), &envs()).join("\n");
        for h in [
            "cavaforgepad",
            "jukebox",
            "turntable",
            "10.77.0.2",
            "deploy.sh",
            "env.master",
        ] {
            assert!(p.contains(h), "{h} missing from\n{p}");
        }
        assert!(!p.contains("s3cret"));
        assert_eq!(p.matches("/10] ").count(), 10, "{p}");
    }

    fn good() -> Facts {
        let mut migrations = BTreeMap::new();
        for h in ["cavaforgepad", "jukebox", "turntable"] {
            migrations.insert(h.to_string(), Ok("3 (001..003)".to_string()));
        }
        Facts {
            master_down: None,
            candidate_down: None,
            candidate_unhealthy: vec![],
            heartbeat_age: Ok(2.0),
            pending: Ok(0),
            sync_state: Ok("active".into()),
            migrations,
            verify: Ok("4 tables equal".into()),
            unreachable: vec![],
        }
    }

    #[test]
    fn every_check_passes_on_a_healthy_fleet() {
        let c = checks(&roles(), &good(), 30.0);
        assert_eq!(c.len(), 7);
        assert!(all_pass(&c), "{c:?}");
    }

    #[test]
    fn each_fault_fails_its_own_check_with_a_reason() {
        type Fault = Box<dyn Fn(&mut Facts)>;
        let cases: Vec<(&str, Fault)> = vec![
            (
                "master up",
                Box::new(|f| f.master_down = Some("ssh: timeout".into())),
            ),
            (
                "candidate up",
                Box::new(|f| f.candidate_down = Some("ssh: timeout".into())),
            ),
            (
                "candidate up",
                Box::new(|f| f.candidate_unhealthy = vec!["bucardo unhealthy".into()]),
            ),
            ("heartbeat fresh", Box::new(|f| f.heartbeat_age = Ok(90.0))),
            (
                "heartbeat fresh",
                Box::new(|f| f.heartbeat_age = Err("no heartbeat table".into())),
            ),
            ("nothing pending", Box::new(|f| f.pending = Ok(12))),
            (
                "nothing pending",
                Box::new(|f| f.sync_state = Ok("paused".into())),
            ),
            (
                "same migrations",
                Box::new(|f| {
                    f.migrations
                        .insert("turntable".into(), Ok("2 (001..002)".into()));
                }),
            ),
            (
                "verify",
                Box::new(|f| f.verify = Err("1 table differs".into())),
            ),
            (
                "other slaves reachable",
                Box::new(|f| f.unreachable = vec![("turntable".into(), "timeout".into())]),
            ),
        ];
        for (what, fault) in cases {
            let mut f = good();
            fault(&mut f);
            let c = checks(&roles(), &f, 30.0);
            assert!(!all_pass(&c));
            let failed: Vec<&Check> = c.iter().filter(|c| c.verdict != Verdict::Pass).collect();
            assert_eq!(failed.len(), 1, "{what}: {failed:?}");
            assert_eq!(failed[0].what, what);
            assert!(failed[0].fix.is_some() && !failed[0].detail.is_empty());
        }
    }

    #[test]
    fn the_journal_resumes_at_the_first_step_not_done() {
        let mut j = Journal::new(roles(), "2026-12-01T00:00:00Z".into());
        assert_eq!(j.next(), Some(Step::Fence));
        j.mark(Step::Fence);
        j.mark(Step::Drain);
        j.mark(Step::Drain);
        assert_eq!(j.done.len(), 2);
        assert_eq!(j.next(), Some(Step::PrepareCandidate));
        let text = serde_json::to_string(&j).unwrap();
        assert!(text.contains("\"prepare-candidate\"") || text.contains("\"fence\""));
        let back: Journal = serde_json::from_str(&text).unwrap();
        assert_eq!(back, j);
        j.fenced_at_ms = Some(1_000);
        j.writable_at_ms = Some(31_500);
        assert_eq!(j.refused_secs(), Some(30.5));
        let f = finding(&j);
        assert_eq!(
            f.level,
            crate::verdict::Level::Warning,
            "writable again: {f:?}"
        );
        j.writable_at_ms = None;
        let f = finding(&j);
        assert_eq!(f.level, crate::verdict::Level::Critical);
        assert!(
            f.message.contains("switchover in progress")
                && f.message.contains("writes are refused"),
            "{f:?}"
        );
        assert!(f
            .message
            .contains("`archtui switchover jukebox` resumes it"));
        for s in Step::ALL {
            j.mark(s);
        }
        assert_eq!(j.next(), None);
    }
}
