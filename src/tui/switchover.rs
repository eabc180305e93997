//! The console's side of the switchover screen: one task per run, owned
//! by the fleet's `Tasks`, runs the flow's `prepare`, waits for the
//! screen's answer, then its `execute` (or lets the prepared run go), and
//! audits as `archtui switchover` does: each step, and one line for the
//! whole run. Every line and the end come back as `Msg::Switchover`.
//! The flow is behind `Flow` so that the loop's tests drive the screen
//! with no network.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use archtui_core::app::switchover::{Event, Request};
use archtui_core::app::Msg;
use archtui_core::config::Config;
use archtui_core::switchover::Kind;
use archtui_remote::actions::Outcome;
use archtui_remote::local::audit;
use archtui_remote::switchover::flow::{self, Say};
use archtui_remote::tasks::{self, Tasks};
use archtui_remote::Progress;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the flow's step audit lines go (`flow::execute`'s `audit`).
pub type Audit<'a> = &'a (dyn Fn(&str, &Outcome, Duration) + Sync);

/// A run past its pre-checks and plan, waiting for the typed name.
pub trait Ready: Send {
    fn execute<'a>(
        self: Box<Self>,
        progress: Progress,
        say: Say<'a>,
        audit: Audit<'a>,
    ) -> BoxFuture<'a, Outcome>;
    /// Closed unconfirmed: its links are let go, nothing changed.
    fn close(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// The switchover flow, and where its audit lines go.
pub trait Flow: Send + Sync {
    fn prepare<'a>(
        &'a self,
        kind: Kind,
        cand: &'a str,
        read_only: bool,
        say: Say<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn Ready>, Outcome>>;
    /// Appends an audit line; `Some`: a warning that it could not.
    fn audit(&self, line: AuditLine<'_>) -> Option<String>;
    /// Registers the run as under way while its steps run, for the
    /// `interrupted` line of a signal or of "leave it running".
    fn begin(&self, kind: Kind, cand: &str, args: &[String]) -> Option<audit::Pending>;
}

/// One audit line of a run (`flow::audit_step`'s arguments).
pub struct AuditLine<'a> {
    pub cand: &'a str,
    pub args: &'a [String],
    pub what: &'a str,
    pub confirmed: bool,
    pub outcome: &'a Outcome,
    pub took: Duration,
}

/// The flow on the console's config and its file, audited in the
/// state directory's log.
pub struct Real {
    pub config: Config,
    pub config_path: PathBuf,
}

impl Flow for Real {
    fn prepare<'a>(
        &'a self,
        kind: Kind,
        cand: &'a str,
        read_only: bool,
        say: Say<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn Ready>, Outcome>> {
        Box::pin(async move {
            let config = self.config.clone();
            let p = flow::prepare(config, &self.config_path, kind, cand, read_only, say).await?;
            Ok(Box::new(p) as Box<dyn Ready>)
        })
    }

    fn audit(&self, l: AuditLine<'_>) -> Option<String> {
        flow::audit_step(l.cand, l.args, l.what, l.confirmed, l.outcome, l.took)
    }

    fn begin(&self, kind: Kind, cand: &str, args: &[String]) -> Option<audit::Pending> {
        Some(audit::begin(kind.name(), cand, args.to_vec(), true))
    }
}

impl Ready for flow::Prepared {
    fn execute<'a>(
        self: Box<Self>,
        progress: Progress,
        say: Say<'a>,
        audit: Audit<'a>,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(flow::execute(*self, progress, say, audit))
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(flow::Prepared::close(*self))
    }
}

/// The console's runs: each one's answer channel until it is answered.
pub struct Switchovers {
    flow: Arc<dyn Flow>,
    answers: HashMap<u64, oneshot::Sender<bool>>,
    /// Runs whose steps were started: a panic's audit line says so.
    confirmed: HashSet<u64>,
}

impl Switchovers {
    pub fn new(flow: Arc<dyn Flow>) -> Switchovers {
        Switchovers {
            flow,
            answers: HashMap::new(),
            confirmed: HashSet::new(),
        }
    }

    /// Carries out the screen's request; a new run's task, for the
    /// console's list of work.
    pub fn request(
        &mut self,
        r: Request,
        tasks: &mut Tasks,
        tx: &mpsc::Sender<Msg>,
    ) -> Option<AbortHandle> {
        match r {
            Request::Prepare {
                id,
                kind,
                candidate,
                read_only,
            } => {
                let (answer, answered) = oneshot::channel();
                self.answers.insert(id, answer);
                let name = format!("{} {candidate} #{id}", kind.name());
                let task = run(
                    self.flow.clone(),
                    Started {
                        id,
                        kind,
                        cand: candidate,
                        read_only,
                    },
                    answered,
                    tx.clone(),
                );
                Some(tasks.spawn(tasks::Kind::Switchover, name, task))
            }
            Request::Execute { id } => {
                self.confirmed.insert(id);
                self.answer(id, true);
                None
            }
            Request::Cancel { id } => {
                self.answer(id, false);
                None
            }
        }
    }

    fn answer(&mut self, id: u64, go: bool) {
        if let Some(a) = self.answers.remove(&id) {
            let _ = a.send(go);
        }
    }

    /// The whole run's audit line of a run whose task panicked (its own
    /// never comes); the message for its screen.
    pub fn panicked(&mut self, id: u64, kind: Kind, cand: &str, panic: &str) -> Outcome {
        self.answers.remove(&id);
        let lost = Outcome::failed(format!("archtui's task panicked: {panic}"));
        let _ = self.flow.audit(AuditLine {
            cand,
            args: &args(cand),
            what: kind.name(),
            confirmed: self.confirmed.remove(&id),
            outcome: &lost,
            took: Duration::ZERO,
        });
        lost
    }
}

/// A run's audit arguments: the candidate, from the console.
fn args(cand: &str) -> Vec<String> {
    vec![cand.to_string(), "--tui".into()]
}

struct Started {
    id: u64,
    kind: Kind,
    cand: String,
    read_only: bool,
}

/// One run, from its pre-checks to its end.
async fn run(
    flow: Arc<dyn Flow>,
    s: Started,
    answered: oneshot::Receiver<bool>,
    tx: mpsc::Sender<Msg>,
) {
    let clock = Instant::now();
    let args = args(&s.cand);
    let (events, lines) = mpsc::unbounded_channel::<Event>();
    let (progress, details) = mpsc::unbounded_channel::<String>();
    let work = async {
        let events = events;
        let say = |l: &str| {
            for part in l.lines() {
                let _ = events.send(Event::Line(part.to_string()));
            }
        };
        let audit = |what: &str, o: &Outcome, took: Duration| {
            let line = AuditLine {
                cand: &s.cand,
                args: &args,
                what,
                confirmed: true,
                outcome: o,
                took,
            };
            if let Some(w) = flow.audit(line) {
                say(&w);
            }
        };
        let (outcome, confirmed) = match flow.prepare(s.kind, &s.cand, s.read_only, &say).await {
            Err(o) => (o, false),
            Ok(ready) => {
                let _ = events.send(Event::Prepared);
                if answered.await.unwrap_or(false) {
                    // An `interrupted` line if the console is killed or
                    // left meanwhile, dropped before the run's own line.
                    let open = flow.begin(s.kind, &s.cand, &args);
                    let o = ready.execute(progress, &say, &audit).await;
                    drop(open);
                    (o, true)
                } else {
                    drop(progress);
                    ready.close().await;
                    let o =
                        Outcome::refused("cancelled at the typed-name prompt; nothing was changed");
                    (o, false)
                }
            }
        };
        let whole = AuditLine {
            cand: &s.cand,
            args: &args,
            what: s.kind.name(),
            confirmed,
            outcome: &outcome,
            took: clock.elapsed(),
        };
        if let Some(w) = flow.audit(whole) {
            say(&w);
        }
        outcome
    };
    let ((), outcome) = tokio::join!(forward(s.id, lines, details, tx.clone()), work);
    let _ = tx
        .send(Msg::Switchover {
            id: s.id,
            event: Event::Ended(outcome),
        })
        .await;
}

/// Sends the run's lines and its steps' details to the loop as they
/// come, until its lines end (the run's end); details still queued then
/// go too. A detail sender kept past the run cannot hold it up.
async fn forward(
    id: u64,
    mut lines: mpsc::UnboundedReceiver<Event>,
    mut details: mpsc::UnboundedReceiver<String>,
    tx: mpsc::Sender<Msg>,
) {
    let send = |event: Event| {
        let tx = tx.clone();
        async move { tx.send(Msg::Switchover { id, event }).await.is_ok() }
    };
    let mut details_open = true;
    loop {
        tokio::select! {
            biased;
            d = details.recv(), if details_open => match d {
                Some(d) => {
                    for part in d.lines() {
                        if !send(Event::Detail(part.to_string())).await {
                            return;
                        }
                    }
                }
                None => details_open = false,
            },
            l = lines.recv() => match l {
                Some(e) => {
                    if !send(e).await {
                        return;
                    }
                }
                None => break,
            },
        }
    }
    while let Ok(d) = details.try_recv() {
        for part in d.lines() {
            if !send(Event::Detail(part.to_string())).await {
                return;
            }
        }
    }
}
