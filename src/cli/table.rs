//! The human view of `archtui status`: read at a glance, aligned columns,
//! ages instead of timestamps. Remote text is stripped of control
//! characters so nothing a host says can drive the terminal.

use std::fmt::Write;

use archtui_core::fleet::FleetStatus;
use archtui_core::model::Time;

pub fn render(s: &FleetStatus, now: Time) -> String {
    let mut out = String::new();
    let mut rows = vec![row([
        "HOST",
        "ROLE",
        "STATE",
        "SERVICE",
        "CONTAINER",
        "HEALTH",
        "RESTARTS",
        "UP",
    ])];
    for h in &s.hosts {
        let head = [
            h.host.name.clone(),
            h.host.role.to_string(),
            h.state.as_str().to_string(),
        ];
        if h.containers.is_empty() {
            let why = h
                .error
                .as_deref()
                .map_or_else(|| "no containers".into(), clean);
            rows.push(vec![head[0].clone(), head[1].clone(), head[2].clone(), why]);
        }
        for (i, c) in h.containers.iter().enumerate() {
            let lead = if i == 0 {
                head.clone()
            } else {
                Default::default()
            };
            let mut r = lead.to_vec();
            r.extend([
                clean(&c.service),
                clean(&c.state),
                c.health.as_deref().map_or("-".into(), clean),
                c.restarts.to_string(),
                c.started_at.map_or("-".into(), |t| age(now, t)),
            ]);
            rows.push(r);
        }
    }
    out.push_str(&columns(&rows));

    out.push('\n');
    // Every slave runs its own daemon.
    for b in &s.daemons {
        let _ = write!(
            out,
            "BUCARDO on {}: daemon {}, version {}",
            clean(&b.host),
            b.daemon.as_str(),
            b.version.as_deref().map_or("?".into(), clean)
        );
        if let Some(d) = &b.detail {
            let _ = write!(out, " ({})", clean(d));
        }
        if let Some(e) = &b.error {
            let _ = write!(out, "\n  error: {}", clean(e));
        }
        out.push('\n');
    }
    if s.daemons.is_empty() {
        out.push_str("BUCARDO: no slave in the config\n");
    }

    if !s.syncs.is_empty() {
        out.push('\n');
        let mut rows = vec![row([
            "SYNC",
            "SLAVE",
            "STATE",
            "LAST GOOD",
            "LAST BAD",
            "PENDING",
            "LAG",
            "HB LAG",
        ])];
        for y in &s.syncs {
            rows.push(vec![
                clean(&y.name),
                clean(&y.host),
                y.state.label().to_string(),
                y.last_good
                    .map_or("never".into(), |t| format!("{} ago", age(now, t))),
                y.last_bad
                    .map_or("-".into(), |t| format!("{} ago", age(now, t))),
                y.pending_rows.map_or("?".into(), |n| n.to_string()),
                y.lag_seconds.map_or("?".into(), |l| format!("{l:.1}s")),
                y.heartbeat_lag_seconds
                    .map_or("-".into(), |l| format!("{l:.1}s")),
            ]);
        }
        out.push_str(&columns(&rows));
        for y in &s.syncs {
            if let Some(r) = &y.reason {
                let by = y
                    .paused_by
                    .as_deref()
                    .map(|b| format!(" by {}", clean(b)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {}: {}{by}: {}",
                    clean(&y.name),
                    y.state.label(),
                    clean(r)
                );
            }
            if y.state == archtui_core::model::SyncState::Bad {
                if let Some(e) = &y.last_error {
                    let _ = writeln!(out, "  {} last error: {}", clean(&y.name), clean(e));
                }
            }
        }
    }

    let h = &s.health;
    if !h.delta_tables.is_empty() || !h.slaves.is_empty() || h.error.is_some() {
        out.push_str("\nBUCARDO HEALTH\n");
        for d in &h.delta_tables {
            let _ = writeln!(out, "  {}", clean(&archtui_core::health::delta_line(d)));
        }
        if let Some(e) = &h.error {
            let _ = writeln!(out, "  master: not read: {}", clean(e));
        }
        for sh in &h.slaves {
            let _ = writeln!(out, "  {}", clean(&archtui_core::health::slave_line(sh)));
        }
    }

    let _ = writeln!(out, "\n{}", s.verdict.level.as_str());
    for r in &s.verdict.reasons {
        let _ = writeln!(out, "  {}: {}", r.level.as_str(), clean(&r.message));
    }
    if let Some(by) = &s.observed_by {
        let _ = writeln!(
            out,
            "\n(read from the running {} of this config, pid {}; oldest reading {:.1} s old; --fresh to look anew)",
            clean(&by.kind),
            by.pid,
            by.oldest_reading_secs
        );
    }
    out
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// Left-aligned columns; the last cell of a row may run long.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter(|r| r.len() > i + 1)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 < r.len() {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Remote text through the one sanitizer and the redactor.
pub use archtui_core::sanitize::shown as clean;

/// Compact age: 45s, 12m, 3h, 2d.
pub fn age(now: Time, then: Time) -> String {
    let s = (now - then).num_seconds().max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_escape_sequences() {
        assert_eq!(clean("a\x1b[31mred\x07"), "ared");
        assert_eq!(clean("x\x1b[2J\x1b]0;TITLE\x07\u{9b}y"), "xy");
    }

    #[test]
    fn remote_names_in_the_table_are_inert() {
        let mut round = archtui_core::app::fixtures::fleet_round();
        round.hosts[0].containers[0].service = "db\x1b[?1049h".into();
        let mut s = round.status();
        s.syncs[0].name = "archive_\x1b[2Jevil\x1b]0;TITLE\x07".into();
        s.syncs[0].host = "t\u{202E}x\u{9b}".into();
        s.syncs[0].reason = Some("why\x1b]0;TITLE\x07 not".into());
        let out = render(&s, chrono::Utc::now());
        for residue in [
            "\x1b", "[2J", "]0;", "TITLE", "\u{9b}", "\u{202E}", "[?1049h",
        ] {
            assert!(!out.contains(residue), "{residue:?} in:\n{out}");
        }
        assert!(out.contains("archive_evil") && out.contains("tx"), "{out}");
    }

    #[test]
    fn ages() {
        let now = chrono::Utc::now();
        assert_eq!(age(now, now - chrono::Duration::seconds(5)), "5s");
        assert_eq!(age(now, now - chrono::Duration::seconds(600)), "10m");
        assert_eq!(age(now, now - chrono::Duration::hours(5)), "5h");
        assert_eq!(age(now, now + chrono::Duration::seconds(5)), "0s");
    }

    #[test]
    fn aligns_columns() {
        let rows = vec![row(["a", "bb", "c"]), row(["aaa", "b", "long tail"])];
        assert_eq!(columns(&rows), "a    bb  c\naaa  b   long tail\n");
    }
}
