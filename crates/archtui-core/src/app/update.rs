//! `update`: the only place the console's state changes.

use crate::key::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::logbuf::LogBuffer;
use crate::app::logview::{LogSource, LogView};
use crate::app::state::{Input, InputKind, Model, Pane, SyncPanel, LAG_HISTORY, PROMPT_MAX};
use crate::app::{Effect, Msg};
use crate::fleet;
use crate::keymap::Action;
use crate::line_edit::Field;
use crate::model::HostState;
use crate::observation::HostObservation;

pub fn update(m: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(k) if k.kind != KeyEventKind::Release => key(m, k),
        Msg::Key(_) => Vec::new(),
        Msg::Resize(w, h) => {
            m.size = (w, h);
            Vec::new()
        }
        Msg::Tick(now) => {
            m.now = now;
            Vec::new()
        }
        Msg::Observation(o) => {
            observe(m, *o);
            reassemble(m);
            Vec::new()
        }
        Msg::Observations(batch) => {
            let any = !batch.is_empty();
            for o in batch {
                observe(m, o);
            }
            if any {
                reassemble(m);
            }
            Vec::new()
        }
        Msg::LogLines { stream, lines } => {
            if let Some(v) = m.log.as_mut().filter(|v| v.stream == stream) {
                v.push(lines);
            }
            Vec::new()
        }
        Msg::VerifyDone { id, outcome } => {
            crate::app::verify::done(m, id, outcome);
            quit_when_idle(m).unwrap_or_else(|| crate::app::actions::reload_when_idle(m))
        }
        Msg::ActionOutput { id, line } => {
            crate::app::actions::output(m, id, line);
            Vec::new()
        }
        Msg::ActionDone {
            id,
            action,
            outcome,
        } => {
            crate::app::actions::done(m, id, &action, outcome);
            quit_when_idle(m).unwrap_or_else(|| crate::app::actions::reload_when_idle(m))
        }
        Msg::LogNote {
            stream,
            source,
            note,
        } => {
            if let Some(v) = m.log.as_mut().filter(|v| v.stream == stream) {
                if let Some(slot) = v.notes.get_mut(source as usize) {
                    *slot = note;
                }
            }
            Vec::new()
        }
        Msg::Switchover { id, event } => {
            let mut fx = crate::app::switchover::event(m, id, event);
            fx.extend(quit_when_idle(m).unwrap_or_default());
            fx
        }
    }
}

fn observe(m: &mut Model, mut o: HostObservation) {
    let Some(i) = m.hosts.iter().position(|h| h.seen.host.name == o.host.name) else {
        return;
    };
    let reached = matches!(
        o.state,
        HostState::Up | HostState::DockerUnavailable | HostState::DatabaseUnavailable
    );
    let docker_answered = matches!(o.state, HostState::Up | HostState::DatabaseUnavailable);
    let h = &mut m.hosts[i];
    if reached {
        h.last_heard = Some(o.observed_at);
    }
    if docker_answered {
        h.containers_at = Some(o.observed_at);
        h.containers_stale = false;
    } else {
        // Keep what was last seen, greyed with its age. The verdict reads
        // no containers of a host that is not up, so the fleet is the same.
        o.containers = std::mem::take(&mut h.seen.containers);
        h.containers_stale = h.containers_at.is_some();
    }
    h.seen = o;
    h.observed = true;
    m.container_sel = m
        .container_sel
        .min(m.hosts[m.host_sel].seen.containers.len().saturating_sub(1));
    if m.now < m.hosts[i].last_heard.unwrap_or(m.now) {
        m.now = m.hosts[i].last_heard.unwrap_or(m.now);
    }
}

/// Rebuilds syncs and verdict from the latest observation of every host
/// (after one observation, or after a batch of them).
fn reassemble(m: &mut Model) {
    let status = fleet::assemble(
        &m.config,
        m.config.thresholds,
        m.hosts.iter().map(|h| &h.seen),
        m.now,
    );
    m.verdict = Some(status.verdict);
    m.daemons = status.daemons;
    m.health = status.health;
    // Each sync says itself when its slave cannot be read (state unknown,
    // with the reason); the pane is stale only when none could be.
    m.syncs_stale = !status.syncs.is_empty()
        && status
            .syncs
            .iter()
            .all(|s| s.state == crate::model::SyncState::Unknown);
    m.syncs_at = status.syncs.iter().map(|s| s.observed_at).max();
    let mut panels = Vec::with_capacity(status.syncs.len());
    for s in status.syncs {
        let prev = m.syncs.iter_mut().find(|p| p.status.name == s.name);
        // One lag sample per read of the sync, not per observation.
        let fresh = prev
            .as_ref()
            .is_none_or(|p| p.status.observed_at != s.observed_at);
        let mut history = prev
            .map(|p| std::mem::take(&mut p.history))
            .unwrap_or_default();
        if fresh {
            if let Some(lag) = s.lag_seconds.or(s.heartbeat_lag_seconds) {
                history.push_back(lag);
                while history.len() > LAG_HISTORY {
                    history.pop_front();
                }
            }
        }
        panels.push(SyncPanel { status: s, history });
    }
    m.syncs = panels;
    m.sync_sel = m.sync_sel.min(m.syncs.len().saturating_sub(1));
}

fn key(m: &mut Model, k: KeyEvent) -> Vec<Effect> {
    m.flash = None;
    if m.actions.quit_ask {
        return quit_answer(m, k);
    }
    // The switchover screen has every key but quit.
    if m.actions.switchover.is_some() {
        return crate::app::switchover::key(m, &k).unwrap_or_else(|| quit(m));
    }
    if let Some(fx) = crate::app::actions::intercept(m, &k) {
        return fx;
    }
    if m.input.is_some() {
        return input_key(m, k);
    }
    let action = if m.focus == Pane::Fleet {
        m.keymap.fleet_action(&k)
    } else {
        m.keymap.action(&k)
    };
    if m.help {
        // Any key closes help; quit still quits.
        m.help = false;
        return if action == Some(Action::Quit) {
            quit(m)
        } else {
            Vec::new()
        };
    }
    match action {
        Some(a) => act(m, a),
        None => Vec::new(),
    }
}

fn input_key(m: &mut Model, k: KeyEvent) -> Vec<Effect> {
    let Some(input) = m.input.as_mut() else {
        return Vec::new();
    };
    if input.text.key(&k) {
        return Vec::new();
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Esc => m.input = None,
        KeyCode::Enter => {
            let Input { kind, text } = m.input.take().expect("checked above");
            let text = text.value().to_string();
            let height = m.log_height();
            if let Some(v) = m.log.as_mut() {
                match kind {
                    InputKind::Search => {
                        let empty = text.is_empty();
                        v.set_search(text, height);
                        if !empty && v.current_match.is_none() {
                            m.flash = Some("no match".into());
                        }
                    }
                    InputKind::Filter => v.set_filter(text),
                }
            }
        }
        KeyCode::Char('c') if ctrl => m.input = None,
        _ => {}
    }
    Vec::new()
}

/// Quits, or, while actions run, asks whether to wait for them or leave
/// them running on their hosts.
fn quit(m: &mut Model) -> Vec<Effect> {
    if !m.actions.running.is_empty() {
        m.actions.quit_ask = true;
        return Vec::new();
    }
    quit_now(m)
}

fn quit_now(m: &mut Model) -> Vec<Effect> {
    m.quit = true;
    m.actions.quit_ask = false;
    let mut fx = close_log(m);
    fx.push(Effect::Quit);
    fx
}

/// The answer to "wait, or leave it running on the host?".
fn quit_answer(m: &mut Model, k: KeyEvent) -> Vec<Effect> {
    match k.code {
        KeyCode::Char('w') | KeyCode::Enter => {
            m.actions.quit_ask = false;
            m.actions.quit_when_idle = true;
            m.flash = Some("quitting once the running action ends (q again to choose)".into());
            Vec::new()
        }
        KeyCode::Char('l') => {
            let mut fx = vec![Effect::LeaveRunning];
            fx.extend(quit_now(m));
            fx
        }
        KeyCode::Esc | KeyCode::Char('c') => {
            m.actions.quit_ask = false;
            m.actions.quit_when_idle = false;
            m.flash = Some("not quitting".into());
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// After an action ended: the quit the operator chose to wait for, once
/// none runs.
fn quit_when_idle(m: &mut Model) -> Option<Vec<Effect>> {
    (m.actions.quit_when_idle && m.actions.running.is_empty()).then(|| quit_now(m))
}

fn panes(m: &Model) -> Vec<Pane> {
    let mut p = vec![Pane::Fleet, Pane::Containers, Pane::Syncs];
    // The action pane, when shown, is where the log pane is.
    if m.log.is_some() || m.actions.pane.is_some() {
        p.push(Pane::Logs);
    }
    p
}

fn act(m: &mut Model, a: Action) -> Vec<Effect> {
    let height = m.log_height();
    match a {
        Action::Quit => return quit(m),
        Action::Help => m.help = true,
        Action::NextPane | Action::PrevPane => {
            let p = panes(m);
            let i = p.iter().position(|x| *x == m.focus).unwrap_or(0);
            let n = p.len();
            m.focus = p[if a == Action::NextPane {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            }];
        }
        Action::Up => move_sel(m, -1),
        Action::Down => move_sel(m, 1),
        Action::PageUp => move_sel(m, -(height.max(2) as i64 - 1)),
        Action::PageDown => move_sel(m, height.max(2) as i64 - 1),
        Action::Top => match (m.focus, m.log.as_mut()) {
            (Pane::Logs, Some(v)) if m.actions.pane.is_none() => v.top(height),
            _ => move_sel(m, i64::MIN / 2),
        },
        Action::Bottom => match (m.focus, m.log.as_mut()) {
            (Pane::Logs, Some(v)) if m.actions.pane.is_none() => v.resume(),
            _ => move_sel(m, i64::MAX / 2),
        },
        Action::Open => return open(m),
        Action::Back => match m.focus {
            Pane::Logs | Pane::Syncs => m.focus = Pane::Containers,
            Pane::Containers => m.focus = Pane::Fleet,
            Pane::Fleet => {}
        },
        Action::Restart
        | Action::StopStart
        | Action::Kick
        | Action::PauseResume
        | Action::Recover
        | Action::Deploy
        | Action::Retire => return crate::app::actions::start(m, a),
        Action::NewSlave => return crate::app::actions::new_slave(m),
        Action::Verify => return crate::app::verify::start(m),
        Action::Switchover => {
            return crate::app::switchover::open(m, crate::switchover::Kind::Switchover)
        }
        Action::Failover => {
            return crate::app::switchover::open(m, crate::switchover::Kind::Failover)
        }
        Action::ReloadConfig => {
            m.actions.reload = true;
            let fx = crate::app::actions::reload_when_idle(m);
            if fx.is_empty() {
                m.flash = Some("the config reloads when the running action ends".into());
            }
            return fx;
        }
        Action::AddToLog => return add_to_log(m),
        Action::HostLogs => return host_logs(m),
        Action::Follow => with_log(m, |v| v.toggle_follow()),
        Action::Wrap => with_log(m, |v| v.wrap = !v.wrap),
        Action::Timestamps => with_log(m, |v| v.timestamps = !v.timestamps),
        Action::Search | Action::Filter => {
            if let Some(v) = &m.log {
                let (kind, text) = if a == Action::Search {
                    (InputKind::Search, v.search.clone())
                } else {
                    (InputKind::Filter, v.filter.clone())
                };
                m.input = Some(Input {
                    kind,
                    text: Field::new(text.unwrap_or_default(), PROMPT_MAX),
                });
                m.focus = Pane::Logs;
            } else {
                m.flash = Some("no log pane open: ⏎ on a container".into());
            }
        }
        Action::NextMatch | Action::PrevMatch => {
            if let Some(v) = m.log.as_mut() {
                let found = if a == Action::NextMatch {
                    v.next_match(height)
                } else {
                    v.prev_match(height)
                };
                if !found {
                    m.flash = Some(match v.search {
                        Some(_) => "no more matches".into(),
                        None => "no search: press / first".into(),
                    });
                }
            }
        }
    }
    Vec::new()
}

fn with_log(m: &mut Model, f: impl FnOnce(&mut LogView)) {
    match m.log.as_mut() {
        Some(v) => f(v),
        None => m.flash = Some("no log pane open: ⏎ on a container".into()),
    }
}

fn move_sel(m: &mut Model, d: i64) {
    fn step(sel: &mut usize, len: usize, d: i64) -> bool {
        let new = (*sel as i64)
            .saturating_add(d)
            .clamp(0, len.saturating_sub(1) as i64) as usize;
        let moved = new != *sel;
        *sel = new;
        moved
    }
    match m.focus {
        Pane::Fleet => {
            if step(&mut m.host_sel, m.hosts.len(), d) {
                m.container_sel = 0;
            }
        }
        Pane::Containers => {
            let n = m.selected_host().map_or(0, |h| h.seen.containers.len());
            step(&mut m.container_sel, n, d);
        }
        Pane::Syncs => {
            step(&mut m.sync_sel, m.syncs.len(), d);
        }
        Pane::Logs => {
            let rows = m.log_height();
            if let Some(p) = m.actions.pane.as_mut() {
                p.scroll_by(d, rows);
            } else if let Some(v) = m.log.as_mut() {
                v.scroll(d);
            }
        }
    }
}

fn source_of(m: &Model, host: usize, container: usize) -> Option<LogSource> {
    let h = m.hosts.get(host)?;
    let c = h.seen.containers.get(container)?;
    Some(LogSource {
        host: h.seen.host.name.clone(),
        container: c.name.clone(),
        service: c.service.clone(),
    })
}

fn open(m: &mut Model) -> Vec<Effect> {
    match m.focus {
        Pane::Fleet => {
            m.focus = Pane::Containers;
            m.container_sel = 0;
            Vec::new()
        }
        Pane::Containers => match source_of(m, m.host_sel, m.container_sel) {
            Some(s) => open_log(m, vec![s]),
            None => {
                m.flash = Some("no container selected".into());
                Vec::new()
            }
        },
        Pane::Syncs | Pane::Logs => Vec::new(),
    }
}

/// Closes the log pane, if any, and stops its tail.
fn close_log(m: &mut Model) -> Vec<Effect> {
    m.log
        .take()
        .map(|v| Effect::CloseLogs { stream: v.stream })
        .into_iter()
        .collect()
}

/// Replaces the log pane with one tailing `sources`.
fn open_log(m: &mut Model, sources: Vec<LogSource>) -> Vec<Effect> {
    let mut fx = close_log(m);
    let stream = m.next_stream;
    m.next_stream += 1;
    let buf = LogBuffer::new(m.limits.max_lines, m.limits.max_bytes);
    m.log = Some(LogView::new(stream, sources.clone(), buf));
    m.focus = Pane::Logs;
    fx.push(Effect::OpenLogs {
        stream,
        sources,
        tail: m.limits.tail,
    });
    fx
}

fn add_to_log(m: &mut Model) -> Vec<Effect> {
    let Some(s) = source_of(m, m.host_sel, m.container_sel) else {
        m.flash = Some("no container selected".into());
        return Vec::new();
    };
    let mut sources = m
        .log
        .as_ref()
        .map(|v| v.sources.clone())
        .unwrap_or_default();
    if sources.contains(&s) {
        m.flash = Some(format!("{} is already in the log pane", s.label()));
        return Vec::new();
    }
    sources.push(s);
    open_log(m, sources)
}

fn host_logs(m: &mut Model) -> Vec<Effect> {
    let n = m.selected_host().map_or(0, |h| h.seen.containers.len());
    let sources: Vec<LogSource> = (0..n).filter_map(|c| source_of(m, m.host_sel, c)).collect();
    if sources.is_empty() {
        m.flash = Some("this host has no containers to tail".into());
        return Vec::new();
    }
    open_log(m, sources)
}

#[cfg(test)]
mod tests;
