//! The plan the operator reviews: what is written where, what is started,
//! what changes on the master and on this machine. Pure.

use std::path::Path;

use super::input::Input;
use super::machine::Step;

pub fn lines(input: &Input, from: &Path, config: &Path, done: &[Step]) -> Vec<String> {
    let d = &input.deploy_dir;
    let h = &input.name;
    let mut out = vec![
        format!("Provision {h} ({}) as a slave of {}:", input.ssh, input.master),
        format!(
            "  1. copy docker-compose.yml, env.common, assets/ from {} to {h}:{d}",
            from.display()
        ),
        format!(
            "     and write {d}/env.slave (mode 0600): APP_HOST={} MASTER_DB_HOST={} MASTER_DB_PORT={} SLAVE_NAME={h}",
            input.app_host, input.master_db_host, input.db_port
        ),
        format!(
            "  2. on {h}: docker compose --env-file env.common --env-file env.slave up -d --build (project {})",
            input.compose_project
        ),
        format!(
            "  3. {h}'s bucardo registers on {}: db {h}, dbgroup {}, sync {} (onetimecopy), then the initial copy",
            input.master,
            input.dbgroup(),
            input.sync()
        ),
        "  4. verify: every replicated table has the master's row count".to_string(),
        "  5. verify: a fresh heartbeat arrives on the slave".to_string(),
        format!(
            "  6. add {h} to {} (the old file kept as {}.bak)",
            config.display(),
            config.display()
        ),
        format!("Undo: archtui retire {h}"),
    ];
    if !done.is_empty() {
        let names: Vec<&str> = done.iter().map(|s| s.title()).collect();
        out.push(format!("Resuming: already done: {}", names.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::input::fixtures::input;

    #[test]
    fn the_plan_names_files_hosts_and_the_undo() {
        let l = lines(
            &input(),
            Path::new("/home/op/archive"),
            Path::new("/home/op/.config/archtui/config.toml"),
            &[],
        );
        let all = l.join("\n");
        assert!(all.contains("turntable:/srv/archive"));
        assert!(all.contains("mode 0600"));
        assert!(all.contains("sync archive_turntable"));
        assert!(all.contains("config.toml.bak"));
        assert!(all.contains("archtui retire turntable"));
        assert!(!all.contains("Resuming"));
        let l = lines(&input(), Path::new("."), Path::new("c"), &[Step::Upload]);
        assert!(l.last().unwrap().contains("Resuming"));
    }
}
