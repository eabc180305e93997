//! The console's pure core: its state (`Model`), everything that happens
//! to it (`Msg`), everything it asks the world to do (`Effect`), and
//! `update`, which turns one into the other. No I/O here.

pub mod keymap;
pub mod lines;
pub mod logbuf;
pub mod logview;
pub mod sanitize;
mod state;
mod update;

use crossterm::event::KeyEvent;

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
    /// Lines from one of the tails of log pane `stream`.
    LogLines {
        stream: u64,
        lines: Vec<LogLine>,
    },
    /// A tail's state changed (connected, ended, retrying).
    LogNote {
        stream: u64,
        source: u16,
        note: Option<String>,
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
    Quit,
}

#[cfg(test)]
pub mod fixtures;
