//! One log pane: its sources, its bounded buffer, and how it is being
//! read (following or paused at a line, wrap, timestamps, search, filter).
//! Pure state; the view reads it, `update` changes it.

use crate::app::logbuf::{LogBuffer, LogLine};
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    pub host: String,
    pub container: String,
    pub service: String,
}

impl LogSource {
    pub fn label(&self) -> String {
        let name = if self.service.is_empty() {
            &self.container
        } else {
            &self.service
        };
        format!("{}/{}", self.host, name)
    }
}

#[derive(Debug, Clone)]
pub struct LogView {
    /// Identifies this pane's tails; batches from older tails are ignored.
    pub stream: u64,
    pub sources: Vec<LogSource>,
    pub buf: LogBuffer,
    /// Following shows the newest lines; paused shows `anchor` at the bottom.
    pub follow: bool,
    pub anchor: u64,
    /// Lines that arrived while paused.
    pub new_lines: u64,
    pub wrap: bool,
    pub timestamps: bool,
    pub search: Option<String>,
    pub current_match: Option<u64>,
    pub filter: Option<String>,
    /// Last word from each source's tail (ended, reconnecting, ...).
    pub notes: Vec<Option<String>>,
}

/// Case-insensitive unless the pattern has an upper-case letter (smart case).
/// Runs for every line a filter looks at, so it allocates only to fold a
/// line's case.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (pat, hay) = folded(pattern, text);
    !pat.is_empty() && hay.contains(pat)
}

/// Byte ranges of every match of `pattern` in `text` (smart case).
pub fn find_all(pattern: &str, text: &str) -> impl Iterator<Item = (usize, usize)> {
    let (pat, hay) = folded(pattern, text);
    let found: Vec<(usize, usize)> = if pat.is_empty() {
        Vec::new()
    } else {
        hay.match_indices(pat)
            .map(|(i, m)| (i, i + m.len()))
            .collect()
    };
    found.into_iter()
}

/// Pattern and text in the case they are compared in.
fn folded<'a>(pattern: &'a str, text: &'a str) -> (&'a str, Cow<'a, str>) {
    let sensitive = pattern.chars().any(char::is_uppercase);
    let hay: Cow<str> =
        if sensitive || text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()) {
            text.into()
        } else if text.is_ascii() {
            text.to_ascii_lowercase().into()
        } else {
            // Lower-casing may change byte lengths outside ASCII: only then
            // fall back to case-sensitive matching, to keep offsets true.
            text.into()
        };
    // Without an upper-case letter the pattern is its own lower case.
    (pattern, hay)
}

impl LogView {
    pub fn new(stream: u64, sources: Vec<LogSource>, buf: LogBuffer) -> LogView {
        let n = sources.len();
        LogView {
            stream,
            sources,
            buf,
            follow: true,
            anchor: 0,
            new_lines: 0,
            wrap: false,
            timestamps: false,
            search: None,
            current_match: None,
            filter: None,
            notes: vec![None; n],
        }
    }

    pub fn push(&mut self, lines: Vec<LogLine>) {
        let n = lines.len() as u64;
        for l in lines {
            self.buf.push(l);
        }
        if !self.follow {
            self.new_lines += n;
            // The line the view was at fell off the buffer: stay at the oldest.
            self.anchor = self.anchor.max(self.buf.first_seq());
        }
    }

    pub fn shown(&self, seq: u64) -> bool {
        match (&self.filter, self.buf.get(seq)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(f), Some(l)) => matches(f, &l.line.text),
        }
    }

    /// Sequence number of the line at the bottom of the view.
    pub fn bottom(&self) -> u64 {
        if self.follow {
            self.buf.end_seq().saturating_sub(1)
        } else {
            self.anchor
        }
    }

    pub fn pause(&mut self) {
        if self.follow {
            self.anchor = self.bottom();
            self.follow = false;
            self.new_lines = 0;
        }
    }

    pub fn resume(&mut self) {
        self.follow = true;
        self.new_lines = 0;
    }

    pub fn toggle_follow(&mut self) {
        if self.follow {
            self.pause();
        } else {
            self.resume();
        }
    }

    /// The `n`th shown line older (negative) or newer (positive) than
    /// `from`, stopping at the ends.
    fn step(&self, from: u64, n: i64) -> u64 {
        let mut at = from;
        let mut left = n.unsigned_abs();
        while left > 0 {
            let next = if n < 0 {
                (self.buf.first_seq()..at).rev().find(|&s| self.shown(s))
            } else {
                (at + 1..self.buf.end_seq()).find(|&s| self.shown(s))
            };
            match next {
                Some(s) => at = s,
                None => break,
            }
            left -= 1;
        }
        at
    }

    /// Scrolls by `n` shown lines (negative = older). Scrolling pauses.
    pub fn scroll(&mut self, n: i64) {
        if self.buf.is_empty() {
            return;
        }
        self.pause();
        self.anchor = self.step(self.anchor, n);
    }

    /// Oldest lines on screen: the bottom is `height - 1` shown lines down.
    pub fn top(&mut self, height: usize) {
        self.pause();
        let first = (self.buf.first_seq()..self.buf.end_seq()).find(|&s| self.shown(s));
        if let Some(first) = first {
            self.anchor = self.step(first, height.saturating_sub(1) as i64);
        }
    }

    pub fn set_search(&mut self, pattern: String, height: usize) {
        if pattern.is_empty() {
            self.search = None;
            self.current_match = None;
            return;
        }
        self.search = Some(pattern);
        self.current_match = None;
        // The newest match at or above the bottom of the view.
        let from = self.bottom().saturating_add(1);
        self.jump_match(from, false, height);
    }

    /// Next older match; false when there is none.
    pub fn next_match(&mut self, height: usize) -> bool {
        let from = self
            .current_match
            .unwrap_or(self.bottom().saturating_add(1));
        self.jump_match(from, false, height)
    }

    /// Next newer match; false when there is none.
    pub fn prev_match(&mut self, height: usize) -> bool {
        let from = self.current_match.unwrap_or(self.bottom());
        self.jump_match(from, true, height)
    }

    fn jump_match(&mut self, from: u64, newer: bool, height: usize) -> bool {
        let Some(pat) = self.search.clone() else {
            return false;
        };
        let hit = |s: &u64| {
            self.shown(*s)
                && self
                    .buf
                    .get(*s)
                    .is_some_and(|l| matches(&pat, &l.line.text))
        };
        let found = if newer {
            (from.saturating_add(1).max(self.buf.first_seq())..self.buf.end_seq()).find(hit)
        } else {
            (self.buf.first_seq()..from.min(self.buf.end_seq()))
                .rev()
                .find(hit)
        };
        match found {
            Some(s) => {
                self.pause();
                self.current_match = Some(s);
                // Show the match mid-screen where there is room below it.
                self.anchor = self.step(s, (height / 2) as i64);
                true
            }
            None => false,
        }
    }

    pub fn set_filter(&mut self, pattern: String) {
        self.filter = (!pattern.is_empty()).then_some(pattern);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::sanitize;

    fn view(n: usize, cap: usize) -> LogView {
        let mut v = LogView::new(
            1,
            vec![LogSource {
                host: "h".into(),
                container: "c".into(),
                service: "db".into(),
            }],
            LogBuffer::new(cap, usize::MAX),
        );
        v.push(lines(0, n));
        v
    }

    fn lines(from: usize, n: usize) -> Vec<LogLine> {
        (from..from + n)
            .map(|i| LogLine {
                source: 0,
                ts: None,
                line: sanitize(
                    format!("line {i} {}", if i % 10 == 0 { "ERROR" } else { "ok" }).as_bytes(),
                    100,
                ),
            })
            .collect()
    }

    #[test]
    fn pause_freezes_and_counts_new() {
        let mut v = view(50, 1000);
        assert_eq!(v.bottom(), 49);
        v.toggle_follow();
        v.push(lines(50, 7));
        assert_eq!(v.bottom(), 49);
        assert_eq!(v.new_lines, 7);
        v.toggle_follow();
        assert_eq!(v.bottom(), 56);
        assert_eq!(v.new_lines, 0);
    }

    #[test]
    fn scrolling_pauses_and_stops_at_ends() {
        let mut v = view(20, 1000);
        v.scroll(-5);
        assert!(!v.follow);
        assert_eq!(v.bottom(), 14);
        v.scroll(-100);
        assert_eq!(v.bottom(), 0);
        v.scroll(100);
        assert_eq!(v.bottom(), 19);
        v.top(5);
        assert_eq!(v.bottom(), 4);
    }

    #[test]
    fn paused_position_survives_drops() {
        let mut v = view(10, 10);
        v.scroll(-2);
        assert_eq!(v.bottom(), 7);
        v.push(lines(10, 5));
        assert_eq!(v.bottom(), 7);
        v.push(lines(15, 10));
        assert_eq!(v.bottom(), v.buf.first_seq());
        assert_eq!(v.new_lines, 15);
        assert_eq!(v.buf.dropped(), 15);
    }

    #[test]
    fn search_walks_matches_both_ways() {
        let mut v = view(45, 1000);
        v.set_search("error".into(), 10);
        assert_eq!(v.current_match, Some(40));
        assert!(!v.follow);
        assert!(v.next_match(10));
        assert_eq!(v.current_match, Some(30));
        assert!(v.next_match(10));
        assert!(v.next_match(10));
        assert!(v.next_match(10));
        assert_eq!(v.current_match, Some(0));
        assert!(!v.next_match(10));
        assert!(v.prev_match(10));
        assert_eq!(v.current_match, Some(10));
        // Upper case makes it case-sensitive.
        v.set_search("Error".into(), 10);
        assert_eq!(v.current_match, None);
    }

    #[test]
    fn filter_hides_and_scroll_skips_hidden() {
        let mut v = view(45, 1000);
        v.set_filter("ERROR".into());
        assert!(v.shown(20) && !v.shown(21));
        v.scroll(-1);
        assert_eq!(v.bottom(), 40);
        v.scroll(-1);
        assert_eq!(v.bottom(), 30);
        v.set_filter(String::new());
        assert!(v.shown(21));
    }

    #[test]
    fn find_all_ranges() {
        assert_eq!(
            find_all("ab", "xABxab").collect::<Vec<_>>(),
            [(1, 3), (4, 6)]
        );
        assert_eq!(find_all("AB", "xABxab").collect::<Vec<_>>(), [(1, 3)]);
        assert_eq!(find_all("", "abc").count(), 0);
    }
}
