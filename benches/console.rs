//! Criterion benches of the console's hot paths: a frame of `view` with a
//! full log pane, log ingestion (sanitize and push a batch), and
//! `fleet::assemble` of one observation round. `cargo bench --bench console`.

use std::hint::black_box;

use archtui_core::app::fixtures::{healthy, log_line, with_log};
use archtui_core::app::{update, LogLine, Msg};
use archtui_core::sanitize::{sanitize, MAX_LINE_CHARS};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// `view` alone, without the terminal's diff, on a full log pane with a
/// search on.
fn frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    for (w, h) in [(200u16, 50u16), (80, 24)] {
        for wrap in [false, true] {
            let mut m = with_log(0);
            let stream = m.log.as_ref().map_or(0, |v| v.stream);
            let full = m.limits.max_lines;
            update(
                &mut m,
                Msg::LogLines {
                    stream,
                    lines: (0..full).map(|i| log_line(0, i)).collect(),
                },
            );
            if let Some(v) = m.log.as_mut() {
                v.wrap = wrap;
                v.search = Some("duplicate".into());
            }
            m.size = (w, h);
            let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test backend");
            let id = BenchmarkId::from_parameter(format!("{w}x{h} wrap={wrap}"));
            g.bench_function(id, |b| {
                b.iter(|| {
                    let mut f = term.get_frame();
                    archtui::ui::view(black_box(&m), &mut f);
                });
            });
        }
    }
    g.finish();
}

/// A batch of 1000 raw lines (colour codes in them) sanitized and pushed
/// into a pane whose buffer is already full, so every push also drops.
fn log_ingestion(c: &mut Criterion) {
    const BATCH: usize = 1000;
    let raw: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            format!("2024-05-01 10:00:00.{i:03} UTC [{i}] \x1b[3{}mLOG\x1b[0m:  statement: INSERT INTO items VALUES ({i}, 'payload payload payload')", i % 8)
                .into_bytes()
        })
        .collect();
    let mut m = with_log(0);
    let stream = m.log.as_ref().map_or(0, |v| v.stream);
    let full = m.limits.max_lines;
    update(
        &mut m,
        Msg::LogLines {
            stream,
            lines: (0..full).map(|i| log_line(0, i)).collect(),
        },
    );
    let mut g = c.benchmark_group("log_ingestion");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("sanitize+push 1000 lines", |b| {
        b.iter(|| {
            let lines: Vec<LogLine> = (0..BATCH)
                .map(|i| LogLine {
                    source: 0,
                    ts: None,
                    line: sanitize(&raw[i % raw.len()], MAX_LINE_CHARS),
                })
                .collect();
            update(&mut m, Msg::LogLines { stream, lines });
        });
    });
    g.finish();
}

/// One round of the fixture fleet (a master and a slave) into its status.
fn assemble(c: &mut Criterion) {
    let m = healthy();
    let latest: Vec<_> = m.latest_observations().cloned().collect();
    c.bench_function("fleet::assemble 2 hosts", |b| {
        b.iter(|| {
            archtui_core::fleet::assemble(
                black_box(&m.config),
                m.config.thresholds,
                black_box(&latest),
                m.now,
            )
        });
    });
}

criterion_group!(benches, frame, log_ingestion, assemble);
criterion_main!(benches);
