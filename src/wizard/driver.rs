//! The one driver of the new-slave wizard, for `archtui provision` and
//! the full-screen wizard alike: it feeds the state machine, keeps the
//! journal as the machine asks, hands the effects that need the hosts to
//! a worker task (one at a time, answered with events), takes the slave's
//! lock and picks up an interrupted run. Lookups that wait on ssh (`ssh
//! -G` for a blank address, the host key's fingerprint when trusting it)
//! run as tasks whose results come back through `next`, so a screen that
//! drives the wizard keeps answering keys meanwhile.

use std::path::PathBuf;
use std::sync::Arc;

use archtui_core::config::Host;
use archtui_core::wizard::checks::Check;
use archtui_core::wizard::input::{self, Input};
use archtui_core::wizard::machine::{Effect, Event, Phase, Wizard};
use archtui_remote::host::Context;
use archtui_remote::local::lock::{self, TargetLock};
use archtui_remote::local::{journal, LocalError};
use archtui_remote::tasks::{How, Kind, Tasks};
use archtui_remote::wizard::exec::Runner;
use archtui_remote::wizard::ssh_dest;
use archtui_remote::Progress;
use tokio::sync::mpsc;

/// The worker's name among the driver's tasks.
const WORKER: &str = "worker";

/// An effect for the hosts, with the input as it is now (the form may
/// have changed it).
type Work = (Effect, Box<Input>);

/// What comes back to the driver.
enum Note {
    /// A line of the worker's output.
    Output(String),
    /// The worker's answer to an effect (`None`: it needed none).
    Answered(Option<Event>),
    /// The blanks of a submitted form, filled (`ssh -G` ran off the loop).
    Filled { ssh: String, app_host: String },
    /// A host key trusted (its message) or refused.
    Trusted(Result<String, ssh_dest::TrustError>),
}

/// What `Driver::next` did.
pub enum Turn {
    /// The hosts answered an effect with this event; the machine went on
    /// with these effects.
    Answered(Event, Vec<Effect>),
    /// Something changed on screen (output, a filled form).
    Updated,
}

pub struct Driver {
    pub wizard: Wizard,
    pub ctx: Arc<Context>,
    pub config_path: PathBuf,
    pub from: PathBuf,
    /// Where journals and locks live.
    pub state: PathBuf,
    /// The slave's `provision-NAME` lock, once taken.
    lock: Option<(String, TargetLock)>,
    hosts: Vec<Host>,
    work: Option<mpsc::UnboundedSender<Work>>,
    notes_tx: mpsc::UnboundedSender<Note>,
    notes: mpsc::UnboundedReceiver<Note>,
    /// The worker, its output's forwarder and the lookups.
    tasks: Tasks,
    /// Effects handed to the worker and not answered yet.
    pending: usize,
    /// A submit or a trust waits for its lookup: keys do not start another.
    pub busy: bool,
    /// Headless, a journal that cannot be written stops the run before
    /// its next step (`journal_error` says why); on a screen it is a line
    /// in the log and the run goes on.
    pub strict_journal: bool,
    pub journal_error: Option<String>,
}

impl Driver {
    /// A driver of `wizard`, its tasks in `tasks`; the worker's output
    /// lines go to `output`, or come back as `Event::Output` (blank ones
    /// left out) without one.
    pub fn new(
        ctx: Arc<Context>,
        config_path: PathBuf,
        from: PathBuf,
        state: PathBuf,
        wizard: Wizard,
        output: Option<Progress>,
        mut tasks: Tasks,
    ) -> Driver {
        let (notes_tx, notes) = mpsc::unbounded_channel::<Note>();
        let output = output.unwrap_or_else(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            let fwd = notes_tx.clone();
            tasks.spawn(Kind::Wizard, "output", async move {
                while let Some(line) = rx.recv().await {
                    if !line.trim().is_empty() && fwd.send(Note::Output(line)).is_err() {
                        break;
                    }
                }
            });
            tx
        });
        let (work, mut rx) = mpsc::unbounded_channel::<Work>();
        let answers = notes_tx.clone();
        let mut runner = Runner::new(ctx.clone(), config_path.clone(), from.clone(), output);
        tasks.spawn(Kind::Wizard, WORKER, async move {
            while let Some((effect, input)) = rx.recv().await {
                // Every effect is answered, so the driver knows when it is idle.
                tracing::info!(effect = ?effect, "wizard step begins");
                let answer = runner.answer(&input, &effect).await;
                tracing::info!(effect = ?effect, "wizard step answered");
                if answers.send(Note::Answered(answer)).is_err() {
                    break;
                }
            }
            runner.close().await;
        });
        Driver {
            hosts: ctx.config.hosts(),
            wizard,
            ctx,
            config_path,
            from,
            state,
            lock: None,
            work: Some(work),
            notes_tx,
            notes,
            tasks,
            pending: 0,
            busy: false,
            strict_journal: false,
            journal_error: None,
        }
    }

    /// Nothing handed to the worker waits for its answer.
    pub fn idle(&self) -> bool {
        self.pending == 0 && !self.busy
    }

    /// Feeds the machine; the journal follows its effects, and the ones
    /// that need the hosts go to the worker. Returns the effects, for the
    /// front-end to announce.
    pub fn feed(&mut self, event: Event) -> Vec<Effect> {
        let jpath = journal::path(&self.state, &self.wizard.input.name);
        let fx = self.wizard.update(event);
        for f in &fx {
            if self.journal_error.is_some() {
                break;
            }
            if let Err(e) = journal::apply(&jpath, &self.wizard.input, f) {
                if self.strict_journal {
                    self.journal_error = Some(e.to_string());
                    break;
                }
                self.wizard
                    .update(Event::Output(format!("journal not written: {e}")));
            }
            if matches!(f, Effect::Preflight { .. } | Effect::Run(_)) {
                if let Some(work) = &self.work {
                    if work
                        .send((f.clone(), Box::new(self.wizard.input.clone())))
                        .is_ok()
                    {
                        self.pending += 1;
                    }
                }
            }
        }
        fx
    }

    /// The machine's submit, with the config's hosts.
    pub fn submit_event(&self) -> Event {
        Event::Submit {
            hosts: self.hosts.clone(),
        }
    }

    /// Takes the slave's lock (a second run of the same name keeps it).
    pub fn take_lock(&mut self) -> Result<(), LocalError> {
        let name = self.wizard.input.name.clone();
        if self.lock.as_ref().is_some_and(|(n, _)| *n == name) {
            return Ok(());
        }
        self.lock = None;
        let l = lock::try_lock(&self.state, &lock::provision_target(&name))?;
        self.lock = Some((name, l));
        Ok(())
    }

    /// The form submitted from a screen: blanks are filled by a lookup
    /// that runs as a task; the submit continues in `next`.
    pub fn submit(&mut self) {
        if self.busy {
            return;
        }
        self.busy = true;
        let (config, input, tx) = (
            self.ctx.config.clone(),
            self.wizard.input.clone(),
            self.notes_tx.clone(),
        );
        self.tasks
            .spawn(Kind::Wizard, "address lookup", async move {
                let (ssh, app_host) = filled(&config, &input).await;
                let _ = tx.send(Note::Filled { ssh, app_host });
            });
    }

    /// After the lookup: the blanks filled, an interrupted run of the same
    /// name picked up, the slave's lock taken. False (with the reason among
    /// the problems) when it cannot be submitted.
    pub fn prepare(&mut self, ssh: String, app_host: String) -> bool {
        self.busy = false;
        let w = &mut self.wizard;
        if !w.resuming {
            // Filled only where still blank: the form may have moved on.
            if w.input.ssh.is_empty() {
                w.input.ssh = ssh;
            }
            if w.input.app_host.is_empty() {
                w.input.app_host = app_host;
            }
            if input::valid_slave_name(&w.input.name) {
                match journal::resume(&journal::path(&self.state, &w.input.name)) {
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
                        w.problems = vec![e.to_string()];
                        return false;
                    }
                }
            }
        }
        // A bad name is the machine's to refuse; a held lock is ours.
        if input::valid_slave_name(&self.wizard.input.name) {
            if let Err(e) = self.take_lock() {
                let name = &self.wizard.input.name;
                self.wizard.problems = vec![format!("{e} (another wizard or a retire of {name})")];
                return false;
            }
        }
        true
    }

    /// Trusts the host key the pre-flight showed, as a task; then checks
    /// again (continued in `next`).
    pub fn trust(&mut self, fingerprint: String) {
        if self.busy {
            return;
        }
        self.busy = true;
        let (config, input, tx) = (
            self.ctx.config.clone(),
            self.wizard.input.clone(),
            self.notes_tx.clone(),
        );
        self.tasks
            .spawn(Kind::Wizard, "host key trust", async move {
                let r = ssh_dest::trust_audited(&config, &input, &fingerprint).await;
                let _ = tx.send(Note::Trusted(r));
            });
    }

    /// Waits for what comes next from the hosts and feeds it to the
    /// machine (what a lookup brings is applied here too). `None` once
    /// nothing can come any more.
    pub async fn next(&mut self) -> Option<Turn> {
        loop {
            let note = tokio::select! {
                n = self.notes.recv() => n?,
                Some(e) = self.tasks.next() => match &e.how {
                    How::Panicked(p) => return Some(self.lost(&e.name, p)),
                    How::Done | How::Cancelled | How::Aborted => continue,
                },
            };
            match note {
                Note::Output(line) => {
                    self.feed(Event::Output(line));
                    return Some(Turn::Updated);
                }
                Note::Answered(None) => {
                    self.pending = self.pending.saturating_sub(1);
                }
                Note::Answered(Some(ev)) => {
                    self.pending = self.pending.saturating_sub(1);
                    let fx = self.feed(ev.clone());
                    return Some(Turn::Answered(ev, fx));
                }
                Note::Filled { ssh, app_host } => {
                    if self.prepare(ssh, app_host) {
                        let submit = self.submit_event();
                        self.feed(submit);
                    }
                    return Some(Turn::Updated);
                }
                Note::Trusted(r) => {
                    self.busy = false;
                    let ev = match r {
                        Ok(m) => {
                            self.wizard.update(Event::Output(m));
                            self.submit_event()
                        }
                        Err(e) => Event::Output(e.to_string()),
                    };
                    let fx = self.feed(ev.clone());
                    return Some(Turn::Answered(ev, fx));
                }
            }
        }
    }

    /// One of the driver's tasks panicked: what it was doing ends, said,
    /// instead of being waited for for ever. Without its worker the
    /// wizard cannot go on: a run of the same name resumes from the
    /// journal.
    fn lost(&mut self, task: &str, panic: &str) -> Turn {
        let mut why = format!("archtui's wizard {task} panicked: {panic}");
        if task == WORKER {
            self.work = None;
            self.pending = 0;
            why.push_str("; leave the screen and run the wizard again to resume");
            let ev = match self.wizard.phase {
                Phase::Running(step) => Some(Event::StepFailed(step, why.clone())),
                Phase::Preflight => Some(Event::Checked(vec![Check::fail(
                    "pre-flight",
                    why.clone(),
                    "run the wizard again",
                )])),
                _ => None,
            };
            if let Some(ev) = ev {
                let fx = self.feed(ev.clone());
                return Turn::Answered(ev, fx);
            }
        } else {
            // A lookup: the submit or trust it was for is not coming.
            self.busy = false;
        }
        self.feed(Event::Output(why));
        Turn::Updated
    }

    /// Ends the worker: `graceful` lets the running effect finish and the
    /// runner release the host's lock and links (headless); otherwise it
    /// is stopped where it is, as a kill would (the screen was left: the
    /// journal resumes from that step, and a step left running must not
    /// outlive the slave's lock). Returns the lines of tasks that panicked.
    pub async fn close(mut self, graceful: bool) -> Vec<String> {
        self.work = None;
        // The forwarder ends with the worker's output, once its runner goes.
        let ended = if graceful {
            self.tasks.wait().await
        } else {
            self.tasks.shutdown(std::time::Duration::ZERO).await
        };
        ended.iter().filter_map(|e| e.problem()).collect()
    }
}

/// The form's blanks as they are submitted: a blank SSH destination is the
/// slave's name, a blank APP_HOST its address as ssh resolves it (`ssh
/// -G`, up to 3 s: this runs off the screen's loop). A resumed run keeps
/// its journal's input, so nothing is looked up for it.
pub async fn filled(config: &archtui_core::config::Config, input: &Input) -> (String, String) {
    let ssh = if input.ssh.is_empty() {
        input.name.clone()
    } else {
        input.ssh.clone()
    };
    let app_host = if input.app_host.is_empty() {
        ssh_dest::address(config, &ssh).await
    } else {
        input.app_host.clone()
    };
    (ssh, app_host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use archtui_core::credentials::Password;
    use archtui_core::wizard::input::fixtures::input;
    use archtui_core::wizard::Step;

    fn driver(state: &std::path::Path, name: &str) -> Driver {
        let ctx = Context::new(
            archtui_core::app::fixtures::config(),
            Password::Pgpass(Vec::new()),
        )
        .unwrap();
        let mut i = input();
        i.name = name.into();
        i.ssh.clear();
        i.app_host.clear();
        Driver::new(
            ctx,
            state.join("config.toml"),
            state.to_path_buf(),
            state.to_path_buf(),
            Wizard::new(i),
            None,
            Tasks::new(),
        )
    }

    /// What a submit from the screen does before the machine's submit:
    /// the lookup (a task in `submit`), then `prepare`.
    async fn prepared(d: &mut Driver) -> bool {
        let (ssh, app_host) = filled(&d.ctx.config, &d.wizard.input).await;
        d.prepare(ssh, app_host)
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

        let mut s = driver(&state, "turntable");
        assert!(prepared(&mut s).await);
        let w = &s.wizard;
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
        let mut other = driver(&state, "turntable");
        assert!(!prepared(&mut other).await);
        let p = &other.wizard.problems;
        assert!(p[0].contains("another"), "{p:?}");

        // A new name: a blank SSH destination becomes the name.
        let mut fresh = driver(&state, "spinner");
        assert!(prepared(&mut fresh).await);
        assert!(!fresh.wizard.resuming);
        assert_eq!(fresh.wizard.input.ssh, "spinner");
        for d in [s, other, fresh] {
            d.close(false).await;
        }
        let _ = std::fs::remove_dir_all(&state);
    }

    #[tokio::test]
    async fn a_panicked_worker_fails_its_step_instead_of_hanging() {
        let state =
            std::env::temp_dir().join(format!("archtui-wizard-lost-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        let mut d = driver(&state, "turntable");
        d.wizard.phase = Phase::Running(Step::ComposeUp);
        d.pending = 1;
        let Turn::Answered(Event::StepFailed(step, why), _) = d.lost(WORKER, "boom") else {
            panic!("the step fails")
        };
        assert_eq!(step, Step::ComposeUp);
        assert!(why.contains("worker panicked: boom"), "{why}");
        assert!(matches!(d.wizard.phase, Phase::Failed { .. }));
        assert!(d.idle() && d.work.is_none());
        // A lookup's panic ends the wait for it.
        d.busy = true;
        assert!(matches!(d.lost("address lookup", "bad"), Turn::Updated));
        assert!(!d.busy);
        assert!(d
            .wizard
            .log
            .iter()
            .any(|l| l.contains("address lookup panicked")));
        d.close(false).await;
        let _ = std::fs::remove_dir_all(&state);
    }
}
