//! One owner of a front-end's tasks: a `JoinSet` and a cancellation
//! token. Every console task (host supervisors, log tails, actions and
//! verifies, the wizard's worker and lookups) is spawned through one, so
//! that leaving the console or reloading its config ends them all, within
//! a bound, and a task that panics is reported instead of lost with its
//! detached `JoinHandle`.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio::task::{AbortHandle, Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

/// What a task is for, in its reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Supervisor,
    Tail,
    Action,
    Verify,
    Wizard,
    Switchover,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Supervisor => "supervisor",
            Kind::Tail => "log tail",
            Kind::Action => "action",
            Kind::Verify => "verify",
            Kind::Wizard => "wizard",
            Kind::Switchover => "switchover",
        }
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// Its work came to its end.
    Done,
    /// The token was cancelled first: its work was dropped where it was.
    Cancelled,
    /// Aborted: by its handle, or still running when the bounded wait of
    /// `shutdown` ran out.
    Aborted,
    /// It panicked; the panic's message.
    Panicked(String),
}

/// A task that ended, as `reap` and `shutdown` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub id: Id,
    pub kind: Kind,
    pub name: String,
    pub how: How,
}

impl Ended {
    /// A line for the operator when the end is worth one (a panic).
    pub fn problem(&self) -> Option<String> {
        match &self.how {
            How::Panicked(p) => Some(format!(
                "the {} task {} panicked: {p}",
                self.kind.as_str(),
                self.name
            )),
            How::Done | How::Cancelled | How::Aborted => None,
        }
    }
}

/// What the set's tasks return: whether their work finished or was
/// dropped at the token.
enum Stop {
    Done,
    Cancelled,
}

pub struct Tasks {
    set: JoinSet<Stop>,
    token: CancellationToken,
    names: HashMap<Id, (Kind, String)>,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks::new()
    }
}

impl Tasks {
    pub fn new() -> Tasks {
        Tasks::with_token(CancellationToken::new())
    }

    fn with_token(token: CancellationToken) -> Tasks {
        Tasks {
            set: JoinSet::new(),
            token,
            names: HashMap::new(),
        }
    }

    /// A set of its own whose token is cancelled with this one's, not the
    /// other way round: a config reload ends the old fleet's tasks only.
    pub fn child(&self) -> Tasks {
        Tasks::with_token(self.token.child_token())
    }

    /// The token the set's tasks stop at.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Runs `work` until it ends or the token is cancelled (then it is
    /// dropped where it awaits, as an abort would).
    pub fn spawn<F>(&mut self, kind: Kind, name: impl Into<String>, work: F) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.clone();
        self.insert(kind, name.into(), async move {
            tokio::select! {
                () = work => Stop::Done,
                () = token.cancelled() => Stop::Cancelled,
            }
        })
    }

    /// Like `spawn`, but `work` is handed the token and ends itself when
    /// it is cancelled, on its own terms (a link closed), within
    /// `shutdown`'s bound or aborted past it.
    pub fn spawn_with<F>(
        &mut self,
        kind: Kind,
        name: impl Into<String>,
        work: impl FnOnce(CancellationToken) -> F,
    ) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let work = work(self.token.clone());
        self.insert(kind, name.into(), async move {
            work.await;
            Stop::Done
        })
    }

    fn insert(
        &mut self,
        kind: Kind,
        name: String,
        task: impl Future<Output = Stop> + Send + 'static,
    ) -> AbortHandle {
        let handle = self.set.spawn(task);
        self.names.insert(handle.id(), (kind, name));
        handle
    }

    /// Tasks not reaped yet (running, or ended and not reported).
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The tasks that have ended since the last call, without waiting.
    pub fn reap(&mut self) -> Vec<Ended> {
        let mut ended = Vec::new();
        while let Some(r) = self.set.try_join_next_with_id() {
            ended.push(self.ended(r));
        }
        ended
    }

    /// The next task to end, waiting for it; `None` at once when there
    /// are none. Cancel-safe: a `select!` branch.
    pub async fn next(&mut self) -> Option<Ended> {
        let r = self.set.join_next_with_id().await?;
        Some(self.ended(r))
    }

    /// Waits for every task to end by itself (a headless run that lets the
    /// running step finish).
    pub async fn wait(&mut self) -> Vec<Ended> {
        let mut ended = Vec::new();
        while let Some(r) = self.set.join_next_with_id().await {
            ended.push(self.ended(r));
        }
        ended
    }

    /// Cancels the token and waits up to `within` for the tasks to end;
    /// those still running then are aborted. Every end is reported, with
    /// the ones reaped before.
    pub async fn shutdown(&mut self, within: Duration) -> Vec<Ended> {
        self.token.cancel();
        let mut ended = self.reap();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.set.join_next_with_id()).await {
                Ok(Some(r)) => ended.push(self.ended(r)),
                Ok(None) => return ended,
                Err(_) => break,
            }
        }
        self.set.abort_all();
        // An aborted task stops at its next await; one blocked past that
        // is left to the runtime's shutdown (dropping the set detaches it).
        let grace = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Some(r)) = tokio::time::timeout_at(grace, self.set.join_next_with_id()).await {
            ended.push(self.ended(r));
        }
        let left: Vec<Id> = self.names.keys().copied().collect();
        for id in left {
            if let Some((kind, name)) = self.names.remove(&id) {
                tracing::warn!(kind = kind.as_str(), name = %name, "task left running after abort");
                ended.push(Ended {
                    id,
                    kind,
                    name,
                    how: How::Aborted,
                });
            }
        }
        self.set.detach_all();
        ended
    }

    fn ended(&mut self, r: Result<(Id, Stop), JoinError>) -> Ended {
        let (id, how) = match r {
            Ok((id, Stop::Done)) => (id, How::Done),
            Ok((id, Stop::Cancelled)) => (id, How::Cancelled),
            Err(e) if e.is_panic() => (e.id(), How::Panicked(panic_text(e))),
            Err(e) => (e.id(), How::Aborted),
        };
        let (kind, name) = self
            .names
            .remove(&id)
            .unwrap_or((Kind::Action, "(unnamed)".into()));
        let ended = Ended {
            id,
            kind,
            name,
            how,
        };
        if let Some(p) = ended.problem() {
            tracing::error!("{p}");
        }
        ended
    }
}

fn panic_text(e: JoinError) -> String {
    let p = e.into_panic();
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hows(mut e: Vec<Ended>) -> Vec<(String, How)> {
        e.sort_by(|a, b| a.name.cmp(&b.name));
        e.into_iter().map(|e| (e.name, e.how)).collect()
    }

    #[tokio::test]
    async fn a_panic_is_reported_with_its_kind_name_and_message() {
        let mut t = Tasks::new();
        t.spawn(Kind::Tail, "jukebox/app", async {
            panic!("frame too long")
        });
        t.spawn(Kind::Action, "restart", async {});
        let ended = t.wait().await;
        let p = ended
            .iter()
            .find(|e| e.kind == Kind::Tail)
            .expect("the tail's end is reported");
        assert_eq!(p.how, How::Panicked("frame too long".into()));
        assert_eq!(
            p.problem().as_deref(),
            Some("the log tail task jukebox/app panicked: frame too long")
        );
        assert!(ended
            .iter()
            .any(|e| e.name == "restart" && e.how == How::Done && e.problem().is_none()));
        assert!(t.is_empty() && t.reap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_cancels_waits_for_the_cooperative_and_aborts_the_stuck() {
        let mut t = Tasks::new();
        t.spawn(Kind::Supervisor, "a pending one", std::future::pending());
        // Ends on its own terms at the token: closes its link, say.
        let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let c = closed.clone();
        t.spawn_with(Kind::Supervisor, "b closes", move |token| async move {
            token.cancelled().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            c.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // Ignores the token for longer than the bound.
        t.spawn_with(Kind::Wizard, "c stuck", |_| std::future::pending());
        let ended = t.shutdown(Duration::from_secs(3)).await;
        assert!(closed.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(
            hows(ended),
            [
                ("a pending one".into(), How::Cancelled),
                ("b closes".into(), How::Done),
                ("c stuck".into(), How::Aborted),
            ]
        );
        assert!(t.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_bound_a_task_is_aborted() {
        let mut t = Tasks::new();
        t.spawn_with(Kind::Wizard, "slow close", |token| async move {
            token.cancelled().await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let start = tokio::time::Instant::now();
        let ended = t.shutdown(Duration::from_secs(3)).await;
        assert_eq!(hows(ended), [("slow close".into(), How::Aborted)]);
        assert!(start.elapsed() < Duration::from_secs(4), "bounded");
    }

    #[tokio::test]
    async fn a_child_is_cancelled_with_its_parent_not_the_other_way() {
        let mut root = Tasks::new();
        let mut old = root.child();
        let mut new = root.child();
        old.spawn(Kind::Supervisor, "old", std::future::pending());
        new.spawn(Kind::Supervisor, "new", std::future::pending());
        root.spawn(Kind::Wizard, "root", std::future::pending());
        assert_eq!(
            hows(old.shutdown(Duration::from_secs(3)).await),
            [("old".into(), How::Cancelled)]
        );
        assert!(!new.token().is_cancelled() && !root.token().is_cancelled());
        root.token().cancel();
        assert!(new.token().is_cancelled());
        assert_eq!(hows(new.wait().await), [("new".into(), How::Cancelled)]);
        assert_eq!(hows(root.wait().await), [("root".into(), How::Cancelled)]);
    }

    #[tokio::test]
    async fn an_aborted_handle_reports_aborted() {
        let mut t = Tasks::new();
        let h = t.spawn(Kind::Tail, "closed pane", std::future::pending());
        h.abort();
        assert_eq!(hows(t.wait().await), [("closed pane".into(), How::Aborted)]);
    }
}
