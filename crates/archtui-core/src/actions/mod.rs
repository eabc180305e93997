//! Actions that change the fleet, their pure half: what an action is,
//! what it asks, its target and its outcome, and the deploy plan. One
//! implementation for the console and the headless subcommands; the
//! executors are `archtui_remote::actions`.

pub mod plan;

use std::fmt;

use crate::config::{Config, Host, Role};

/// One action on the fleet, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Kick {
        sync: String,
        wait_secs: Option<u64>,
    },
    Pause {
        sync: String,
    },
    Resume {
        sync: String,
    },
    /// Reloads one slave's daemon (every slave runs its own).
    Reload {
        slave: String,
    },
    /// Brings a sync back from whatever state it is in: the remedy that
    /// fits the state (`reload`: restart the slave's daemon regardless).
    Recover {
        sync: String,
        reload: bool,
    },
    Restart {
        host: String,
        service: String,
    },
    Stop {
        host: String,
        service: String,
    },
    Start {
        host: String,
        service: String,
    },
    Deploy {
        host: String,
        from: std::path::PathBuf,
        plan_only: bool,
        /// Deploy a master whose archive database is empty (deploy.sh refuses it otherwise).
        allow_empty: bool,
    },
    /// Removes a slave from the master's Bucardo and from the config file
    /// at `config_path`; `stop` also stops its stack.
    Retire {
        name: String,
        stop: bool,
        config_path: std::path::PathBuf,
    },
}

/// What the caller settled before the action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    pub read_only: bool,
    /// The operator said yes (or `--yes`).
    pub confirmed: bool,
}

/// How an action ended; each maps to one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    Refused,
    Unreachable,
    Timeout,
    /// A signal or a lost link stopped archtui while a job ran on the
    /// host; the job itself goes on there.
    Interrupted,
}

impl Status {
    /// Exit codes of the action subcommands (documented in `--help`).
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Failed => 1,
            Status::Refused => 2,
            Status::Unreachable => 3,
            Status::Timeout => 4,
            Status::Interrupted => 5,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Refused => "refused",
            Status::Unreachable => "unreachable",
            Status::Timeout => "timeout",
            Status::Interrupted => "interrupted",
        })
    }
}

/// An action whose target is not in the config, or whose arguments are
/// not names archtui passes to a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("no host named {0:?} in the config")]
    NoHost(String),
    #[error(
        "no slave named {name:?} in the config (every slave runs its own daemon; slaves: {slaves})"
    )]
    NoSlave { name: String, slaves: String },
    #[error("no slave in the config runs sync {sync:?}: each slave's daemon runs archive_<slave> (slaves: {slaves})")]
    NoSyncSlave { sync: String, slaves: String },
    #[error("no master host in the config")]
    NoMaster,
    #[error("{0:?} is not a sync name (letters, digits and _; a letter first)")]
    BadSync(String),
    #[error("{0:?} is not a service name")]
    BadService(String),
    #[error("{0:?} is not a slave name (lowercase letters, digits and _)")]
    BadSlaveName(String),
    #[error("{0} is fenced: a failover replaced it, and it must not act as the master or start again as it was; `archtui rejoin {0}` makes it a slave of the new master (stopping its services is allowed)")]
    Fenced(String),
}

impl From<ActionError> for String {
    fn from(e: ActionError) -> String {
        e.to_string()
    }
}

/// What came of an action: its status and one line for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub message: String,
}

impl Outcome {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub fn ok(message: impl Into<String>) -> Self {
        Self::new(Status::Ok, message)
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Status::Failed, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(Status::Refused, message)
    }
}

/// The lock target of provisioning (or retiring) a slave: one wizard or
/// retire per slave at a time.
pub fn provision_target(slave: &str) -> String {
    format!("provision-{slave}")
}

/// Bucardo sync names match `^[a-zA-Z]\w*$`; anything else is refused
/// before it gets near a channel name.
pub fn valid_sync_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Compose service names: what `docker compose` accepts, conservatively.
pub fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Action {
    /// The verb, as in the audit log and the subcommand.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Kick { .. } => "kick",
            Action::Pause { .. } => "pause",
            Action::Resume { .. } => "resume",
            Action::Reload { .. } => "reload",
            Action::Recover { .. } => "recover",
            Action::Restart { .. } => "restart",
            Action::Stop { .. } => "stop",
            Action::Start { .. } => "start",
            Action::Deploy { .. } => "deploy",
            Action::Retire { .. } => "retire",
        }
    }

    /// Arguments for the audit log: names only, never secrets.
    pub fn args(&self) -> Vec<String> {
        match self {
            Action::Kick { sync, wait_secs } => {
                let mut a = vec![sync.clone()];
                if let Some(w) = wait_secs {
                    a.extend(["--wait".into(), w.to_string()]);
                }
                a
            }
            Action::Pause { sync } | Action::Resume { sync } => vec![sync.clone()],
            Action::Recover { sync, reload } => {
                let mut a = vec![sync.clone()];
                if *reload {
                    a.push("--reload".into());
                }
                a
            }
            Action::Reload { slave } => vec![slave.clone()],
            Action::Restart { host, service }
            | Action::Stop { host, service }
            | Action::Start { host, service } => vec![host.clone(), service.clone()],
            Action::Deploy {
                host,
                from,
                plan_only,
                allow_empty,
            } => {
                let mut a = vec![host.clone(), "--from".into(), from.display().to_string()];
                if *allow_empty {
                    a.push("--allow-empty".into());
                }
                if *plan_only {
                    a.push("--plan".into());
                }
                a
            }
            Action::Retire { name, stop, .. } => {
                let mut a = vec![name.clone()];
                if *stop {
                    a.push("--stop".into());
                }
                a
            }
        }
    }

    /// The sync the action is about, if any.
    pub fn sync(&self) -> Option<&str> {
        match self {
            Action::Kick { sync, .. }
            | Action::Pause { sync }
            | Action::Resume { sync }
            | Action::Recover { sync, .. } => Some(sync),
            _ => None,
        }
    }

    /// Only one action per target at a time: this names the target.
    pub fn target(&self) -> String {
        match self {
            Action::Kick { sync, .. }
            | Action::Pause { sync }
            | Action::Resume { sync }
            | Action::Recover { sync, .. } => format!("sync-{sync}"),
            Action::Reload { slave } => format!("bucardo-{slave}"),
            Action::Restart { host, service }
            | Action::Stop { host, service }
            | Action::Start { host, service } => format!("{host}-{service}"),
            Action::Deploy { host, .. } => format!("deploy-{host}"),
            Action::Retire { name, .. } => provision_target(name),
        }
    }

    /// Does it change anything? A deploy's plan only reads, so it is
    /// allowed in read-only mode and needs no confirmation.
    pub fn changes_fleet(&self) -> bool {
        !matches!(
            self,
            Action::Deploy {
                plan_only: true,
                ..
            }
        )
    }

    /// Kick and resume only ask Bucardo to do what it does by itself, so
    /// they run without a confirmation; everything else asks.
    pub fn needs_confirmation(&self) -> bool {
        !matches!(
            self,
            Action::Kick { .. }
                | Action::Resume { .. }
                | Action::Deploy {
                    plan_only: true,
                    ..
                }
        )
    }

    /// The host the action runs on. A sync runs on its slave's own daemon
    /// (sync `archive_<slave>`); retire works from the master.
    pub fn resolve_host(&self, config: &Config) -> Result<Host, ActionError> {
        let hosts = config.hosts();
        let slave = |name: &str| {
            hosts
                .iter()
                .find(|h| h.name == name && h.role == Role::Slave)
                .cloned()
        };
        let slaves = || {
            hosts
                .iter()
                .filter(|h| h.role == Role::Slave)
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let h = match self {
            Action::Restart { host, .. }
            | Action::Stop { host, .. }
            | Action::Start { host, .. }
            | Action::Deploy { host, .. } => hosts
                .iter()
                .find(|h| &h.name == host)
                .cloned()
                .ok_or_else(|| ActionError::NoHost(host.clone())),
            Action::Reload { slave: name } => slave(name).ok_or_else(|| ActionError::NoSlave {
                name: name.clone(),
                slaves: slaves(),
            }),
            Action::Kick { sync, .. }
            | Action::Pause { sync }
            | Action::Resume { sync }
            | Action::Recover { sync, .. } => sync
                .strip_prefix("archive_")
                .and_then(slave)
                .ok_or_else(|| ActionError::NoSyncSlave {
                    sync: sync.clone(),
                    slaves: slaves(),
                }),
            Action::Retire { .. } => hosts
                .iter()
                .find(|h| h.role == Role::Master)
                .cloned()
                .ok_or(ActionError::NoMaster),
        }?;
        // A fenced host may only be stopped (or retired, from the master).
        if config.is_fenced(&h.name) && !matches!(self, Action::Stop { .. } | Action::Retire { .. })
        {
            return Err(ActionError::Fenced(h.name));
        }
        Ok(h)
    }

    /// Checks the arguments without touching anything.
    pub fn validate(&self) -> Result<(), ActionError> {
        if let Some(sync) = self.sync() {
            if !valid_sync_name(sync) {
                return Err(ActionError::BadSync(sync.to_string()));
            }
        }
        match self {
            Action::Restart { service, .. }
            | Action::Stop { service, .. }
            | Action::Start { service, .. }
                if !valid_service_name(service) =>
            {
                Err(ActionError::BadService(service.clone()))
            }
            Action::Retire { name, .. } if !crate::config::valid_host_name(name) => {
                Err(ActionError::BadSlaveName(name.clone()))
            }
            _ => Ok(()),
        }
    }

    /// The question a confirmation asks: it names host and target.
    pub fn question(&self, host: &Host) -> String {
        let h = &host.name;
        match self {
            Action::Kick { sync, .. } => format!("Kick sync {sync} on {h}?"),
            Action::Pause { sync } => {
                format!("Pause sync {sync} on {h}? Replication stops until resumed.")
            }
            Action::Resume { sync } => format!("Resume sync {sync} on {h}?"),
            Action::Reload { .. } => {
                format!("Reload {h}'s Bucardo daemon? Its sync restarts.")
            }
            Action::Recover {
                sync,
                reload: false,
            } => {
                format!("Recover sync {sync} on {h} (read its state, apply the remedy that fits it, wait for a good run)?")
            }
            Action::Recover { sync, reload: true } => {
                format!("Recover sync {sync} by restarting {h}'s Bucardo daemon?")
            }
            Action::Restart { service, .. } => {
                format!("Restart container {service} on {h}?")
            }
            Action::Stop { service, .. } => {
                format!("Stop container {service} on {h}? It stays down until started.")
            }
            Action::Start { service, .. } => format!("Start container {service} on {h}?"),
            Action::Deploy { .. } => format!(
                "Deploy the stack to {h} ({}) in {}?",
                host.role, host.deploy_dir
            ),
            Action::Retire { name, stop, .. } => format!(
                "Retire slave {name}: remove sync archive_{name}, dbgroup {name}_grp, db {name} and its delta targets from {h}'s Bucardo{}, and remove {name} from the config?",
                if *stop { ", stop its stack" } else { "" }
            ),
        }
    }

    /// Deploying the master asks for its name to be typed, not a y;
    /// retiring a slave asks for the slave's.
    pub fn type_to_confirm(&self, host: &Host) -> Option<String> {
        match self {
            Action::Retire { name, .. } => Some(name.clone()),
            Action::Deploy { .. } if host.role == Role::Master => Some(host.name.clone()),
            _ => None,
        }
    }
}

/// The refusal every action gets in read-only mode.
pub fn read_only_refusal(action: &Action) -> Outcome {
    Outcome::refused(
        format!(
            "read-only mode (--read-only or read_only = true in the config): refusing to {} {}",
            action.name(),
            action.args().join(" ")
        )
        .trim_end()
        .to_string(),
    )
}

/// Remote text made safe for the operator's terminal and the audit log:
/// the one sanitizer, then every known secret redacted.
pub use crate::sanitize::shown as clean;

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, role: Role) -> Host {
        Host::example(name, role)
    }

    #[test]
    fn sync_names_are_validated() {
        assert!(valid_sync_name("archive_jukebox"));
        assert!(valid_sync_name("a"));
        assert!(!valid_sync_name(""));
        assert!(!valid_sync_name("_x"));
        assert!(!valid_sync_name("1x"));
        assert!(!valid_sync_name("a\"; DROP"));
        assert!(!valid_sync_name("a-b"));
        assert!(!valid_sync_name("ä"));
        let bad = Action::Kick {
            sync: "x y".into(),
            wait_secs: None,
        };
        assert_eq!(bad.validate(), Err(ActionError::BadSync("x y".into())));
        let bad = Action::Restart {
            host: "h".into(),
            service: "a b".into(),
        };
        assert_eq!(bad.validate(), Err(ActionError::BadService("a b".into())));
        assert_eq!(
            bad.validate().map_err(String::from),
            Err("\"a b\" is not a service name".to_string())
        );
    }

    #[test]
    fn questions_name_host_and_target() {
        let j = host("jukebox", Role::Slave);
        let a = Action::Restart {
            host: "jukebox".into(),
            service: "app".into(),
        };
        let q = a.question(&j);
        assert!(q.contains("jukebox") && q.contains("app"), "{q}");
        assert_eq!(a.type_to_confirm(&j), None);
        let m = host("cavaforgepad", Role::Master);
        let d = Action::Deploy {
            host: "cavaforgepad".into(),
            from: ".".into(),
            plan_only: false,
            allow_empty: false,
        };
        assert_eq!(d.type_to_confirm(&m).as_deref(), Some("cavaforgepad"));
        assert_eq!(
            Action::Deploy {
                host: "jukebox".into(),
                from: ".".into(),
                plan_only: false,
                allow_empty: false,
            }
            .type_to_confirm(&j),
            None
        );
    }

    #[test]
    fn retiring_a_slave_asks_for_its_name_and_names_everything() {
        let m = host("cavaforgepad", Role::Master);
        let r = Action::Retire {
            name: "turntable".into(),
            stop: true,
            config_path: "/c.toml".into(),
        };
        let q = r.question(&m);
        for w in [
            "archive_turntable",
            "turntable_grp",
            "cavaforgepad",
            "stop its stack",
        ] {
            assert!(q.contains(w), "{w}: {q}");
        }
        assert_eq!(r.type_to_confirm(&m).as_deref(), Some("turntable"));
        assert!(r.needs_confirmation() && r.changes_fleet());
        assert_eq!(r.args(), ["turntable", "--stop"]);
        assert_eq!(r.target(), "provision-turntable");
        let keep = Action::Retire {
            name: "turntable".into(),
            stop: false,
            config_path: "/c.toml".into(),
        };
        assert!(!keep.question(&m).contains("stop"));
        let bad = Action::Retire {
            name: "Bad Name".into(),
            stop: false,
            config_path: "/c.toml".into(),
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn args_and_targets() {
        let k = Action::Kick {
            sync: "s1".into(),
            wait_secs: Some(30),
        };
        assert_eq!(k.args(), ["s1", "--wait", "30"]);
        assert_eq!(k.target(), "sync-s1");
        assert!(!k.needs_confirmation());
        assert!(Action::Pause { sync: "s1".into() }.needs_confirmation());
        assert_eq!(Action::Pause { sync: "s1".into() }.target(), "sync-s1");
        let r = read_only_refusal(&k);
        assert_eq!(r.status, Status::Refused);
        assert!(r.message.contains("read-only") && r.message.contains("kick s1"));
        assert_eq!(Status::Timeout.exit_code(), 4);
    }
}
