//! The plan shown before anything changes: every change on every host.

use std::collections::BTreeMap;

use super::{HostEnv, Kind, Roles, Step, SEQUENCE_GAP};

/// The plan: every change on every host, in the order it is made.
pub fn plan(kind: Kind, roles: &Roles, envs: &BTreeMap<String, HostEnv>) -> Vec<String> {
    let h = Hosts { kind, roles, envs };
    let (m, c) = (&roles.old_master, &roles.candidate);
    let follow = if roles.others.is_empty() {
        String::new()
    } else {
        format!("; {} follow {c}", roles.others.join(", "))
    };
    let mut l = vec![match kind {
        Kind::Switchover => format!(
            "Switchover: {c} ({}) becomes the master; {m} ({}) becomes its slave{follow}.",
            h.addr(c),
            h.addr(m),
        ),
        Kind::Failover => format!(
            "Failover: {c} ({}) becomes the master{follow}; {m} is lost and stays fenced until `archtui rejoin {m}`{}.",
            h.addr(c),
            if roles.left_behind.is_empty() {
                String::new()
            } else {
                format!("; unreachable, left as they are: {}", roles.left_behind.join(", "))
            }
        ),
    }];
    let steps = kind.steps();
    for s in steps {
        l.push(format!(
            "[{}/{}] {}",
            kind.number(*s),
            steps.len(),
            s.title()
        ));
        l.extend(h.details(*s).into_iter().map(|d| format!("      {d}")));
    }
    l
}

/// What the plan says of the hosts: their dirs and addresses as deployed.
struct Hosts<'a> {
    kind: Kind,
    roles: &'a Roles,
    envs: &'a BTreeMap<String, HostEnv>,
}

impl Hosts<'_> {
    fn dir(&self, n: &str) -> String {
        self.envs
            .get(n)
            .map_or_else(|| "?".into(), |e| e.deploy_dir.clone())
    }

    fn addr(&self, n: &str) -> String {
        self.envs
            .get(n)
            .and_then(HostEnv::address)
            .unwrap_or_else(|| "?".into())
    }

    /// The candidate first, then the other slaves.
    fn slaves(&self) -> Vec<&str> {
        std::iter::once(self.roles.candidate.as_str())
            .chain(self.roles.others.iter().map(String::as_str))
            .collect()
    }

    /// The old master (unless lost), then the other slaves: who follows
    /// the candidate.
    fn followers(&self) -> Vec<&str> {
        let old = (self.kind == Kind::Switchover).then_some(self.roles.old_master.as_str());
        old.into_iter()
            .chain(self.roles.others.iter().map(String::as_str))
            .collect()
    }

    /// The changes one step makes, host by host.
    fn details(&self, s: Step) -> Vec<String> {
        let (m, c) = (&self.roles.old_master, &self.roles.candidate);
        let others = &self.roles.others;
        if self.kind == Kind::Failover {
            if let Some(d) = self.failover_details(s) {
                return d;
            }
        }
        match s {
            Step::MarkFenced => vec![format!(
                "the config: {m} gets fenced = true (archtui refuses it as the master; the old file kept as <config>.bak)"
            )],
            Step::Fence => {
                let user = self.envs.get(m).map(HostEnv::app_user).unwrap_or_default();
                vec![format!(
                    "{m}: docker compose stop -t 3 app bucardo (in {}); ALTER ROLE {user} IN DATABASE ... SET default_transaction_read_only = on; its sessions ended",
                    self.dir(m)
                )]
            }
            Step::Drain => {
                let syncs: Vec<String> = self.slaves().iter().map(|s| format!("archive_{s}")).collect();
                vec![format!("kick {} and wait until 0 changes are pending", syncs.join(", "))]
            }
            Step::PrepareCandidate => vec![format!(
                "{c}: archive-bucardo-ctl prepare-master (schema archive_fleet, the heartbeat table)"
            )],
            Step::StopReplication => vec![format!(
                "{}: docker compose stop -t 3 bucardo (drained: nothing is in flight)",
                self.slaves().join(", ")
            )],
            Step::Sequences => vec![format!(
                "{c}: setval of every sequence to the highest of its value on {m} and its column's maximum"
            )],
            Step::SwapEnv => {
                let mut v = vec![
                    format!("{c}: write {}/env.master: {m}'s, with APP_HOST={}", self.dir(c), self.addr(c)),
                    format!(
                        "{m}: write {}/env.slave: {c}'s, with APP_HOST={} MASTER_DB_HOST={} SLAVE_NAME={m}",
                        self.dir(m),
                        self.addr(m),
                        self.addr(c)
                    ),
                ];
                v.extend(others.iter().map(|o| {
                    format!("{o}: {}/env.slave: MASTER_DB_HOST={}", self.dir(o), self.addr(c))
                }));
                v.push("(each file replaced keeps a copy: <file>.before-switchover)".into());
                v
            }
            Step::Repoint => {
                let mut v: Vec<String> = others
                    .iter()
                    .map(|o| format!("{o}: ./deploy_slave.sh (its bucardo registers with {c}; no copy)"))
                    .collect();
                v.push(format!(
                    "{m}: writes allowed again for its app (now a slave's); ./deploy_slave.sh --allow-data --role-change (registers with {c}; its data is already there: no copy)"
                ));
                v
            }
            Step::Promote => vec![format!(
                "{c}: ./deploy.sh --role-change (app and bucardo restart as the master's, the db keeps running; writes are taken again once its app is healthy)"
            )],
            Step::Verify => vec![format!(
                "archtui verify of {} against {c}",
                self.followers().join(", ")
            )],
            Step::Config => vec![format!(
                "the config: {c} role = \"master\", {m} role = \"slave\" (the old one kept as <config>.bak)"
            )],
        }
    }

    /// Where a failover's step differs: the lost master is not touched.
    fn failover_details(&self, s: Step) -> Option<Vec<String>> {
        let (m, c) = (&self.roles.old_master, &self.roles.candidate);
        let others = &self.roles.others;
        Some(match s {
            Step::StopReplication => vec![format!(
                "{}: docker compose stop -t 3 bucardo (their master is gone)",
                self.slaves().join(", ")
            )],
            Step::Sequences => vec![format!(
                "{c}: setval of every sequence to its column's maximum + {SEQUENCE_GAP} (rows only {m} holds keep ids no new row takes)"
            )],
            Step::SwapEnv => {
                let mut v = vec![format!(
                    "{c}: write {}/env.master: its own env.master (else its env.slave) with ARCHIVE_ROLE=master APP_HOST={}",
                    self.dir(c),
                    self.addr(c)
                )];
                v.extend(others.iter().map(|o| {
                    format!("{o}: {}/env.slave: MASTER_DB_HOST={}", self.dir(o), self.addr(c))
                }));
                v.push("(each file replaced keeps a copy: <file>.before-switchover)".into());
                v
            }
            Step::Repoint if others.is_empty() => vec!["no other slave to re-point".into()],
            Step::Repoint => others
                .iter()
                .map(|o| format!("{o}: ./deploy_slave.sh (its bucardo registers with {c}; no copy)"))
                .collect(),
            Step::Verify if others.is_empty() => vec!["no other slave to verify".into()],
            Step::Config => vec![format!(
                "the config: {c} role = \"master\", {m} role = \"slave\" and still fenced (the old one kept as <config>.bak)"
            )],
            _ => return None,
        })
    }
}
