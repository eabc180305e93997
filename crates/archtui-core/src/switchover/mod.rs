//! A planned switchover (the master's role moves to a slave with zero data
//! loss) and an unplanned failover (the master is gone; a slave takes its
//! role, and the writes it had not received yet are lost, bounded by its
//! heartbeat's age). What is pure is here: the steps and their order, the
//! journal that makes a killed run resumable, the plan shown before
//! anything changes, the env files each host gets and the pre-checks'
//! verdict. Carrying the steps out is `archtui_remote::switchover`.
//!
//! The order keeps every write replicated: the old master is fenced first
//! (its app stopped, its app role read-only, its heartbeat writer stopped),
//! every slave drains, and the other slaves (the old master among them)
//! register with the candidate *before* its app starts as the master's, so
//! Bucardo's delta triggers exist on it before its first write.

use serde::{Deserialize, Serialize};

mod checks;
mod env;
mod failover;
mod plan;

pub use checks::{all_pass, checks, Facts};
pub use env::{failover_env, new_env, rejoin_env, EnvError, HostEnv, NewEnv};
pub use failover::{failover_checks, rank, FailoverFacts, SlaveFacts, SEQUENCE_GAP};
pub use plan::plan;

/// Which of the two a journal is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Planned: the old master is up, fenced and drained first.
    #[default]
    Switchover,
    /// Unplanned: the old master is unreachable; it is fenced in the
    /// config and comes back only through `archtui rejoin`.
    Failover,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Switchover => "switchover",
            Kind::Failover => "failover",
        }
    }

    /// The steps of this kind, in order.
    pub fn steps(self) -> &'static [Step] {
        match self {
            Kind::Switchover => &Step::ALL,
            Kind::Failover => &Step::FAILOVER,
        }
    }

    /// The step's title in this kind (a failover's lost master takes no
    /// part in them).
    pub fn title(self, s: Step) -> &'static str {
        match (self, s) {
            (Kind::Failover, Step::StopReplication) => {
                "stop Bucardo on the candidate and the reachable slaves"
            }
            (Kind::Failover, Step::Repoint) => "re-register the other slaves with the candidate",
            (Kind::Failover, Step::Verify) => "verify every other slave against the new master",
            _ => s.title(),
        }
    }

    /// The step's place in this kind's order, from 1.
    pub fn number(self, s: Step) -> usize {
        self.steps().iter().position(|x| *x == s).unwrap_or(0) + 1
    }
}

/// The steps, in order; each is idempotent and checks its postcondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Fence,
    /// A failover's first step: the lost master is marked fenced in the
    /// archtui config, so nothing treats it as the master when it returns.
    MarkFenced,
    Drain,
    PrepareCandidate,
    StopReplication,
    Sequences,
    SwapEnv,
    Repoint,
    Promote,
    Verify,
    Config,
}

impl Step {
    pub const ALL: [Step; 10] = [
        Step::Fence,
        Step::Drain,
        Step::PrepareCandidate,
        Step::StopReplication,
        Step::Sequences,
        Step::SwapEnv,
        Step::Repoint,
        Step::Promote,
        Step::Verify,
        Step::Config,
    ];

    /// A failover: what needs the old master is left out (fence, drain).
    pub const FAILOVER: [Step; 9] = [
        Step::MarkFenced,
        Step::PrepareCandidate,
        Step::StopReplication,
        Step::Sequences,
        Step::SwapEnv,
        Step::Repoint,
        Step::Promote,
        Step::Verify,
        Step::Config,
    ];

    /// The step's place in a switchover, from 1.
    pub fn number(self) -> usize {
        Kind::Switchover.number(self)
    }

    /// The name in the journal, the audit log and `--help`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Fence => "fence",
            Step::MarkFenced => "mark-fenced",
            Step::Drain => "drain",
            Step::PrepareCandidate => "prepare-candidate",
            Step::StopReplication => "stop-replication",
            Step::Sequences => "sequences",
            Step::SwapEnv => "swap-env",
            Step::Repoint => "repoint",
            Step::Promote => "promote",
            Step::Verify => "verify",
            Step::Config => "config",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Fence => "fence the old master (app stopped, writes refused, heartbeat stopped)",
            Step::MarkFenced => "mark the lost master fenced in the archtui config",
            Step::Drain => "drain: every slave has applied every change",
            Step::PrepareCandidate => "prepare the candidate's registry and heartbeat table",
            Step::StopReplication => "stop Bucardo on every slave",
            Step::Sequences => "set the candidate's sequences past every key",
            Step::SwapEnv => "swap the roles in the env files",
            Step::Repoint => "re-register the old master and the other slaves with the candidate",
            Step::Promote => "deploy the candidate as the master",
            Step::Verify => "verify every slave against the new master",
            Step::Config => "swap the roles in the archtui config",
        }
    }

    /// The switchover's steps after `done`, in order.
    pub fn remaining(done: &[Step]) -> Vec<Step> {
        Kind::Switchover.remaining(done)
    }
}

impl Kind {
    /// This kind's steps after `done`, in order.
    pub fn remaining(self, done: &[Step]) -> Vec<Step> {
        self.steps()
            .iter()
            .copied()
            .filter(|s| !done.contains(s))
            .collect()
    }
}

/// Who is who, fixed when the run starts (the config changes at its end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    pub old_master: String,
    pub candidate: String,
    /// The other slaves, which follow the candidate.
    pub others: Vec<String>,
    /// A failover's other slaves that could not be reached: they are left
    /// as they are and rejoin later (`archtui rejoin NAME`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_behind: Vec<String>,
}

/// The journal of a switchover under way: one file, rewritten after every
/// step, so a killed run resumes at the step it was in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    #[serde(default)]
    pub kind: Kind,
    pub roles: Roles,
    /// RFC 3339, when the first step started.
    pub started_at: String,
    pub done: Vec<Step>,
    /// Unix ms when the fence took effect: writes are refused from here
    /// until the candidate's app serves as the master's.
    #[serde(default)]
    pub fenced_at_ms: Option<i64>,
    #[serde(default)]
    pub writable_at_ms: Option<i64>,
    /// A failover's bound on lost writes: the age of the candidate's
    /// heartbeat when the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_writes_bound_secs: Option<f64>,
}

impl Journal {
    pub fn new(roles: Roles, started_at: String) -> Journal {
        Journal {
            kind: Kind::Switchover,
            roles,
            started_at,
            done: Vec::new(),
            fenced_at_ms: None,
            writable_at_ms: None,
            lost_writes_bound_secs: None,
        }
    }

    pub fn failover(roles: Roles, started_at: String) -> Journal {
        Journal {
            kind: Kind::Failover,
            ..Journal::new(roles, started_at)
        }
    }

    pub fn next(&self) -> Option<Step> {
        self.remaining().into_iter().next()
    }

    pub fn remaining(&self) -> Vec<Step> {
        self.kind.remaining(&self.done)
    }

    pub fn mark(&mut self, step: Step) {
        if !self.done.contains(&step) {
            self.done.push(step);
        }
    }

    /// How long writes were refused, once the candidate took them.
    pub fn refused_secs(&self) -> Option<f64> {
        Some((self.writable_at_ms? - self.fenced_at_ms?) as f64 / 1000.0)
    }
}

/// The verdict's line while a journal is open: critical while writes are
/// refused (fenced, the candidate not serving yet), a warning after.
pub fn finding(j: &Journal) -> crate::verdict::Finding {
    use crate::verdict::{Finding, Level};
    let done = if j.done.is_empty() {
        "no step done yet".to_string()
    } else {
        format!(
            "done: {}",
            j.done
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let refusing = j.fenced_at_ms.is_some() && j.writable_at_ms.is_none();
    Finding {
        level: if refusing || j.kind == Kind::Failover {
            Level::Critical
        } else {
            Level::Warning
        },
        message: format!(
            "{kind} in progress: {} to {} ({done}){}; `archtui {kind} {}` resumes it",
            j.roles.old_master,
            j.roles.candidate,
            if refusing {
                "; writes are refused until it ends"
            } else {
                ""
            },
            j.roles.candidate,
            kind = j.kind.name(),
        ),
    }
}

#[cfg(test)]
mod tests;
