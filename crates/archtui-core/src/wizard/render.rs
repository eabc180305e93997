//! env.slave rendered for the new host, from the checkout's env.slave:
//! `APP_HOST`, `MASTER_DB_HOST`, `MASTER_DB_PORT` and `SLAVE_NAME` set, every
//! other line kept. Pure.

use super::input::Input;

pub use crate::envfile::set_env;

/// The new host's env.slave.
pub fn env_slave(template: &str, input: &Input) -> String {
    let mut text = template.to_string();
    for (k, v) in [
        ("APP_HOST", input.app_host.clone()),
        ("MASTER_DB_HOST", input.master_db_host.clone()),
        ("MASTER_DB_PORT", input.db_port.to_string()),
        ("SLAVE_NAME", input.name.clone()),
    ] {
        text = set_env(&text, k, &v);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::input::fixtures::input;

    #[test]
    fn env_slave_sets_the_addresses_and_the_name() {
        let repo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../env.slave"))
            .unwrap();
        let out = env_slave(&repo, &input());
        let env = crate::envfile::parse_env(&out);
        assert_eq!(env["APP_HOST"], "10.77.0.3");
        assert_eq!(env["MASTER_DB_HOST"], "10.77.0.1");
        assert_eq!(env["MASTER_DB_PORT"], "5432");
        assert_eq!(env["SLAVE_NAME"], "turntable");
        assert_eq!(env["ARCHIVE_ROLE"], "slave");
        assert!(out.contains("#export SLAVE_NAME=jukebox"), "comments kept");
        assert_eq!(out.matches("APP_HOST=").count(), 1);
    }

    #[test]
    fn set_env_replaces_or_appends() {
        assert_eq!(set_env("A=1\nexport B=2", "B", "3"), "A=1\nexport B=3\n");
        assert_eq!(set_env("A=1\n", "A", "x"), "A=x\n");
        assert_eq!(set_env("# B=1\n", "B", "2"), "# B=1\nexport B=2\n");
        assert_eq!(set_env("AB=1", "A", "2"), "AB=1\nexport A=2\n");
    }
}
