//! The wizard full-screen, from `archtui provision NAME --tui` or the
//! console's wizard key: the same state machine as headless, keys instead
//! of flags. A worker task owns the `Runner` and answers each effect with
//! events; this loop owns the screen and the wizard. It draws on the
//! caller's terminal, so the console can hand its screen over and get it
//! back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use archtui_core::wizard::keys::{self, KeyAction};
use archtui_core::wizard::machine::{Effect, Event, Phase, Wizard};
use archtui_core::wizard::{input, plan};
use archtui_remote::actions::{Outcome, Status};
use archtui_remote::host::Context;
use archtui_remote::local::journal;
use archtui_remote::local::lock::{self, TargetLock};
use archtui_remote::wizard::exec::Runner;
use archtui_remote::wizard::ssh_dest;

/// An effect for the hosts, with the input as it is now (the form may
/// have changed it).
type Work = (Effect, Box<archtui_core::wizard::Input>);

/// Runs effects one at a time; its answers and output come back as events.
fn worker(
    ctx: Arc<Context>,
    config_path: PathBuf,
    from: PathBuf,
    events: mpsc::UnboundedSender<Event>,
) -> (mpsc::UnboundedSender<Work>, tokio::task::JoinHandle<()>) {
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
    let task = tokio::spawn(async move {
        let mut runner = Runner::new(ctx, config_path, from, out_tx);
        while let Some((effect, input)) = rx.recv().await {
            if let Some(ev) = runner.answer(&input, &effect).await {
                if events.send(ev).is_err() {
                    break;
                }
            }
        }
        runner.close().await;
    });
    (tx, task)
}

pub struct Screen {
    pub ctx: Arc<Context>,
    pub config_path: PathBuf,
    pub from: PathBuf,
    /// Where journals and locks live.
    pub state: PathBuf,
    /// The slave's `provision-NAME` lock, once taken (by the caller for a
    /// named run, here at the first submit otherwise).
    pub lock: Option<(String, TargetLock)>,
}

/// How the wizard screen ended.
pub struct Ended {
    pub outcome: Outcome,
    /// The operator left the finished wizard for the fleet.
    pub open_console: bool,
    /// The plan was confirmed: hosts were (or were being) changed.
    pub confirmed: bool,
    pub took: std::time::Duration,
    pub name: String,
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

/// Before the input goes to the machine: blanks filled, an interrupted
/// run of the same name picked up, the slave's lock taken. False (with
/// the reason among the problems) when it cannot be submitted.
async fn prepare(s: &mut Screen, w: &mut Wizard) -> bool {
    if !w.resuming {
        let config = &s.ctx.config;
        if w.input.ssh.is_empty() {
            w.input.ssh = w.input.name.clone();
        }
        if w.input.app_host.is_empty() {
            w.input.app_host = ssh_dest::address(config, &w.input.ssh).await;
        }
        if input::valid_slave_name(&w.input.name) {
            match journal::resume(&journal::path(&s.state, &w.input.name)) {
                Ok(Some(resumed)) => {
                    let log = std::mem::take(&mut w.log);
                    *w = resumed;
                    w.log = log;
                    w.notes.push(format!(
                        "Resuming {}'s interrupted provisioning with its journal's input.",
                        w.input.name
                    ));
                }
                Ok(None) => {}
                Err(e) => {
                    w.problems = vec![e];
                    return false;
                }
            }
        }
    }
    let name = w.input.name.clone();
    if !input::valid_slave_name(&name) || s.lock.as_ref().is_some_and(|(n, _)| *n == name) {
        // A bad name is the machine's to refuse; a held lock is ours.
        return true;
    }
    s.lock = None;
    match lock::try_lock(&s.state, &lock::provision_target(&name)) {
        Ok(l) => {
            s.lock = Some((name, l));
            true
        }
        Err(e) => {
            w.problems = vec![format!("{e} (another wizard or a retire of {name})")];
            false
        }
    }
}

/// Runs the wizard on `terminal` until the operator leaves it.
pub async fn run(terminal: &mut DefaultTerminal, mut s: Screen, mut wizard: Wizard) -> Ended {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let (work, worker_task) = worker(s.ctx.clone(), s.config_path.clone(), s.from.clone(), ev_tx);
    let hosts = s.ctx.config.hosts();
    let theme = crate::ui::Theme {
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let mut keys_in = EventStream::new();
    let mut open_console = false;
    let start = Instant::now();
    loop {
        let plan = plan::lines(&wizard.input, &s.from, &s.config_path, &wizard.done);
        let _ = terminal.draw(|f| crate::ui::wizard::screen(&wizard, &plan, &theme, f, f.area()));
        let event = tokio::select! {
            k = keys_in.next() => match k {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                    match keys::key(&wizard, crate::term::key(k)) {
                        KeyAction::Event(e) => Some(e),
                        KeyAction::Submit => prepare(&mut s, &mut wizard)
                            .await
                            .then(|| Event::Submit { hosts: hosts.clone() }),
                        KeyAction::Trust(fp) => match ssh_dest::trust_audited(&s.ctx.config, &wizard.input, &fp).await {
                            Ok(m) => {
                                wizard.update(Event::Output(m));
                                Some(Event::Submit { hosts: hosts.clone() })
                            }
                            Err(e) => Some(Event::Output(e)),
                        },
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
        let jpath = journal::path(&s.state, &wizard.input.name);
        for fx in wizard.update(event) {
            if let Err(e) = journal::apply(&jpath, &wizard.input, &fx) {
                wizard.update(Event::Output(format!("journal not written: {e}")));
            }
            if matches!(fx, Effect::Preflight { .. } | Effect::Run(_)) {
                let _ = work.send((fx, Box::new(wizard.input.clone())));
            }
        }
    }
    drop(keys_in);
    // A step left running would outlive the slave's lock: stop it as a
    // kill would; the journal resumes from it.
    worker_task.abort();
    Ended {
        outcome: outcome(&wizard),
        open_console,
        confirmed: matches!(
            wizard.phase,
            Phase::Running(_) | Phase::Failed { .. } | Phase::Done
        ),
        took: start.elapsed(),
        name: wizard.input.name.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use archtui_core::credentials::Password;
    use archtui_core::wizard::input::fixtures::input;
    use archtui_core::wizard::Step;

    fn screen(state: &std::path::Path) -> Screen {
        let ctx = Context::new(
            archtui_core::app::fixtures::config(),
            Password::Pgpass(Vec::new()),
        )
        .unwrap();
        Screen {
            ctx,
            config_path: state.join("config.toml"),
            from: state.to_path_buf(),
            state: state.to_path_buf(),
            lock: None,
        }
    }

    fn typed(name: &str) -> Wizard {
        let mut i = input();
        i.name = name.into();
        i.ssh.clear();
        i.app_host.clear();
        Wizard::new(i)
    }

    #[tokio::test]
    async fn a_typed_name_with_a_journal_resumes_and_holds_the_slaves_lock() {
        let state = std::env::temp_dir().join(format!("archtui-wizard-tui-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        let j = journal::Journal {
            input: input(),
            done: vec![Step::Upload],
        };
        journal::save(&journal::path(&state, "turntable"), &j).unwrap();

        let mut s = screen(&state);
        let mut w = typed("turntable");
        assert!(prepare(&mut s, &mut w).await);
        assert!(w.resuming);
        assert_eq!(w.done, [Step::Upload]);
        assert_eq!(w.input, input(), "the journal's input, not the form's");
        assert!(
            w.notes.iter().any(|n| n.contains("Resuming")),
            "{:?}",
            w.notes
        );
        assert!(s.lock.is_some());

        // Another wizard on the same slave is refused while this one runs.
        let mut other = screen(&state);
        let mut w2 = typed("turntable");
        assert!(!prepare(&mut other, &mut w2).await);
        assert!(w2.problems[0].contains("another"), "{:?}", w2.problems);

        // A new name: a blank SSH destination becomes the name.
        let mut fresh = screen(&state);
        let mut w3 = typed("spinner");
        assert!(prepare(&mut fresh, &mut w3).await);
        assert!(!w3.resuming);
        assert_eq!(w3.input.ssh, "spinner");
        drop((s, other, fresh));
        let _ = std::fs::remove_dir_all(&state);
    }
}
