//! This machine's side of archtui: the audit log, per-target locks, the
//! console's state file and the atomic, locked file writes they share,
//! all under the XDG state directory.

pub mod audit;
pub mod config_file;
pub mod files;
pub mod journal;
pub mod lock;
pub mod state;

use std::path::PathBuf;

/// Why a file of this machine's (a journal, the config) was not read or
/// written. Its text names the file; `String::from` keeps text callers.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A journal that cannot be read.
    #[error("journal {}: {source}", path.display())]
    JournalRead {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A journal that does not parse.
    #[error("journal {}: {why} (remove it to start over)", path.display())]
    JournalBad { path: PathBuf, why: String },
    /// Another action holds the target's lock.
    #[error("another action on {0} is running; one action per target at a time")]
    Busy(String),
    /// A config edit whose result would not load.
    #[error("edited config invalid: {0}")]
    EditInvalid(String),
    #[error("{0}")]
    Encode(String),
}

impl LocalError {
    pub fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> LocalError + '_ {
        move |source| LocalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<LocalError> for String {
    fn from(e: LocalError) -> String {
        e.to_string()
    }
}
