//! The env files a switchover writes, from the ones deployed.

use std::collections::BTreeMap;

use super::Roles;
use crate::envfile::{parse_env, remove_env, set_env};

/// What the plan and the env rewrites need of a host's deployed env files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostEnv {
    pub deploy_dir: String,
    /// The role's env file as deployed (env.master on the master, env.slave
    /// on a slave).
    pub role_env: String,
    /// env.common as deployed.
    pub common: String,
}

impl HostEnv {
    fn get(&self, key: &str) -> Option<String> {
        let mut all = parse_env(&self.common);
        all.extend(parse_env(&self.role_env));
        all.get(key).map(|v| unquote(v))
    }

    /// The host's LAN address (`APP_HOST`): the others reach its db there.
    pub fn address(&self) -> Option<String> {
        self.get("APP_HOST").filter(|a| !a.is_empty())
    }

    pub fn db_port(&self) -> String {
        self.get("DB_PORT").unwrap_or_else(|| "5432".into())
    }

    /// The archive app's database role (`ARCHIVE_DB_USER`).
    pub fn app_user(&self) -> String {
        self.get("ARCHIVE_DB_USER")
            .unwrap_or_else(|| "archive".into())
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// Why the env files cannot be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("{host}'s env files have no APP_HOST: set it to the host's LAN address in its env.{role} under {dir}")]
    NoAddress {
        host: String,
        role: &'static str,
        dir: String,
    },
}

/// The env files each host gets: file name relative to the deploy dir,
/// then its text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewEnv {
    pub files: BTreeMap<String, Vec<(String, String)>>,
}

/// The candidate gets the old master's env.master with its own address;
/// the old master the candidate's env.slave with its own address and name,
/// pointing at the candidate; every other slave its env.slave pointing at
/// the candidate. The files they replace are left as they are, so the way
/// back reads them again.
pub fn new_env(roles: &Roles, envs: &BTreeMap<String, HostEnv>) -> Result<NewEnv, EnvError> {
    let env = |name: &str| envs.get(name).cloned().unwrap_or_default();
    let addr = |name: &str, role: &'static str| {
        let e = env(name);
        e.address().ok_or(EnvError::NoAddress {
            host: name.to_string(),
            role,
            dir: e.deploy_dir.clone(),
        })
    };
    let (old, cand) = (env(&roles.old_master), env(&roles.candidate));
    let old_addr = addr(&roles.old_master, "master")?;
    let cand_addr = addr(&roles.candidate, "slave")?;
    let cand_port = cand.db_port();
    let mut out = NewEnv::default();
    let master = set_env(&old.role_env, "APP_HOST", &cand_addr);
    out.files
        .entry(roles.candidate.clone())
        .or_default()
        .push(("env.master".into(), master));
    let mut slave = cand.role_env.clone();
    for (k, v) in [
        ("APP_HOST", old_addr.as_str()),
        ("MASTER_DB_HOST", cand_addr.as_str()),
        ("MASTER_DB_PORT", cand_port.as_str()),
        ("SLAVE_NAME", roles.old_master.as_str()),
    ] {
        slave = set_env(&slave, k, v);
    }
    out.files
        .entry(roles.old_master.clone())
        .or_default()
        .push(("env.slave".into(), slave));
    follow(&mut out, roles, envs, &cand_addr, &cand_port);
    Ok(out)
}

/// A failover's env files: the lost master is not reached, so the
/// candidate's env.master comes from its own deploy dir (`master_template`:
/// its env.master there, as the stack ships it or as an earlier switchover
/// left it), else from its env.slave. Either way it gets the master's role
/// and its own address; the other slaves point at it.
pub fn failover_env(
    roles: &Roles,
    envs: &BTreeMap<String, HostEnv>,
    master_template: Option<&str>,
) -> Result<NewEnv, EnvError> {
    let cand = envs.get(&roles.candidate).cloned().unwrap_or_default();
    let cand_addr = cand.address().ok_or(EnvError::NoAddress {
        host: roles.candidate.clone(),
        role: "slave",
        dir: cand.deploy_dir.clone(),
    })?;
    let cand_port = cand.db_port();
    let mut master = master_template.unwrap_or(&cand.role_env).to_string();
    for (k, v) in [
        ("ARCHIVE_ROLE", "master"),
        ("BUCARDO_SYNC_DIRECTION", "master_to_slaves"),
        ("APP_HOST", cand_addr.as_str()),
    ] {
        master = set_env(&master, k, v);
    }
    // A master follows nobody.
    for k in ["MASTER_DB_HOST", "MASTER_DB_PORT", "SLAVE_NAME"] {
        master = remove_env(&master, k);
    }
    let mut out = NewEnv::default();
    out.files
        .entry(roles.candidate.clone())
        .or_default()
        .push(("env.master".into(), master));
    follow(&mut out, roles, envs, &cand_addr, &cand_port);
    Ok(out)
}

/// The env.slave a host gets when it rejoins `master` (whose address and
/// db port are given): `source` (an env.slave of the fleet) with the host's
/// own address and name, pointing at the master.
pub fn rejoin_env(
    source: &str,
    host: &str,
    host_addr: &str,
    master_addr: &str,
    master_port: &str,
) -> String {
    let mut t = source.to_string();
    for (k, v) in [
        ("ARCHIVE_ROLE", "slave"),
        ("BUCARDO_SYNC_DIRECTION", "slave_from_master"),
        ("APP_HOST", host_addr),
        ("MASTER_DB_HOST", master_addr),
        ("MASTER_DB_PORT", master_port),
        ("SLAVE_NAME", host),
    ] {
        t = set_env(&t, k, v);
    }
    t
}

/// Every other slave's env.slave, pointing at the candidate.
fn follow(
    out: &mut NewEnv,
    roles: &Roles,
    envs: &BTreeMap<String, HostEnv>,
    addr: &str,
    port: &str,
) {
    for o in &roles.others {
        let mut t = envs.get(o).cloned().unwrap_or_default().role_env;
        t = set_env(&t, "MASTER_DB_HOST", addr);
        t = set_env(&t, "MASTER_DB_PORT", port);
        out.files
            .entry(o.clone())
            .or_default()
            .push(("env.slave".into(), t));
    }
}
