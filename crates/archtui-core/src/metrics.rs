//! The fleet as metrics for Prometheus: `archtui status --format
//! openmetrics` (for a node_exporter textfile collector) and `archtui
//! serve --metrics`. Pure: a status and the last verify in, text out.
//!
//! Every family has HELP and TYPE, label values are escaped as OpenMetrics
//! says (`\\`, `\"`, `\n`), and the text ends with `# EOF`. The one counter
//! is declared under its sample's name (`archtui_sync_conflicts_total`),
//! the way the Prometheus text format, promtool and the textfile collector
//! read counters; served as `text/plain; version=0.0.4`.

use std::fmt::Write;

use crate::fleet::FleetStatus;
use crate::model::{HostState, SyncState};
use crate::verify::last::Last;

/// Content type of `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const STATES: [SyncState; 12] = [
    SyncState::Good,
    SyncState::Bad,
    SyncState::Running,
    SyncState::Empty,
    SyncState::Paused,
    SyncState::Dropped,
    SyncState::DaemonStarting,
    SyncState::DaemonDown,
    SyncState::Stalled,
    SyncState::Inactive,
    SyncState::NeverRun,
    SyncState::Unknown,
];

/// A label value as OpenMetrics writes it, remote text sanitized first
/// (no control character reaches a terminal that prints it).
pub fn escape(v: &str) -> String {
    let v = crate::sanitize::shown(v);
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value; not finite values are left out by the callers.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

type Labels<'a> = Vec<(&'a str, String)>;

#[derive(Default)]
struct Out {
    text: String,
}

impl Out {
    /// One family with its samples; nothing when it has none.
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: Vec<(Labels<'_>, f64)>) {
        let samples: Vec<_> = samples.into_iter().filter(|(_, v)| v.is_finite()).collect();
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            if l.is_empty() {
                let _ = writeln!(self.text, "{name} {}", number(v));
            } else {
                let _ = writeln!(self.text, "{name}{{{}}} {}", l.join(","), number(v));
            }
        }
    }
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

pub fn render(s: &FleetStatus, last: &Last) -> String {
    let mut o = Out::default();
    host_families(&mut o, s);
    sync_families(&mut o, s);
    health_families(&mut o, s);
    verify_families(&mut o, last);
    o.family(
        "archtui_verdict_exit_code",
        "gauge",
        "The fleet's verdict as archtui status exits: 0 ok, 1 warning, 2 critical, 3 unknown.",
        vec![(Vec::new(), s.verdict.exit_code as f64)],
    );
    o.text.push_str("# EOF\n");
    o.text
}

/// Hosts, their containers, the slaves' daemons.
fn host_families(o: &mut Out, s: &FleetStatus) {
    o.family(
        "archtui_host_up",
        "gauge",
        "1 when archtui reached the host over SSH, Docker and PostgreSQL.",
        s.hosts
            .iter()
            .map(|h| {
                (
                    vec![("host", h.host.name.clone())],
                    flag(h.state == HostState::Up),
                )
            })
            .collect(),
    );
    o.family(
        "archtui_container_healthy",
        "gauge",
        "1 when the service's container runs and is healthy (or has no healthcheck).",
        s.hosts
            .iter()
            .flat_map(|h| {
                h.containers.iter().map(|c| {
                    let ok =
                        c.state == "running" && c.health.as_deref().is_none_or(|x| x == "healthy");
                    (
                        vec![
                            ("host", h.host.name.clone()),
                            ("service", c.service.clone()),
                        ],
                        flag(ok),
                    )
                })
            })
            .collect(),
    );
    o.family(
        "archtui_bucardo_daemon_up",
        "gauge",
        "1 when the slave's Bucardo daemon runs its main loop.",
        s.daemons
            .iter()
            .map(|d| {
                (
                    vec![("host", d.host.clone())],
                    flag(d.daemon == crate::model::DaemonState::Up),
                )
            })
            .collect(),
    );
}

/// Each sync: state, lag, pending rows, heartbeat lag, conflicts.
fn sync_families(o: &mut Out, s: &FleetStatus) {
    o.family(
        "archtui_sync_state",
        "gauge",
        "1 for the sync's current state, 0 for the others.",
        s.syncs
            .iter()
            .flat_map(|y| {
                STATES.iter().map(move |st| {
                    (
                        vec![("sync", y.name.clone()), ("state", st.as_str().to_string())],
                        flag(y.state == *st),
                    )
                })
            })
            .collect(),
    );
    o.family(
        "archtui_sync_lag_seconds",
        "gauge",
        "Age of the oldest change the master holds for the sync's slave, on the master's clock.",
        s.syncs
            .iter()
            .filter_map(|y| Some((vec![("sync", y.name.clone())], y.lag_seconds?)))
            .collect(),
    );
    o.family(
        "archtui_sync_pending_rows",
        "gauge",
        "Rows changed on the master and not yet applied to the sync's slave.",
        s.syncs
            .iter()
            .filter_map(|y| Some((vec![("sync", y.name.clone())], y.pending_rows? as f64)))
            .collect(),
    );
    o.family(
        "archtui_heartbeat_lag_seconds",
        "gauge",
        "The master's newest heartbeat minus the one the slave holds.",
        s.syncs
            .iter()
            .filter_map(|y| Some((vec![("host", y.host.clone())], y.heartbeat_lag_seconds?)))
            .collect(),
    );
    o.family(
        "archtui_sync_conflicts_total",
        "counter",
        "Conflicts Bucardo counted on the sync, over the runs bucardo.syncrun keeps (one-way syncs: any is a problem).",
        s.syncs
            .iter()
            .filter_map(|y| {
                let total = s
                    .health
                    .slaves
                    .iter()
                    .flat_map(|h| &h.conflicts)
                    .find(|c| c.sync == y.name)
                    .map(|c| c.total)
                    .or(y.conflicts)?;
                Some((vec![("sync", y.name.clone())], total as f64))
            })
            .collect(),
    );
}

/// The master's delta and track tables, and each slave's readiness to take over.
fn health_families(o: &mut Out, s: &FleetStatus) {
    let delta = &s.health.delta_tables;
    for (name, help, get) in [
        (
            "archtui_bucardo_delta_rows",
            "Rows in the master's Bucardo delta table of the replicated table.",
            (|d| d.delta_rows) as fn(&crate::health::DeltaStatus) -> i64,
        ),
        (
            "archtui_bucardo_delta_bytes",
            "Size of that delta table with its indexes.",
            |d| d.delta_bytes,
        ),
        (
            "archtui_bucardo_track_rows",
            "Rows in the master's Bucardo track table of the replicated table.",
            |d| d.track_rows,
        ),
        (
            "archtui_bucardo_track_bytes",
            "Size of that track table with its indexes.",
            |d| d.track_bytes,
        ),
    ] {
        o.family(
            name,
            "gauge",
            help,
            delta
                .iter()
                .map(|d| (vec![("table", d.table.clone())], get(d) as f64))
                .collect(),
        );
    }
    o.family(
        "archtui_slave_ready_to_take_over",
        "gauge",
        "1 when every key sequence of the slave is past its table's largest key.",
        s.health
            .slaves
            .iter()
            .filter_map(|h| {
                Some((
                    vec![("slave", h.slave.clone())],
                    flag(h.ready_to_take_over?),
                ))
            })
            .collect(),
    );
}

/// The slaves' last verify: differences per table and when it ran.
fn verify_families(o: &mut Out, last: &Last) {
    o.family(
        "archtui_verify_differences",
        "gauge",
        "Rows missing, extra or changed on the slave at its last archtui verify.",
        last.slaves
            .iter()
            .flat_map(|(slave, l)| {
                l.tables.iter().map(move |(t, r)| {
                    (
                        vec![("slave", slave.clone()), ("table", t.clone())],
                        r.differences() as f64,
                    )
                })
            })
            .collect(),
    );
    o.family(
        "archtui_verify_last_run_timestamp_seconds",
        "gauge",
        "When the slave's last archtui verify started (Unix time).",
        last.slaves
            .iter()
            .map(|(slave, l)| {
                (
                    vec![("slave", slave.clone())],
                    l.at.timestamp_millis() as f64 / 1000.0,
                )
            })
            .collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\u{1b}[31my"), "xy", "no escape sequence");
    }

    #[test]
    fn the_healthy_fleet_renders_every_family_once_with_help_and_type() {
        let round = crate::app::fixtures::fleet_round();
        let mut s = round.status();
        s.health.delta_tables.push(crate::health::DeltaStatus {
            table: "public.items".into(),
            delta_rows: 12,
            delta_bytes: 16384,
            track_rows: 3,
            track_bytes: 8192,
            growth_rows_per_hour: None,
            growth_window_secs: None,
        });
        let mut last = Last::default();
        let mut r = crate::verify::report::SlaveReport::new("jukebox", chrono::Utc::now());
        let mut t = crate::verify::report::TableReport {
            table: "public.items".into(),
            ..Default::default()
        };
        t.missing.push(vec!["1".into()]);
        r.tables.push(t);
        r.conclude();
        last.merge(&r);
        let text = render(&s, &last);
        assert!(text.ends_with("# EOF\n"), "{text}");
        for want in [
            "archtui_host_up{host=\"cavaforgepad\"} 1",
            "archtui_container_healthy{host=\"jukebox\",service=\"db\"} 1",
            "archtui_sync_state{sync=\"archive_jukebox\",state=\"good\"} 1",
            "archtui_sync_state{sync=\"archive_jukebox\",state=\"bad\"} 0",
            "archtui_sync_lag_seconds{sync=\"archive_jukebox\"} 0.3",
            "archtui_sync_pending_rows{sync=\"archive_jukebox\"} 0",
            "archtui_heartbeat_lag_seconds{host=\"jukebox\"}",
            "archtui_sync_conflicts_total{sync=\"archive_jukebox\"} 0",
            "archtui_bucardo_delta_rows{table=\"public.items\"} 12",
            "archtui_verify_differences{slave=\"jukebox\",table=\"public.items\"} 1",
            "archtui_verdict_exit_code ",
        ] {
            assert!(text.contains(want), "{want}:\n{text}");
        }
        // Each family: HELP then TYPE, once, before its samples.
        let mut seen = std::collections::HashSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap().to_string();
                assert!(seen.insert(name.clone()), "{name} twice");
                current = name;
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                assert!(rest.starts_with(&format!("{current} ")), "{line}");
            } else if line != "# EOF" {
                assert!(line.starts_with(&current), "{line} outside {current}");
                assert!(line.starts_with("archtui_"));
            }
        }
        assert!(seen.len() >= 12, "{seen:?}");
    }

    #[test]
    fn hostile_names_cannot_break_the_format() {
        let mut round = crate::app::fixtures::fleet_round();
        round.hosts[0].host.name = "a\"b\nc\\".into();
        let text = render(&round.status(), &Last::default());
        assert!(
            text.contains("archtui_host_up{host=\"a\\\"b c\\\\\"} 1"),
            "{text}"
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("archtui_host_up"))
                .count(),
            2
        );
    }
}
