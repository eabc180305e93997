//! The action executors: what an action is, asks and records is the
//! core's (`archtui_core::actions`, re-exported here); here it is carried
//! out over the host's link, the same way for the console and the
//! headless subcommands.

pub use archtui_core::actions::*;

pub mod container;
pub mod deploy;
pub mod recover;
pub mod retire;
pub mod run;
pub mod sync;

pub use crate::Progress;

/// One step of a running action: shown on `progress` (the console's pane,
/// headless stdout) and written to the debug log.
pub fn step(progress: &Progress, line: impl Into<String>) {
    let line = line.into();
    tracing::info!(step = %line, "action step");
    let _ = progress.send(line);
}
