//! The wizard full-screen (`archtui provision NAME --tui`): the same state
//! machine as headless, keys instead of flags. A worker task owns the
//! `Runner` and answers each effect with events; this loop owns the
//! terminal and the wizard. When the slave is done, Enter opens the
//! console on the updated config, where it shows in the fleet pane.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::exec::Runner;
use super::keys::{self, KeyAction};
use super::machine::{Effect, Event, Phase, Wizard};
use super::{journal, plan};
use crate::actions::{Outcome, Status};
use crate::config::Config;
use crate::remote::host::Context;

/// Each carries the input as it is now: the form may have changed it.
enum Work {
    Preflight(bool, Box<super::Input>),
    Run(super::machine::Step, Box<super::Input>),
}

/// Runs effects one at a time; its answers and output come back as events.
fn worker(
    ctx: Arc<Context>,
    config_path: PathBuf,
    from: PathBuf,
    events: mpsc::UnboundedSender<Event>,
) -> mpsc::UnboundedSender<Work> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Work>();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let fwd = events.clone();
    tokio::spawn(async move {
        while let Some(line) = out_rx.recv().await {
            if !line.trim().is_empty() && fwd.send(Event::Output(line)).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut runner = Runner::new(ctx, config_path, from, out_tx);
        while let Some(w) = rx.recv().await {
            let ev = match w {
                Work::Preflight(resuming, input) => {
                    Event::Checked(runner.preflight(&input, resuming).await)
                }
                Work::Run(step, input) => match runner.run(&input, step).await {
                    Ok(m) => Event::StepDone(step, m),
                    Err(e) => Event::StepFailed(step, e),
                },
            };
            if events.send(ev).is_err() {
                break;
            }
        }
        runner.close().await;
    });
    tx
}

pub struct Screen {
    pub ctx: Arc<Context>,
    pub config_path: PathBuf,
    pub from: PathBuf,
    pub journal: PathBuf,
}

/// Runs the wizard on the terminal; the outcome says how it ended.
/// `open_console` is set when the operator asked to see the fleet.
pub async fn run(s: Screen, mut wizard: Wizard) -> (Outcome, bool) {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let work = worker(s.ctx.clone(), s.config_path.clone(), s.from.clone(), ev_tx);
    let hosts = s.ctx.config.hosts();
    let theme = crate::ui::Theme {
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let mut terminal = ratatui::init();
    let mut keys_in = EventStream::new();
    let mut open_console = false;
    loop {
        let plan = plan::lines(&wizard.input, &s.from, &s.config_path, &wizard.done);
        let _ = terminal.draw(|f| crate::ui::wizard::screen(&wizard, &plan, &theme, f, f.area()));
        let event = tokio::select! {
            k = keys_in.next() => match k {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                    match keys::key(&wizard, k) {
                        KeyAction::Event(e) => Some(e),
                        KeyAction::Submit => Some(Event::Submit { hosts: hosts.clone() }),
                        KeyAction::Close => {
                            open_console = wizard.phase == Phase::Done;
                            break;
                        }
                        KeyAction::None => None,
                    }
                }
                Some(Ok(_)) => None,
                _ => break,
            },
            e = ev_rx.recv() => e,
        };
        let Some(event) = event else { continue };
        for fx in wizard.update(event) {
            match fx {
                Effect::Preflight { resuming } => {
                    let _ = work.send(Work::Preflight(resuming, Box::new(wizard.input.clone())));
                }
                Effect::Run(step) => {
                    let _ = work.send(Work::Run(step, Box::new(wizard.input.clone())));
                }
                Effect::SaveJournal(done) => {
                    let j = journal::Journal {
                        input: wizard.input.clone(),
                        done,
                    };
                    if let Err(e) = journal::save(&s.journal, &j) {
                        wizard.update(Event::Output(format!("journal not written: {e}")));
                    }
                }
                Effect::Finished => {
                    let _ = journal::remove(&s.journal);
                }
            }
        }
        if wizard.phase == Phase::Cancelled {
            // Draw the "nothing was changed" screen until the next key.
            let plan = plan::lines(&wizard.input, &s.from, &s.config_path, &wizard.done);
            let _ =
                terminal.draw(|f| crate::ui::wizard::screen(&wizard, &plan, &theme, f, f.area()));
        }
    }
    drop(keys_in);
    ratatui::restore();
    (outcome(&wizard), open_console)
}

fn outcome(w: &Wizard) -> Outcome {
    match &w.phase {
        Phase::Done => Outcome::ok(format!("{} provisioned", w.input.name)),
        Phase::Failed { step, error } => Outcome::failed(format!(
            "{} failed: {error}; run again to resume",
            step.title()
        )),
        Phase::Running(step) => {
            Outcome::failed(format!("left during {}; run again to resume", step.title()))
        }
        Phase::Cancelled | Phase::Input | Phase::Review | Phase::Preflight => {
            Outcome::refused("cancelled; nothing was changed")
        }
        Phase::Refused => Outcome::new(
            Status::Refused,
            "a pre-flight check failed; nothing was changed",
        ),
    }
}

/// The config as it is now, for the console after the wizard.
pub fn reload(path: &Path) -> Option<Config> {
    Config::load(path).ok()
}
