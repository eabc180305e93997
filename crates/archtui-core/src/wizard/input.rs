//! What the operator types: the slave's name, where it is, where its master
//! is. Validated before anything is touched. Pure.

use serde::{Deserialize, Serialize};

use crate::config::{self, Host, Role};

/// Everything the wizard needs to know about the new slave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The slave's name: its Bucardo db, `<name>_grp`, `archive_<name>`,
    /// and its host name in the archtui config.
    pub name: String,
    /// SSH destination: an alias, `user@host` or `user@host:port`.
    pub ssh: String,
    /// The new host's LAN address (env.slave `APP_HOST`).
    pub app_host: String,
    /// The master's host name in the config.
    pub master: String,
    /// The master's address as the new host reaches it (`MASTER_DB_HOST`).
    pub master_db_host: String,
    /// The published PostgreSQL port (`MASTER_DB_PORT`, and the one the
    /// new host must have free).
    pub db_port: u16,
    pub deploy_dir: String,
    pub compose_project: String,
    pub docker_socket: String,
}

impl Input {
    pub fn sync(&self) -> String {
        format!("archive_{}", self.name)
    }

    pub fn dbgroup(&self) -> String {
        format!("{}_grp", self.name)
    }

    /// The new host as the remote layer sees it.
    pub fn host(&self) -> Host {
        Host {
            name: self.name.clone(),
            role: Role::Slave,
            ssh: self.ssh.clone(),
            deploy_dir: self.deploy_dir.clone(),
            compose_project: self.compose_project.clone(),
            docker_socket: self.docker_socket.clone(),
        }
    }

    /// The `i`th field of `fields`, to edit (the last for any larger `i`).
    pub fn field_mut(&mut self, i: usize) -> &mut String {
        match i {
            0 => &mut self.name,
            1 => &mut self.ssh,
            2 => &mut self.app_host,
            3 => &mut self.master,
            _ => &mut self.master_db_host,
        }
    }

    /// Fields the operator sees and edits, in order, with their labels.
    pub fn fields(&self) -> [(&'static str, &str); 5] {
        [
            ("Slave name", &self.name),
            ("SSH destination", &self.ssh),
            ("APP_HOST (its LAN address)", &self.app_host),
            ("Master", &self.master),
            ("MASTER_DB_HOST", &self.master_db_host),
        ]
    }
}

/// The stack's rule for slave names, `^[a-z][a-z0-9_]{0,30}$`: the same as
/// the config's for host names (a slave is a host in it).
pub use crate::config::valid_host_name as valid_slave_name;

/// An address for env.slave: a host name or IP literal, nothing a shell
/// or an env file could read as more than one word.
pub fn valid_address(addr: &str) -> bool {
    !addr.is_empty()
        && addr.len() <= 253
        && !addr.starts_with('-')
        && addr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
}

/// Deploy directory: absolute, plain characters only.
pub fn valid_deploy_dir(dir: &str) -> bool {
    dir.starts_with('/')
        && dir.len() > 1
        && !dir.split('/').any(|p| p == "..")
        && dir
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'))
}

/// Every reason the input is refused, each with its fix; empty when good.
/// `hosts` is the config's fleet.
pub fn problems(input: &Input, hosts: &[Host]) -> Vec<String> {
    let mut out = Vec::new();
    if !valid_slave_name(&input.name) {
        out.push(format!(
            "slave name {:?} is invalid: lowercase letters, digits and _, a letter first, at most 31 characters",
            input.name
        ));
    } else if hosts.iter().any(|h| h.name == input.name) {
        out.push(format!(
            "slave name {:?} is already a host in the config: pick another name, or `archtui retire {}` first",
            input.name, input.name
        ));
    }
    if let Err(e) = config::ssh_destination(&input.ssh) {
        out.push(format!("SSH destination: {e}"));
    } else if let Some(h) = hosts.iter().find(|h| h.ssh == input.ssh) {
        out.push(format!(
            "SSH destination {:?} is already host {} in the config",
            input.ssh, h.name
        ));
    }
    if !valid_address(&input.app_host) {
        out.push(format!(
            "APP_HOST {:?} is not a host name or address",
            input.app_host
        ));
    }
    if !valid_address(&input.master_db_host) {
        out.push(format!(
            "MASTER_DB_HOST {:?} is not a host name or address",
            input.master_db_host
        ));
    }
    match hosts.iter().find(|h| h.name == input.master) {
        None => out.push(format!("no host named {:?} in the config", input.master)),
        Some(h) if h.role != Role::Master => {
            out.push(format!("{} is a {}, not the master", h.name, h.role));
        }
        Some(_) => {}
    }
    if !valid_deploy_dir(&input.deploy_dir) {
        out.push(format!(
            "deploy dir {:?} must be an absolute plain path",
            input.deploy_dir
        ));
    }
    if input.db_port == 0 {
        out.push("database port 0".into());
    }
    out
}

/// The host name from `ssh -G DEST` output (what `HostName` resolves to),
/// the default for APP_HOST and MASTER_DB_HOST.
pub fn hostname_from_ssh_g(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("hostname "))
        .map(|s| s.trim().to_string())
        .filter(|s| valid_address(s))
}

/// An input and a fleet for tests, here and in the crates above.
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures {
    use super::*;

    pub fn hosts() -> Vec<Host> {
        vec![
            Host::example("cavaforgepad", Role::Master),
            Host::example("jukebox", Role::Slave),
        ]
    }

    pub fn input() -> Input {
        Input {
            name: "turntable".into(),
            ssh: "turntable".into(),
            app_host: "10.77.0.3".into(),
            master: "cavaforgepad".into(),
            master_db_host: "10.77.0.1".into(),
            db_port: 5432,
            deploy_dir: "/srv/archive".into(),
            compose_project: "archive".into(),
            docker_socket: "/var/run/docker.sock".into(),
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn names_follow_the_stack_rule() {
        assert!(valid_slave_name("turntable"));
        assert!(valid_slave_name("a"));
        assert!(valid_slave_name("s_2"));
        assert!(valid_slave_name(&"a".repeat(31)));
        assert!(!valid_slave_name(&"a".repeat(32)));
        assert!(!valid_slave_name(""));
        assert!(!valid_slave_name("Turntable"));
        assert!(!valid_slave_name("1x"));
        assert!(!valid_slave_name("_x"));
        assert!(!valid_slave_name("a-b"));
        assert!(!valid_slave_name("a;rm"));
        assert!(!valid_slave_name("é"));
    }

    #[test]
    fn good_input_passes() {
        assert_eq!(problems(&input(), &hosts()), Vec::<String>::new());
        assert_eq!(input().sync(), "archive_turntable");
        assert_eq!(input().dbgroup(), "turntable_grp");
    }

    #[test]
    fn bad_input_is_refused_with_reasons() {
        let mut i = input();
        i.name = "jukebox".into();
        let p = problems(&i, &hosts());
        assert!(p[0].contains("already a host"), "{p:?}");
        i.name = "Bad-Name".into();
        assert!(problems(&i, &hosts())[0].contains("invalid"));
        let mut i = input();
        i.master = "jukebox".into();
        assert!(problems(&i, &hosts())[0].contains("not the master"));
        i.master = "nowhere".into();
        assert!(problems(&i, &hosts())[0].contains("no host named"));
        let mut i = input();
        i.app_host = "10.0.0.1; rm -rf /".into();
        i.master_db_host = String::new();
        i.deploy_dir = "srv/../x".into();
        assert_eq!(problems(&i, &hosts()).len(), 3);
        let mut i = input();
        i.ssh = "jukebox".into();
        assert!(problems(&i, &hosts())[0].contains("already host jukebox"));
    }

    #[test]
    fn hostname_of_ssh_g() {
        let out = "user root\nhostname 10.77.0.3\nport 22\n";
        assert_eq!(hostname_from_ssh_g(out).as_deref(), Some("10.77.0.3"));
        assert_eq!(hostname_from_ssh_g("port 22\n"), None);
        assert_eq!(hostname_from_ssh_g("hostname a b\n"), None);
    }
}
