//! This machine's side of archtui: the audit log, per-target locks, the
//! console's state file and the atomic, locked file writes they share,
//! all under the XDG state directory.

pub mod audit;
pub mod config_file;
pub mod files;
pub mod journal;
pub mod lock;
pub mod state;
