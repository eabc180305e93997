//! The console's pure core: its state (`Model`), everything that happens
//! to it (`Msg`), everything it asks the world to do (`Effect`), and
//! `update`, which turns one into the other. No I/O here.

pub mod actions;
pub mod layout;
pub mod lines;
pub mod logbuf;
pub mod logview;
mod state;
pub mod switchover;
mod update;
pub mod verify;

use crate::key::KeyEvent;

pub use logbuf::LogLine;
pub use logview::LogSource;
pub use state::{InputKind, Model, Pane};
pub use update::update;

use crate::model::Time;
use crate::observation::HostObservation;

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// The clock moved on: ages on screen change.
    Tick(Time),
    Observation(Box<HostObservation>),
    /// Several observations at once, in the order they came: the fleet is
    /// assembled once for all of them (a console of many hosts hands over
    /// what arrived since its last frame).
    Observations(Vec<HostObservation>),
    /// Lines from one of the tails of log pane `stream`.
    LogLines {
        stream: u64,
        lines: Vec<LogLine>,
    },
    /// A verify the console started ended (its lines came as `ActionOutput`).
    VerifyDone {
        id: u64,
        outcome: crate::actions::Outcome,
    },
    /// A line of a running action's output.
    ActionOutput {
        id: u64,
        line: String,
    },
    /// An action finished.
    ActionDone {
        id: u64,
        action: crate::actions::Action,
        outcome: crate::actions::Outcome,
    },
    /// A tail's state changed (connected, ended, retrying).
    LogNote {
        stream: u64,
        source: u16,
        note: Option<String>,
    },
    /// The run of switchover screen `id` reported.
    Switchover {
        id: u64,
        event: switchover::Event,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start tailing `sources` (the last `tail` lines, then follow) for
    /// log pane `stream`.
    OpenLogs {
        stream: u64,
        sources: Vec<LogSource>,
        tail: usize,
    },
    CloseLogs {
        stream: u64,
    },
    /// Record in the audit log that the operator cancelled `action`.
    AuditCancelled {
        action: crate::actions::Action,
    },
    /// Run a fleet action (archtui_remote::actions::run::perform); its output and
    /// outcome come back as `ActionOutput` and `ActionDone`.
    RunAction {
        id: u64,
        action: crate::actions::Action,
        guard: crate::actions::Guard,
    },
    /// Verify a slave (archtui_remote::verify::engine::run); its progress and report
    /// come back as `ActionOutput`, its end as `VerifyDone`.
    RunVerify {
        id: u64,
        slave: String,
    },
    /// A switchover's or failover's run: start it, run its steps, or let
    /// it go; what it says comes back as `Msg::Switchover`.
    Switchover(switchover::Request),
    /// Leave the fleet screen for the new-slave wizard; the console comes
    /// back on the config as the wizard left it.
    OpenWizard,
    /// The config file changed (a slave retired): load it again and
    /// watch the hosts it lists now.
    Reload,
    /// The operator quit while actions ran and left them running on their
    /// hosts: audit each as `interrupted`, naming the job it left, and
    /// stop following them.
    LeaveRunning,
    Quit,
}

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
