//! A failover's pre-checks: the master really is gone, the candidate is
//! the slave that lost the least, and what that loss is bounded by.

use std::collections::BTreeMap;

use super::checks::migrations_check;
use super::Roles;
use crate::wizard::checks::Check;

/// How far past its column's maximum each of the new master's sequences
/// is set: rows the lost master wrote that never reached the candidate
/// keep ids no new row takes, so `archtui rejoin` finds them as rows only
/// the old master holds instead of rows that differ.
pub const SEQUENCE_GAP: i64 = 100_000;

/// One slave as a failover's pre-checks found it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaveFacts {
    pub name: String,
    /// Why it cannot be reached (ssh, docker or its db); None: it answers.
    pub down: Option<String>,
    /// Its services not running and healthy.
    pub unhealthy: Vec<String>,
    /// Age of the newest heartbeat it received from the master; Err: why
    /// unknown. This bounds the writes it lacks.
    pub heartbeat_age: Result<f64, String>,
}

/// What a failover's pre-checks found, gathered by the remote side.
#[derive(Debug, Clone, PartialEq)]
pub struct FailoverFacts {
    /// Why the master cannot be reached; None: it answers, and a failover
    /// is refused (a switchover is what fits).
    pub master_down: Option<String>,
    /// Every slave of the config, the candidate among them.
    pub slaves: Vec<SlaveFacts>,
    /// Each reachable slave's `schema_migrations` digest.
    pub migrations: BTreeMap<String, Result<String, String>>,
}

impl FailoverFacts {
    fn slave(&self, name: &str) -> Option<&SlaveFacts> {
        self.slaves.iter().find(|s| s.name == name)
    }
}

/// The reachable, healthy slaves with a known heartbeat, freshest first:
/// the first lost the fewest writes.
pub fn rank(facts: &FailoverFacts) -> Vec<(&str, f64)> {
    let mut v: Vec<(&str, f64)> = facts
        .slaves
        .iter()
        .filter(|s| s.down.is_none() && s.unhealthy.is_empty())
        .filter_map(|s| s.heartbeat_age.as_ref().ok().map(|a| (s.name.as_str(), *a)))
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
    v
}

/// The pre-checks of a failover to `roles.candidate`. Nothing is changed
/// unless every one passes. An unreachable other slave is no refusal: it
/// is listed, left as it is, and rejoins later.
pub fn failover_checks(roles: &Roles, facts: &FailoverFacts, slack_secs: f64) -> Vec<Check> {
    let (m, c) = (roles.old_master.as_str(), roles.candidate.as_str());
    vec![
        master_gone(m, c, facts),
        candidate_up(c, facts),
        freshest(c, facts, slack_secs),
        migrations_check(&facts.migrations),
        others(roles, facts),
    ]
}

fn master_gone(m: &str, c: &str, facts: &FailoverFacts) -> Check {
    match &facts.master_down {
        // The reason names the host already ("m: ssh m: ...").
        Some(why) => Check::pass("master unreachable", why.clone()),
        None => Check::fail(
            "master unreachable",
            format!("{m} answers (ssh and its db)"),
            format!("a failover is for a master that is gone; with {m} up, `archtui switchover {c}` moves the role with zero data loss"),
        ),
    }
}

fn candidate_up(c: &str, facts: &FailoverFacts) -> Check {
    match facts.slave(c) {
        None => Check::fail(
            "candidate up",
            format!("{c} is not a slave of the config"),
            "name one of the config's slaves",
        ),
        Some(SlaveFacts {
            down: Some(why), ..
        }) => Check::fail(
            "candidate up",
            format!("{c}: {why}"),
            format!("`archtui check` says what fails on {c}; or fail over to another slave"),
        ),
        Some(s) if !s.unhealthy.is_empty() => Check::fail(
            "candidate up",
            format!("{c}: not healthy: {}", s.unhealthy.join(", ")),
            format!(
                "repair {c}'s services (docker compose ps there), or fail over to another slave"
            ),
        ),
        Some(_) => Check::pass(
            "candidate up",
            format!("{c}: ssh, docker and its db answer; every service healthy"),
        ),
    }
}

/// The candidate must hold the freshest heartbeat (within `slack_secs`,
/// one heartbeat interval or so): its age is the bound on lost writes.
fn freshest(c: &str, facts: &FailoverFacts, slack_secs: f64) -> Check {
    let ranked = rank(facts);
    let mine = facts.slave(c).map(|s| s.heartbeat_age.clone());
    match (mine, ranked.first()) {
        (Some(Ok(age)), Some((best, best_age))) if age <= best_age + slack_secs => Check::pass(
            "freshest heartbeat",
            format!(
                "{c} received the master's heartbeat {age:.1} s before it was lost: writes of up to the last {age:.0} s may be missing{}",
                if *best != c { format!(" ({best}: {best_age:.1} s, within {slack_secs:.0} s)") } else { String::new() }
            ),
        ),
        (Some(Ok(age)), Some((best, best_age))) => Check::fail(
            "freshest heartbeat",
            format!("{c}'s heartbeat is {age:.1} s old, {best}'s {best_age:.1} s: {best} lost fewer writes"),
            format!("fail over to {best}: `archtui failover {best}`"),
        ),
        (Some(Err(why)), _) => Check::fail(
            "freshest heartbeat",
            format!("unknown: {why}"),
            format!("without a heartbeat on {c} the writes lost cannot be bounded: `archtui status` says what it lacks"),
        ),
        _ => Check::fail(
            "freshest heartbeat",
            "no slave could be judged".to_string(),
            "`archtui status` says what each slave lacks",
        ),
    }
}

fn others(roles: &Roles, facts: &FailoverFacts) -> Check {
    let gone: Vec<String> = roles
        .others
        .iter()
        .filter_map(|o| facts.slave(o))
        .filter_map(|s| s.down.as_ref().map(|why| format!("{} ({why})", s.name)))
        .collect();
    let up: Vec<&str> = roles
        .others
        .iter()
        .filter(|o| facts.slave(o).is_some_and(|s| s.down.is_none()))
        .map(String::as_str)
        .collect();
    // Listed, never a refusal: a failover is for when hosts are missing.
    Check::pass(
        "other slaves",
        match (up.is_empty(), gone.is_empty()) {
            (true, true) => "no other slave".to_string(),
            (false, true) => format!("{} follow {}", up.join(", "), roles.candidate),
            (_, false) => format!(
                "{}unreachable, left as they are: {} (`archtui rejoin NAME` once back)",
                if up.is_empty() {
                    String::new()
                } else {
                    format!("{} follow {}; ", up.join(", "), roles.candidate)
                },
                gone.join("; ")
            ),
        },
    )
}
