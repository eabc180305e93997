//! The console's loop: owns the model and the terminal, turns terminal
//! events, observations and log batches into `Msg`s, runs `update`, carries
//! out the effects, and redraws when something changed, at most every
//! FRAME, inside a synchronized update. No fixed-rate timer: the only
//! clock is a one-second tick for the ages on screen.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind};
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use futures_util::{FutureExt, Stream, StreamExt};
use ratatui::backend::CrosstermBackend;
use ratatui::{DefaultTerminal, Terminal};
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, Id};

use archtui_core::app::{update, Effect, Model, Msg};
use archtui_core::config::Config;
use archtui_core::credentials::Password;
use archtui_core::observation::HostObservation;
use archtui_remote::host::Context;
use archtui_remote::logtail::{self, Links, TailEvent};
use archtui_remote::supervisor;
use archtui_remote::tasks::{How, Kind, Tasks};

/// Shortest time between two frames.
const FRAME: Duration = Duration::from_millis(30);
/// Longest an observation waits for others before it is shown. A console
/// of forty hosts gets one every few tens of ms; each would cost a fleet
/// assembly and a frame, so they are handed over together, once per this
/// at most. A key, a log line or the tick takes them along at once, so a
/// key always acts on everything received.
const OBSERVATION_BATCH: Duration = Duration::from_millis(250);
/// How often each host is observed when no event says to look sooner.
const POLL: Duration = Duration::from_secs(5);
/// Messages handled before drawing, so a flood cannot starve the screen.
const DRAIN_MAX: usize = 4096;
/// How long the fleet's tasks get to end (links closed) once cancelled,
/// on a quit or a reload, before they are aborted.
const GRACE: Duration = Duration::from_secs(3);

/// Why the fleet screen was left.
enum Leave {
    Quit,
    /// The new-slave wizard takes the screen, then the console comes back.
    Wizard,
    /// The config file changed and loads: come back on the new one.
    Reload(Box<(Config, Password)>),
}

/// The config file as it is now, with its password: loaded before the
/// console lets go of anything, so a broken file changes nothing.
fn load(path: &Path) -> Result<(Config, Password), LoadError> {
    let c = Config::load(path)?;
    let p = Password::resolve(&c.database)?;
    Ok((c, p))
}

/// Why a reload kept the console on the config it had.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error(transparent)]
    Config(#[from] archtui_core::config::ConfigError),
    #[error(transparent)]
    Password(#[from] archtui_core::credentials::PasswordError),
}

/// What survives a reload of the console: the operator's place and the
/// last action's pane.
#[derive(Default)]
struct Carry {
    select: Option<String>,
    flash: Option<String>,
    pane: Option<archtui_core::app::actions::ActionPane>,
    next_id: u64,
    /// Tasks that panicked, said on the terminal once the console ends.
    lost: Vec<String>,
}

/// The console until the operator quits; `select` names a host to start on.
pub async fn run(config: Config, config_path: PathBuf, select: Option<String>) -> i32 {
    let mut password = match Password::resolve(&config.database) {
        Ok(p) => p,
        Err(e) => {
            crate::output::warn(&format!("archtui: {e}"));
            return crate::output::EXIT_UNKNOWN;
        }
    };
    let mut config = config;
    let mut carry = Carry {
        select,
        ..Carry::default()
    };
    if let Err(e) = crate::output::need_terminal() {
        crate::output::warn(&e.to_string());
        return crate::output::EXIT_UNKNOWN;
    }
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            crate::output::warn(&format!("archtui: cannot set up the terminal: {e}"));
            return crate::output::EXIT_UNKNOWN;
        }
    };
    let _panics = crate::term::task_panics_logged();
    // Each config's fleet and each wizard get a child set: ending one
    // ends its tasks only.
    let root = Tasks::new();
    let result = loop {
        let ctx = match Context::new(config.clone(), password.clone()) {
            Ok(c) => c,
            Err(e) => break Err(format!("cannot create a private run directory: {e}")),
        };
        let fleet = root.child();
        let leave = match console(&mut terminal, ctx.clone(), &config_path, &mut carry, fleet).await
        {
            Ok(l) => l,
            Err(e) => break Err(e.to_string()),
        };
        let loaded = match leave {
            Leave::Quit => break Ok(()),
            Leave::Reload(loaded) => Ok(*loaded),
            Leave::Wizard => {
                let state = archtui_remote::local::audit::state_dir();
                let wizard = crate::wizard::tui::blank(&config, &state).await;
                let driver = crate::wizard::driver::Driver::new(
                    ctx.clone(),
                    config_path.clone(),
                    checkout(&config),
                    state,
                    wizard,
                    None,
                    root.child(),
                );
                // An `interrupted` line if a signal ends the console meanwhile.
                let open = archtui_remote::local::audit::begin(
                    "provision",
                    "-",
                    vec!["--tui".into()],
                    false,
                );
                let ended = crate::wizard::tui::run(&mut terminal, driver).await;
                drop(open);
                carry.lost.extend(ended.lost.iter().cloned());
                let name = if ended.name.is_empty() {
                    "-"
                } else {
                    &ended.name
                };
                let rec = archtui_remote::local::audit::append_work(
                    "provision",
                    name,
                    vec![name.to_string(), "--tui".into()],
                    ended.confirmed,
                    &ended.outcome,
                    ended.took,
                );
                carry.flash = Some(match rec {
                    Ok(()) => format!("wizard: {}", ended.outcome.message),
                    Err(e) => format!("wizard: {} (warning: {e})", ended.outcome.message),
                });
                if ended.outcome.status == archtui_remote::actions::Status::Ok {
                    carry.select = Some(ended.name);
                }
                // The config as the wizard left it.
                load(&config_path)
            }
        };
        drop(ctx);
        match loaded {
            Ok((c, p)) => {
                if carry.flash.is_none() {
                    carry.flash = Some(format!(
                        "config reloaded from {}: {} hosts",
                        config_path.display(),
                        c.hosts().len()
                    ));
                }
                let read_only = config.read_only;
                config = c;
                config.read_only |= read_only;
                password = p;
            }
            Err(e) => {
                carry.flash = Some(format!(
                    "config not reloaded, still on the last good one: {e}"
                ));
            }
        }
    };
    ratatui::restore();
    for lost in &carry.lost {
        crate::output::warn(&format!("archtui: {lost}"));
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            crate::output::warn(&format!("archtui: {e}"));
            1
        }
    }
}

/// The checkout a deploy or the wizard copies the stack from.
fn checkout(config: &Config) -> PathBuf {
    archtui_remote::actions::deploy::checkout_dir(
        std::env::var_os("ARCHTUI_CHECKOUT")
            .map(PathBuf::from)
            .or_else(|| config.checkout.clone()),
    )
}

/// The fleet screen on one config, until the operator quits or asks for
/// something that needs the console made anew.
async fn console(
    terminal: &mut DefaultTerminal,
    ctx: std::sync::Arc<Context>,
    config_path: &Path,
    carry: &mut Carry,
    mut tasks: Tasks,
) -> std::io::Result<Leave> {
    let config = ctx.config.clone();
    let keymap = config.keymap();
    let mut model = Model::new(config, keymap, chrono::Utc::now());
    model.config_path = config_path.to_path_buf();
    model.color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    model.actions.paused =
        archtui_remote::local::state::ConsoleState::load(&archtui_remote::local::state::path())
            .paused;
    model.actions.checkout = checkout(&model.config);
    model.flash = carry.flash.take();
    model.actions.pane = carry.pane.take();
    model.actions.next_id = carry.next_id;
    if let Some(name) = carry.select.take() {
        if let Some(i) = model.hosts.iter().position(|h| h.seen.host.name == name) {
            model.host_sel = i;
        }
    }
    let mut senders = Vec::new();
    let mut links = Links::new();
    for h in ctx.config.hosts() {
        let (tx, rx) = watch::channel(None);
        senders.push(tx);
        links.insert(h.name, rx);
    }
    let observations = supervisor::spawn_console(&ctx, POLL, senders, &mut tasks);
    // One-shot `status` commands on this config read the console's readings.
    let (observations, _served) =
        archtui_remote::served::relay(&ctx.config, observations, "console");
    let mut exec = Executor {
        ctx: ctx.clone(),
        links,
        tails: HashMap::new(),
        tx: None,
        tails_tx: None,
        leave: None,
        config_path: config_path.to_path_buf(),
        tasks,
        work: HashMap::new(),
        switchovers: switchover::Switchovers::new(std::sync::Arc::new(switchover::Real {
            config: ctx.config.clone(),
            config_path: config_path.to_path_buf(),
        })),
    };
    let result = event_loop(
        terminal,
        &mut model,
        EventStream::new(),
        observations,
        &mut exec,
    )
    .await;
    // Before the next config's context: the old one's links are closed and
    // its run directory goes with its last task.
    for e in exec.tasks.shutdown(GRACE).await {
        carry.lost.extend(e.problem());
    }
    let host = model.selected_host().map(|h| h.seen.host.name.clone());
    carry.select = carry.select.take().or(host);
    carry.pane = model.actions.pane.take();
    carry.next_id = model.actions.next_id;
    carry.flash = carry.flash.take().or(model.flash.take());
    result.map(|()| exec.leave.unwrap_or(Leave::Quit))
}

struct Executor {
    ctx: std::sync::Arc<Context>,
    links: Links,
    /// Each open log pane's tails, by source.
    tails: HashMap<u64, Vec<AbortHandle>>,
    tx: Option<mpsc::Sender<Msg>>,
    tails_tx: Option<mpsc::Sender<TailEvent>>,
    /// Set when the fleet screen must end for the wizard or a reload.
    leave: Option<Leave>,
    config_path: PathBuf,
    /// Every task of this fleet screen.
    tasks: Tasks,
    /// The running actions' and verifies' tasks, until reaped.
    work: HashMap<Id, (AbortHandle, Work)>,
    /// The switchover screen's runs.
    switchovers: switchover::Switchovers,
}

/// What an action's or a verify's task was running, to end it in the
/// model (and the audit log) if the task panics.
enum Work {
    Action {
        id: u64,
        action: archtui_remote::actions::Action,
        confirmed: bool,
    },
    Verify {
        id: u64,
    },
    Switchover {
        id: u64,
        kind: archtui_core::switchover::Kind,
        candidate: String,
    },
}

/// What carries out the loop's effects: the console's `Executor`, or a
/// test's record of them.
trait Effects {
    /// The channels the effects' tasks report back on, made by the loop.
    fn connect(&mut self, msgs: mpsc::Sender<Msg>, tails: mpsc::Sender<TailEvent>);
    /// Carries out one effect; a line for the hint bar when it could not.
    fn run(&mut self, fx: Effect) -> Option<String>;
    /// The fleet screen must end (for the wizard or a reload).
    fn leaving(&self) -> bool;
    /// The effects' tasks that ended badly since the last call: the
    /// messages that end them in the model, and a line for each.
    fn reap(&mut self) -> (Vec<Msg>, Vec<String>);
}

impl Effects for Executor {
    fn connect(&mut self, msgs: mpsc::Sender<Msg>, tails: mpsc::Sender<TailEvent>) {
        self.tx = Some(msgs);
        self.tails_tx = Some(tails);
    }

    fn leaving(&self) -> bool {
        self.leave.is_some()
    }

    fn reap(&mut self) -> (Vec<Msg>, Vec<String>) {
        let (mut msgs, mut lines) = (Vec::new(), Vec::new());
        for e in self.tasks.reap() {
            let work = self.work.remove(&e.id).map(|(_, w)| w);
            let tail = tail_of(&self.tails, e.id);
            let (How::Panicked(p), Some(line)) = (&e.how, e.problem()) else {
                continue;
            };
            let lost = || {
                archtui_remote::actions::Outcome::failed(format!("archtui's task panicked: {p}"))
            };
            match (work, e.kind) {
                (
                    Some(Work::Action {
                        id,
                        action,
                        confirmed,
                    }),
                    _,
                ) => {
                    archtui_remote::actions::run::audit_panicked(
                        &self.ctx.config,
                        &action,
                        confirmed,
                        p,
                    );
                    msgs.push(Msg::ActionDone {
                        id,
                        action,
                        outcome: lost(),
                    });
                }
                (Some(Work::Verify { id }), _) => msgs.push(Msg::VerifyDone {
                    id,
                    outcome: lost(),
                }),
                (
                    Some(Work::Switchover {
                        id,
                        kind,
                        candidate,
                    }),
                    _,
                ) => msgs.push(Msg::Switchover {
                    id,
                    event: archtui_core::app::switchover::Event::Ended(
                        self.switchovers.panicked(id, kind, &candidate, p),
                    ),
                }),
                (None, Kind::Tail) => msgs.extend(tail.map(|(stream, source)| Msg::LogNote {
                    stream,
                    source,
                    note: Some(format!("stopped: its task panicked: {p}")),
                })),
                (None, Kind::Supervisor) => {
                    // Not watched any more: shown so, not as it was last seen.
                    if let Some(h) = self
                        .ctx
                        .config
                        .hosts()
                        .into_iter()
                        .find(|h| h.name == e.name)
                    {
                        let why = format!(
                            "{}: archtui stopped watching it (its supervisor panicked: {p}); reload the config to watch it again",
                            h.name
                        );
                        let f = archtui_core::model::HostFailure::new(
                            archtui_core::model::HostState::Unreachable,
                            why,
                        );
                        let o = HostObservation::failed(&h, f, chrono::Utc::now());
                        msgs.push(Msg::Observation(Box::new(o)));
                    }
                }
                (None, _) => {}
            }
            lines.push(line);
        }
        (msgs, lines)
    }

    fn run(&mut self, fx: Effect) -> Option<String> {
        match fx {
            Effect::OpenLogs {
                stream,
                sources,
                tail,
            } => {
                if let Some(tx) = &self.tails_tx {
                    let tails =
                        logtail::spawn(stream, &sources, tail, &self.links, tx, &mut self.tasks);
                    self.tails.insert(stream, tails);
                }
            }
            Effect::CloseLogs { stream } => {
                if let Some(tails) = self.tails.remove(&stream) {
                    tails.iter().for_each(AbortHandle::abort);
                }
            }
            Effect::RunAction { id, action, guard } => {
                if let Some(tx) = &self.tx {
                    let work = Work::Action {
                        id,
                        action: action.clone(),
                        confirmed: guard.confirmed,
                    };
                    let task = action_task(self.ctx.clone(), id, action, guard, tx.clone());
                    let name = format!("{} #{id}", work_name(&work));
                    let h = self.tasks.spawn(Kind::Action, name, task);
                    self.work.insert(h.id(), (h, work));
                }
            }
            Effect::RunVerify { id, slave } => {
                if let Some(tx) = &self.tx {
                    let name = format!("verify {slave} #{id}");
                    let task = verify_task(self.ctx.clone(), id, slave, tx.clone());
                    let h = self.tasks.spawn(Kind::Verify, name, task);
                    self.work.insert(h.id(), (h, Work::Verify { id }));
                }
            }
            Effect::Switchover(r) => {
                if let Some(tx) = &self.tx {
                    let work = match &r {
                        archtui_core::app::switchover::Request::Prepare {
                            id,
                            kind,
                            candidate,
                            ..
                        } => Some(Work::Switchover {
                            id: *id,
                            kind: *kind,
                            candidate: candidate.clone(),
                        }),
                        _ => None,
                    };
                    if let (Some(h), Some(w)) =
                        (self.switchovers.request(r, &mut self.tasks, tx), work)
                    {
                        self.work.insert(h.id(), (h, w));
                    }
                }
            }
            Effect::AuditCancelled { action } => {
                archtui_remote::actions::run::audit_cancelled(&self.ctx.config, &action);
            }
            Effect::OpenWizard => self.leave = Some(Leave::Wizard),
            Effect::Reload => match load(&self.config_path) {
                Ok(loaded) => self.leave = Some(Leave::Reload(Box::new(loaded))),
                Err(e) => {
                    return Some(format!(
                        "config not reloaded, still on the last good one: {e}"
                    ))
                }
            },
            Effect::LeaveRunning => {
                leave_running(&archtui_remote::local::audit::log_path(), &self.work);
            }
            Effect::Quit => {}
        }
        None
    }
}

/// A running action's or verify's name in reports.
fn work_name(w: &Work) -> String {
    match w {
        Work::Action { action, .. } => {
            format!("{} {}", action.name(), action.args().join(" "))
        }
        Work::Verify { .. } => "verify".into(),
        Work::Switchover {
            kind, candidate, ..
        } => format!("{} {candidate}", kind.name()),
    }
}

/// The log pane and source a tail task of `tails` is for.
fn tail_of(tails: &HashMap<u64, Vec<AbortHandle>>, id: Id) -> Option<(u64, u16)> {
    tails.iter().find_map(|(stream, hs)| {
        let source = hs.iter().position(|h| h.id() == id)?;
        Some((*stream, u16::try_from(source).ok()?))
    })
}

/// "Leave it running": an `interrupted` line in `log` for every action
/// under way, naming the remote job it leaves on its host, written while
/// the actions' guards still live; then their tasks are let go (the
/// shutdown that follows the quit waits for them to drop), so no second
/// line races it. Returns the lines written.
fn leave_running(log: &Path, work: &HashMap<Id, (AbortHandle, Work)>) -> Vec<String> {
    let why = "the operator quit the console and left it running";
    let said =
        archtui_remote::local::audit::interrupted_in(log, why, &archtui_remote::job::in_flight());
    for line in &said {
        tracing::info!(line = %line, "left running");
    }
    for (h, _) in work.values() {
        h.abort();
    }
    said
}

/// A fleet action, to run off the loop; its output lines and outcome come
/// back as messages.
async fn action_task(
    ctx: std::sync::Arc<Context>,
    id: u64,
    action: archtui_remote::actions::Action,
    guard: archtui_remote::actions::Guard,
    tx: mpsc::Sender<Msg>,
) {
    let (progress, lines) = mpsc::unbounded_channel::<String>();
    let work = async {
        let progress = progress;
        archtui_remote::actions::run::perform(ctx, &action, guard, &progress).await
    };
    // One task: the lines are forwarded as they come, all of them before
    // the outcome (the forwarder ends once `work` drops its sender).
    let ((), outcome) = tokio::join!(forward(id, lines, tx.clone(), false), work);
    let _ = tx
        .send(Msg::ActionDone {
            id,
            action,
            outcome,
        })
        .await;
}

/// Sends each line of `lines` as an `ActionOutput` of `id` (`split`: each
/// of a line's own lines) until `lines` ends or the loop is gone.
async fn forward(
    id: u64,
    mut lines: mpsc::UnboundedReceiver<String>,
    tx: mpsc::Sender<Msg>,
    split: bool,
) {
    while let Some(line) = lines.recv().await {
        let parts: Vec<String> = if split {
            line.lines().map(str::to_string).collect()
        } else {
            vec![line]
        };
        for line in parts {
            if tx.send(Msg::ActionOutput { id, line }).await.is_err() {
                return;
            }
        }
    }
}

/// A verify, to run off the loop, in a context of its own (its statements'
/// longer bound); progress and report lines come back as `ActionOutput`,
/// its end as `VerifyDone`, like an action's.
async fn verify_task(ctx: std::sync::Arc<Context>, id: u64, slave: String, tx: mpsc::Sender<Msg>) {
    use archtui_remote::verify::engine;
    let (progress, lines) = mpsc::unbounded_channel::<String>();
    let work = async {
        let progress = progress;
        let limits = engine::Limits::from_config(&ctx.config);
        let start = Instant::now();
        match engine::context(&ctx.config, ctx.password.clone(), &limits) {
            Err(e) => archtui_remote::actions::Outcome::failed(format!(
                "cannot create a private run directory: {e}"
            )),
            Ok(vctx) => {
                let req = engine::Request {
                    slaves: vec![slave.clone()],
                    tables: None,
                };
                let report = engine::run(vctx, &req, limits, &progress).await;
                for w in archtui_remote::verify::record(
                    &report,
                    std::slice::from_ref(&slave),
                    start.elapsed(),
                ) {
                    let _ = progress.send(w);
                }
                if report.outcome == archtui_core::verify::report::Outcome::Differ {
                    let _ = progress.send(format!(
                        "repair from a terminal: archtui verify {slave} --repair (shows its plan, then asks)"
                    ));
                }
                archtui_core::app::verify::outcome(&report)
            }
        }
    };
    let ((), outcome) = tokio::join!(forward(id, lines, tx.clone(), true), work);
    let _ = tx.send(Msg::VerifyDone { id, outcome }).await;
}

/// Where the loop draws: the terminal, or a test's screen.
trait Screen {
    fn size(&self) -> std::io::Result<(u16, u16)>;
    fn show(&mut self, model: &Model) -> std::io::Result<()>;
}

impl<W: Write> Screen for Terminal<CrosstermBackend<W>> {
    fn size(&self) -> std::io::Result<(u16, u16)> {
        let size = Terminal::size(self)?;
        Ok((size.width, size.height))
    }

    fn show(&mut self, model: &Model) -> std::io::Result<()> {
        // The terminal shows the whole frame at once, never a half-drawn one.
        crossterm::queue!(self.backend_mut(), BeginSynchronizedUpdate)?;
        self.draw(|f| crate::ui::view(model, f))?;
        crossterm::queue!(self.backend_mut(), EndSynchronizedUpdate)?;
        self.backend_mut().flush()
    }
}

/// A log tail's report as the core's message.
fn tail_msg(t: TailEvent) -> Msg {
    match t {
        TailEvent::Lines { stream, lines } => Msg::LogLines { stream, lines },
        TailEvent::Note {
            stream,
            source,
            note,
        } => Msg::LogNote {
            stream,
            source,
            note,
        },
    }
}

fn from_event(e: &Event) -> Option<Msg> {
    match e {
        Event::Key(k) if k.kind != KeyEventKind::Release => Some(Msg::Key(crate::term::key(*k))),
        Event::Resize(w, h) => Some(Msg::Resize(*w, *h)),
        _ => None,
    }
}

/// Runs until the operator quits, the screen must be made anew, or
/// `events` ends. Generic over its screen, terminal events and effects so
/// a test drives it in-process; the console passes the terminal,
/// crossterm's `EventStream` and the `Executor`.
async fn event_loop(
    screen: &mut impl Screen,
    model: &mut Model,
    mut events: impl Stream<Item = std::io::Result<Event>> + Unpin,
    mut observations: mpsc::Receiver<HostObservation>,
    exec: &mut impl Effects,
) -> std::io::Result<()> {
    let (tx, mut logs) = mpsc::channel::<Msg>(256);
    let (tails_tx, mut tails) = mpsc::channel::<TailEvent>(256);
    exec.connect(tx, tails_tx);
    model.size = screen.size()?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    // Observations not handed to the model yet, and when they must be.
    let mut batch: Vec<HostObservation> = Vec::new();
    let mut batch_due: Option<Instant> = None;
    loop {
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            screen.show(model)?;
            dirty = false;
            last_draw = Some(Instant::now());
        }
        let wait = last_draw.map_or(Duration::ZERO, |t| FRAME.saturating_sub(t.elapsed()));
        let batch_wait = batch_due.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        });
        let mut msgs = Vec::new();
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(e)) => msgs.extend(from_event(&e)),
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            Some(o) = observations.recv() => batch.push(o),
            Some(m) = logs.recv() => msgs.push(m),
            Some(t) = tails.recv() => msgs.push(tail_msg(t)),
            _ = tick.tick() => msgs.push(Msg::Tick(chrono::Utc::now())),
            () = tokio::time::sleep(wait), if dirty => {}
            () = tokio::time::sleep(batch_wait), if batch_due.is_some() => {}
        }
        // Everything already waiting is handled before the next frame.
        while msgs.len() + batch.len() < DRAIN_MAX {
            let before = msgs.len() + batch.len();
            if let Ok(o) = observations.try_recv() {
                batch.push(o);
            }
            if let Ok(m) = logs.try_recv() {
                msgs.push(m);
            }
            if let Ok(t) = tails.try_recv() {
                msgs.push(tail_msg(t));
            }
            if let Some(Some(Ok(e))) = events.next().now_or_never() {
                msgs.extend(from_event(&e));
            }
            if msgs.len() + batch.len() == before {
                break;
            }
        }
        if !batch.is_empty() {
            let due = *batch_due.get_or_insert_with(|| Instant::now() + OBSERVATION_BATCH);
            if !msgs.is_empty() || Instant::now() >= due || batch.len() >= DRAIN_MAX {
                msgs.insert(0, Msg::Observations(std::mem::take(&mut batch)));
                batch_due = None;
            }
        }
        // Tasks that panicked end their work in the model here; with the
        // tick, within a second of it.
        let (ended, lost) = exec.reap();
        msgs.extend(ended);
        for msg in msgs {
            dirty = true;
            for fx in update(model, msg) {
                if let Some(flash) = exec.run(fx) {
                    model.flash = Some(flash);
                }
            }
        }
        if let Some(line) = lost.last() {
            model.flash = Some(line.clone());
            dirty = true;
        }
        if model.quit || exec.leaving() {
            return Ok(());
        }
    }
}

mod switchover;

#[cfg(test)]
mod tests;
