//! Small text helpers for the panes: ages, durations, remote strings.

use ratatui::style::Style;
use ratatui::text::Span;

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

/// A typed line with its cursor: the character under the cursor in
/// `under`, or `end` after the text when the cursor is at its end. Cut
/// from the left to `room` columns so the cursor stays in view. The text
/// goes through `clean` whole, never in pieces, so nothing it would
/// redact shows in halves; when that changed its length, the cursor
/// shows at the end.
pub fn typed(
    value: &str,
    cursor: usize,
    room: usize,
    text: Style,
    under: Style,
    end: Span<'static>,
) -> Vec<Span<'static>> {
    use unicode_width::UnicodeWidthChar;
    let width = |c: &char| c.width().unwrap_or(0);
    let shown: Vec<char> = clean(value).chars().collect();
    let at = if shown.len() == value.chars().count() {
        cursor.min(shown.len())
    } else {
        shown.len()
    };
    // The cell under the cursor: one character and the zero-width ones
    // (combining marks) that belong to it.
    let mut stop = (at + 1).min(shown.len());
    while shown.get(stop).is_some_and(|c| width(c) == 0) {
        stop += 1;
    }
    let cursor_w = if at < shown.len() {
        shown[at..stop].iter().map(width).sum::<usize>().max(1)
    } else {
        end.width()
    };
    let mut start = 0;
    let mut before_w: usize = shown[..at].iter().map(width).sum();
    while start < at && before_w + cursor_w > room {
        before_w -= width(&shown[start]);
        start += 1;
    }
    let mut spans = vec![Span::styled(
        shown[start..at].iter().collect::<String>(),
        text,
    )];
    if at < shown.len() {
        spans.push(Span::styled(
            shown[at..stop].iter().collect::<String>(),
            under,
        ));
        spans.push(Span::styled(shown[stop..].iter().collect::<String>(), text));
    } else {
        spans.push(end);
    }
    spans
}

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
    fn a_typed_line_shows_its_cursor_and_keeps_it_in_view() {
        let plain = Style::default();
        let rev = Style::default().add_modifier(ratatui::style::Modifier::REVERSED);
        let parts = |v: &str, at: usize, room: usize| -> Vec<String> {
            typed(v, at, room, plain, rev, Span::raw("_"))
                .iter()
                .map(|s| s.content.to_string())
                .collect()
        };
        assert_eq!(parts("jukebox", 4, 80), ["juke", "b", "ox"]);
        assert_eq!(parts("jukebox", 7, 80), ["jukebox", "_"]);
        assert_eq!(parts("jukebox", 99, 80), ["jukebox", "_"]);
        assert_eq!(parts("", 0, 80), ["", "_"]);
        // Narrow: the start goes, the cursor stays.
        assert_eq!(parts("jukebox", 7, 4), ["box", "_"]);
        assert_eq!(parts("jukebox", 0, 1), ["", "j", "ukebox"]);
        // A combining mark stays with its letter.
        assert_eq!(parts("e\u{301}x", 0, 80), ["", "e\u{301}", "x"]);
        // Cleaning changed the text: the cursor shows at its end.
        assert_eq!(parts("a\u{1b}[2Jb", 1, 80), ["ab", "_"]);
    }

    #[test]
    fn lags_and_ages() {
        assert_eq!(lag(0.34), "0.3s");
        assert_eq!(lag(75.0), "75s");
        assert_eq!(duration(3.0 * 3600.0), "3h");
        assert_eq!(clean("a\x1b[2Jb\nc"), "ab c");
    }
}
