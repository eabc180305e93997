//! The guided new-slave wizard, its pure half: one state machine
//! (`machine`) that drives both the full-screen wizard and `archtui
//! provision`, and the pure pieces it needs (input rules, pre-flight
//! verdicts, the plan, env.slave, the config edit). The effects are
//! carried out by `archtui_remote::wizard`; the driver is the front-end's.

pub mod checks;
pub mod config_edit;
pub mod input;
pub mod keys;
pub mod machine;
pub mod plan;
pub mod render;

pub use input::Input;
pub use machine::Step;
