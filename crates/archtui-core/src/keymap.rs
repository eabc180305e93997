//! The keymap is data: every action has a name (used in the config's
//! `[keys]` table), a description and its keys. The help overlay and the
//! hint bar are generated from the live map.

use std::collections::HashMap;
use std::fmt;

use crate::key::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    NextPane,
    PrevPane,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    AddToLog,
    HostLogs,
    Follow,
    Wrap,
    Timestamps,
    Search,
    NextMatch,
    PrevMatch,
    Filter,
    Restart,
    StopStart,
    Kick,
    PauseResume,
    Recover,
    Deploy,
    NewSlave,
    Retire,
    Verify,
    Switchover,
    Failover,
    ReloadConfig,
}

/// Where an action's keys work. A fleet-pane action may share a key with
/// an action of elsewhere: `S` is stop/start in the other panes and the
/// switchover on a slave's row, where no container is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Everywhere,
    FleetPane,
}

/// Name, description and default keys of every action, in help order.
pub const ACTIONS: &[(Action, &str, &str, &[&str])] = &[
    (Action::Quit, "quit", "quit", &["q", "ctrl-c"]),
    (Action::Help, "help", "help", &["?"]),
    (Action::NextPane, "next_pane", "next pane", &["tab"]),
    (Action::PrevPane, "prev_pane", "previous pane", &["backtab"]),
    (Action::Up, "up", "up", &["up", "k"]),
    (Action::Down, "down", "down", &["down", "j"]),
    (Action::PageUp, "page_up", "page up", &["pageup", "ctrl-b"]),
    (
        Action::PageDown,
        "page_down",
        "page down",
        &["pagedown", "ctrl-f"],
    ),
    (Action::Top, "top", "first / oldest", &["home", "g"]),
    (Action::Bottom, "bottom", "last / newest", &["end", "G"]),
    (
        Action::Open,
        "open",
        "drill in / tail logs",
        &["enter", "l", "right"],
    ),
    (Action::Back, "back", "back", &["esc", "h", "left"]),
    (
        Action::AddToLog,
        "add_to_log",
        "add container to log pane",
        &["a"],
    ),
    (
        Action::HostLogs,
        "host_logs",
        "tail all of host's containers",
        &["L"],
    ),
    (
        Action::Follow,
        "follow",
        "follow / pause logs",
        &["f", "space"],
    ),
    (Action::Wrap, "wrap", "wrap long lines", &["w"]),
    (Action::Timestamps, "timestamps", "show timestamps", &["t"]),
    (Action::Search, "search", "search logs", &["/"]),
    (
        Action::NextMatch,
        "next_match",
        "next (older) match",
        &["n"],
    ),
    (
        Action::PrevMatch,
        "prev_match",
        "previous (newer) match",
        &["N"],
    ),
    (Action::Filter, "filter", "show only matching lines", &["&"]),
    // Fleet actions: capitals, none next to a navigation key; each asks.
    (Action::Restart, "restart", "restart container", &["R"]),
    (
        Action::StopStart,
        "stop_start",
        "stop / start container",
        &["S"],
    ),
    (Action::Kick, "kick", "kick sync and wait", &["K"]),
    (
        Action::PauseResume,
        "pause_resume",
        "pause / resume sync",
        &["P"],
    ),
    (Action::Recover, "recover", "recover stalled sync", &["V"]),
    (Action::Deploy, "deploy", "deploy stack to host", &["D"]),
    (Action::NewSlave, "new_slave", "new-slave wizard", &["W"]),
    (
        Action::Retire,
        "retire",
        "retire the selected slave",
        &["X"],
    ),
    (
        Action::Verify,
        "verify",
        "verify the selected slave's rows",
        &["C"],
    ),
    (
        Action::Switchover,
        "switchover",
        "switch over to this slave",
        &["S"],
    ),
    (
        Action::Failover,
        "failover",
        "fail over to this slave",
        &["F"],
    ),
    (
        Action::ReloadConfig,
        "reload_config",
        "reload the config file",
        &["ctrl-r"],
    ),
];

impl Action {
    pub fn name(self) -> &'static str {
        ACTIONS.iter().find(|a| a.0 == self).map_or("?", |a| a.1)
    }
    pub fn description(self) -> &'static str {
        ACTIONS.iter().find(|a| a.0 == self).map_or("?", |a| a.2)
    }
    pub fn from_name(name: &str) -> Option<Action> {
        ACTIONS.iter().find(|a| a.1 == name).map(|a| a.0)
    }
    pub fn scope(self) -> Scope {
        match self {
            Action::Switchover | Action::Failover => Scope::FleetPane,
            _ => Scope::Everywhere,
        }
    }
}

/// Whether a key `user` gave to an action of scope `user` takes it from
/// the default keys of an action of scope `other`: within one scope, and
/// from the fleet pane's, whose keys would hide it there.
fn takes_from(user: Scope, other: Scope) -> bool {
    user == other || other == Scope::FleetPane
}

/// One key with its modifiers, as the config spells it (`ctrl-c`, `G`, `f5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

/// A key name or a `[keys]` table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A space or a control character given as itself.
    #[error("key {0:?}: use a name (space, tab, ...)")]
    Unnamed(String),
    #[error("unknown key {0:?}: use a character, ctrl-/alt- plus a key, f1..f12, or one of enter esc tab backtab space up down left right pageup pagedown home end backspace delete")]
    Unknown(String),
    /// The user gave one key to two actions.
    #[error("key {key} is given to both {first} and {second}")]
    Twice {
        key: Key,
        first: &'static str,
        second: &'static str,
    },
}

impl From<KeyError> for String {
    fn from(e: KeyError) -> String {
        e.to_string()
    }
}

impl Key {
    pub fn parse(s: &str) -> Result<Key, KeyError> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            f if f.len() > 1
                && f.starts_with('f')
                && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
            {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            c if c.chars().count() == 1 => {
                let ch = c.chars().next().unwrap_or(' ');
                if ch.is_control() || ch == ' ' {
                    return Err(KeyError::Unnamed(s.to_string()));
                }
                KeyCode::Char(ch)
            }
            _ => return Err(KeyError::Unknown(s.to_string())),
        };
        Ok(Key { code, ctrl, alt })
    }

    pub fn from_event(e: &KeyEvent) -> Key {
        // Shift is in the character itself (`G`, `?`), and terminals
        // report shift-tab as BackTab: only ctrl and alt are kept.
        let code = e.code;
        Key {
            code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
            alt: e.modifiers.contains(KeyModifiers::ALT),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("^")?;
        }
        if self.alt {
            f.write_str("M-")?;
        }
        match self.code {
            KeyCode::Enter => f.write_str("⏎"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("S-Tab"),
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Backspace => f.write_str("BS"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::Char(c) if self.ctrl => write!(f, "{}", c.to_ascii_uppercase()),
            KeyCode::Char(c) => write!(f, "{c}"),
            _ => f.write_str("?"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    by_key: HashMap<Key, Action>,
    /// The fleet pane's own keys, looked up there before `by_key`.
    fleet: HashMap<Key, Action>,
    /// Keys of each action, in the order given.
    keys: Vec<(Action, Vec<Key>)>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::with_overrides(&[]).expect("default keymap is valid")
    }
}

impl Keymap {
    /// Defaults, with some actions' keys replaced. A key the user gives to
    /// one action is taken away from the default of another; a key given
    /// to two actions (of one scope) by the user is an error.
    pub fn with_overrides(overrides: &[(Action, Vec<Key>)]) -> Result<Keymap, KeyError> {
        let mut user: HashMap<(Scope, Key), Action> = HashMap::new();
        for (action, keys) in overrides {
            for k in keys {
                if let Some(other) = user.insert((action.scope(), *k), *action) {
                    if other != *action {
                        return Err(KeyError::Twice {
                            key: *k,
                            first: other.name(),
                            second: action.name(),
                        });
                    }
                }
            }
        }
        let mut keys = Vec::new();
        for (action, _, _, defaults) in ACTIONS {
            let list = match overrides.iter().find(|(a, _)| a == action) {
                Some((_, k)) => k.clone(),
                None => defaults
                    .iter()
                    .map(|d| Key::parse(d).expect("default keys parse"))
                    .filter(|k| {
                        !user
                            .keys()
                            .any(|(s, u)| u == k && takes_from(*s, action.scope()))
                    })
                    .collect(),
            };
            keys.push((*action, list));
        }
        let of = |scope: Scope| {
            keys.iter()
                .filter(|(a, _)| a.scope() == scope)
                .flat_map(|(a, ks)| ks.iter().map(move |k| (*k, *a)))
                .collect::<HashMap<_, _>>()
        };
        Ok(Keymap {
            by_key: of(Scope::Everywhere),
            fleet: of(Scope::FleetPane),
            keys,
        })
    }

    /// The action of `e` outside the fleet pane; a fleet-pane action
    /// comes back only for a key no other action has, so its key can say
    /// where it works.
    pub fn action(&self, e: &KeyEvent) -> Option<Action> {
        let k = Key::from_event(e);
        self.by_key.get(&k).or_else(|| self.fleet.get(&k)).copied()
    }

    /// The action of `e` on the fleet pane: its own keys first.
    pub fn fleet_action(&self, e: &KeyEvent) -> Option<Action> {
        let k = Key::from_event(e);
        self.fleet.get(&k).or_else(|| self.by_key.get(&k)).copied()
    }

    pub fn keys(&self, action: Action) -> &[Key] {
        self.keys
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(&[], |(_, k)| k.as_slice())
    }

    /// The first key of an action, as the hint bar shows it.
    pub fn hint(&self, action: Action) -> Option<String> {
        self.keys(action).first().map(Key::to_string)
    }

    /// Every action with all its keys, in help order.
    pub fn entries(&self) -> impl Iterator<Item = (Action, &[Key])> {
        self.keys.iter().map(|(a, k)| (*a, k.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn defaults() {
        let k = Keymap::default();
        assert_eq!(
            k.action(&ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        // Shifted letters arrive as the upper-case char with SHIFT.
        assert_eq!(
            k.action(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            k.action(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(k.action(&ev(KeyCode::Char('x'), KeyModifiers::NONE)), None);
    }

    #[test]
    fn every_default_key_is_unique_in_its_scope() {
        let mut seen = std::collections::HashSet::new();
        for (a, _, _, keys) in ACTIONS {
            for k in *keys {
                let key = Key::parse(k).unwrap();
                assert!(seen.insert((a.scope(), key)), "{k} bound twice");
            }
        }
    }

    #[test]
    fn the_fleet_panes_keys_come_first_there_only() {
        let k = Keymap::default();
        let s = ev(KeyCode::Char('S'), KeyModifiers::SHIFT);
        let f = ev(KeyCode::Char('F'), KeyModifiers::SHIFT);
        assert_eq!(k.fleet_action(&s), Some(Action::Switchover));
        assert_eq!(k.action(&s), Some(Action::StopStart));
        assert_eq!(k.fleet_action(&f), Some(Action::Failover));
        // No other action has F: it says where it works.
        assert_eq!(k.action(&f), Some(Action::Failover));
        let q = ev(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(k.fleet_action(&q), Some(Action::Quit));
    }

    #[test]
    fn a_users_key_takes_a_fleet_pane_default_that_would_hide_it() {
        let s = Key::parse("S").unwrap();
        // retire = "S": the switchover's default S would hide it on the
        // fleet pane, so it goes too.
        let k = Keymap::with_overrides(&[(Action::Retire, vec![s])]).unwrap();
        let e = ev(KeyCode::Char('S'), KeyModifiers::SHIFT);
        assert_eq!(k.fleet_action(&e), Some(Action::Retire));
        assert!(k.keys(Action::Switchover).is_empty());
        assert!(k.keys(Action::StopStart).is_empty());
        // switchover = "R": R stays restart outside the fleet pane.
        let r = Key::parse("R").unwrap();
        let k = Keymap::with_overrides(&[(Action::Switchover, vec![r])]).unwrap();
        let e = ev(KeyCode::Char('R'), KeyModifiers::SHIFT);
        assert_eq!(k.fleet_action(&e), Some(Action::Switchover));
        assert_eq!(k.action(&e), Some(Action::Restart));
        // One key for two actions of different scopes is no conflict.
        let both =
            Keymap::with_overrides(&[(Action::StopStart, vec![s]), (Action::Switchover, vec![s])]);
        assert!(both.is_ok());
    }

    #[test]
    fn override_replaces_and_steals() {
        let k = Keymap::with_overrides(&[
            (Action::Quit, vec![Key::parse("x").unwrap()]),
            (Action::Follow, vec![Key::parse("q").unwrap()]),
        ])
        .unwrap();
        assert_eq!(
            k.action(&ev(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Follow)
        );
        assert_eq!(k.hint(Action::Quit).as_deref(), Some("x"));
        assert_eq!(k.hint(Action::Follow).as_deref(), Some("q"));
        // `f` lost its action along with the default list it came from.
        assert_eq!(k.action(&ev(KeyCode::Char('f'), KeyModifiers::NONE)), None);
    }

    #[test]
    fn user_conflict_is_an_error() {
        let x = Key::parse("x").unwrap();
        let e = Keymap::with_overrides(&[(Action::Quit, vec![x]), (Action::Help, vec![x])])
            .unwrap_err();
        assert_eq!(
            e,
            KeyError::Twice {
                key: x,
                first: "quit",
                second: "help"
            }
        );
        assert_eq!(e.to_string(), "key x is given to both quit and help");
    }

    #[test]
    fn key_names() {
        assert_eq!(Key::parse("ctrl-c").unwrap().to_string(), "^C");
        assert_eq!(Key::parse("f5").unwrap().code, KeyCode::F(5));
        assert_eq!(Key::parse("-").unwrap().code, KeyCode::Char('-'));
        assert!(Key::parse("ctrl-").is_err());
        assert!(Key::parse("hyper-x").is_err());
        assert!(Key::parse("f13").is_err());
    }
}
