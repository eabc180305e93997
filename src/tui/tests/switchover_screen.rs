//! The switchover screen in the console loop: the real run task and its
//! audit, with a scripted flow in place of `flow::prepare` and
//! `flow::execute`, so nothing reaches a network.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::tui::switchover::{AuditLine, BoxFuture, Flow, Ready, Switchovers};
use archtui_core::actions::Status;
use archtui_remote::actions::Outcome;
use archtui_remote::switchover::flow::Say;
use archtui_remote::Progress;

/// What the scripted flow does next.
pub(super) enum Cue {
    Say(String),
    Detail(String),
    /// Every pre-check passed: `prepare` returns.
    Prepared,
    /// `prepare` refuses.
    Refuse(Outcome),
    /// A step ends: its audit line.
    Step(String),
    /// `execute` returns.
    End(Outcome),
}

/// One audit line: what, confirmed, result, message.
type Audited = (String, bool, Status, String);

/// A flow that does what the test's cues say, and keeps its audit lines.
pub(super) struct Fake {
    cues: Mutex<Option<mpsc::UnboundedReceiver<Cue>>>,
    audited: Arc<Mutex<Vec<Audited>>>,
    closed: Arc<AtomicBool>,
}

impl Fake {
    pub(super) fn new() -> (Fake, mpsc::UnboundedSender<Cue>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let fake = Fake {
            cues: Mutex::new(Some(rx)),
            audited: Arc::default(),
            closed: Arc::default(),
        };
        (fake, tx)
    }
}

struct FakeReady {
    cues: mpsc::UnboundedReceiver<Cue>,
    closed: Arc<AtomicBool>,
}

impl Flow for Fake {
    fn prepare<'a>(
        &'a self,
        _kind: archtui_core::switchover::Kind,
        _cand: &'a str,
        _read_only: bool,
        say: Say<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn Ready>, Outcome>> {
        let cues = self.cues.lock().expect("not poisoned").take();
        let closed = self.closed.clone();
        Box::pin(async move {
            let mut cues = cues.ok_or_else(|| Outcome::failed("one run per fake"))?;
            while let Some(c) = cues.recv().await {
                match c {
                    Cue::Say(l) => say(&l),
                    Cue::Prepared => {
                        return Ok(Box::new(FakeReady { cues, closed }) as Box<dyn Ready>)
                    }
                    Cue::Refuse(o) => return Err(o),
                    _ => {}
                }
            }
            Err(Outcome::failed("the script ended"))
        })
    }

    fn audit(&self, l: AuditLine<'_>) -> Option<String> {
        self.audited.lock().expect("not poisoned").push((
            l.what.to_string(),
            l.confirmed,
            l.outcome.status,
            l.outcome.message.clone(),
        ));
        None
    }

    fn begin(
        &self,
        _: archtui_core::switchover::Kind,
        _: &str,
        _: &[String],
    ) -> Option<archtui_remote::local::audit::Pending> {
        None
    }
}

impl Ready for FakeReady {
    fn execute<'a>(
        mut self: Box<Self>,
        progress: Progress,
        say: Say<'a>,
        audit: crate::tui::switchover::Audit<'a>,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            while let Some(c) = self.cues.recv().await {
                match c {
                    Cue::Say(l) => say(&l),
                    Cue::Detail(d) => {
                        let _ = progress.send(d);
                    }
                    Cue::Step(what) => audit(&what, &Outcome::ok("done"), Duration::ZERO),
                    Cue::End(o) => return o,
                    _ => {}
                }
            }
            Outcome::failed("the script ended")
        })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        self.closed.store(true, Ordering::SeqCst);
        Box::pin(async {})
    }
}

/// Effects written down; the switchover's carried out by the console's
/// own `Switchovers`, on the fake flow.
struct Sim {
    tasks: Tasks,
    switchovers: Switchovers,
    tx: Option<mpsc::Sender<Msg>>,
    effects: Vec<Effect>,
}

impl Sim {
    fn new(fake: Fake) -> Sim {
        Sim {
            tasks: Tasks::new(),
            switchovers: Switchovers::new(Arc::new(fake)),
            tx: None,
            effects: Vec::new(),
        }
    }
}

impl Effects for Sim {
    fn connect(&mut self, msgs: mpsc::Sender<Msg>, _: mpsc::Sender<TailEvent>) {
        self.tx = Some(msgs);
    }

    fn run(&mut self, fx: Effect) -> Option<String> {
        if let (Effect::Switchover(r), Some(tx)) = (&fx, &self.tx) {
            self.switchovers.request(r.clone(), &mut self.tasks, tx);
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

fn names(effects: &[Effect]) -> Vec<&'static str> {
    use archtui_core::app::switchover::Request as R;
    effects
        .iter()
        .map(|e| match e {
            Effect::Switchover(R::Prepare { .. }) => "prepare",
            Effect::Switchover(R::Execute { .. }) => "execute",
            Effect::Switchover(R::Cancel { .. }) => "cancel",
            Effect::Reload => "reload",
            Effect::Quit => "quit",
            _ => "other",
        })
        .collect()
}

/// Runs the loop on `model` with `sim` until `script` has pressed q.
async fn drive<F>(model: &mut Model, sim: &mut Sim, h: Harness, script: impl FnOnce(Script) -> F)
where
    F: std::future::Future<Output = Script>,
{
    let Harness {
        mut screen,
        events,
        observations_rx,
        script: s,
    } = h;
    let run = event_loop(&mut screen, model, events, observations_rx, sim);
    let (ended, _s) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(run, script(s))
    })
    .await
    .expect("the loop quits on q");
    ended.expect("no terminal error");
    assert!(model.quit);
}

#[tokio::test]
async fn s_on_a_slave_runs_the_switchover_screen_to_its_outcome_and_closing_reloads() {
    let mut model = fixtures::model();
    let (fake, cues) = Fake::new();
    let audited = fake.audited.clone();
    let mut sim = Sim::new(fake);
    drive(&mut model, &mut sim, harness(100), |mut s| async move {
        let say = |l: &str| cues.send(Cue::Say(l.into())).expect("the flow listens");
        s.until("the fleet", |f| f.contains("jukebox")).await;
        // S on the master's row says why nothing opens.
        s.key(KeyCode::Char('S'));
        s.until("the master refused", |f| {
            f.contains("cavaforgepad is the master: select the slave")
        })
        .await;
        s.key(KeyCode::Down);
        s.key(KeyCode::Char('S'));
        s.until("the screen", |f| {
            f.contains("┌ Switchover to jukebox ") && f.contains("pre-checks…")
        })
        .await;
        // Lines show as they come, before the pre-checks end.
        say("Pre-checks (nothing is changed):");
        say("  PASS old master up             cavaforgepad answers");
        s.until("the first pre-check", |f| {
            f.contains("PASS old master up") && f.contains("pre-checks…")
        })
        .await;
        say("Plan:");
        say("  1 fence      the old master's app and heartbeat writer stopped");
        cues.send(Cue::Prepared).expect("the flow listens");
        s.until("the prompt", |f| {
            f.contains("Type the new master's name (jukebox) to switch over:")
                && f.contains("1 fence")
        })
        .await;
        // A wrong name changes nothing and stays.
        s.typed("jukebx");
        s.key(KeyCode::Enter);
        s.until("the wrong name said", |f| {
            f.contains("the name typed is not jukebox; nothing was changed")
                && f.contains("> jukebx")
        })
        .await;
        s.key(KeyCode::Left);
        s.typed("o");
        s.key(KeyCode::Enter);
        s.until("the steps running", |f| f.contains("running… starting"))
            .await;
        say("[1/10] fence the old master's writes ...");
        cues.send(Cue::Detail("archive-app-1 stopped".into()))
            .expect("the flow listens");
        cues.send(Cue::Step("switchover:fence".into()))
            .expect("the flow listens");
        say("[1/10] ok (0.4 s): fenced");
        s.until("a step and its detail", |f| {
            f.contains("  | archive-app-1 stopped")
                && f.contains("running… [1/10] ok (0.4 s): fenced")
        })
        .await;
        // Esc does not close it while it runs.
        s.key(KeyCode::Esc);
        s.until("Esc refused", |f| {
            f.contains("cannot be closed until it ends")
        })
        .await;
        let done = "jukebox is the master; cavaforgepad replicate(s) from it";
        cues.send(Cue::End(Outcome::ok(done)))
            .expect("the flow listens");
        s.until("the outcome", |f| {
            f.contains(&format!("ok: {done}")) && f.contains("Esc close and reload the config")
        })
        .await;
        s.key(KeyCode::Esc);
        s.until("the fleet again, with the outcome", |f| {
            !f.contains("Switchover to jukebox") && f.contains("switchover to jukebox: ok:")
        })
        .await;
        s.key(KeyCode::Char('q'));
        s
    })
    .await;
    assert_eq!(
        names(&sim.effects),
        ["prepare", "execute", "reload", "quit"],
        "{:?}",
        sim.effects
    );
    let audited = audited.lock().expect("not poisoned").clone();
    assert_eq!(
        audited
            .iter()
            .map(|(w, c, s, _)| (w.as_str(), *c, *s))
            .collect::<Vec<_>>(),
        [
            ("switchover:fence", true, Status::Ok),
            ("switchover", true, Status::Ok)
        ]
    );
    sim.tasks.shutdown(GRACE).await;
}

#[tokio::test]
async fn a_refusal_shows_its_fail_lines_and_only_esc_closes() {
    let mut model = fixtures::model();
    let (fake, cues) = Fake::new();
    let audited = fake.audited.clone();
    let mut sim = Sim::new(fake);
    drive(&mut model, &mut sim, harness(100), |mut s| async move {
        s.key(KeyCode::Down);
        s.key(KeyCode::Char('S'));
        for l in [
            "Pre-checks (nothing is changed):",
            "  FAIL candidate heartbeat      41.0 s old",
            "       fix: look at jukebox's Bucardo",
        ] {
            cues.send(Cue::Say(l.into())).expect("the flow listens");
        }
        let why = "pre-check failed: candidate heartbeat; nothing was changed";
        cues.send(Cue::Refuse(Outcome::refused(why)))
            .expect("the flow listens");
        s.until("the refusal", |f| {
            f.contains(&format!("refused: {why}"))
                && f.contains("FAIL candidate heartbeat")
                && f.contains("fix: look at jukebox's Bucardo")
        })
        .await;
        // Typing and Enter do nothing here.
        s.typed("jukebox");
        s.key(KeyCode::Enter);
        s.key(KeyCode::Esc);
        s.until("closed", |f| {
            !f.contains("Switchover to jukebox") && f.contains("switchover to jukebox refused")
        })
        .await;
        s.key(KeyCode::Char('q'));
        s
    })
    .await;
    assert_eq!(
        names(&sim.effects),
        ["prepare", "quit"],
        "{:?}",
        sim.effects
    );
    let audited = audited.lock().expect("not poisoned").clone();
    assert!(
        matches!(&audited[..], [(w, false, Status::Refused, m)] if w == "switchover" && m.contains("pre-check failed")),
        "{audited:?}"
    );
    sim.tasks.shutdown(GRACE).await;
}

#[tokio::test]
async fn a_resumed_failover_closed_at_the_prompt_changes_nothing() {
    let mut model = fixtures::model();
    let (fake, cues) = Fake::new();
    let (audited, closed) = (fake.audited.clone(), fake.closed.clone());
    let mut sim = Sim::new(fake);
    drive(&mut model, &mut sim, harness(100), |mut s| async move {
        s.key(KeyCode::Down);
        s.key(KeyCode::Char('F'));
        let resuming =
            "Resuming the failover to jukebox started 2025-01-02T03:04:05Z: done mark-fenced";
        cues.send(Cue::Say(resuming.into()))
            .expect("the flow listens");
        cues.send(Cue::Prepared).expect("the flow listens");
        s.until("the resume and the prompt", |f| {
            f.contains("┌ Failover to jukebox ")
                && f.contains("Resuming the failover to jukebox started")
                && f.contains("Type the new master's name (jukebox) to fail over:")
        })
        .await;
        s.typed("juke");
        s.key(KeyCode::Esc);
        s.until("closed, nothing changed", |f| {
            !f.contains("Failover to jukebox")
                && f.contains("failover to jukebox cancelled: nothing was changed")
        })
        .await;
        s.key(KeyCode::Char('q'));
        s
    })
    .await;
    assert_eq!(
        names(&sim.effects),
        ["prepare", "cancel", "quit"],
        "{:?}",
        sim.effects
    );
    // The run lets its prepared links go and audits the cancel.
    sim.tasks.wait().await;
    assert!(closed.load(Ordering::SeqCst), "the prepared run is closed");
    let audited = audited.lock().expect("not poisoned").clone();
    assert!(
        matches!(&audited[..], [(w, false, Status::Refused, m)] if w == "failover" && m.contains("nothing was changed")),
        "{audited:?}"
    );
}

#[tokio::test]
async fn a_panicked_run_ends_its_screen_and_is_audited() {
    let ctx = Context::new(
        fixtures::config(),
        archtui_core::credentials::Password::Pgpass(Vec::new()),
    )
    .expect("a context");
    let (fake, _cues) = Fake::new();
    let audited = fake.audited.clone();
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
        switchovers: Switchovers::new(Arc::new(fake)),
    };
    let h = exec
        .tasks
        .spawn(Kind::Switchover, "switchover jukebox #4", async {
            panic!("bad step")
        });
    let work = Work::Switchover {
        id: 4,
        kind: archtui_core::switchover::Kind::Switchover,
        candidate: "jukebox".into(),
    };
    exec.work.insert(h.id(), (h, work));
    let mut msgs = Vec::new();
    for _ in 0..100 {
        msgs.extend(exec.reap().0);
        if !msgs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        matches!(&msgs[..], [Msg::Switchover { id: 4, event: archtui_core::app::switchover::Event::Ended(o) }] if o.message.contains("panicked: bad step")),
        "{msgs:?}"
    );
    let audited = audited.lock().expect("not poisoned").clone();
    assert!(
        matches!(&audited[..], [(w, false, Status::Failed, _)] if w == "switchover"),
        "{audited:?}"
    );
}
