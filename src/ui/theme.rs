//! Colours in one place, so NO_COLOR can take them all away and leave
//! only attributes (bold, dim, reverse).

use ratatui::style::{Color, Modifier, Style};

use archtui_core::model::{HostState, SyncState};
use archtui_core::verdict::Level;

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// The style as given, minus colours under NO_COLOR.
    pub fn paint(&self, s: Style) -> Style {
        if self.color {
            s
        } else {
            Style {
                fg: None,
                bg: None,
                underline_color: None,
                ..s
            }
        }
    }

    pub fn fg(&self, c: Color) -> Style {
        self.paint(Style::default().fg(c))
    }

    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.paint(
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            )
        } else {
            self.fg(Color::DarkGray)
        }
    }

    pub fn selected(&self, focused: bool) -> Style {
        if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    pub fn stale(&self) -> Style {
        self.paint(
            Style::default()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::DIM),
        )
    }

    pub fn host_state(&self, s: HostState) -> Style {
        self.fg(match s {
            HostState::Up => Color::Green,
            HostState::Connecting => Color::Yellow,
            HostState::DockerUnavailable | HostState::DatabaseUnavailable => Color::Yellow,
            _ => Color::Red,
        })
    }

    pub fn sync_state(&self, s: SyncState) -> Style {
        let style = self.fg(match s {
            SyncState::Good | SyncState::Empty => Color::Green,
            SyncState::Running => Color::Cyan,
            SyncState::Paused | SyncState::NeverRun | SyncState::DaemonStarting => Color::Yellow,
            SyncState::Unknown => Color::DarkGray,
            SyncState::Bad
            | SyncState::Stalled
            | SyncState::Inactive
            | SyncState::Dropped
            | SyncState::DaemonDown => Color::Red,
        });
        match s {
            SyncState::Good | SyncState::Empty | SyncState::Running => style,
            _ => style.add_modifier(Modifier::BOLD),
        }
    }

    pub fn container_state(&self, state: &str, health: Option<&str>) -> Style {
        self.fg(match (state, health) {
            ("running", Some("unhealthy")) => Color::Red,
            ("running", Some("starting")) => Color::Yellow,
            ("running", _) => Color::Green,
            ("restarting" | "paused" | "created", _) => Color::Yellow,
            _ => Color::Red,
        })
    }

    pub fn level(&self, l: Level) -> Style {
        let c = match l {
            Level::Ok => Color::Green,
            Level::Warning => Color::Yellow,
            Level::Critical => Color::Red,
            Level::Unknown => Color::Magenta,
        };
        self.fg(c).add_modifier(Modifier::BOLD)
    }

    /// Lag colour against the configured thresholds.
    pub fn lag(&self, secs: f64, warning: f64, critical: f64) -> Style {
        self.fg(if secs >= critical {
            Color::Red
        } else if secs >= warning {
            Color::Yellow
        } else {
            Color::Green
        })
    }

    /// A stable colour per log source, so prefixes tell sources apart.
    pub fn source(&self, i: u16) -> Style {
        const PALETTE: [Color; 6] = [
            Color::Cyan,
            Color::Magenta,
            Color::Yellow,
            Color::Green,
            Color::Blue,
            Color::LightRed,
        ];
        self.fg(PALETTE[i as usize % PALETTE.len()])
    }

    /// The "+N new" badge of a paused log pane.
    pub fn badge(&self) -> Style {
        if self.color {
            Style::default().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn search_hit(&self, current: bool) -> Style {
        let s = if current {
            Style::default().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::default().fg(Color::Black).bg(Color::LightBlue)
        };
        // Without colour a reversed span still shows the match.
        if self.color {
            s
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }
}
