//! A planned switchover: the master's role moves to a slave with zero data
//! loss. What is pure is here: the steps and their order, the journal that
//! makes a killed run resumable, the plan shown before anything changes,
//! the env files each host gets and the pre-checks' verdict. Carrying the
//! steps out is `archtui_remote::switchover`.
//!
//! The order keeps every write replicated: the old master is fenced first
//! (its app stopped, its app role read-only, its heartbeat writer stopped),
//! every slave drains, and the other slaves (the old master among them)
//! register with the candidate *before* its app starts as the master's, so
//! Bucardo's delta triggers exist on it before its first write.

use serde::{Deserialize, Serialize};

mod checks;
mod env;
mod plan;

pub use checks::{all_pass, checks, Facts};
pub use env::{new_env, EnvError, HostEnv, NewEnv};
pub use plan::plan;

/// The steps, in order; each is idempotent and checks its postcondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Fence,
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

    pub fn number(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    /// The name in the journal, the audit log and `--help`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Fence => "fence",
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

    /// The steps after `done`, in order.
    pub fn remaining(done: &[Step]) -> Vec<Step> {
        Step::ALL
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
}

/// The journal of a switchover under way: one file, rewritten after every
/// step, so a killed run resumes at the step it was in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
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
}

impl Journal {
    pub fn new(roles: Roles, started_at: String) -> Journal {
        Journal {
            roles,
            started_at,
            done: Vec::new(),
            fenced_at_ms: None,
            writable_at_ms: None,
        }
    }

    pub fn next(&self) -> Option<Step> {
        Step::remaining(&self.done).into_iter().next()
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
        level: if refusing {
            Level::Critical
        } else {
            Level::Warning
        },
        message: format!(
            "switchover in progress: {} to {} ({done}){}; `archtui switchover {}` resumes it",
            j.roles.old_master,
            j.roles.candidate,
            if refusing {
                "; writes are refused until it ends"
            } else {
                ""
            },
            j.roles.candidate
        ),
    }
}

#[cfg(test)]
mod tests;
