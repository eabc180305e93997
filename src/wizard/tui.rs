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
    // Said while the step's remote job is still followed, so it is named.
    let mut left = None;
    let start = Instant::now();
    loop {
        if d.wizard.leave_now() {
            break;
        }
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
                        KeyAction::LeaveRunning => {
                            left = Some(left_running(&d.wizard, &archtui_remote::job::in_flight()));
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
        outcome: left.unwrap_or_else(|| outcome(&w)),
        open_console,
        confirmed: matches!(
            w.phase,
            Phase::Running(_) | Phase::Failed { .. } | Phase::Done
        ),
        took: start.elapsed(),
        name: w.input.name.clone(),
    }
}

/// The outcome of a run the operator left running on the host: the
/// caller's audit line says `interrupted`, naming the job that goes on.
fn left_running(w: &Wizard, jobs: &[archtui_remote::local::audit::Job]) -> Outcome {
    let step = match &w.phase {
        Phase::Running(s) => s.title(),
        _ => "a step",
    };
    let why = format!("the operator left the wizard during {step} and left it running");
    let what = format!("provision {}", w.input.name);
    let (message, _) =
        archtui_remote::local::audit::interrupted_message(&why, &what, &w.input.name, jobs, true);
    Outcome::new(Status::Interrupted, message)
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

#[cfg(test)]
mod tests {
    use super::*;
    use archtui_core::wizard::checks::Check;
    use archtui_core::wizard::input::fixtures::{hosts, input};
    use archtui_core::wizard::machine::Event;

    #[test]
    fn left_running_is_interrupted_and_names_the_job_that_goes_on() {
        let mut w = Wizard::new(input());
        w.update(Event::Submit { hosts: hosts() });
        w.update(Event::Checked(vec![Check::pass("x", "y")]));
        w.update(Event::Confirm);
        let name = w.input.name.clone();
        let jobs = vec![(name.clone(), "j-42".to_string(), "provision".to_string())];
        let o = left_running(&w, &jobs);
        assert_eq!(o.status, Status::Interrupted);
        assert!(o.message.contains("left it running"), "{}", o.message);
        assert!(o.message.contains("job j-42"), "{}", o.message);
        assert!(
            o.message.contains(&format!("archtui provision {name}")),
            "{}",
            o.message
        );
        let o = left_running(&w, &[]);
        assert!(
            o.message.contains("no remote job was running"),
            "{}",
            o.message
        );
    }
}
