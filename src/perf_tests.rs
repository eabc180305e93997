//! Figures, not assertions: run with
//! `cargo test --release --bin archtui perf_ -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use archtui_core::app::fixtures::{log_line, with_log};
use archtui_core::sanitize::{sanitize, MAX_LINE_CHARS};
use archtui_core::app::{update, LogLine, Msg};

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

#[test]
#[ignore]
fn perf_log_flood_50k_lines_per_second() {
    const RATE: usize = 50_000;
    const SECS: usize = 10;
    const BATCH: usize = 1000;
    let mut m = with_log(0);
    m.size = (200, 50);
    let stream = m.log.as_ref().unwrap().stream;
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
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
    for b in 0..RATE * SECS / BATCH {
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
        peak_bytes = peak_bytes.max(m.log.as_ref().unwrap().buf.bytes());
        if last_frame.elapsed() >= Duration::from_millis(30) {
            term.draw(|f| crate::ui::view(&m, f)).unwrap();
            frames += 1;
            last_frame = Instant::now();
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let v = m.log.as_ref().unwrap();
    println!(
        "log flood: {} lines in {wall:.2} s wall (target {SECS} s), cpu {cpu:.2} s = {:.0}% of a core; kept {} lines, dropped {}; buffer {:.1} MB (peak {:.1} MB, bound {:.1} MB); {frames} frames; peak RSS {} MB",
        RATE * SECS,
        100.0 * cpu / wall,
        v.buf.len(),
        v.buf.dropped(),
        v.buf.bytes() as f64 / 1e6,
        peak_bytes as f64 / 1e6,
        m.limits.max_bytes as f64 / 1e6,
        rss_kb("VmHWM:") / 1024,
    );
    assert_eq!(v.buf.len() as u64 + v.buf.dropped(), (RATE * SECS) as u64);
    assert!(peak_bytes <= m.limits.max_bytes);
}

#[test]
#[ignore]
fn perf_view_frame_time() {
    for (w, h) in [(200u16, 50u16), (80, 24)] {
        for wrap in [false, true] {
            let mut m = with_log(0);
            let stream = m.log.as_ref().unwrap().stream;
            let full = m.limits.max_lines;
            update(
                &mut m,
                Msg::LogLines {
                    stream,
                    lines: (0..full).map(|i| log_line(0, i)).collect(),
                },
            );
            m.log.as_mut().unwrap().wrap = wrap;
            m.log.as_mut().unwrap().search = Some("duplicate".into());
            m.size = (w, h);
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            let n = 2000;
            let start = Instant::now();
            for _ in 0..n {
                // `view` alone, without the terminal's diff, is what is timed.
                let mut frame = term.get_frame();
                crate::ui::view(&m, &mut frame);
            }
            let per = start.elapsed() / n;
            println!(
                "view {w}x{h} full log pane ({} lines, wrap {wrap}, search on): {:.3} ms/frame",
                m.log.as_ref().unwrap().buf.len(),
                per.as_secs_f64() * 1e3
            );
        }
    }
}
