//! The pre-checks' verdict on what the remote side found.

use std::collections::BTreeMap;

use super::Roles;
use crate::wizard::checks::{Check, Verdict};

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
    let (m, c) = (roles.old_master.as_str(), roles.candidate.as_str());
    vec![
        master_up(m, c, facts),
        candidate_up(c, facts),
        heartbeat_fresh(c, facts, heartbeat_max_secs),
        nothing_pending(c, facts),
        migrations_check(&facts.migrations),
        verify(c, facts),
        others_reachable(roles, facts),
    ]
}

fn master_up(m: &str, c: &str, facts: &Facts) -> Check {
    match &facts.master_down {
    Some(why) => Check::fail(
        "master up",
        format!("{m}: {why}"),
        format!("a switchover fences {m} and drains it: bring it back (for a master that is lost for good, archtui has no failover yet: {c} would have to be promoted by hand)"),
    ),
    None => Check::pass("master up", format!("{m}: ssh and its db answer")),
}
}

fn candidate_up(c: &str, facts: &Facts) -> Check {
    match &facts.candidate_down {
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
    }
}

fn heartbeat_fresh(c: &str, facts: &Facts, heartbeat_max_secs: f64) -> Check {
    match &facts.heartbeat_age {
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
    }
}

fn nothing_pending(c: &str, facts: &Facts) -> Check {
    match (&facts.pending, &facts.sync_state) {
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
}
}

fn verify(c: &str, facts: &Facts) -> Check {
    match &facts.verify {
        Ok(s) => Check::pass("verify", format!("{c}: {s}")),
        Err(why) => Check::fail(
            "verify",
            format!("{c}: {why}"),
            format!("`archtui verify {c} --repair`, then try again"),
        ),
    }
}

fn others_reachable(roles: &Roles, facts: &Facts) -> Check {
    if facts.unreachable.is_empty() {
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
    }
}

pub(super) fn migrations_check(m: &BTreeMap<String, Result<String, String>>) -> Check {
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
