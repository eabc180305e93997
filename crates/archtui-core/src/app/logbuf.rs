//! A log pane's lines: a ring buffer bounded by line count and by bytes,
//! which counts what it had to drop. Lines carry a sequence number, so a
//! paused view keeps its place while old lines fall off the front.

use std::collections::VecDeque;

use crate::model::Time;
use crate::sanitize::CleanLine;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Index into the pane's sources.
    pub source: u16,
    pub ts: Option<Time>,
    pub line: CleanLine,
}

impl LogLine {
    /// What the line costs, counted against the byte bound.
    pub fn cost(&self) -> usize {
        std::mem::size_of::<LogLine>() + self.line.heap_bytes()
    }
}

#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    /// Sequence number of `lines[0]`.
    first_seq: u64,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    dropped: u64,
}

impl LogBuffer {
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        LogBuffer {
            lines: VecDeque::new(),
            first_seq: 0,
            bytes: 0,
            max_lines: max_lines.max(1),
            max_bytes,
            dropped: 0,
        }
    }

    pub fn push(&mut self, line: LogLine) {
        self.bytes += line.cost();
        self.lines.push_back(line);
        while self.lines.len() > self.max_lines
            || (self.bytes > self.max_bytes && self.lines.len() > 1)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.cost();
                self.first_seq += 1;
                self.dropped += 1;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Lines dropped off the front since the buffer was created.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Sequence number the next pushed line gets.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.lines.len() as u64
    }

    pub fn get(&self, seq: u64) -> Option<&LogLine> {
        let i = seq.checked_sub(self.first_seq)?;
        self.lines.get(usize::try_from(i).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::sanitize;

    fn line(s: &str) -> LogLine {
        LogLine {
            source: 0,
            ts: None,
            line: sanitize(s.as_bytes(), 1000),
        }
    }

    #[test]
    fn bounded_by_lines_with_dropped_count() {
        let mut b = LogBuffer::new(3, usize::MAX);
        for i in 0..10 {
            b.push(line(&format!("l{i}")));
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.dropped(), 7);
        assert_eq!((b.first_seq(), b.end_seq()), (7, 10));
        assert_eq!(b.get(7).unwrap().line.text, "l7");
        assert!(b.get(6).is_none());
        assert_eq!(b.get(9).unwrap().line.text, "l9");
    }

    #[test]
    fn bounded_by_bytes() {
        let one = line(&"x".repeat(100)).cost();
        let mut b = LogBuffer::new(1000, one * 5);
        for _ in 0..50 {
            b.push(line(&"x".repeat(100)));
        }
        assert_eq!(b.len(), 5);
        assert_eq!(b.dropped(), 45);
        assert!(b.bytes() <= one * 5);
    }

    #[test]
    fn one_huge_line_is_kept_alone() {
        let mut b = LogBuffer::new(10, 10);
        b.push(line("a"));
        b.push(line("b"));
        assert_eq!(b.len(), 1);
        assert_eq!(b.dropped(), 1);
    }
}
