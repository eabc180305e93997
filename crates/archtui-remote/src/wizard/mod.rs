//! The wizard's effect executor (`exec`), what ssh makes of a destination
//! (`ssh_dest`) (the journal on disk is `crate::local::journal`); the state machine
//! and its pure pieces are the core's, re-exported here.

pub use archtui_core::wizard::*;

pub mod exec;
pub mod ssh_dest;
