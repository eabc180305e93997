//! The fleet's health in one word, with the exit codes monitoring plugins
//! use: 0 ok, 1 warning, 2 critical, 3 unknown. Pure: it only reads the
//! observations.

use serde::Serialize;

use crate::config::Thresholds;
use crate::model::{BucardoStatus, DaemonState, HostState, SyncState, SyncStatus};
use crate::observation::HostObservation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Level {
    pub fn exit_code(self) -> i32 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Critical => 2,
            Level::Unknown => 3,
        }
    }

    /// Critical beats unknown (something is known to be broken), unknown
    /// beats warning (part of the fleet cannot be vouched for).
    fn rank(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Unknown => 2,
            Level::Critical => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
            Level::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub level: Level,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub level: Level,
    pub exit_code: i32,
    /// Everything that is not ok, worst first.
    pub reasons: Vec<Finding>,
}

impl Verdict {
    /// The verdict with `more` findings (Bucardo's health) judged in.
    pub fn with(self, more: Vec<Finding>) -> Verdict {
        let mut all = self.reasons;
        all.extend(more);
        Verdict::from_findings(all)
    }

    fn from_findings(mut reasons: Vec<Finding>) -> Self {
        reasons.sort_by_key(|f| std::cmp::Reverse(f.level.rank()));
        let level = reasons.first().map_or(Level::Ok, |f| f.level);
        Verdict {
            level,
            exit_code: level.exit_code(),
            reasons,
        }
    }
}

/// What the verdict needs to know besides the observations.
pub struct Expectations<'a> {
    pub services: &'a [String],
    pub thresholds: Thresholds,
}

pub fn judge(
    hosts: &[&HostObservation],
    daemons: &[BucardoStatus],
    syncs: &[SyncStatus],
    registry_error: Option<&str>,
    expect: &Expectations<'_>,
) -> Verdict {
    let mut out = Vec::new();
    host_findings(hosts, expect.services, &mut out);
    if let Some(e) = registry_error {
        out.push(Finding {
            level: Level::Critical,
            message: format!("master: fleet registry unreadable: {e}"),
        });
    }
    daemon_findings(daemons, hosts, &mut out);
    sync_findings(syncs, hosts, expect.thresholds, &mut out);
    Verdict::from_findings(out)
}

/// A host down, or a service of it missing, stopped, unhealthy or starting.
fn host_findings(hosts: &[&HostObservation], services: &[String], out: &mut Vec<Finding>) {
    let mut push = |level, message: String| out.push(Finding { level, message });
    for h in hosts {
        if h.state != HostState::Up {
            let why = h.error.as_deref().unwrap_or("no reason given");
            push(
                Level::Critical,
                format!("host {}: {}: {why}", h.host.name, h.state.as_str()),
            );
            continue;
        }
        for service in services {
            match h.containers.iter().find(|c| &c.service == service) {
                None => push(
                    Level::Critical,
                    format!("host {}: service {service} has no container", h.host.name),
                ),
                Some(c) if c.state != "running" => push(
                    Level::Critical,
                    format!("host {}: service {service} is {}", h.host.name, c.state),
                ),
                Some(c) => match c.health.as_deref() {
                    Some("unhealthy") => push(
                        Level::Critical,
                        format!("host {}: service {service} is unhealthy", h.host.name),
                    ),
                    Some("starting") => push(
                        Level::Warning,
                        format!("host {}: service {service} is starting", h.host.name),
                    ),
                    _ => {}
                },
            }
        }
    }
}

/// A slave's daemon: unreadable (its host up), down, starting or unknown.
fn daemon_findings(daemons: &[BucardoStatus], hosts: &[&HostObservation], out: &mut Vec<Finding>) {
    let mut push = |level, message: String| out.push(Finding { level, message });
    // Every slave runs its own daemon; an unreadable slave is reported
    // above (its host) or here (its control database).
    for d in daemons {
        let host_up = hosts
            .iter()
            .any(|h| h.host.name == d.host && h.state == HostState::Up);
        match (d.daemon, &d.error) {
            (_, Some(e)) if host_up => push(Level::Critical, format!("bucardo on {}: {e}", d.host)),
            (_, Some(_)) => {}
            (DaemonState::Down, None) => push(
                Level::Critical,
                format!(
                    "bucardo on {}: the daemon is not running{}",
                    d.host,
                    d.detail
                        .as_deref()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default()
                ),
            ),
            (DaemonState::Starting, None) => push(
                Level::Warning,
                format!(
                    "bucardo on {}: the daemon is starting{}",
                    d.host,
                    d.detail
                        .as_deref()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default()
                ),
            ),
            (DaemonState::Unknown, None) => push(
                Level::Unknown,
                format!("bucardo on {}: daemon state unknown", d.host),
            ),
            (DaemonState::Up, None) => {}
        }
    }
}

/// A sync's state, and its lag against the thresholds.
fn sync_findings(
    syncs: &[SyncStatus],
    hosts: &[&HostObservation],
    t: Thresholds,
    out: &mut Vec<Finding>,
) {
    let mut push = |level, message: String| out.push(Finding { level, message });
    for s in syncs {
        let why = |s: &SyncStatus| {
            s.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        };
        match s.state {
            SyncState::Bad => push(
                Level::Critical,
                format!(
                    "sync {}: bad: {}",
                    s.name,
                    s.last_error.as_deref().unwrap_or("no error text")
                ),
            ),
            SyncState::Stalled
            | SyncState::Inactive
            | SyncState::Dropped
            | SyncState::DaemonDown => push(
                Level::Critical,
                format!("sync {}: {}{}", s.name, s.state.label(), why(s)),
            ),
            SyncState::Paused => push(
                Level::Warning,
                format!(
                    "sync {}: paused{}{}{}",
                    s.name,
                    s.paused_by
                        .as_deref()
                        .map(|b| format!(" by {b}"))
                        .unwrap_or_default(),
                    s.since
                        .map(|t| format!(" since {}", t.format("%H:%M:%S UTC")))
                        .unwrap_or_default(),
                    why(s)
                ),
            ),
            SyncState::NeverRun | SyncState::DaemonStarting => push(
                Level::Warning,
                format!("sync {}: {}{}", s.name, s.state.label(), why(s)),
            ),
            // Its host's own finding says why; a slave not in the config
            // is worth a look.
            SyncState::Unknown => {
                if !hosts.iter().any(|h| h.host.name == s.host) {
                    push(Level::Warning, format!("sync {}{}", s.name, why(s)));
                } else if hosts
                    .iter()
                    .any(|h| h.host.name == s.host && h.state == HostState::Up)
                {
                    push(
                        Level::Critical,
                        format!("sync {}: unknown{}", s.name, why(s)),
                    );
                }
            }
            SyncState::Good | SyncState::Empty | SyncState::Running => {}
        }
        if let Some((level, message)) = lag_finding(s, t) {
            push(level, message);
        }
    }
}

/// A sync's lag against the thresholds; unmeasured is unknown.
fn lag_finding(s: &SyncStatus, t: Thresholds) -> Option<(Level, String)> {
    match s.lag_seconds {
        Some(lag) if lag >= t.lag_critical_secs => Some((
            Level::Critical,
            format!(
                "sync {}: lag {lag:.1} s >= {} s",
                s.name, t.lag_critical_secs
            ),
        )),
        Some(lag) if lag >= t.lag_warning_secs => Some((
            Level::Warning,
            format!(
                "sync {}: lag {lag:.1} s >= {} s",
                s.name, t.lag_warning_secs
            ),
        )),
        Some(_) => None,
        None => Some((
            Level::Unknown,
            format!("sync {}: lag could not be measured", s.name),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;
    use crate::model::Container;
    use chrono::Utc;

    fn host(name: &str, role: Role) -> HostObservation {
        let containers = ["db", "bucardo", "app"]
            .iter()
            .map(|s| Container {
                service: s.to_string(),
                name: format!("archive-{s}-1"),
                state: "running".into(),
                health: Some("healthy".into()),
                restarts: 0,
                started_at: None,
                image: "x".into(),
            })
            .collect();
        HostObservation {
            host: crate::config::Host::example(name, role),
            state: HostState::Up,
            error: None,
            observed_at: Utc::now(),
            containers,
            heartbeat: None,
            bucardo: None,
            fleet: None,
            health: None,
        }
    }

    fn bucardo() -> BucardoStatus {
        BucardoStatus {
            host: "s".into(),
            daemon: DaemonState::Up,
            detail: None,
            since: None,
            version: Some("5.6.0".into()),
            error: None,
            observed_at: Utc::now(),
        }
    }

    fn sync(lag: Option<f64>, state: SyncState) -> SyncStatus {
        SyncStatus {
            name: "archive_s".into(),
            host: "s".into(),
            target: "s".into(),
            dbgroup: "s_grp".into(),
            state,
            reason: None,
            since: None,
            paused_by: None,
            run_status: None,
            last_good: None,
            last_bad: None,
            last_error: Some("boom".into()),
            inserts: None,
            deletes: None,
            conflicts: None,
            pending_rows: Some(0),
            lag_seconds: lag,
            heartbeat_lag_seconds: None,
            observed_at: Utc::now(),
        }
    }

    fn run(hosts: &[HostObservation], b: Option<&BucardoStatus>, syncs: &[SyncStatus]) -> Verdict {
        let hosts: Vec<&HostObservation> = hosts.iter().collect();
        let daemons: Vec<BucardoStatus> = b.into_iter().cloned().collect();
        let services = ["db", "bucardo", "app"].map(String::from);
        let expect = Expectations {
            services: &services,
            thresholds: Thresholds {
                lag_warning_secs: 30.0,
                lag_critical_secs: 300.0,
                ..Thresholds::default()
            },
        };
        judge(&hosts, &daemons, syncs, None, &expect)
    }

    fn fleet() -> Vec<HostObservation> {
        vec![host("m", Role::Master), host("s", Role::Slave)]
    }

    #[test]
    fn healthy_fleet_is_ok() {
        let v = run(
            &fleet(),
            Some(&bucardo()),
            &[sync(Some(0.4), SyncState::Good)],
        );
        assert_eq!((v.level, v.exit_code), (Level::Ok, 0));
        assert!(v.reasons.is_empty());
    }

    #[test]
    fn lag_thresholds() {
        let b = bucardo();
        let level = |lag| run(&fleet(), Some(&b), &[sync(Some(lag), SyncState::Good)]).exit_code;
        assert_eq!(level(29.9), 0);
        assert_eq!(level(30.0), 1);
        assert_eq!(level(299.0), 1);
        assert_eq!(level(300.0), 2);
        assert_eq!(
            run(&fleet(), Some(&b), &[sync(None, SyncState::Good)]).exit_code,
            3
        );
    }

    #[test]
    fn sync_states() {
        let b = bucardo();
        let code = |s| run(&fleet(), Some(&b), &[sync(Some(1.0), s)]).exit_code;
        assert_eq!(code(SyncState::Paused), 1);
        assert_eq!(code(SyncState::NeverRun), 1);
        assert_eq!(code(SyncState::DaemonStarting), 1);
        assert_eq!(code(SyncState::Running), 0);
        assert_eq!(code(SyncState::Empty), 0);
        assert_eq!(code(SyncState::Bad), 2);
        assert_eq!(code(SyncState::Stalled), 2);
        assert_eq!(code(SyncState::Inactive), 2);
        assert_eq!(code(SyncState::Dropped), 2);
        assert_eq!(code(SyncState::DaemonDown), 2);
        assert_eq!(code(SyncState::Unknown), 2);
    }

    #[test]
    fn findings_carry_the_reason_and_who_paused() {
        let b = bucardo();
        let mut s = sync(Some(1.0), SyncState::Dropped);
        s.reason = Some("validation failed: cannot connect to db master 07:23:31".into());
        let v = run(&fleet(), Some(&b), &[s]);
        assert_eq!(
            v.reasons[0].message,
            "sync archive_s: dropped: validation failed: cannot connect to db master 07:23:31"
        );
        let mut s = sync(Some(1.0), SyncState::Paused);
        s.paused_by = Some("archtui (alice@laptop)".into());
        let v = run(&fleet(), Some(&b), &[s]);
        assert_eq!(
            v.reasons[0].message,
            "sync archive_s: paused by archtui (alice@laptop)"
        );
        let mut s = sync(Some(1.0), SyncState::Paused);
        s.reason = Some("no controller process".into());
        let v = run(&fleet(), Some(&b), &[s]);
        assert_eq!(
            v.reasons[0].message,
            "sync archive_s: paused: no controller process"
        );
    }

    #[test]
    fn host_and_container_problems() {
        let b = bucardo();
        let s = [sync(Some(0.0), SyncState::Good)];
        let mut hosts = fleet();
        hosts[1].state = HostState::Unreachable;
        hosts[1].error = Some("timed out".into());
        let v = run(&hosts, Some(&b), &s);
        assert_eq!(v.level, Level::Critical);
        assert_eq!(v.reasons[0].message, "host s: unreachable: timed out");

        let mut hosts = fleet();
        hosts[1].containers[0].state = "exited".into();
        assert_eq!(run(&hosts, Some(&b), &s).exit_code, 2);
        let mut hosts = fleet();
        hosts[1].containers[0].health = Some("starting".into());
        assert_eq!(run(&hosts, Some(&b), &s).exit_code, 1);
        let mut hosts = fleet();
        hosts[1].containers.pop();
        assert_eq!(run(&hosts, Some(&b), &s).exit_code, 2);
    }

    #[test]
    fn bucardo_problems() {
        let s = [sync(Some(0.0), SyncState::Good)];
        let mut b = bucardo();
        b.daemon = DaemonState::Down;
        assert_eq!(run(&fleet(), Some(&b), &s).exit_code, 2);
        b.daemon = DaemonState::Starting;
        assert_eq!(run(&fleet(), Some(&b), &s).exit_code, 1);
        b.daemon = DaemonState::Unknown;
        assert_eq!(run(&fleet(), Some(&b), &s).exit_code, 3);
        // An unreadable control database on a slave that is up.
        let mut b = bucardo();
        b.error = Some("no Bucardo schema".into());
        assert_eq!(run(&fleet(), Some(&b), &s).exit_code, 2);
    }

    #[test]
    fn critical_outranks_unknown_outranks_warning() {
        let b = bucardo();
        let v = run(&fleet(), Some(&b), &[sync(None, SyncState::Paused)]);
        assert_eq!(v.level, Level::Unknown);
        let v = run(&fleet(), Some(&b), &[sync(None, SyncState::Bad)]);
        assert_eq!(v.level, Level::Critical);
        assert_eq!(v.reasons.last().unwrap().level, Level::Unknown);
    }
}
