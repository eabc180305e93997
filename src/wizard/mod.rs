//! The guided new-slave wizard: a bare host becomes a verified replicating
//! slave. One pure state machine (`machine`) drives both the TUI screen and
//! `archtui provision`; the pure pieces it needs (input rules, pre-flight
//! verdicts, the plan, env.slave, the config edit, the journal's format)
//! live beside it, the I/O in `exec`, `journal` and `retire`.

pub mod checks;
pub mod config_edit;
pub mod exec;
pub mod input;
pub mod journal;
pub mod keys;
pub mod machine;
pub mod plan;
pub mod render;
pub mod retire;
pub mod ssh_dest;
pub mod tui;

pub use input::Input;
pub use machine::Step;
