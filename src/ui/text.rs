//! Small text helpers for the panes: ages, durations, remote strings.

use archtui_core::model::Time;

/// A host's state at a glance: up, still connecting, or anything else.
pub fn host_mark(state: archtui_core::model::HostState) -> &'static str {
    use archtui_core::model::HostState;
    match state {
        HostState::Up => "●",
        HostState::Connecting => "○",
        _ => "✗",
    }
}

/// Compact age: 45s, 12m, 3h, 2d.
pub fn age(now: Time, then: Time) -> String {
    duration((now - then).num_seconds().max(0) as f64)
}

pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0) as i64;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// Lag with a decimal below ten seconds, where it matters.
pub fn lag(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else {
        duration(secs)
    }
}

/// Remote text (names, error messages) on one line, through the one
/// sanitizer and the redactor: it is shown, never interpreted.
pub use archtui_core::sanitize::shown as clean;

/// Eight-level bar chart of the last `width` samples, scaled to their max.
pub fn sparkline(
    samples: impl DoubleEndedIterator<Item = f64> + ExactSizeIterator,
    width: usize,
) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let skip = samples.len().saturating_sub(width);
    let v: Vec<f64> = samples.skip(skip).map(|x| x.max(0.0)).collect();
    let max = v.iter().copied().fold(1.0_f64, f64::max);
    v.iter()
        .map(|x| BARS[((x / max) * 7.0).round().clamp(0.0, 7.0) as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_keeps_the_newest() {
        let s = sparkline([0.0, 10.0, 5.0, 10.0].into_iter(), 3);
        assert_eq!(s, "█▅█");
        assert_eq!(sparkline([0.2, 0.5].into_iter(), 10), "▂▅");
        assert_eq!(sparkline(std::iter::empty::<f64>(), 10), "");
    }

    #[test]
    fn lags_and_ages() {
        assert_eq!(lag(0.34), "0.3s");
        assert_eq!(lag(75.0), "75s");
        assert_eq!(duration(3.0 * 3600.0), "3h");
        assert_eq!(clean("a\x1b[2Jb\nc"), "ab c");
    }
}
