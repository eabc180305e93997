//! Observations a running observer (the console, `status --watch`,
//! `serve`) hands to a one-shot `status` on the same config: the wire
//! document and the rule that decides whether it may stand for "now".
//! Pure: the socket is the remote layer's.

use serde::{Deserialize, Serialize};

use crate::config::Host;
use crate::model::Time;
use crate::observation::HostObservation;

/// Bumped whenever the document changes shape: an older or newer observer
/// is then simply not used.
pub const VERSION: u32 = 1;

/// A served reading older than this is not "now": the one-shot observes
/// anew instead. The console looks every 5 s and hears events at once,
/// so a live observer's readings stay well within it.
pub const MAX_AGE_SECS: f64 = 10.0;

/// What an observer answers on its socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Served {
    pub version: u32,
    /// console, watch or serve.
    pub kind: String,
    pub pid: u32,
    /// Each configured host's latest observation, in config order; `None`
    /// before its first.
    pub observations: Vec<Option<HostObservation>>,
}

/// Who observed a status that a one-shot printed, when it was not itself
/// (`status --json`'s `observed_by`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservedBy {
    pub kind: String,
    pub pid: u32,
    /// Age of the oldest host's reading when the status was printed.
    pub oldest_reading_secs: f64,
}

/// The served observations, when they may stand for a fresh look: the
/// same document version, the same hosts in the same order (its config
/// matches), and every host observed within `max_age_secs` of `now` and
/// not before `not_before` (the last operator action: a reading from
/// before it may show what the action changed). Otherwise why not, for
/// the debug log.
pub fn accept(
    served: Served,
    hosts: &[Host],
    now: Time,
    max_age_secs: f64,
    not_before: Option<Time>,
) -> Result<(Vec<HostObservation>, ObservedBy), String> {
    if served.version != VERSION {
        return Err(format!(
            "document version {} (this archtui reads {VERSION})",
            served.version
        ));
    }
    if served.observations.len() != hosts.len() {
        return Err(format!(
            "{} hosts served, {} configured",
            served.observations.len(),
            hosts.len()
        ));
    }
    let mut oldest = 0.0f64;
    let mut out = Vec::with_capacity(hosts.len());
    for (o, h) in served.observations.into_iter().zip(hosts) {
        let Some(o) = o else {
            return Err(format!("no reading of {} yet", h.name));
        };
        if o.host != *h {
            return Err(format!("host {} is configured otherwise", h.name));
        }
        // The observer's own state, not the host's: it has heard nothing yet.
        if o.state == crate::model::HostState::Connecting {
            return Err(format!("{} is still connecting", h.name));
        }
        let age = (now - o.observed_at).num_milliseconds() as f64 / 1000.0;
        // A reading from the future is a clock that jumped: not trusted.
        if !(-1.0..=max_age_secs).contains(&age) {
            return Err(format!("the reading of {} is {age:.1} s old", h.name));
        }
        if not_before.is_some_and(|t| o.observed_at < t) {
            return Err(format!(
                "the reading of {} predates the last action",
                h.name
            ));
        }
        oldest = oldest.max(age);
        out.push(o);
    }
    let by = ObservedBy {
        kind: served.kind,
        pid: served.pid,
        oldest_reading_secs: (oldest * 10.0).round() / 10.0,
    };
    Ok((out, by))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;
    use crate::model::{HostFailure, HostState};
    use chrono::{Duration, TimeZone, Utc};

    fn now() -> Time {
        Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).unwrap()
    }

    fn hosts() -> Vec<Host> {
        vec![
            Host::example("cavaforgepad", Role::Master),
            Host::example("jukebox", Role::Slave),
        ]
    }

    fn served(ages: &[Option<i64>]) -> Served {
        let obs = hosts()
            .iter()
            .zip(ages)
            .map(|(h, a)| {
                a.map(|ms| {
                    let f = HostFailure::new(HostState::Unreachable, "down");
                    HostObservation::failed(h, f, now() - Duration::milliseconds(ms))
                })
            })
            .collect();
        Served {
            version: VERSION,
            kind: "console".into(),
            pid: 42,
            observations: obs,
        }
    }

    #[test]
    fn fresh_readings_of_the_same_hosts_stand_and_name_their_observer() {
        let (obs, by) = accept(
            served(&[Some(300), Some(2_340)]),
            &hosts(),
            now(),
            10.0,
            None,
        )
        .unwrap();
        assert_eq!(obs.len(), 2);
        assert_eq!(obs[1].host.name, "jukebox");
        assert_eq!(obs[1].error.as_deref(), Some("down"));
        assert_eq!(
            by,
            ObservedBy {
                kind: "console".into(),
                pid: 42,
                oldest_reading_secs: 2.3
            }
        );
    }

    #[test]
    fn a_stale_missing_or_future_reading_is_refused_with_the_host() {
        let e = accept(
            served(&[Some(0), Some(10_500)]),
            &hosts(),
            now(),
            10.0,
            None,
        )
        .unwrap_err();
        assert!(e.contains("jukebox") && e.contains("10.5 s old"), "{e}");
        let e = accept(served(&[None, Some(0)]), &hosts(), now(), 10.0, None).unwrap_err();
        assert!(e.contains("no reading of cavaforgepad"), "{e}");
        let e = accept(
            served(&[Some(-5_000), Some(0)]),
            &hosts(),
            now(),
            10.0,
            None,
        )
        .unwrap_err();
        assert!(e.contains("cavaforgepad"), "{e}");
    }

    #[test]
    fn an_observer_still_connecting_has_no_reading() {
        let mut s = served(&[Some(0), Some(0)]);
        let jukebox = &hosts()[1];
        s.observations[1] = Some(HostObservation::connecting(jukebox, now()));
        let e = accept(s, &hosts(), now(), 10.0, None).unwrap_err();
        assert!(e.contains("jukebox is still connecting"), "{e}");
    }

    #[test]
    fn a_reading_from_before_the_last_action_is_refused() {
        let action = now() - Duration::milliseconds(1_000);
        let e = accept(
            served(&[Some(300), Some(2_340)]),
            &hosts(),
            now(),
            10.0,
            Some(action),
        )
        .unwrap_err();
        assert!(e.contains("jukebox") && e.contains("predates"), "{e}");
        let (obs, _) = accept(
            served(&[Some(300), Some(900)]),
            &hosts(),
            now(),
            10.0,
            Some(action),
        )
        .unwrap();
        assert_eq!(obs.len(), 2);
    }

    #[test]
    fn another_config_or_version_is_refused() {
        let mut other = hosts();
        other[1].ssh = "jukebox-2".into();
        let e = accept(served(&[Some(0), Some(0)]), &other, now(), 10.0, None).unwrap_err();
        assert!(e.contains("configured otherwise"), "{e}");
        let e = accept(
            served(&[Some(0), Some(0)]),
            &hosts()[..1],
            now(),
            10.0,
            None,
        )
        .unwrap_err();
        assert!(e.contains("2 hosts served, 1 configured"), "{e}");
        let mut s = served(&[Some(0), Some(0)]);
        s.version = VERSION + 1;
        assert!(accept(s, &hosts(), now(), 10.0, None)
            .unwrap_err()
            .contains("version"));
    }

    #[test]
    fn a_served_round_prints_the_status_its_observer_saw() {
        let round = crate::app::fixtures::fleet_round();
        let s = Served {
            version: VERSION,
            kind: "watch".into(),
            pid: 7,
            observations: round.hosts.iter().cloned().map(Some).collect(),
        };
        let text = serde_json::to_string(&s).unwrap();
        let back: Served = serde_json::from_str(&text).unwrap();
        let seen = crate::app::fixtures::Round {
            config: round.config.clone(),
            hosts: back.observations.into_iter().map(Option::unwrap).collect(),
        };
        assert!(seen.hosts[1].bucardo.is_some() && seen.hosts[0].fleet.is_some());
        assert_eq!(
            serde_json::to_value(seen.status()).unwrap(),
            serde_json::to_value(round.status()).unwrap()
        );
    }
}
