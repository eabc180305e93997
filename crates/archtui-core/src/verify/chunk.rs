//! Keys, key ranges, range digests and the chunk size. Pure.

use std::time::Duration;

/// A primary key as PostgreSQL prints it, one text value per key column
/// (the verify sessions' fixed settings make the text round-trip).
pub type Key = Vec<String>;

/// Keys `lo < k <= hi`; an absent end is open, so the first chunk also
/// holds a slave's extra rows below the master's first key, and the last
/// one those above its last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Range {
    pub lo: Option<Key>,
    pub hi: Option<Key>,
}

impl Range {
    /// Every key.
    pub fn all() -> Range {
        Range::default()
    }

    /// `(lo, mid]` and `(mid, hi]`.
    pub fn split_at(&self, mid: Key) -> (Range, Range) {
        (
            Range {
                lo: self.lo.clone(),
                hi: Some(mid.clone()),
            },
            Range {
                lo: Some(mid),
                hi: self.hi.clone(),
            },
        )
    }
}

/// What one side holds in a range: its row count and the sum of its rows'
/// 64-bit hashes. Sums add up, so a range's second half is the whole
/// minus the first, without a query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest {
    pub rows: i64,
    pub sum: i128,
}

impl std::ops::Sub for Digest {
    type Output = Digest;
    fn sub(self, o: Digest) -> Digest {
        Digest {
            rows: self.rows - o.rows,
            sum: self.sum - o.sum,
        }
    }
}

/// PostgreSQL's `sum(bigint)` is numeric: its text, as an i128 (2^64 rows
/// of i64 hashes would be needed to overflow it).
pub fn parse_sum(text: &str) -> Result<i128, NotASum> {
    text.trim()
        .parse::<i128>()
        .map_err(|_| NotASum(text.to_string()))
}

/// A hash sum whose text is no integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hash sum {0:?} is not an integer")]
pub struct NotASum(pub String);

impl From<NotASum> for String {
    fn from(e: NotASum) -> String {
        e.to_string()
    }
}

/// What a chunk aims to take on the slower side.
pub const TARGET: Duration = Duration::from_millis(500);
/// The first chunk's rows, before anything is measured.
pub const FIRST_CHUNK: i64 = 5_000;
pub const MIN_CHUNK: i64 = 200;
pub const MAX_CHUNK: i64 = 2_000_000;

/// The next chunk's rows from this one's rows and time: scaled towards
/// `TARGET`, at most 4x up or down at once (one slow chunk, a checkpoint
/// say, must not shrink the next to nothing), within the bounds. Chunks of
/// almost no rows say nothing about the speed and leave the size alone.
pub fn next_size(rows: i64, size: i64, took: Duration) -> i64 {
    if rows < MIN_CHUNK / 2 {
        return size.clamp(MIN_CHUNK, MAX_CHUNK);
    }
    let secs = took.as_secs_f64().max(0.001);
    let per_row = secs / rows as f64;
    let want = TARGET.as_secs_f64() / per_row;
    let want = want.clamp(size as f64 / 4.0, size as f64 * 4.0);
    (want as i64).clamp(MIN_CHUNK, MAX_CHUNK)
}

/// The widest key range of one chunk (integer keys).
pub const MAX_SPAN: i64 = 1 << 40;

/// The next key range's width, for a key of one integer column: the rows
/// `next_size` would take, at this range's density of rows per key value.
/// A range of almost no rows (a gap in the keys) widens 4x.
pub fn next_span(rows: i64, span: i64, took: Duration) -> i64 {
    if rows < MIN_CHUNK / 2 {
        return span.saturating_mul(4).clamp(MIN_CHUNK, MAX_SPAN);
    }
    let want = next_size(rows, rows, took) as f64;
    let keys_per_row = span.max(1) as f64 / rows as f64;
    ((want * keys_per_row) as i64).clamp(MIN_CHUNK, MAX_SPAN)
}

/// A key for the operator: the value itself, or `(a,b)` for a key of
/// several columns.
pub fn shown(key: &Key) -> String {
    match key.as_slice() {
        [one] => one.clone(),
        many => format!("({})", many.join(",")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_aims_at_half_a_second() {
        // 10k rows in 0.1 s would want 50k: 4x at most at once.
        assert_eq!(
            next_size(10_000, 10_000, Duration::from_millis(100)),
            40_000
        );
        assert_eq!(
            next_size(10_000, 10_000, Duration::from_millis(250)),
            20_000
        );
        assert_eq!(
            next_size(10_000, 10_000, Duration::from_millis(500)),
            10_000
        );
        // Slow: down, but at most 4x at once.
        assert_eq!(next_size(10_000, 10_000, Duration::from_secs(1)), 5_000);
        assert_eq!(next_size(10_000, 10_000, Duration::from_secs(10)), 2_500);
        // Bounds.
        assert_eq!(next_size(1_000, 300, Duration::from_secs(60)), MIN_CHUNK);
        assert_eq!(
            next_size(MAX_CHUNK, MAX_CHUNK, Duration::from_millis(1)),
            MAX_CHUNK
        );
        // A nearly empty chunk (the table's end) says nothing.
        assert_eq!(next_size(3, 40_000, Duration::from_millis(1)), 40_000);
        // A zero duration is not a division by zero.
        assert!(next_size(10_000, 10_000, Duration::ZERO) <= 40_000);
    }

    #[test]
    fn digests_subtract_and_sums_parse() {
        let whole = Digest { rows: 10, sum: -5 };
        let first = Digest { rows: 4, sum: 7 };
        assert_eq!(whole - first, Digest { rows: 6, sum: -12 });
        assert_eq!(
            parse_sum("-170141183460469231731687303715884105728").unwrap(),
            i128::MIN
        );
        assert_eq!(parse_sum("0").unwrap(), 0);
        assert!(parse_sum("1.5").is_err() && parse_sum("").is_err());
    }

    #[test]
    fn ranges_split_and_keys_show() {
        let r = Range {
            lo: Some(vec!["1".into()]),
            hi: None,
        };
        let (a, b) = r.split_at(vec!["5".into()]);
        assert_eq!(a.lo, Some(vec!["1".into()]));
        assert_eq!(a.hi, Some(vec!["5".into()]));
        assert_eq!(b.lo, Some(vec!["5".into()]));
        assert_eq!(b.hi, None);
        assert_eq!(shown(&vec!["42".into()]), "42");
        assert_eq!(shown(&vec!["1".into(), "a".into()]), "(1,a)");
    }

    #[test]
    fn key_spans_follow_the_rows_per_key() {
        let fast = Duration::from_millis(10);
        // Dense keys: the span grows as the row count would.
        assert_eq!(next_span(5_000, 5_000, fast), next_size(5_000, 5_000, fast));
        // One row per 10 keys: ten times the width for the same rows.
        assert_eq!(
            next_span(1_000, 10_000, fast),
            next_size(1_000, 1_000, fast) * 10
        );
        // A gap: 4x wider, bounded.
        assert_eq!(next_span(0, 5_000, fast), 20_000);
        assert_eq!(next_span(0, MAX_SPAN, fast), MAX_SPAN);
        // Slow rows: narrower, never below the smallest chunk.
        assert!(next_span(5_000, 5_000, Duration::from_secs(10)) < 5_000);
        assert!(next_span(500, 500, Duration::from_secs(100)) >= MIN_CHUNK);
    }
}
