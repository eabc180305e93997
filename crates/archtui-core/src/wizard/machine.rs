//! The wizard's state machine: input, pre-flight, plan review, the steps,
//! done. Events in, effects out; no I/O. The TUI and `archtui provision`
//! both drive it and execute its effects with `exec`.

use serde::{Deserialize, Serialize};

use super::checks::{self, Check};
use super::input::{self, Input};
use crate::config::Host;
use crate::line_edit::{self, InputRequest};

/// The execution steps, in order. Each is idempotent and ends with a
/// checked postcondition, so a resumed run may redo the one it was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Upload,
    ComposeUp,
    Registered,
    RowCounts,
    Heartbeat,
    Config,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Upload,
        Step::ComposeUp,
        Step::Registered,
        Step::RowCounts,
        Step::Heartbeat,
        Step::Config,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Step::Upload => "upload the stack and env.slave",
            Step::ComposeUp => "docker compose up -d --build",
            Step::Registered => "registration and initial copy",
            Step::RowCounts => "row counts equal the master's",
            Step::Heartbeat => "a fresh heartbeat arrives",
            Step::Config => "add the host to the archtui config",
        }
    }

    /// Its place in the run, from 1.
    pub fn number(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    /// A few words, for narrow screens.
    pub fn short(self) -> &'static str {
        match self {
            Step::Upload => "upload",
            Step::ComposeUp => "compose up",
            Step::Registered => "register, copy",
            Step::RowCounts => "row counts",
            Step::Heartbeat => "heartbeat",
            Step::Config => "config",
        }
    }

    /// What is checked before the step counts as done.
    pub fn postcondition(self) -> &'static str {
        match self {
            Step::Upload => "every file's checksum matches; env files are 0600",
            Step::ComposeUp => "the project's containers exist",
            Step::Registered => "the master has the sync; every container healthy",
            Step::RowCounts => "each replicated table has the master's row count",
            Step::Heartbeat => "the slave's heartbeat is newer than at the start",
            Step::Config => "the config loads and lists the host",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Editing the input; `problems` says what is wrong with it.
    Input,
    Preflight,
    /// A check failed: nothing was changed.
    Refused,
    /// The plan is shown; waiting for the operator.
    Review,
    Running(Step),
    Failed {
        step: Step,
        error: String,
    },
    Done,
    /// Left at the review: nothing was changed.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The operator submits the input; `hosts` is the config's fleet.
    Submit {
        hosts: Vec<Host>,
    },
    Checked(Vec<Check>),
    Confirm,
    Cancel,
    /// Retry the failed step.
    Retry,
    Output(String),
    /// Editing the input form.
    Edit(Edit),
    StepDone(Step, String),
    StepFailed(Step, String),
    /// The operator asks to leave the screen while a step runs: "wait for
    /// it, or leave it running on the host?" (`Leaving::Ask`).
    AskLeave,
    /// The answer to it: wait (`Leaving::Wait`), or stay (`Leaving::No`).
    /// Leaving it running is the front-end's: it audits and closes.
    LeaveAnswer(Leaving),
}

/// Where the operator's wish to leave the screen mid-run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Leaving {
    #[default]
    No,
    /// The question is up.
    Ask,
    /// Leave once the provisioning ends (done or failed).
    Wait,
}

/// One edit of the input form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Next,
    Prev,
    /// Typing in the focused field, at its cursor.
    Text(InputRequest),
}

/// Fields of the form, in order (see `Input::fields`).
pub const FIELDS: usize = 5;
/// The most a form field holds (a host name's longest).
pub const FIELD_MAX: usize = 253;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Probe the hosts (read-only); answer with `Event::Checked`.
    Preflight {
        resuming: bool,
    },
    /// Write the journal: the input and the steps done so far.
    SaveJournal(Vec<Step>),
    Run(Step),
    /// Everything done: show the host in the fleet.
    Finished,
}

/// Lines of output kept for the screen.
const LOG_KEEP: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct Wizard {
    pub input: Input,
    pub problems: Vec<String>,
    pub checks: Vec<Check>,
    /// Steps completed, from this run or the journal of an earlier one.
    pub done: Vec<Step>,
    /// A journal exists: an earlier run already started changing things.
    pub resuming: bool,
    pub phase: Phase,
    pub log: Vec<String>,
    /// What each finished step reported.
    pub results: Vec<(Step, String)>,
    /// The form's focused field.
    pub field: usize,
    /// The cursor in the focused field, in characters; `None` at its end
    /// (where it is on entering a field, whatever fills the field).
    pub cursor: Option<usize>,
    /// Said under the form: interrupted provisionings, how blanks are filled.
    pub notes: Vec<String>,
    /// Leaving the screen while a step runs (front-end state, never
    /// journaled).
    pub leaving: Leaving,
}

impl Wizard {
    pub fn new(input: Input) -> Self {
        Self {
            input,
            problems: Vec::new(),
            checks: Vec::new(),
            done: Vec::new(),
            resuming: false,
            phase: Phase::Input,
            log: Vec::new(),
            results: Vec::new(),
            field: 0,
            cursor: None,
            notes: Vec::new(),
            leaving: Leaving::No,
        }
    }

    /// The operator chose to wait for the run and it has ended: the
    /// screen closes.
    pub fn leave_now(&self) -> bool {
        self.leaving == Leaving::Wait && !matches!(self.phase, Phase::Running(_))
    }

    /// Picks up an interrupted run from its journal.
    pub fn resume(input: Input, done: Vec<Step>) -> Self {
        Self {
            done,
            resuming: true,
            ..Self::new(input)
        }
    }

    /// The fingerprint of an unknown host key the pre-flight found, which
    /// the operator may trust (only while refused: nothing runs then).
    pub fn host_key_to_trust(&self) -> Option<&str> {
        if self.phase != Phase::Refused {
            return None;
        }
        self.checks.iter().find_map(|c| c.trust.as_deref())
    }

    /// The first step not yet done.
    pub fn next_step(&self) -> Option<Step> {
        Step::ALL.into_iter().find(|s| !self.done.contains(s))
    }

    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        let out = self.next(event);
        // The run ended while the question was up: it no longer applies.
        if self.leaving == Leaving::Ask && !matches!(self.phase, Phase::Running(_)) {
            self.leaving = Leaving::No;
        }
        out
    }

    fn next(&mut self, event: Event) -> Vec<Effect> {
        match (&self.phase, event) {
            (_, Event::Output(line)) => {
                self.log.push(line);
                if self.log.len() > LOG_KEEP {
                    self.log.drain(..self.log.len() - LOG_KEEP);
                }
                Vec::new()
            }
            (Phase::Input, Event::Edit(e)) => {
                self.edit(e);
                Vec::new()
            }
            (Phase::Input | Phase::Refused, Event::Submit { hosts }) => {
                let mut hosts = hosts;
                if self.resuming {
                    // Its own Config step may have added it already.
                    hosts.retain(|h| h.name != self.input.name);
                }
                self.problems = input::problems(&self.input, &hosts);
                self.checks.clear();
                if self.problems.is_empty() {
                    self.phase = Phase::Preflight;
                    vec![Effect::Preflight {
                        resuming: self.resuming,
                    }]
                } else {
                    self.phase = Phase::Input;
                    Vec::new()
                }
            }
            (Phase::Preflight, Event::Checked(c)) => {
                self.phase = if checks::all_clear(&c) {
                    Phase::Review
                } else {
                    Phase::Refused
                };
                self.checks = c;
                Vec::new()
            }
            (Phase::Review, Event::Confirm) => {
                self.resuming = true;
                let mut out = vec![Effect::SaveJournal(self.done.clone())];
                out.extend(self.advance());
                out
            }
            (Phase::Review | Phase::Refused | Phase::Input, Event::Cancel) => {
                self.phase = Phase::Cancelled;
                Vec::new()
            }
            (Phase::Running(s), Event::StepDone(step, msg)) if *s == step => {
                if !self.done.contains(&step) {
                    self.done.push(step);
                }
                self.results.push((step, msg));
                let mut out = vec![Effect::SaveJournal(self.done.clone())];
                out.extend(self.advance());
                out
            }
            (Phase::Running(s), Event::StepFailed(step, error)) if *s == step => {
                self.phase = Phase::Failed { step, error };
                Vec::new()
            }
            (Phase::Running(_), Event::AskLeave) => {
                self.leaving = Leaving::Ask;
                Vec::new()
            }
            (_, Event::LeaveAnswer(answer)) => {
                self.leaving = answer;
                Vec::new()
            }
            (Phase::Failed { step, .. }, Event::Retry) => {
                let step = *step;
                self.phase = Phase::Running(step);
                vec![Effect::Run(step)]
            }
            _ => Vec::new(),
        }
    }

    fn edit(&mut self, e: Edit) {
        // A resumed run keeps the journal's input.
        if self.resuming {
            return;
        }
        match e {
            Edit::Next => {
                self.field = (self.field + 1) % FIELDS;
                self.cursor = None;
            }
            Edit::Prev => {
                self.field = (self.field + FIELDS - 1) % FIELDS;
                self.cursor = None;
            }
            Edit::Text(req) => {
                let field = self.input.field_mut(self.field);
                // The text stays in `input` (the journal's, the plan's);
                // tui-input edits it for one key, from the kept cursor.
                let mut line = line_edit::Input::new(std::mem::take(field))
                    .with_cursor(self.cursor.unwrap_or(usize::MAX));
                line_edit::apply(&mut line, req, FIELD_MAX);
                let at = line.cursor();
                self.cursor = (at < line.value().chars().count()).then_some(at);
                *field = line.into();
            }
        }
    }

    /// The focused field's cursor, in characters from its start.
    pub fn field_cursor(&self) -> usize {
        let len = self.input.fields()[self.field.min(FIELDS - 1)]
            .1
            .chars()
            .count();
        self.cursor.map_or(len, |c| c.min(len))
    }

    fn advance(&mut self) -> Vec<Effect> {
        match self.next_step() {
            Some(step) => {
                self.phase = Phase::Running(step);
                vec![Effect::Run(step)]
            }
            None => {
                self.phase = Phase::Done;
                vec![Effect::Finished]
            }
        }
    }

    /// Has the wizard stopped (for good or until a retry)?
    #[cfg(test)]
    pub fn settled(&self) -> bool {
        matches!(
            self.phase,
            Phase::Input | Phase::Refused | Phase::Failed { .. } | Phase::Done | Phase::Cancelled
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::checks::Check;
    use crate::wizard::input::fixtures::{hosts, input};

    fn ok_checks() -> Vec<Check> {
        vec![Check::pass("docker engine", "20.10")]
    }

    fn to_review(w: &mut Wizard) {
        let fx = w.update(Event::Submit { hosts: hosts() });
        assert_eq!(
            fx,
            [Effect::Preflight {
                resuming: w.resuming
            }]
        );
        assert!(w.update(Event::Checked(ok_checks())).is_empty());
        assert_eq!(w.phase, Phase::Review);
    }

    #[test]
    fn a_whole_run_walks_every_step_and_journals_each() {
        let mut w = Wizard::new(input());
        to_review(&mut w);
        let fx = w.update(Event::Confirm);
        assert_eq!(fx, [Effect::SaveJournal(vec![]), Effect::Run(Step::Upload)]);
        for (i, step) in Step::ALL.into_iter().enumerate() {
            assert_eq!(w.phase, Phase::Running(step));
            let fx = w.update(Event::StepDone(step, "ok".into()));
            assert_eq!(fx[0], Effect::SaveJournal(Step::ALL[..=i].to_vec()));
            match Step::ALL.get(i + 1) {
                Some(next) => assert_eq!(fx[1], Effect::Run(*next)),
                None => assert_eq!(fx[1], Effect::Finished),
            }
        }
        assert_eq!(w.phase, Phase::Done);
        assert!(w.settled());
    }

    #[test]
    fn bad_input_never_reaches_preflight() {
        let mut i = input();
        i.name = "jukebox".into();
        let mut w = Wizard::new(i);
        assert!(w.update(Event::Submit { hosts: hosts() }).is_empty());
        assert_eq!(w.phase, Phase::Input);
        assert_eq!(w.problems.len(), 1);
        // Fixed, it goes on.
        w.input.name = "turntable".into();
        assert_eq!(w.update(Event::Submit { hosts: hosts() }).len(), 1);
        assert!(w.problems.is_empty());
    }

    #[test]
    fn a_failed_check_refuses_and_changes_nothing() {
        let mut w = Wizard::new(input());
        w.update(Event::Submit { hosts: hosts() });
        let fx = w.update(Event::Checked(vec![Check::fail(
            "docker compose",
            "missing",
            "install",
        )]));
        assert!(fx.is_empty());
        assert_eq!(w.phase, Phase::Refused);
        assert!(
            w.update(Event::Confirm).is_empty(),
            "no confirm past a failure"
        );
        assert!(w.update(Event::Cancel).is_empty());
        assert_eq!(w.phase, Phase::Cancelled);
    }

    #[test]
    fn cancel_at_review_changes_nothing() {
        let mut w = Wizard::new(input());
        to_review(&mut w);
        assert!(w.update(Event::Cancel).is_empty());
        assert_eq!(w.phase, Phase::Cancelled);
        assert!(w.update(Event::Confirm).is_empty());
    }

    #[test]
    fn resume_skips_the_journaled_steps() {
        let mut w = Wizard::resume(input(), vec![Step::Upload]);
        let fx = w.update(Event::Submit { hosts: hosts() });
        assert_eq!(fx, [Effect::Preflight { resuming: true }]);
        w.update(Event::Checked(ok_checks()));
        let fx = w.update(Event::Confirm);
        assert_eq!(fx[1], Effect::Run(Step::ComposeUp));
    }

    #[test]
    fn a_resume_after_the_config_step_is_not_a_duplicate() {
        let mut hs = hosts();
        let mut t = hs[1].clone();
        t.name = "turntable".into();
        t.ssh = "turntable".into();
        hs.push(t);
        let mut w = Wizard::resume(input(), Step::ALL.to_vec());
        w.update(Event::Submit { hosts: hs.clone() });
        assert_eq!(w.phase, Phase::Preflight, "{:?}", w.problems);
        w.update(Event::Checked(ok_checks()));
        assert_eq!(
            w.update(Event::Confirm),
            [Effect::SaveJournal(Step::ALL.to_vec()), Effect::Finished]
        );
        // Without a journal the same config refuses the name.
        let mut fresh = Wizard::new(input());
        fresh.update(Event::Submit { hosts: hs });
        assert_eq!(fresh.phase, Phase::Input);
    }

    #[test]
    fn failure_then_retry_reruns_the_step() {
        let mut w = Wizard::new(input());
        to_review(&mut w);
        w.update(Event::Confirm);
        w.update(Event::StepDone(Step::Upload, "ok".into()));
        assert!(w
            .update(Event::StepFailed(Step::ComposeUp, "build failed".into()))
            .is_empty());
        assert!(matches!(
            w.phase,
            Phase::Failed {
                step: Step::ComposeUp,
                ..
            }
        ));
        assert!(w.settled());
        assert_eq!(w.update(Event::Retry), [Effect::Run(Step::ComposeUp)]);
        // Stray events from another step are ignored.
        assert!(w
            .update(Event::StepDone(Step::Config, "x".into()))
            .is_empty());
        assert_eq!(w.phase, Phase::Running(Step::ComposeUp));
    }

    #[test]
    fn the_form_edits_its_fields() {
        use InputRequest as R;
        let edit = |w: &mut Wizard, r: R| w.update(Event::Edit(Edit::Text(r)));
        let mut w = Wizard::new(input());
        edit(&mut w, R::DeletePrevChar);
        edit(&mut w, R::InsertChar('2'));
        assert_eq!(w.input.name, "turntabl2");
        w.update(Event::Edit(Edit::Prev));
        assert_eq!(w.field, FIELDS - 1);
        edit(&mut w, R::InsertChar('\u{1b}'));
        edit(&mut w, R::InsertChar('9'));
        assert_eq!(w.input.master_db_host, "10.77.0.19");
        w.update(Event::Edit(Edit::Next));
        assert_eq!(w.field, 0);
        let mut r = Wizard::resume(input(), vec![]);
        edit(&mut r, R::InsertChar('x'));
        assert_eq!(r.input, input(), "a resumed run keeps its input");
    }

    #[test]
    fn a_field_edits_at_its_cursor_and_a_new_field_starts_at_its_end() {
        use InputRequest as R;
        let edit = |w: &mut Wizard, r: R| w.update(Event::Edit(Edit::Text(r)));
        let mut w = Wizard::new(input());
        assert_eq!(w.field_cursor(), "turntable".len());
        edit(&mut w, R::GoToStart);
        edit(&mut w, R::DeleteNextChar);
        edit(&mut w, R::InsertChar('b'));
        assert_eq!((w.input.name.as_str(), w.field_cursor()), ("burntable", 1));
        edit(&mut w, R::GoToNextWord);
        assert_eq!(w.field_cursor(), 9);
        assert_eq!(w.cursor, None, "at the end is None");
        w.update(Event::Edit(Edit::Next));
        edit(&mut w, R::GoToPrevChar);
        w.update(Event::Edit(Edit::Next));
        assert_eq!(w.field_cursor(), "10.77.0.3".len());
        // A field filled from elsewhere keeps the cursor inside it.
        w.cursor = Some(40);
        assert_eq!(w.field_cursor(), 9);
        edit(&mut w, R::InsertChar('1'));
        assert_eq!(w.input.app_host, "10.77.0.31");
    }

    #[test]
    fn output_is_bounded() {
        let mut w = Wizard::new(input());
        for i in 0..(LOG_KEEP + 10) {
            w.update(Event::Output(format!("line {i}")));
        }
        assert_eq!(w.log.len(), LOG_KEEP);
        assert_eq!(w.log[0], "line 10");
    }
}
