//! Fleet actions in the console: the keys that start them, the
//! confirmation (a pure state machine, Cancel by default), one action per
//! target at a time, and the pane that shows an action's live output.
//! The work itself is `crate::actions`, shared with the headless commands.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;

use crate::key::{KeyCode, KeyEvent, KeyModifiers};

use crate::actions::Guard;
use crate::actions::{Action, Outcome, Status};
use crate::app::state::Model;
use crate::app::Effect;
use crate::keymap;
use crate::line_edit::Field;
use crate::model::SyncState;

/// Lines an action pane keeps; older ones are counted, not kept.
pub const PANE_LINES: usize = 2000;
/// The most a typed confirmation holds (host names are shorter).
pub const TYPED_MAX: usize = 64;
/// How long the console's kick waits for the run's outcome.
pub const KICK_WAIT_SECS: u64 = 30;

/// The confirmation overlay. Nothing runs until it says `Confirm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub action: Action,
    pub host: String,
    pub question: String,
    /// The host's name, when it must be typed (deploying the master).
    pub expect: Option<String>,
    pub typed: Field,
    /// Cancel is selected until the operator moves to Confirm.
    pub yes_selected: bool,
    /// An option the operator may switch with Tab (retire: also stop the
    /// slave's stack); off until switched.
    pub option: Option<Toggle>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toggle {
    pub label: &'static str,
    pub on: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Pending,
    Cancel,
    Confirm,
    /// The option was switched: the action and its question change.
    Toggled,
}

impl Confirm {
    pub fn key(&mut self, k: &KeyEvent) -> Answer {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match k.code {
            KeyCode::Esc => return Answer::Cancel,
            KeyCode::Char('c') if ctrl => return Answer::Cancel,
            _ => {}
        }
        if let Some(expect) = &self.expect {
            match k.code {
                KeyCode::Tab | KeyCode::BackTab if self.option.is_some() => {
                    if let Some(o) = self.option.as_mut() {
                        o.on = !o.on;
                    }
                    return Answer::Toggled;
                }
                KeyCode::Enter if self.typed.value() == expect => return Answer::Confirm,
                _ => {
                    self.typed.key(k);
                }
            }
            return Answer::Pending;
        }
        match k.code {
            KeyCode::Char('y') => Answer::Confirm,
            KeyCode::Char('n') => Answer::Cancel,
            KeyCode::Enter if self.yes_selected => Answer::Confirm,
            KeyCode::Enter => Answer::Cancel,
            KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                self.yes_selected = !self.yes_selected;
                Answer::Pending
            }
            _ => Answer::Pending,
        }
    }
}

/// An action's output and, once done, its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionPane {
    pub id: u64,
    pub title: String,
    pub lines: VecDeque<String>,
    pub dropped: usize,
    pub outcome: Option<Outcome>,
    /// Rows scrolled up from the newest line; 0 follows the output.
    pub scroll: usize,
}

impl ActionPane {
    pub fn new(id: u64, title: String) -> Self {
        Self {
            id,
            title,
            lines: VecDeque::new(),
            dropped: 0,
            outcome: None,
            scroll: 0,
        }
    }

    pub fn push(&mut self, line: String) {
        self.lines.push_back(line);
        // Scrolled back, the view stays on the lines being read.
        if self.scroll > 0 {
            self.scroll += 1;
        }
        while self.lines.len() > PANE_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.scroll = self.scroll.min(self.lines.len());
    }

    /// Moves the view `d` rows (negative: older) in a pane `rows` high;
    /// `i64::MIN / 2` goes to the oldest line, `i64::MAX / 2` back to
    /// following.
    pub fn scroll_by(&mut self, d: i64, rows: usize) {
        let most = self.lines.len().saturating_sub(rows) as i64;
        self.scroll = (self.scroll as i64).saturating_sub(d).clamp(0, most) as usize;
    }
}

/// The console's part of actions.
#[derive(Debug, Default)]
pub struct Actions {
    pub confirm: Option<Confirm>,
    pub pane: Option<ActionPane>,
    /// Running actions: id -> target (one action per target at a time).
    pub running: HashMap<u64, String>,
    pub next_id: u64,
    /// Syncs this console paused (kept in its state file): shown even
    /// after a daemon restart forgets the pause.
    pub paused: BTreeSet<String>,
    /// The checkout a deploy copies from.
    pub checkout: PathBuf,
    /// The config file changed under the console (a slave retired): it
    /// reloads once no action is running.
    pub reload: bool,
    /// Quit was asked while actions run: "wait, or leave it running on
    /// the host?" is up.
    pub quit_ask: bool,
    /// The operator chose to wait: the console quits once none runs.
    pub quit_when_idle: bool,
    /// The switchover or failover screen, while it is up.
    pub switchover: Option<Box<crate::app::switchover::Screen>>,
}

/// Keys while a confirmation or the action pane is up; `None` lets the
/// key through to the keymap.
pub fn intercept(m: &mut Model, k: &KeyEvent) -> Option<Vec<Effect>> {
    if let Some(c) = m.actions.confirm.as_mut() {
        let fx = match c.key(k) {
            Answer::Pending => Vec::new(),
            Answer::Cancel => {
                let c = m.actions.confirm.take().expect("checked above");
                m.flash = Some(format!(
                    "cancelled: {} {}",
                    c.action.name(),
                    c.action.args().join(" ")
                ));
                vec![Effect::AuditCancelled { action: c.action }]
            }
            Answer::Confirm => {
                let c = m.actions.confirm.take().expect("checked above");
                launch(m, c.action, &c.host, true)
            }
            Answer::Toggled => {
                toggled(m);
                Vec::new()
            }
        };
        return Some(fx);
    }
    if m.actions.pane.is_some() && k.code == KeyCode::Esc && m.input.is_none() && !m.help {
        m.actions.pane = None;
        if m.log.is_none() && m.focus == crate::app::Pane::Logs {
            m.focus = crate::app::Pane::Fleet;
        }
        return Some(Vec::new());
    }
    None
}

/// A fleet-action key: builds the action for what is selected, then asks
/// (or runs at once for kick and resume, and in read-only mode, where the
/// shared runner refuses it and logs the refusal).
pub fn start(m: &mut Model, a: keymap::Action) -> Vec<Effect> {
    let built = match a {
        keymap::Action::Restart | keymap::Action::StopStart => container_action(m, a),
        keymap::Action::Kick | keymap::Action::PauseResume | keymap::Action::Recover => {
            sync_action(m, a)
        }
        keymap::Action::Retire => retire_action(m),
        keymap::Action::Deploy => m
            .selected_host()
            .map(|h| Action::Deploy {
                host: h.seen.host.name.clone(),
                from: m.actions.checkout.clone(),
                // The plan first; its outcome opens the confirmation.
                plan_only: true,
                allow_empty: false,
            })
            .ok_or(PickError::NoHost),
        _ => return Vec::new(),
    };
    let action = match built {
        Ok(a) => a,
        Err(e) => {
            m.flash = Some(e.to_string());
            return Vec::new();
        }
    };
    let Ok(host) = action.resolve_host(&m.config) else {
        m.flash = Some("no such host in the config".into());
        return Vec::new();
    };
    if m.actions.running.values().any(|t| *t == action.target()) {
        m.flash = Some(format!(
            "{} {} is already running: one action per target",
            action.name(),
            action.args().join(" ")
        ));
        return Vec::new();
    }
    if m.read_only || !action.needs_confirmation() {
        return launch(m, action, &host.name, false);
    }
    ask(m, action, &host);
    Vec::new()
}

/// Opens the confirmation for `action` on `host`.
fn ask(m: &mut Model, action: Action, host: &crate::config::Host) {
    let option = matches!(action, Action::Retire { .. }).then_some(Toggle {
        label: "also stop its stack (docker compose down; volumes kept)",
        on: false,
    });
    m.actions.confirm = Some(Confirm {
        question: action.question(host),
        expect: action.type_to_confirm(host),
        host: host.name.clone(),
        action,
        typed: Field::new("", TYPED_MAX),
        yes_selected: false,
        option,
    });
}

/// The confirmation's option changed: so do its action and question.
fn toggled(m: &mut Model) {
    let Some(c) = m.actions.confirm.as_mut() else {
        return;
    };
    let on = c.option.as_ref().is_some_and(|o| o.on);
    if let Action::Retire { stop, .. } = &mut c.action {
        *stop = on;
    }
    if let Ok(h) = c.action.resolve_host(&m.config) {
        c.question = c.action.question(&h);
    }
}

/// Why a fleet-action key has nothing to act on; flashed as it reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PickError {
    #[error("no host selected")]
    NoHost,
    #[error("{0} is the master: only a slave can be retired")]
    Master(String),
    #[error("no container selected: pick one in the containers pane")]
    NoContainer,
    #[error("{0} is not a compose service")]
    NotAService(String),
    #[error("no sync to act on")]
    NoSync,
}

/// Retire: the selected host, which must be a slave.
fn retire_action(m: &Model) -> Result<Action, PickError> {
    let h = m.selected_host().ok_or(PickError::NoHost)?;
    if h.seen.host.role != crate::config::Role::Slave {
        return Err(PickError::Master(h.seen.host.name.clone()));
    }
    Ok(Action::Retire {
        name: h.seen.host.name.clone(),
        stop: false,
        config_path: m.config_path.clone(),
    })
}

/// The wizard key: leaves the fleet screen for the new-slave wizard,
/// unless the console may not change anything or an action still runs
/// (its pane would be lost).
pub fn new_slave(m: &mut Model) -> Vec<Effect> {
    if m.read_only {
        m.flash = Some("read-only mode: the new-slave wizard changes hosts; refused".into());
        return Vec::new();
    }
    if !m.actions.running.is_empty() {
        m.flash = Some("an action is running: wait for it before the wizard".into());
        return Vec::new();
    }
    vec![Effect::OpenWizard]
}

/// A retire changed the config file: reload it once nothing runs.
pub fn reload_when_idle(m: &mut Model) -> Vec<Effect> {
    if m.actions.reload && m.actions.running.is_empty() {
        m.actions.reload = false;
        return vec![Effect::Reload];
    }
    Vec::new()
}

fn container_action(m: &Model, a: keymap::Action) -> Result<Action, PickError> {
    let h = m.selected_host().ok_or(PickError::NoHost)?;
    let c = h
        .seen
        .containers
        .get(m.container_sel)
        .ok_or(PickError::NoContainer)?;
    if c.service.is_empty() {
        return Err(PickError::NotAService(c.name.clone()));
    }
    let (host, service) = (h.seen.host.name.clone(), c.service.clone());
    Ok(match a {
        keymap::Action::StopStart if c.state == "running" => Action::Stop { host, service },
        keymap::Action::StopStart => Action::Start { host, service },
        _ => Action::Restart { host, service },
    })
}

fn sync_action(m: &Model, a: keymap::Action) -> Result<Action, PickError> {
    let s = &m.syncs.get(m.sync_sel).ok_or(PickError::NoSync)?.status;
    let sync = s.name.clone();
    Ok(match a {
        keymap::Action::Kick => Action::Kick {
            sync,
            wait_secs: Some(KICK_WAIT_SECS),
        },
        keymap::Action::PauseResume
            if s.state == SyncState::Paused || m.actions.paused.contains(&sync) =>
        {
            Action::Resume { sync }
        }
        keymap::Action::PauseResume => Action::Pause { sync },
        _ => Action::Recover {
            sync,
            reload: false,
        },
    })
}

fn launch(m: &mut Model, action: Action, host: &str, confirmed: bool) -> Vec<Effect> {
    m.actions.next_id += 1;
    let id = m.actions.next_id;
    m.actions.running.insert(id, action.target());
    m.actions.pane = Some(ActionPane::new(
        id,
        format!("{} {} on {host}", action.name(), action.args().join(" ")),
    ));
    vec![Effect::RunAction {
        id,
        action,
        guard: Guard {
            read_only: m.read_only,
            confirmed,
        },
    }]
}

pub fn output(m: &mut Model, id: u64, line: String) {
    if let Some(p) = m.actions.pane.as_mut().filter(|p| p.id == id) {
        p.push(line);
    }
}

pub fn done(m: &mut Model, id: u64, action: &Action, outcome: Outcome) {
    m.actions.running.remove(&id);
    if outcome.status == Status::Ok {
        match action {
            Action::Retire { .. } => m.actions.reload = true,
            Action::Pause { sync } => {
                m.actions.paused.insert(sync.clone());
            }
            Action::Resume { sync } => {
                m.actions.paused.remove(sync);
            }
            _ => {}
        }
    }
    m.flash = Some(format!("{}: {}", outcome.status, outcome.message));
    let planned = outcome.status == Status::Ok;
    let shown = m.actions.pane.as_ref().is_some_and(|p| p.id == id);
    if let Some(p) = m.actions.pane.as_mut().filter(|p| p.id == id) {
        p.outcome = Some(outcome);
    }
    // A deploy's plan is on screen: now ask whether to carry it out.
    if let Action::Deploy {
        host,
        from,
        plan_only: true,
        allow_empty,
    } = action
    {
        let deploy = Action::Deploy {
            host: host.clone(),
            from: from.clone(),
            plan_only: false,
            allow_empty: *allow_empty,
        };
        if planned && shown && !m.read_only && m.actions.confirm.is_none() {
            if let Ok(h) = deploy.resolve_host(&m.config) {
                ask(m, deploy, &h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures::*;
    use crate::app::{update, Msg};

    fn press(m: &mut Model, k: KeyCode) -> Vec<Effect> {
        update(m, Msg::Key(KeyEvent::from(k)))
    }

    fn typed(m: &mut Model, s: &str) {
        for c in s.chars() {
            press(m, KeyCode::Char(c));
        }
    }

    /// jukebox selected, its containers focused, the first (app) selected.
    fn on_jukebox_app() -> Model {
        let mut m = healthy();
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Tab);
        m
    }

    #[test]
    fn restart_asks_naming_host_and_container_and_defaults_to_cancel() {
        let mut m = on_jukebox_app();
        assert!(press(&mut m, KeyCode::Char('R')).is_empty());
        let c = m.actions.confirm.clone().expect("a confirmation");
        assert!(
            c.question.contains("jukebox") && c.question.contains("app"),
            "{}",
            c.question
        );
        assert!(!c.yes_selected);
        // Enter on the default choice cancels; nothing runs, the audit
        // log says so.
        assert!(matches!(
            &press(&mut m, KeyCode::Enter)[..],
            [Effect::AuditCancelled { .. }]
        ));
        assert!(m.actions.confirm.is_none());
        assert!(m.actions.pane.is_none());
        assert!(m.flash.as_deref().unwrap().starts_with("cancelled"));
        // Esc cancels too.
        press(&mut m, KeyCode::Char('R'));
        assert!(matches!(
            &press(&mut m, KeyCode::Esc)[..],
            [Effect::AuditCancelled { .. }]
        ));
        assert!(m.actions.confirm.is_none());
        // Moving to Confirm and selecting it runs it, confirmed.
        press(&mut m, KeyCode::Char('R'));
        press(&mut m, KeyCode::Right);
        let fx = press(&mut m, KeyCode::Enter);
        assert_eq!(
            fx,
            [Effect::RunAction {
                id: 1,
                action: Action::Restart {
                    host: "jukebox".into(),
                    service: "app".into()
                },
                guard: Guard {
                    read_only: false,
                    confirmed: true
                }
            }]
        );
        assert!(m.actions.pane.is_some());
        // One action per target: a second restart is refused while it runs.
        assert!(press(&mut m, KeyCode::Char('R')).is_empty());
        assert!(m.actions.confirm.is_none());
        assert!(m.flash.as_deref().unwrap().contains("already running"));
    }

    /// A restart of jukebox's app confirmed and running; its id and action.
    fn running_restart(m: &mut Model) -> (u64, Action) {
        press(m, KeyCode::Char('R'));
        let fx = press(m, KeyCode::Char('y'));
        let Effect::RunAction { id, action, .. } = fx[0].clone() else {
            panic!("{fx:?}")
        };
        (id, action)
    }

    #[test]
    fn quit_while_an_action_runs_asks_and_leaving_audits_it() {
        let mut m = on_jukebox_app();
        running_restart(&mut m);
        assert!(press(&mut m, KeyCode::Char('q')).is_empty(), "asks first");
        assert!(m.actions.quit_ask && !m.quit);
        // Other keys do nothing while it asks; Esc stays.
        assert!(press(&mut m, KeyCode::Char('R')).is_empty());
        assert!(m.actions.confirm.is_none());
        press(&mut m, KeyCode::Esc);
        assert!(!m.actions.quit_ask && !m.quit);
        press(&mut m, KeyCode::Char('q'));
        let fx = press(&mut m, KeyCode::Char('l'));
        assert_eq!(fx.first(), Some(&Effect::LeaveRunning), "{fx:?}");
        assert_eq!(fx.last(), Some(&Effect::Quit), "{fx:?}");
        assert!(m.quit);
    }

    #[test]
    fn quit_choosing_wait_quits_once_the_action_ends() {
        let mut m = on_jukebox_app();
        let (id, action) = running_restart(&mut m);
        press(&mut m, KeyCode::Char('q'));
        assert!(press(&mut m, KeyCode::Char('w')).is_empty());
        assert!(!m.quit && m.actions.quit_when_idle);
        let fx = update(
            &mut m,
            Msg::ActionDone {
                id,
                action,
                outcome: Outcome::ok("restarted"),
            },
        );
        assert_eq!(fx.last(), Some(&Effect::Quit), "{fx:?}");
        assert!(!fx.contains(&Effect::LeaveRunning), "{fx:?}");
        assert!(m.quit);
    }

    #[test]
    fn quit_with_nothing_running_quits_at_once() {
        let mut m = on_jukebox_app();
        let fx = press(&mut m, KeyCode::Char('q'));
        assert_eq!(fx.last(), Some(&Effect::Quit));
        assert!(m.quit && !m.actions.quit_ask);
    }

    #[test]
    fn output_and_outcome_reach_the_pane() {
        let mut m = on_jukebox_app();
        press(&mut m, KeyCode::Char('R'));
        let fx = press(&mut m, KeyCode::Char('y'));
        let Effect::RunAction { id, action, .. } = fx[0].clone() else {
            panic!("{fx:?}")
        };
        update(
            &mut m,
            Msg::ActionOutput {
                id,
                line: "one".into(),
            },
        );
        update(
            &mut m,
            Msg::ActionOutput {
                id: id + 7,
                line: "other".into(),
            },
        );
        update(
            &mut m,
            Msg::ActionDone {
                id,
                action,
                outcome: Outcome::ok("restarted"),
            },
        );
        let p = m.actions.pane.as_ref().unwrap();
        assert_eq!(p.lines, ["one"]);
        assert_eq!(p.outcome.as_ref().unwrap().status, Status::Ok);
        assert!(m.actions.running.is_empty());
        press(&mut m, KeyCode::Esc);
        assert!(m.actions.pane.is_none());
    }

    #[test]
    fn deploying_the_master_needs_its_name_typed() {
        let mut m = healthy();
        // The plan runs first, unasked; its outcome opens the confirmation.
        let fx = press(&mut m, KeyCode::Char('D'));
        let Effect::RunAction { id, action, .. } = fx[0].clone() else {
            panic!("{fx:?}")
        };
        assert!(matches!(
            action,
            Action::Deploy {
                plan_only: true,
                ..
            }
        ));
        assert!(m.actions.confirm.is_none());
        update(
            &mut m,
            Msg::ActionDone {
                id,
                action,
                outcome: Outcome::ok("plan shown"),
            },
        );
        let c = m.actions.confirm.clone().unwrap();
        assert_eq!(c.expect.as_deref(), Some("cavaforgepad"));
        assert!(
            press(&mut m, KeyCode::Char('y')).is_empty(),
            "y is just a letter here"
        );
        assert!(press(&mut m, KeyCode::Enter).is_empty());
        assert!(m.actions.confirm.is_some());
        press(&mut m, KeyCode::Backspace);
        typed(&mut m, "cavaforgepad");
        let fx = press(&mut m, KeyCode::Enter);
        assert!(
            matches!(&fx[..], [Effect::RunAction { action: Action::Deploy { host, .. }, .. }] if host == "cavaforgepad")
        );
    }

    #[test]
    fn a_typed_name_edits_at_its_cursor() {
        let mut m = healthy();
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Char('X'));
        typed(&mut m, "jukbox");
        assert!(press(&mut m, KeyCode::Enter).is_empty(), "not the name yet");
        for _ in 0..3 {
            press(&mut m, KeyCode::Left);
        }
        typed(&mut m, "e");
        let c = m.actions.confirm.clone().expect("still asking");
        assert_eq!((c.typed.value(), c.typed.cursor()), ("jukebox", 4));
        // Word delete and Home/End are edits, never answers.
        update(
            &mut m,
            Msg::Key(KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL)),
        );
        press(&mut m, KeyCode::End);
        assert_eq!(m.actions.confirm.clone().unwrap().typed.value(), "box");
        press(&mut m, KeyCode::Home);
        typed(&mut m, "juke");
        let fx = press(&mut m, KeyCode::Enter);
        assert!(
            matches!(&fx[..], [Effect::RunAction { action: Action::Retire { name, .. }, guard, .. }] if name == "jukebox" && guard.confirmed),
            "{fx:?}"
        );
    }

    #[test]
    fn read_only_runs_nothing_unasked_and_lets_the_runner_refuse() {
        let mut m = on_jukebox_app();
        m.read_only = true;
        let fx = press(&mut m, KeyCode::Char('R'));
        assert!(m.actions.confirm.is_none());
        assert!(matches!(
            &fx[..],
            [Effect::RunAction {
                guard: Guard {
                    read_only: true,
                    confirmed: false
                },
                ..
            }]
        ));
    }

    #[test]
    fn kick_runs_at_once_and_pause_toggles_to_resume() {
        let mut m = healthy();
        let fx = press(&mut m, KeyCode::Char('K'));
        assert!(matches!(
            &fx[..],
            [Effect::RunAction {
                action: Action::Kick {
                    wait_secs: Some(30),
                    ..
                },
                ..
            }]
        ));
        // The sync is busy while the kick runs.
        assert!(press(&mut m, KeyCode::Char('P')).is_empty());
        assert!(m.actions.confirm.is_none());
        let Effect::RunAction { id, action, .. } = fx[0].clone() else {
            panic!()
        };
        update(
            &mut m,
            Msg::ActionDone {
                id,
                action,
                outcome: Outcome::ok("ran"),
            },
        );
        let fx = press(&mut m, KeyCode::Char('P'));
        assert!(fx.is_empty(), "pause asks");
        let fx = press(&mut m, KeyCode::Char('y'));
        let Effect::RunAction { id, action, .. } = fx[0].clone() else {
            panic!()
        };
        assert!(matches!(action, Action::Pause { .. }));
        update(
            &mut m,
            Msg::ActionDone {
                id,
                action,
                outcome: Outcome::ok("paused"),
            },
        );
        assert!(m.actions.paused.contains("archive_jukebox"));
        let fx = press(&mut m, KeyCode::Char('P'));
        assert!(matches!(
            &fx[..],
            [Effect::RunAction {
                action: Action::Resume { .. },
                ..
            }]
        ));
    }

    #[test]
    fn retire_asks_for_the_slaves_name_with_stop_off_until_tab() {
        let mut m = healthy();
        m.config_path = "/cfg.toml".into();
        // The master cannot be retired.
        assert!(press(&mut m, KeyCode::Char('X')).is_empty());
        assert!(m.actions.confirm.is_none());
        assert!(m.flash.as_deref().unwrap_or("").contains("master"));
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Char('X'));
        let c = m.actions.confirm.clone().expect("a confirmation");
        assert_eq!(c.expect.as_deref(), Some("jukebox"));
        assert!(!c.question.contains("stop its stack"), "{}", c.question);
        press(&mut m, KeyCode::Tab);
        let c = m.actions.confirm.clone().unwrap();
        assert!(c.option.as_ref().unwrap().on);
        assert!(c.question.contains("stop its stack"), "{}", c.question);
        // y is a letter of the name here, not a yes.
        assert!(press(&mut m, KeyCode::Char('y')).is_empty());
        press(&mut m, KeyCode::Backspace);
        assert!(press(&mut m, KeyCode::Enter).is_empty(), "empty name");
        typed(&mut m, "jukebox");
        let fx = press(&mut m, KeyCode::Enter);
        let want = Action::Retire {
            name: "jukebox".into(),
            stop: true,
            config_path: "/cfg.toml".into(),
        };
        assert!(
            matches!(&fx[..], [Effect::RunAction { action, guard, .. }] if *action == want && guard.confirmed),
            "{fx:?}"
        );
        // Done: the console reloads its config once nothing else runs.
        let id = m.actions.next_id;
        let fx = update(
            &mut m,
            Msg::ActionDone {
                id,
                action: want,
                outcome: Outcome::ok("retired jukebox"),
            },
        );
        assert_eq!(fx, [Effect::Reload]);
    }

    #[test]
    fn the_wizard_key_leaves_for_the_wizard_unless_read_only_or_busy() {
        let mut m = healthy();
        assert_eq!(press(&mut m, KeyCode::Char('W')), [Effect::OpenWizard]);
        m.actions.running.insert(7, "sync-x".into());
        assert!(press(&mut m, KeyCode::Char('W')).is_empty());
        assert!(m.flash.as_deref().unwrap_or("").contains("running"));
        m.actions.running.clear();
        m.read_only = true;
        assert!(press(&mut m, KeyCode::Char('W')).is_empty());
        assert!(m.flash.as_deref().unwrap_or("").contains("read-only"));
    }

    #[test]
    fn ctrl_r_reloads_the_config_now_or_when_the_running_action_ends() {
        let mut m = healthy();
        let ctrl_r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert_eq!(update(&mut m, Msg::Key(ctrl_r)), [Effect::Reload]);
        m.actions.running.insert(3, "sync-x".into());
        assert!(update(&mut m, Msg::Key(ctrl_r)).is_empty());
        let fx = update(
            &mut m,
            Msg::ActionDone {
                id: 3,
                action: Action::Reload {
                    slave: "jukebox".into(),
                },
                outcome: Outcome::ok("reloaded"),
            },
        );
        assert_eq!(fx, [Effect::Reload]);
    }

    #[test]
    fn the_action_pane_scrolls_back_and_holds_its_place_while_output_comes() {
        let mut m = on_jukebox_app();
        press(&mut m, KeyCode::Char('R'));
        press(&mut m, KeyCode::Char('y'));
        let id = m.actions.pane.as_ref().expect("the action's pane").id;
        for i in 0..100 {
            update(
                &mut m,
                Msg::ActionOutput {
                    id,
                    line: format!("line {i}"),
                },
            );
        }
        // Tab reaches the pane (where the log pane is), PgUp goes back.
        while m.focus != crate::app::Pane::Logs {
            press(&mut m, KeyCode::Tab);
        }
        press(&mut m, KeyCode::PageUp);
        let back = m.actions.pane.as_ref().unwrap().scroll;
        assert!(back > 0);
        update(
            &mut m,
            Msg::ActionOutput {
                id,
                line: "new".into(),
            },
        );
        assert_eq!(
            m.actions.pane.as_ref().unwrap().scroll,
            back + 1,
            "the view holds"
        );
        press(&mut m, KeyCode::Home);
        let rows = m.log_height();
        assert_eq!(m.actions.pane.as_ref().unwrap().scroll, 101 - rows);
        press(&mut m, KeyCode::End);
        assert_eq!(
            m.actions.pane.as_ref().unwrap().scroll,
            0,
            "End follows again"
        );
        // Esc closes the pane; with no log pane the focus moves off it.
        press(&mut m, KeyCode::Esc);
        assert!(m.actions.pane.is_none());
        assert_eq!(m.focus, crate::app::Pane::Fleet);
    }

    #[test]
    fn destructive_keys_are_not_navigation_keys() {
        let km = keymap::Keymap::default();
        let nav = [
            keymap::Action::Up,
            keymap::Action::Down,
            keymap::Action::Open,
            keymap::Action::Back,
            keymap::Action::NextPane,
            keymap::Action::PrevPane,
        ];
        for a in [
            keymap::Action::Restart,
            keymap::Action::StopStart,
            keymap::Action::PauseResume,
            keymap::Action::Recover,
            keymap::Action::Deploy,
            keymap::Action::NewSlave,
            keymap::Action::Retire,
            keymap::Action::Switchover,
            keymap::Action::Failover,
        ] {
            for k in km.keys(a) {
                for n in nav {
                    assert!(!km.keys(n).contains(k), "{a:?} shares {k} with {n:?}");
                }
                let s = k.to_string();
                assert!(s.chars().all(|c| c.is_ascii_uppercase()), "{a:?}: {s}");
            }
        }
    }
}
