//! The wizard full-screen, from `archtui provision NAME --tui` or the
//! console's wizard key: the same driver as headless (`driver`), keys
//! instead of flags. This loop owns the screen; it draws on the caller's
//! terminal, so the console can hand its screen over and get it back.

use std::time::Instant;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;

use archtui_core::wizard::keys::{self, KeyAction};
use archtui_core::wizard::machine::{Phase, Wizard};
use archtui_core::wizard::plan;
use archtui_remote::actions::{Outcome, Status};
use archtui_remote::local::journal;
use archtui_remote::wizard::ssh_dest;

use super::driver::Driver;

/// How the wizard screen ended.
pub struct Ended {
    pub outcome: Outcome,
    /// The operator left the finished wizard for the fleet.
    pub open_console: bool,
    /// The plan was confirmed: hosts were (or were being) changed.
    pub confirmed: bool,
    pub took: std::time::Duration,
    pub name: String,
    /// Lines of the wizard's tasks that panicked.
    pub lost: Vec<String>,
}

/// A wizard for the console's key: an empty name, the master and its
/// address filled from the config, interrupted runs named.
pub async fn blank(config: &archtui_core::config::Config, state: &std::path::Path) -> Wizard {
    let mut w = Wizard::new(ssh_dest::defaults(config, "", "", None).await);
    w.notes.push(
        "Blank SSH destination: the slave's name; blank APP_HOST: its address as ssh resolves it."
            .into(),
    );
    for (name, done) in journal::pending(state) {
        w.notes.push(format!(
            "Interrupted: {name} ({done}/{} steps done): type its name to resume, or `archtui retire {name}` to start over.",
            archtui_core::wizard::Step::ALL.len()
        ));
    }
    w
}

/// Runs the wizard on `terminal` until the operator leaves it. Keys and
/// the driver's events are both awaited here, and nothing else: the
/// lookups a key starts run as tasks.
pub async fn run(terminal: &mut DefaultTerminal, mut d: Driver) -> Ended {
    let theme = crate::ui::Theme {
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let mut keys_in = EventStream::new();
    let mut open_console = false;
    let start = Instant::now();
    loop {
        let w = &d.wizard;
        let plan = plan::lines(&w.input, &d.from, &d.config_path, &w.done);
        let _ = terminal.draw(|f| crate::ui::wizard::screen(w, &plan, &theme, f, f.area()));
        tokio::select! {
            k = keys_in.next() => match k {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                    match keys::key(&d.wizard, crate::term::key(k)) {
                        KeyAction::Event(e) => {
                            d.feed(e);
                        }
                        KeyAction::Submit => d.submit(),
                        KeyAction::Trust(fp) => d.trust(fp),
                        KeyAction::Close => {
                            open_console = d.wizard.phase == Phase::Done;
                            break;
                        }
                        KeyAction::None => {}
                    }
                }
                Some(Ok(_)) => {}
                _ => break,
            },
            turn = d.next() => if turn.is_none() { break },
        }
    }
    drop(keys_in);
    let w = d.wizard.clone();
    let lost = d.close(false).await;
    Ended {
        lost,
        outcome: outcome(&w),
        open_console,
        confirmed: matches!(
            w.phase,
            Phase::Running(_) | Phase::Failed { .. } | Phase::Done
        ),
        took: start.elapsed(),
        name: w.input.name.clone(),
    }
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
