//! The console loop in-process: scripted keys and observations in, a
//! `TestBackend` screen out, every frame handed to the test.

use super::*;
use archtui_core::app::fixtures;
use archtui_core::model::{HostFailure, HostState};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use std::io;

mod switchover_screen;

/// The loop's screen: each frame's text goes to the test.
struct Recorder {
    term: Terminal<TestBackend>,
    frames: mpsc::UnboundedSender<String>,
}

impl Screen for Recorder {
    fn size(&self) -> io::Result<(u16, u16)> {
        let area = self.term.backend().buffer().area;
        Ok((area.width, area.height))
    }

    fn show(&mut self, model: &Model) -> io::Result<()> {
        // A TestBackend cannot fail: its error type has no values.
        if let Err(e) = self.term.draw(|f| crate::ui::view(model, f)) {
            match e {}
        }
        let _ = self.frames.send(self.term.backend().to_string());
        Ok(())
    }
}

/// Effects written down, none carried out.
#[derive(Default)]
struct Record {
    effects: Vec<Effect>,
    channels: Option<(mpsc::Sender<Msg>, mpsc::Sender<TailEvent>)>,
}

impl Effects for Record {
    fn connect(&mut self, msgs: mpsc::Sender<Msg>, tails: mpsc::Sender<TailEvent>) {
        self.channels = Some((msgs, tails));
    }

    fn run(&mut self, fx: Effect) -> Option<String> {
        self.effects.push(fx);
        None
    }

    fn leaving(&self) -> bool {
        false
    }

    fn reap(&mut self) -> (Vec<Msg>, Vec<String>) {
        (Vec::new(), Vec::new())
    }
}

/// The test's side: keys and observations to send, frames to read.
struct Script {
    keys: mpsc::UnboundedSender<io::Result<Event>>,
    observations: mpsc::Sender<HostObservation>,
    frames: mpsc::UnboundedReceiver<String>,
    last: String,
}

impl Script {
    fn key(&self, code: KeyCode) {
        let k = KeyEvent::new(code, KeyModifiers::NONE);
        self.keys.send(Ok(Event::Key(k))).expect("the loop runs");
    }

    fn typed(&self, s: &str) {
        s.chars().for_each(|c| self.key(KeyCode::Char(c)));
    }

    async fn observe(&self, o: HostObservation) {
        self.observations.send(o).await.expect("the loop runs");
    }

    /// The next frame that `want` accepts. Frames come in order, so
    /// it is drawn after whatever the frame before it showed.
    async fn until(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let wait = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(f) = self.frames.recv().await {
                let hit = want(&f);
                self.last = f;
                if hit {
                    return true;
                }
            }
            false
        });
        match wait.await {
            Ok(true) => self.last.clone(),
            _ => panic!("no frame with {what}; the last:\n{}", self.last),
        }
    }
}

/// An observation of host `i` made now (the loop's clock is the
/// wall clock, through its one-second tick).
type Events = std::pin::Pin<Box<dyn futures_util::Stream<Item = io::Result<Event>> + Send>>;

/// A loop's screen (`width` x 24), its key stream and observation queue,
/// and the test's ends of them.
struct Harness {
    screen: Recorder,
    events: Events,
    observations_rx: mpsc::Receiver<HostObservation>,
    script: Script,
}

fn harness(width: u16) -> Harness {
    let (frames_tx, frames) = mpsc::unbounded_channel();
    let screen = Recorder {
        term: Terminal::new(TestBackend::new(width, 24)).expect("a test terminal"),
        frames: frames_tx,
    };
    let (keys, keys_rx) = mpsc::unbounded_channel();
    let events: Events = Box::pin(futures_util::stream::unfold(keys_rx, |mut rx| async {
        rx.recv().await.map(|e| (e, rx))
    }));
    let (observations, observations_rx) = mpsc::channel(16);
    Harness {
        screen,
        events,
        observations_rx,
        script: Script {
            keys,
            observations,
            frames,
            last: String::new(),
        },
    }
}

fn up(m: &Model, i: usize) -> HostObservation {
    HostObservation {
        observed_at: chrono::Utc::now(),
        ..fixtures::host_obs(m, i, 0)
    }
}

#[tokio::test]
async fn the_loop_shows_observations_opens_and_closes_popups_and_quits() {
    let mut model = fixtures::model();
    let jukebox = model.config.hosts()[1].clone();
    let (cavaforgepad, juke_up) = (up(&model, 0), up(&model, 1));
    let Harness {
        mut screen,
        events,
        observations_rx,
        script: mut s,
    } = harness(80);
    let mut exec = Record::default();
    let script = async move {
        s.until("the fleet connecting", |f| f.contains("○ jukebox"))
            .await;
        s.observe(cavaforgepad).await;
        s.observe(juke_up).await;
        s.until("both hosts up", |f| {
            f.contains("● cavaforgepad") && f.contains("● jukebox")
        })
        .await;
        s.key(KeyCode::Down);
        s.until("jukebox selected", |f| f.contains("containers · jukebox"))
            .await;
        // jukebox stops answering: the fleet says so, with the reason.
        let reason = "ssh jukebox: connection not answering within 1 s";
        s.observe(HostObservation::failed(
            &jukebox,
            HostFailure::new(HostState::Unreachable, reason),
            chrono::Utc::now(),
        ))
        .await;
        s.until("jukebox unreachable, and why", |f| {
            f.contains("✗ jukebox unreachable")
                && f.contains("unreachable: ssh jukebox: connection")
        })
        .await;
        // Help opens on ?, and Esc closes it.
        s.key(KeyCode::Char('?'));
        s.until("the help", |f| f.contains("┌ keys ")).await;
        s.key(KeyCode::Esc);
        s.until("the help closed", |f| !f.contains("┌ keys ")).await;
        // Retire asks for the slave's name, edited at its cursor;
        // Esc cancels it.
        s.key(KeyCode::Char('X'));
        s.typed("jukbox");
        for _ in 0..3 {
            s.key(KeyCode::Left);
        }
        s.typed("e");
        s.until("the typed name", |f| f.contains("> jukebox")).await;
        s.key(KeyCode::Esc);
        s.until("the retire cancelled", |f| {
            f.contains("cancelled: retire jukebox") && !f.contains("> jukebox")
        })
        .await;
        s.key(KeyCode::Char('q'));
        s
    };
    let run = event_loop(&mut screen, &mut model, events, observations_rx, &mut exec);
    let (ended, _s) =
        tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(run, script) })
            .await
            .expect("the loop quits on q");
    ended.expect("no terminal error");
    assert!(model.quit);
    assert!(
        matches!(
            &exec.effects[..],
            [Effect::AuditCancelled { .. }, Effect::Quit]
        ),
        "{:?}",
        exec.effects
    );
}

/// Effects that run each action as a task holding its audit entry
/// open until it is let go, like an action following its remote job,
/// and leave them running with the console's own `leave_running`.
struct Live {
    tasks: Tasks,
    work: HashMap<Id, (AbortHandle, Work)>,
    log: PathBuf,
    effects: Vec<Effect>,
    said: Vec<String>,
    /// The test's side: the loop's channel, and each action started.
    to_script: mpsc::UnboundedSender<Started>,
}

enum Started {
    Loop(mpsc::Sender<Msg>),
    Action(u64, archtui_remote::actions::Action),
}

impl Live {
    fn new(log: PathBuf) -> (Live, mpsc::UnboundedReceiver<Started>) {
        let (to_script, started) = mpsc::unbounded_channel();
        let live = Live {
            tasks: Tasks::new(),
            work: HashMap::new(),
            log,
            effects: Vec::new(),
            said: Vec::new(),
            to_script,
        };
        (live, started)
    }
}

impl Effects for Live {
    fn connect(&mut self, msgs: mpsc::Sender<Msg>, _: mpsc::Sender<TailEvent>) {
        let _ = self.to_script.send(Started::Loop(msgs));
    }

    fn run(&mut self, fx: Effect) -> Option<String> {
        match &fx {
            Effect::RunAction { id, action, guard } => {
                let open = archtui_remote::local::audit::begin(
                    action.name(),
                    "jukebox",
                    action.args(),
                    guard.confirmed,
                );
                let h = self.tasks.spawn(Kind::Action, "restart", async move {
                    let _open = open;
                    std::future::pending::<()>().await;
                });
                let work = Work::Action {
                    id: *id,
                    action: action.clone(),
                    confirmed: guard.confirmed,
                };
                self.work.insert(h.id(), (h, work));
                let _ = self.to_script.send(Started::Action(*id, action.clone()));
            }
            Effect::LeaveRunning => self.said = leave_running(&self.log, &self.work),
            _ => {}
        }
        self.effects.push(fx);
        None
    }

    fn leaving(&self) -> bool {
        false
    }

    fn reap(&mut self) -> (Vec<Msg>, Vec<String>) {
        (Vec::new(), Vec::new())
    }
}

#[tokio::test]
async fn quitting_while_an_action_runs_asks_and_leave_audits_it_and_quits() {
    let mut model = fixtures::model();
    let (cavaforgepad, juke_up) = (up(&model, 0), up(&model, 1));
    let Harness {
        mut screen,
        events,
        observations_rx,
        script: mut s,
    } = harness(90);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut exec, _started) = Live::new(dir.path().join("audit.log"));
    let script = async move {
        s.observe(cavaforgepad).await;
        s.observe(juke_up).await;
        s.until("both hosts up", |f| {
            f.contains("● cavaforgepad") && f.contains("● jukebox")
        })
        .await;
        // jukebox's app restarted, confirmed: it runs (and never ends).
        s.key(KeyCode::Down);
        s.key(KeyCode::Tab);
        s.key(KeyCode::Char('R'));
        s.key(KeyCode::Char('y'));
        s.key(KeyCode::Char('q'));
        let f = s.until("the quit prompt", |f| f.contains("┌ quit? ")).await;
        assert!(f.contains("An action is running on jukebox"), "{f}");
        assert!(f.contains("w  wait for it to end, then quit"), "{f}");
        assert!(f.contains("l  leave it running on the host"), "{f}");
        assert!(f.contains("Esc  stay in the console"), "{f}");
        s.key(KeyCode::Char('l'));
        s
    };
    let run = event_loop(&mut screen, &mut model, events, observations_rx, &mut exec);
    let (ended, _s) =
        tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(run, script) })
            .await
            .expect("the loop quits on l");
    ended.expect("no terminal error");
    assert!(model.quit);
    assert!(
        matches!(
            &exec.effects[..],
            [
                Effect::RunAction { .. },
                Effect::LeaveRunning,
                Effect::CloseLogs { .. } | Effect::Quit,
                ..
            ]
        ) && exec.effects.last() == Some(&Effect::Quit),
        "{:?}",
        exec.effects
    );
    // One `interrupted` line for the restart, saying it was left running.
    let log = std::fs::read_to_string(&exec.log).expect("the audit log was written");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .filter(|r: &serde_json::Value| r["action"] == "restart" && r["host"] == "jukebox")
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert_eq!(lines[0]["result"], "interrupted", "{log}");
    let message = lines[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("left it running"), "{message}");
    assert!(
        exec.said.iter().any(|l| l.starts_with("restart jukebox")),
        "{:?}",
        exec.said
    );
    // The action's task was let go: the quit's shutdown finds it ended,
    // nothing panicked, nothing left to abort.
    let ended = exec.tasks.shutdown(GRACE).await;
    assert!(
        matches!(&ended[..], [e] if e.kind == Kind::Action && e.how == How::Aborted),
        "{ended:?}"
    );
}

#[tokio::test]
async fn quitting_while_an_action_runs_and_choosing_wait_quits_when_it_ends() {
    let mut model = fixtures::model();
    let (cavaforgepad, juke_up) = (up(&model, 0), up(&model, 1));
    let Harness {
        mut screen,
        events,
        observations_rx,
        script: mut s,
    } = harness(90);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut exec, mut started) = Live::new(dir.path().join("audit.log"));
    let script = async move {
        let Some(Started::Loop(msgs)) = started.recv().await else {
            panic!("the loop connects first")
        };
        s.observe(cavaforgepad).await;
        s.observe(juke_up).await;
        s.until("both hosts up", |f| f.contains("● jukebox")).await;
        s.key(KeyCode::Down);
        s.key(KeyCode::Tab);
        s.key(KeyCode::Char('R'));
        s.key(KeyCode::Char('y'));
        let Some(Started::Action(id, action)) = started.recv().await else {
            panic!("the restart starts")
        };
        s.key(KeyCode::Char('q'));
        s.until("the quit prompt", |f| f.contains("┌ quit? ")).await;
        s.key(KeyCode::Char('w'));
        s.until("the wait said, the prompt down", |f| {
            f.contains("quitting once the running action ends") && !f.contains("┌ quit? ")
        })
        .await;
        // The console stays until the action ends, then quits.
        msgs.send(Msg::ActionDone {
            id,
            action,
            outcome: archtui_remote::actions::Outcome::ok("restarted"),
        })
        .await
        .expect("the loop runs");
        s
    };
    let run = event_loop(&mut screen, &mut model, events, observations_rx, &mut exec);
    let (ended, _s) =
        tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(run, script) })
            .await
            .expect("the loop quits once the action ends");
    ended.expect("no terminal error");
    assert!(model.quit);
    assert_eq!(
        exec.effects.last(),
        Some(&Effect::Quit),
        "{:?}",
        exec.effects
    );
    assert!(
        !exec.effects.contains(&Effect::LeaveRunning),
        "{:?}",
        exec.effects
    );
    assert!(!exec.log.exists(), "nothing was left running");
    exec.tasks.shutdown(GRACE).await;
}

#[tokio::test]
async fn a_panicked_task_ends_its_work_in_the_model_and_is_said() {
    let config = fixtures::config();
    let ctx = Context::new(
        config,
        archtui_core::credentials::Password::Pgpass(Vec::new()),
    )
    .expect("a context");
    let mut exec = Executor {
        ctx,
        links: Links::new(),
        tails: HashMap::new(),
        tx: None,
        tails_tx: None,
        leave: None,
        config_path: PathBuf::from("config.toml"),
        tasks: Tasks::new(),
        work: HashMap::new(),
        switchovers: switchover::Switchovers::new(std::sync::Arc::new(
            switchover_screen::Fake::new().0,
        )),
    };
    exec.tasks
        .spawn(Kind::Supervisor, "jukebox", async { panic!("bad frame") });
    let tail = exec
        .tasks
        .spawn(Kind::Tail, "jukebox/app", async { panic!("bad line") });
    exec.tails.insert(4, vec![tail]);
    let v = exec.tasks.spawn(Kind::Verify, "verify jukebox #9", async {
        panic!("bad row")
    });
    exec.work.insert(v.id(), (v, Work::Verify { id: 9 }));
    exec.tasks
        .spawn(Kind::Tail, "a quiet one", std::future::pending());
    let (mut msgs, mut lines) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let (m, l) = exec.reap();
        msgs.extend(m);
        lines.extend(l);
        if lines.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    lines.sort();
    assert_eq!(
        lines,
        [
            "the log tail task jukebox/app panicked: bad line",
            "the supervisor task jukebox panicked: bad frame",
            "the verify task verify jukebox #9 panicked: bad row",
        ]
    );
    assert!(exec.work.is_empty(), "the verify's work is reaped");
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    for m in &msgs {
        match m {
            Msg::VerifyDone { id, outcome } => {
                assert_eq!(*id, 9);
                assert!(outcome.message.contains("panicked: bad row"), "{outcome:?}");
            }
            Msg::LogNote {
                stream,
                source,
                note,
            } => {
                assert_eq!((*stream, *source), (4, 0));
                assert!(note.as_deref().is_some_and(|n| n.contains("bad line")));
            }
            Msg::Observation(o) => {
                assert_eq!(o.host.name, "jukebox");
                assert_eq!(o.state, HostState::Unreachable);
                let why = o.error.as_deref().unwrap_or_default();
                assert!(why.contains("stopped watching it"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }
    let ended = exec.tasks.shutdown(GRACE).await;
    assert!(
        matches!(&ended[..], [e] if e.how == How::Cancelled),
        "{ended:?}"
    );
}

#[tokio::test]
async fn the_loop_ends_when_its_events_do() {
    let mut model = fixtures::model();
    let (frames, _seen) = mpsc::unbounded_channel();
    let mut screen = Recorder {
        term: Terminal::new(TestBackend::new(40, 10)).expect("a test terminal"),
        frames,
    };
    let (_observations, observations_rx) = mpsc::channel(1);
    let events = futures_util::stream::iter([Ok(Event::Resize(60, 20))]);
    let mut exec = Record::default();
    let ended = event_loop(&mut screen, &mut model, events, observations_rx, &mut exec);
    tokio::time::timeout(Duration::from_secs(10), ended)
        .await
        .expect("the loop ends")
        .expect("no terminal error");
    assert!(!model.quit);
    assert_eq!(model.size, (60, 20), "the resize was handled");
}
