//! A log flood at 50 000 lines/s for 10 s into a tailed pane, drawn every
//! 30 ms like the console: prints the CPU it took and the memory it kept,
//! and checks that the buffer stays within its bounds and loses no count.
//! `cargo bench --bench log_flood`.

use std::time::{Duration, Instant};

use archtui_core::app::fixtures::with_log;
use archtui_core::app::{update, LogLine, Msg};
use archtui_core::sanitize::{sanitize, MAX_LINE_CHARS};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// User + system CPU seconds of this process, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent: a
    // quick pass then, the full 10 s under `cargo bench`.
    let full = std::env::args().any(|a| a == "--bench");
    const RATE: usize = 50_000;
    const BATCH: usize = 1000;
    let secs: usize = if full { 10 } else { 1 };
    let mut m = with_log(0);
    m.size = (200, 50);
    let stream = m.log.as_ref().map_or(0, |v| v.stream);
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("a test backend");
    let raw: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            format!("2024-05-01 10:00:00.{i:03} UTC [{i}] \x1b[3{}mLOG\x1b[0m:  statement: INSERT INTO items VALUES ({i}, 'payload payload payload')", i % 8)
                .into_bytes()
        })
        .collect();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut frames = 0u32;
    let mut last_frame = Instant::now();
    let mut peak_bytes = 0;
    for b in 0..RATE * secs / BATCH {
        // Pace the producer at RATE; a late batch goes at once (catch-up).
        let due = start + Duration::from_secs_f64((b * BATCH) as f64 / RATE as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let lines: Vec<LogLine> = (0..BATCH)
            .map(|i| LogLine {
                source: 0,
                ts: None,
                line: sanitize(&raw[i % raw.len()], MAX_LINE_CHARS),
            })
            .collect();
        update(&mut m, Msg::LogLines { stream, lines });
        peak_bytes = peak_bytes.max(m.log.as_ref().map_or(0, |v| v.buf.bytes()));
        if last_frame.elapsed() >= Duration::from_millis(30) {
            term.draw(|f| archtui::ui::view(&m, f)).expect("a frame");
            frames += 1;
            last_frame = Instant::now();
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let v = m.log.as_ref().expect("the pane stays open");
    println!(
        "figure: log flood: {} lines in {wall:.2} s wall (target {secs} s), cpu {cpu:.2} s = {:.0}% of a core; kept {} lines, dropped {}; buffer {:.1} MB (peak {:.1} MB, bound {:.1} MB); {frames} frames; peak RSS {} MB",
        RATE * secs,
        100.0 * cpu / wall,
        v.buf.len(),
        v.buf.dropped(),
        v.buf.bytes() as f64 / 1e6,
        peak_bytes as f64 / 1e6,
        m.limits.max_bytes as f64 / 1e6,
        rss_kb("VmHWM:") / 1024,
    );
    assert_eq!(v.buf.len() as u64 + v.buf.dropped(), (RATE * secs) as u64);
    assert!(peak_bytes <= m.limits.max_bytes);
}
