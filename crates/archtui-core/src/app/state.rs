//! What the console holds: the fleet as last seen (kept, and marked stale,
//! when a host stops answering), lag history, and the operator's place in
//! the panes.

use std::collections::VecDeque;

use crate::app::logview::LogView;
use crate::config::Config;
use crate::keymap::Keymap;
use crate::model::{BucardoStatus, SyncStatus, Time};
use crate::observation::HostObservation;
use crate::verdict::Verdict;

/// Lag samples kept per sync for the sparkline.
pub const LAG_HISTORY: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Fleet,
    Containers,
    Syncs,
    Logs,
}

/// A host in the console: its latest observation, and what the console
/// adds to it across rounds.
#[derive(Debug, Clone)]
pub struct HostPanel {
    /// The latest observation, which the fleet is assembled from; but
    /// its containers are the last Docker listed (a round that does not
    /// reach Docker has none), marked by `containers_stale`.
    pub seen: HostObservation,
    /// An observation arrived: until then `seen` is a placeholder whose
    /// "connecting" is not shown as a reason.
    pub observed: bool,
    /// Last observation that reached the host at all.
    pub last_heard: Option<Time>,
    /// When `seen.containers` was read; older than the host's state when stale.
    pub containers_at: Option<Time>,
    pub containers_stale: bool,
}

#[derive(Debug, Clone)]
pub struct SyncPanel {
    pub status: SyncStatus,
    /// Recent lag samples in seconds, oldest first.
    pub history: VecDeque<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Search,
    Filter,
}

/// The search or filter prompt: tui-input keeps its text and cursor.
#[derive(Debug, Clone)]
pub struct Input {
    pub kind: InputKind,
    pub text: crate::line_edit::Field,
}

/// The most a search or filter prompt holds.
pub const PROMPT_MAX: usize = 200;

#[derive(Debug, Clone, Copy)]
pub struct LogLimits {
    pub max_lines: usize,
    pub max_bytes: usize,
    /// Lines loaded when a pane opens.
    pub tail: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            max_lines: 20_000,
            max_bytes: 8 * 1024 * 1024,
            tail: 200,
        }
    }
}

#[derive(Debug)]
pub struct Model {
    pub config: Config,
    /// The file `config` came from: a retire edits it.
    pub config_path: std::path::PathBuf,
    /// In config order.
    pub hosts: Vec<HostPanel>,
    pub syncs: Vec<SyncPanel>,
    pub syncs_at: Option<Time>,
    pub syncs_stale: bool,
    /// Every slave's daemon, from the latest assembly.
    pub daemons: Vec<BucardoStatus>,
    /// Bucardo's own health, from the latest assembly.
    pub health: crate::health::Health,
    pub verdict: Option<Verdict>,
    pub now: Time,
    pub focus: Pane,
    pub host_sel: usize,
    pub container_sel: usize,
    pub sync_sel: usize,
    pub log: Option<LogView>,
    pub(crate) next_stream: u64,
    pub help: bool,
    pub input: Option<Input>,
    /// One-off message in the hint bar until the next key.
    pub flash: Option<String>,
    pub keymap: Keymap,
    pub read_only: bool,
    pub color: bool,
    pub size: (u16, u16),
    pub limits: LogLimits,
    pub quit: bool,
    /// Confirmations, running actions and their output pane.
    pub actions: crate::app::actions::Actions,
}

impl Model {
    pub fn new(config: Config, keymap: Keymap, now: Time) -> Model {
        let hosts: Vec<HostPanel> = config
            .hosts()
            .iter()
            .map(|host| HostPanel {
                seen: HostObservation::connecting(host, now),
                observed: false,
                last_heard: None,
                containers_at: None,
                containers_stale: false,
            })
            .collect();
        Model {
            read_only: config.read_only,
            hosts,
            config,
            config_path: std::path::PathBuf::new(),
            syncs: Vec::new(),
            syncs_at: None,
            syncs_stale: false,
            daemons: Vec::new(),
            health: Default::default(),
            verdict: None,
            now,
            focus: Pane::Fleet,
            host_sel: 0,
            container_sel: 0,
            sync_sel: 0,
            log: None,
            next_stream: 1,
            help: false,
            input: None,
            flash: None,
            keymap,
            color: true,
            size: (80, 24),
            limits: LogLimits::default(),
            quit: false,
            actions: Default::default(),
        }
    }

    /// The latest observation of every host, in config order.
    pub fn latest_observations(&self) -> impl Iterator<Item = &HostObservation> {
        self.hosts.iter().map(|h| &h.seen)
    }

    pub fn selected_host(&self) -> Option<&HostPanel> {
        self.hosts.get(self.host_sel)
    }

    #[cfg(test)]
    pub fn selected_container(&self) -> Option<&crate::model::Container> {
        self.selected_host()?
            .seen
            .containers
            .get(self.container_sel)
    }

    /// Rows of log text the log pane shows, for paging and search jumps.
    pub fn log_height(&self) -> usize {
        crate::app::layout::log_rows(self)
    }
}
