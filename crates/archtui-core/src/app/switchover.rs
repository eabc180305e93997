//! The console's switchover and failover screen: a pure state machine
//! over one run of the flow that `archtui switchover` and `archtui
//! failover` run headless. Its lines stream in (the pre-checks, or the
//! journal of a run to resume, then the plan); nothing changes until the
//! candidate's name is typed; then the steps' lines, and the outcome.
//! Closing it after the steps reloads the config, whose roles they swap.

use std::collections::VecDeque;

use ratatui_core::layout::{Constraint, Layout, Rect};
use unicode_width::UnicodeWidthChar;

use crate::actions::Outcome;
use crate::app::actions::TYPED_MAX;
use crate::app::state::{Model, Pane};
use crate::app::Effect;
use crate::key::{KeyCode, KeyEvent, KeyModifiers};
use crate::keymap::Action;
use crate::line_edit::Field;
use crate::switchover::Kind;

/// Lines the screen keeps; older ones are counted, not kept.
pub const LINES: usize = 5000;

/// What a run reports to its screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line for the operator: a pre-check, the plan, a step.
    Line(String),
    /// A detail of the running step (its progress).
    Detail(String),
    /// Every pre-check passed and the plan is shown: the name is asked.
    Prepared,
    /// The run ended: refused before the name was asked, or the steps'
    /// outcome.
    Ended(Outcome),
}

/// What the screen asks the console to do with its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Start a run: its pre-checks (or the journal of one to resume) and
    /// its plan; it then waits for `Execute` or `Cancel`.
    Prepare {
        id: u64,
        kind: Kind,
        candidate: String,
        read_only: bool,
    },
    /// The name was typed: the steps run.
    Execute { id: u64 },
    /// Closed before the name was typed: the run is let go, nothing
    /// changed.
    Cancel { id: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The pre-checks (or the journal) and the plan are being read.
    Preparing,
    /// The run refused before asking (a FAIL pre-check, read-only mode,
    /// another run under way): only Esc closes.
    Refused(Outcome),
    /// The candidate's name is asked.
    Confirm(Field),
    /// The steps run; the screen stays until they end.
    Running,
    Done(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Pass,
    Fail,
    /// A step's title or its result.
    Step,
    Detail,
}

/// One line as shown: sanitized when it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub tone: Tone,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub id: u64,
    pub kind: Kind,
    pub candidate: String,
    pub lines: VecDeque<Shown>,
    pub dropped: usize,
    /// Rows scrolled up from the newest; 0 follows the run.
    pub scroll: usize,
    pub phase: Phase,
    /// Why the last key did not go on (a wrong name, Esc while running).
    pub note: Option<String>,
    /// The last step line (`[n/N] ...`): where the run is.
    pub step: Option<String>,
}

impl Screen {
    pub fn new(id: u64, kind: Kind, candidate: String) -> Screen {
        Screen {
            id,
            kind,
            candidate,
            lines: VecDeque::new(),
            dropped: 0,
            scroll: 0,
            phase: Phase::Preparing,
            note: None,
            step: None,
        }
    }

    /// "Switchover to NAME" / "Failover to NAME".
    pub fn title(&self) -> String {
        let what = match self.kind {
            Kind::Switchover => "Switchover",
            Kind::Failover => "Failover",
        };
        format!("{what} to {}", crate::sanitize::shown(&self.candidate))
    }

    /// The typed-name question, as the command line asks it.
    pub fn prompt(&self) -> String {
        format!(
            "Type the new master's name ({}) to {}:",
            crate::sanitize::shown(&self.candidate),
            match self.kind {
                Kind::Switchover => "switch over",
                Kind::Failover => "fail over",
            }
        )
    }

    /// Every line wrapped at `width` columns, oldest first.
    pub fn rows(&self, width: usize) -> Vec<Shown> {
        self.lines
            .iter()
            .flat_map(|l| {
                wrap(&l.text, width)
                    .into_iter()
                    .map(|text| Shown { tone: l.tone, text })
            })
            .collect()
    }

    /// Adds a line (sanitized here: it comes from the hosts); a view
    /// scrolled back holds its place.
    fn push(&mut self, tone: Tone, raw: &str, width: usize) {
        let text = crate::sanitize::shown(raw);
        if self.scroll > 0 {
            self.scroll += wrap(&text, width).len();
        }
        self.lines.push_back(Shown { tone, text });
        while self.lines.len() > LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
    }

    /// Moves the view `d` rows (negative: older) in a body `size` big;
    /// `i64::MIN / 2` goes to the oldest row, `i64::MAX / 2` back to
    /// following.
    fn scroll_by(&mut self, d: i64, (width, height): (usize, usize)) {
        let most = self.rows(width).len().saturating_sub(height) as i64;
        self.scroll = (self.scroll as i64).saturating_sub(d).clamp(0, most) as usize;
    }
}

/// Where the screen's parts go: the fleet's title bar above, the run's
/// lines, the prompt or state under them, the keys at the bottom. Pure
/// and shared: the view draws into these, `update` pages by `body`.
pub struct Areas {
    pub title: Rect,
    /// The lines' block, borders included.
    pub body: Rect,
    pub footer: Rect,
    pub hints: Rect,
}

/// Rows under the lines for the prompt (question, typed name, note) or
/// the outcome, wrapped.
pub const FOOTER_ROWS: u16 = 4;

pub fn areas(area: Rect) -> Areas {
    let [title, body, footer, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(FOOTER_ROWS),
        Constraint::Length(1),
    ])
    .areas(area);
    Areas {
        title,
        body,
        footer,
        hints,
    }
}

/// Columns and rows of text inside the lines' block at the model's size.
pub fn body_size(m: &Model) -> (usize, usize) {
    let b = areas(Rect::new(0, 0, m.size.0, m.size.1)).body;
    (
        usize::from(b.width.saturating_sub(2)).max(1),
        usize::from(b.height.saturating_sub(2)).max(1),
    )
}

/// `text` cut into rows of at most `width` columns (at least one row).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width && used > 0 {
            rows.push(String::new());
            used = 0;
        }
        if let Some(r) = rows.last_mut() {
            r.push(c);
        }
        used += w;
    }
    rows
}

fn tone_of(line: &str) -> Tone {
    let t = line.trim_start();
    if t.starts_with("PASS ") {
        Tone::Pass
    } else if t.starts_with("FAIL ") || t.starts_with("fix: ") {
        Tone::Fail
    } else if step_line(t) {
        Tone::Step
    } else {
        Tone::Plain
    }
}

/// `[n/N] ...`: a step's title or its result.
fn step_line(t: &str) -> bool {
    t.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .is_some_and(|(n, _)| {
            n.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
            })
        })
}

/// The switchover or failover key on the fleet pane: opens the screen
/// for the selected slave, or says why not.
pub fn open(m: &mut Model, kind: Kind) -> Vec<Effect> {
    let what = kind.name();
    if m.read_only {
        m.flash = Some(format!(
            "read-only mode: a {what} changes the fleet; refused"
        ));
        return Vec::new();
    }
    if m.focus != Pane::Fleet {
        m.flash = Some(format!("{what}: on the fleet pane, select a slave's row"));
        return Vec::new();
    }
    let Some(h) = m.selected_host() else {
        m.flash = Some("no host selected".into());
        return Vec::new();
    };
    let name = h.seen.host.name.clone();
    if h.seen.host.role != crate::config::Role::Slave {
        m.flash = Some(format!(
            "{name} is the master: select the slave that is to become the master for a {what}"
        ));
        return Vec::new();
    }
    if m.config.is_fenced(&name) {
        m.flash = Some(format!(
            "{name} is fenced (a failover replaced it): `archtui rejoin {name}` first"
        ));
        return Vec::new();
    }
    if !m.actions.running.is_empty() {
        m.flash = Some(format!(
            "an action is running: wait for it before the {what}"
        ));
        return Vec::new();
    }
    m.actions.next_id += 1;
    let id = m.actions.next_id;
    m.actions.switchover = Some(Box::new(Screen::new(id, kind, name.clone())));
    vec![Effect::Switchover(Request::Prepare {
        id,
        kind,
        candidate: name,
        read_only: m.read_only,
    })]
}

/// What the run of screen `id` reports.
pub fn event(m: &mut Model, id: u64, e: Event) -> Vec<Effect> {
    let size = body_size(m);
    let Some(s) = m.actions.switchover.as_mut().filter(|s| s.id == id) else {
        // The screen closed before the run's end: nothing shows it.
        m.actions.running.remove(&id);
        return Vec::new();
    };
    match e {
        Event::Line(l) => {
            let tone = tone_of(&l);
            if tone == Tone::Step {
                s.step = Some(crate::sanitize::shown(l.trim()));
            }
            s.push(tone, &l, size.0);
        }
        Event::Detail(l) => s.push(Tone::Detail, &format!("  | {l}"), size.0),
        Event::Prepared => {
            if s.phase == Phase::Preparing {
                s.phase = Phase::Confirm(Field::new("", TYPED_MAX));
            }
        }
        Event::Ended(o) => {
            s.phase = match s.phase {
                Phase::Running => Phase::Done(o),
                _ => Phase::Refused(o),
            };
            s.note = None;
            m.actions.running.remove(&id);
        }
    }
    Vec::new()
}

/// A key while the screen is up. `None`: the quit key, for the console
/// (which asks first while the steps run).
pub fn key(m: &mut Model, k: &KeyEvent) -> Option<Vec<Effect>> {
    let size = body_size(m);
    let page = size.1.max(2) as i64 - 1;
    let action = m.keymap.action(k);
    let s = m.actions.switchover.as_mut()?;
    // Arrows and pages scroll in every phase (Home/End edit a typed name).
    let d = match k.code {
        KeyCode::Up => Some(-1),
        KeyCode::Down => Some(1),
        KeyCode::PageUp => Some(-page),
        KeyCode::PageDown => Some(page),
        _ => None,
    };
    if let Some(d) = d {
        s.scroll_by(d, size);
        return Some(Vec::new());
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    if let Phase::Confirm(typed) = &mut s.phase {
        match k.code {
            KeyCode::Esc => return Some(close(m)),
            KeyCode::Char('c') if ctrl => return Some(close(m)),
            KeyCode::Enter if typed.value() == s.candidate => {
                s.phase = Phase::Running;
                s.note = None;
                s.scroll = 0;
                let id = s.id;
                m.actions
                    .running
                    .insert(id, format!("{} {}", s.kind.name(), s.candidate));
                return Some(vec![Effect::Switchover(Request::Execute { id })]);
            }
            KeyCode::Enter => {
                s.note = Some(format!(
                    "the name typed is not {}; nothing was changed",
                    crate::sanitize::shown(&s.candidate)
                ));
            }
            _ => {
                if typed.key(k) {
                    s.note = None;
                }
            }
        }
        return Some(Vec::new());
    }
    match action {
        Some(Action::Quit) => return None,
        Some(Action::Up) => s.scroll_by(-1, size),
        Some(Action::Down) => s.scroll_by(1, size),
        Some(Action::PageUp) => s.scroll_by(-page, size),
        Some(Action::PageDown) => s.scroll_by(page, size),
        Some(Action::Top) => s.scroll_by(i64::MIN / 2, size),
        Some(Action::Bottom) => s.scroll_by(i64::MAX / 2, size),
        _ if k.code == KeyCode::Esc => {
            if s.phase == Phase::Running {
                s.note = Some(format!(
                    "the {} is running: it cannot be closed until it ends; q asks whether to wait for it or leave it",
                    s.kind.name()
                ));
                return Some(Vec::new());
            }
            return Some(close(m));
        }
        _ => {}
    }
    Some(Vec::new())
}

/// Closes the screen: before the name, its run is let go (nothing
/// changed); after the steps, the config reloads with the roles they
/// wrote.
fn close(m: &mut Model) -> Vec<Effect> {
    let Some(s) = m.actions.switchover.take() else {
        return Vec::new();
    };
    let what = format!("{} to {}", s.kind.name(), s.candidate);
    match s.phase {
        Phase::Preparing | Phase::Confirm(_) => {
            m.flash = Some(format!("{what} cancelled: nothing was changed"));
            vec![Effect::Switchover(Request::Cancel { id: s.id })]
        }
        Phase::Refused(o) => {
            m.flash = Some(format!("{what} {}: {}", o.status, o.message));
            Vec::new()
        }
        Phase::Done(o) => {
            m.flash = Some(format!("{what}: {}: {}", o.status, o.message));
            m.actions.reload = true;
            crate::app::actions::reload_when_idle(m)
        }
        Phase::Running => {
            // Not reached: Esc is refused while the steps run.
            m.actions.switchover = Some(s);
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;
