//! Log tails for the console: one task per tailed container, on the
//! Docker client of its host's live link. Lines are assembled, stamped
//! and sanitized here, off the UI loop, and sent in batches. A tail
//! outlives its link: it waits for the next one and resumes after the
//! last line it delivered.

use std::collections::HashMap;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::Docker;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use crate::backoff::Backoff;
use crate::docker;
use crate::tasks::{Kind, Tasks};
use archtui_core::app::lines::LineAssembler;
use archtui_core::app::logbuf::LogLine;
use archtui_core::app::LogSource;
use archtui_core::model::Time;
use archtui_core::sanitize::{sanitize, MAX_LINE_CHARS};

/// What a tail reports; the console maps it into its `Msg`.
#[derive(Debug, Clone, PartialEq)]
pub enum TailEvent {
    /// Lines from source `source` of log pane `stream`.
    Lines { stream: u64, lines: Vec<LogLine> },
    /// The tail's state changed: connected (`None`), ended, retrying.
    Note {
        stream: u64,
        source: u16,
        note: Option<String>,
    },
}

/// Lines sent to the UI in one message at most.
const BATCH: usize = 1000;

/// Host name -> its current Docker client (None while its link is down).
pub type Links = HashMap<String, watch::Receiver<Option<Docker>>>;

/// One tail per source of log pane `stream`, in `tasks`; the handles
/// end them when the pane closes.
pub fn spawn(
    stream: u64,
    sources: &[LogSource],
    tail: usize,
    links: &Links,
    tx: &mpsc::Sender<TailEvent>,
    tasks: &mut Tasks,
) -> Vec<AbortHandle> {
    sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let link = links.get(&s.host).cloned();
            let t = Tail {
                stream,
                source: i as u16,
                container: s.container.clone(),
                tx: tx.clone(),
            };
            let name = format!("{}/{}", s.host, s.container);
            tasks.spawn(Kind::Tail, name, async move {
                match link {
                    Some(link) => t.run(link, tail).await,
                    None => {
                        t.note(Some("unknown host".into())).await;
                    }
                }
            })
        })
        .collect()
}

struct Tail {
    stream: u64,
    source: u16,
    container: String,
    tx: mpsc::Sender<TailEvent>,
}

impl Tail {
    async fn note(&self, note: Option<String>) -> bool {
        self.tx
            .send(TailEvent::Note {
                stream: self.stream,
                source: self.source,
                note,
            })
            .await
            .is_ok()
    }

    async fn run(self, mut link: watch::Receiver<Option<Docker>>, tail: usize) {
        let mut last: Option<Time> = None;
        let mut retry = Backoff::new(Duration::from_secs(1), Duration::from_secs(15));
        loop {
            let docker = match link.wait_for(Option::is_some).await {
                Ok(d) => d.clone().expect("waited for Some"),
                Err(_) => return,
            };
            link.mark_unchanged();
            // Resuming: everything since the last line, minus what was seen.
            let (n, since) = match last {
                None => (Some(tail), 0),
                Some(t) => (None, t.timestamp()),
            };
            let mut frames = Box::pin(docker::logs(&docker, &self.container, n, since));
            let mut asm = LineAssembler::default();
            let mut got_any = false;
            let why = loop {
                tokio::select! {
                    item = frames.next() => match item {
                        Some(Ok(frame)) => {
                            let mut batch = Vec::new();
                            self.take(frame, &mut asm, &mut last, &mut batch);
                            // Whatever else is already here goes in the same batch.
                            while batch.len() < BATCH {
                                match frames.next().now_or_never() {
                                    Some(Some(Ok(f))) => self.take(f, &mut asm, &mut last, &mut batch),
                                    _ => break,
                                }
                            }
                            if !got_any {
                                got_any = true;
                                retry.reset();
                                if !self.note(None).await {
                                    return;
                                }
                            }
                            if !batch.is_empty() {
                                let msg = TailEvent::Lines { stream: self.stream, lines: batch };
                                if self.tx.send(msg).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Some(Err(e)) => break format!("log stream: {e}"),
                        None => {
                            if let Some((ts, raw)) = asm.finish() {
                                let msg = TailEvent::Lines { stream: self.stream, lines: vec![self.line(ts, &raw)] };
                                if self.tx.send(msg).await.is_err() {
                                    return;
                                }
                            }
                            break "log stream ended (container stopped?)".to_string();
                        }
                    },
                    changed = link.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        break "link lost; waiting for it".to_string();
                    }
                }
            };
            if !self.note(Some(why)).await {
                return;
            }
            tokio::time::sleep(retry.next_delay()).await;
        }
    }

    fn take(
        &self,
        frame: LogOutput,
        asm: &mut LineAssembler,
        last: &mut Option<Time>,
        out: &mut Vec<LogLine>,
    ) {
        let bytes = frame.into_bytes();
        for (ts, raw) in asm.feed(&bytes, true) {
            // A resumed stream starts at a whole second: skip lines seen.
            if let (Some(t), Some(l)) = (ts, *last) {
                if t <= l {
                    continue;
                }
            }
            if ts.is_some() {
                *last = ts;
            }
            out.push(self.line(ts, &raw));
        }
    }

    /// A line of this tail, made safe for the screen.
    fn line(&self, ts: Option<Time>, raw: &[u8]) -> LogLine {
        LogLine {
            source: self.source,
            ts,
            line: sanitize(
                &archtui_core::credentials::redact_bytes(raw),
                MAX_LINE_CHARS,
            ),
        }
    }
}
