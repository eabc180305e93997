//! The fleet's configuration: TOML on disk, validated into plain structs.
//!
//! Every error names the file and line, because the operator fixes it in
//! an editor. Secrets are never read here: only where to find them.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// Longest connect or query timeout: timeouts are added to and multiplied,
/// and an hour is already more than any host deserves.
pub const MAX_TIMEOUT_SECS: u64 = 3600;
/// A day: past it a forgotten master is a standing login, not a cache.
pub const MAX_PERSIST_SECS: u64 = 86_400;

/// Environment variable that overrides the default config path.
pub const CONFIG_ENV: &str = "ARCHTUI_CONFIG";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub read_only: bool,
    /// The operator's checkout of the stack that deploys copy from
    /// (`--from DIR` overrides it; neither: the current directory).
    pub checkout: Option<PathBuf>,
    #[serde(default)]
    pub ssh: SshConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub defaults: HostDefaults,
    pub hosts: Vec<HostConfig>,
    /// Console key bindings: action name = key or [keys]; replaces that
    /// action's defaults.
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, Spanned<KeyList>>,
    #[serde(default)]
    pub log: LogConfig,
}

/// `[log]`: the debug log (connects, reconnects, timeouts, remote commands,
/// action steps; secrets redacted). Off unless a file is named here, by
/// `--log-file` or by `ARCHTUI_LOG`, which take precedence in that order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// The file appended to; a leading `~/` is the home directory.
    pub file: Option<PathBuf>,
}

/// One key or several, as `[keys]` accepts them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub fn as_slice(&self) -> &[String] {
        match self {
            KeyList::One(k) => std::slice::from_ref(k),
            KeyList::Many(k) => k,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    /// `ssh -F` file; `None` means the user's own `~/.ssh/config`.
    pub config_file: Option<PathBuf>,
    #[serde(default = "yes")]
    pub strict_host_key_checking: bool,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// SSH handshakes at once, over all hosts: sshd's MaxStartups (10 by
    /// default) and bastions drop connects past a few at once.
    #[serde(default = "default_max_parallel_connects")]
    pub max_parallel_connects: usize,
    /// Seconds a host's SSH control master stays up after its last use, so
    /// the next command (or a console already running) skips the
    /// handshake. 0: each command's own connection, closed at its end.
    #[serde(default = "default_persist_secs")]
    pub persist_secs: u64,
    /// Seconds a background observer, left by a one-shot `status` that
    /// looked for itself, goes on observing over its open sessions after
    /// the last one-shot it served: the next one-shots print its readings
    /// (under 10 s old) instead of opening every host anew. 0: none is left.
    #[serde(default)]
    pub observer_persist_secs: u64,
}

impl Default for SshConfig {
    fn default() -> Self {
        Self {
            config_file: None,
            strict_host_key_checking: true,
            connect_timeout_secs: default_connect_timeout(),
            max_parallel_connects: default_max_parallel_connects(),
            persist_secs: default_persist_secs(),
            observer_persist_secs: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default = "default_db_name")]
    pub name: String,
    #[serde(default = "default_db_user")]
    pub user: String,
    #[serde(default = "default_bucardo_db")]
    pub bucardo_db: String,
    /// The PostgreSQL port published on each host, reached via an SSH forward.
    #[serde(default = "default_pg_port")]
    pub port: u16,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<Spanned<String>>,
    /// Per-query limit; a query past it is cancelled on the server too.
    #[serde(default = "default_query_timeout")]
    pub query_timeout_secs: u64,
    /// Heartbeat table the master updates every few seconds (schema.table).
    #[serde(default = "default_heartbeat_table")]
    pub heartbeat_table: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            name: default_db_name(),
            user: default_db_user(),
            bucardo_db: default_bucardo_db(),
            port: default_pg_port(),
            password_file: None,
            password_env: None,
            query_timeout_secs: default_query_timeout(),
            heartbeat_table: default_heartbeat_table(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    #[serde(default = "default_lag_warning")]
    pub lag_warning_secs: f64,
    #[serde(default = "default_lag_critical")]
    pub lag_critical_secs: f64,
    /// Net growth of a Bucardo delta table at or over this: warning.
    #[serde(default = "default_delta_growth")]
    pub delta_growth_warning_rows_per_hour: f64,
    /// Growth is measured over up to this much of the recent readings.
    #[serde(default = "default_delta_window")]
    pub delta_growth_window_secs: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            lag_warning_secs: default_lag_warning(),
            lag_critical_secs: default_lag_critical(),
            delta_growth_warning_rows_per_hour: default_delta_growth(),
            delta_growth_window_secs: default_delta_window(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostDefaults {
    #[serde(default = "default_deploy_dir")]
    pub deploy_dir: String,
    #[serde(default = "default_compose_project")]
    pub compose_project: String,
    #[serde(default = "default_docker_socket")]
    pub docker_socket: String,
    /// Compose services every host must run, running and healthy.
    #[serde(default = "default_services")]
    pub services: Vec<String>,
}

impl Default for HostDefaults {
    fn default() -> Self {
        Self {
            deploy_dir: default_deploy_dir(),
            compose_project: default_compose_project(),
            docker_socket: default_docker_socket(),
            services: default_services(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Master,
    Slave,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Master => "master",
            Role::Slave => "slave",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub name: Spanned<String>,
    pub role: Role,
    /// An alias from the ssh config, `user@host` or `user@host:port`.
    pub ssh: Spanned<String>,
    pub deploy_dir: Option<String>,
    pub compose_project: Option<String>,
    pub docker_socket: Option<String>,
    /// Set by `archtui failover` on the master it replaced: the host must
    /// not act as the master again; `archtui rejoin NAME` makes it a slave
    /// and clears this.
    #[serde(default)]
    pub fenced: bool,
}

/// A host with the defaults applied: what the remote layer works with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Host {
    pub name: String,
    pub role: Role,
    pub ssh: String,
    pub deploy_dir: String,
    pub compose_project: String,
    pub docker_socket: String,
}

#[cfg(any(test, feature = "fixtures"))]
impl Host {
    /// A host with the stack's defaults, reached by its name.
    pub fn example(name: &str, role: Role) -> Host {
        Host {
            name: name.into(),
            role,
            ssh: name.into(),
            deploy_dir: "/srv/archive".into(),
            compose_project: "archive".into(),
            docker_socket: "/var/run/docker.sock".into(),
        }
    }
}

impl Config {
    /// Whether `name` is fenced: replaced by a failover, not rejoined yet.
    pub fn is_fenced(&self, name: &str) -> bool {
        self.hosts
            .iter()
            .any(|h| h.name.get_ref() == name && h.fenced)
    }

    pub fn hosts(&self) -> Vec<Host> {
        self.hosts
            .iter()
            .map(|h| Host {
                name: h.name.get_ref().clone(),
                role: h.role,
                ssh: h.ssh.get_ref().clone(),
                deploy_dir: h
                    .deploy_dir
                    .clone()
                    .unwrap_or_else(|| self.defaults.deploy_dir.clone()),
                compose_project: h
                    .compose_project
                    .clone()
                    .unwrap_or_else(|| self.defaults.compose_project.clone()),
                docker_socket: h
                    .docker_socket
                    .clone()
                    .unwrap_or_else(|| self.defaults.docker_socket.clone()),
            })
            .collect()
    }

    /// Parses and validates; `origin` only labels error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::at(origin, text, e.span(), e.message()))?;
        config.validate(text, origin)?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            message: format!("cannot read config {}: {e}", path.display()),
        })?;
        Config::parse(&text, path)
    }

    fn validate(&self, text: &str, origin: &Path) -> Result<(), ConfigError> {
        let err = |span: Range<usize>, msg: String| ConfigError::at(origin, text, Some(span), &msg);
        if self.hosts.is_empty() {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                "no [[hosts]] configured",
            ));
        }
        let mut master: Option<&HostConfig> = None;
        for (i, h) in self.hosts.iter().enumerate() {
            let name = h.name.get_ref();
            if !valid_host_name(name) {
                return Err(err(
                    h.name.span(),
                    format!("host name {name:?} must match ^[a-z][a-z0-9_]{{0,30}}$ (it becomes part of Bucardo names)"),
                ));
            }
            if self.hosts[..i].iter().any(|o| o.name.get_ref() == name) {
                return Err(err(
                    h.name.span(),
                    format!("host name {name:?} is used twice"),
                ));
            }
            if let Err(why) = ssh_destination(h.ssh.get_ref()) {
                return Err(err(h.ssh.span(), why.to_string()));
            }
            if h.role == Role::Master {
                if let Some(m) = master {
                    return Err(err(
                        h.name.span(),
                        format!("hosts {:?} and {name:?} both have role = \"master\"; the fleet has one master", m.name.get_ref()),
                    ));
                }
                master = Some(h);
            }
        }
        if master.is_none() {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                "no host has role = \"master\"",
            ));
        }
        let t = self.thresholds;
        if !(t.lag_warning_secs > 0.0
            && t.lag_warning_secs < t.lag_critical_secs
            && t.lag_critical_secs.is_finite())
        {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                &format!(
                    "[thresholds] needs 0 < lag_warning_secs < lag_critical_secs (got {} and {})",
                    t.lag_warning_secs, t.lag_critical_secs
                ),
            ));
        }
        if !(t.delta_growth_warning_rows_per_hour > 0.0
            && t.delta_growth_warning_rows_per_hour.is_finite()
            && (60.0..=86_400.0).contains(&t.delta_growth_window_secs))
        {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                "[thresholds] needs delta_growth_warning_rows_per_hour > 0 and delta_growth_window_secs from 60 to 86400",
            ));
        }
        if !(1..=256).contains(&self.ssh.max_parallel_connects) {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                "[ssh] max_parallel_connects must be from 1 to 256",
            ));
        }
        if self.ssh.persist_secs > MAX_PERSIST_SECS {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                "[ssh] persist_secs must be from 0 (off) to 86400 (a day)",
            ));
        }
        if self.ssh.observer_persist_secs > MAX_PERSIST_SECS {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                "[ssh] observer_persist_secs must be from 0 (off) to 86400 (a day)",
            ));
        }
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.ssh.connect_timeout_secs) {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                &format!("[ssh] connect_timeout_secs must be from 1 to {MAX_TIMEOUT_SECS}"),
            ));
        }
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.database.query_timeout_secs) {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                &format!("[database] query_timeout_secs must be from 1 to {MAX_TIMEOUT_SECS}"),
            ));
        }
        if let (Some(_), Some(env)) = (&self.database.password_file, &self.database.password_env) {
            return Err(err(
                env.span(),
                "set password_file or password_env, not both".into(),
            ));
        }
        if let Err((span, why)) = self.try_keymap() {
            return Err(match span {
                Some(span) => err(span, why),
                None => ConfigError::at(origin, text, None, &why),
            });
        }
        if self.database.heartbeat_table.split_once('.').is_none() {
            return Err(ConfigError::at(
                origin,
                text,
                None,
                "[database] heartbeat_table must be schema.table",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// The console's keymap: defaults with `[keys]` applied.
    pub fn keymap(&self) -> crate::keymap::Keymap {
        self.try_keymap().unwrap_or_default()
    }

    fn try_keymap(&self) -> Result<crate::keymap::Keymap, (Option<Range<usize>>, String)> {
        use crate::keymap::{Action, Key, Keymap, ACTIONS};
        let mut overrides = Vec::new();
        for (name, keys) in &self.keys {
            let action = Action::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = ACTIONS.iter().map(|a| a.1).collect();
                (
                    Some(keys.span()),
                    format!(
                        "[keys]: unknown action `{name}`, expected one of {}",
                        names.join(", ")
                    ),
                )
            })?;
            let parsed = keys
                .get_ref()
                .as_slice()
                .iter()
                .map(|k| Key::parse(k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| (Some(keys.span()), format!("[keys] {name}: {e}")))?;
            if parsed.is_empty() {
                return Err((
                    Some(keys.span()),
                    format!("[keys] {name}: give at least one key"),
                ));
            }
            overrides.push((action, parsed));
        }
        Keymap::with_overrides(&overrides).map_err(|e| (None, format!("[keys]: {e}")))
    }
}

/// Host names, `^[a-z][a-z0-9_]{0,30}$`: a slave's name ends up in Bucardo
/// channel names, which must stay under 63 bytes.
pub fn valid_host_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 31
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An ssh destination the config or the wizard cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("ssh destination {0:?} must be an ssh config alias, user@host or user@host:port")]
    Shape(String),
    #[error("ssh destination {dest:?}: {port:?} is not a port number")]
    Port { dest: String, port: String },
}

impl From<DestinationError> for String {
    fn from(e: DestinationError) -> String {
        e.to_string()
    }
}

/// Turns the config's destination into what `openssh` accepts:
/// `user@host:port` becomes `ssh://user@host:port`; aliases pass through.
pub fn ssh_destination(dest: &str) -> Result<String, DestinationError> {
    if dest.is_empty() || dest.contains(char::is_whitespace) || dest.starts_with('-') {
        return Err(DestinationError::Shape(dest.to_string()));
    }
    match dest.rsplit_once(':') {
        Some((_, port)) if dest.contains('@') || !port.is_empty() => match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(format!("ssh://{dest}")),
            _ => Err(DestinationError::Port {
                dest: dest.to_string(),
                port: port.to_string(),
            }),
        },
        _ => Ok(dest.to_string()),
    }
}

/// `--config`/`ARCHTUI_CONFIG` (clap merges both), else the XDG location
/// (`$XDG_CONFIG_HOME`, an absolute one, else `~/.config`; etcetera's XDG
/// rules), else `./archtui/config.toml` when no home is known.
pub fn default_path() -> PathBuf {
    use etcetera::BaseStrategy as _;
    etcetera::base_strategy::Xdg::new()
        .map_or_else(|_| PathBuf::from("."), |x| x.config_dir())
        .join("archtui")
        .join("config.toml")
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub message: String,
}

impl ConfigError {
    fn at(origin: &Path, text: &str, span: Option<Range<usize>>, message: &str) -> Self {
        let message = message.trim_end();
        let message = match span {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                format!("{}:{line}:{col}: {message}", origin.display())
            }
            None => format!("{}: {message}", origin.display()),
        };
        ConfigError { message }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    // A span inside a character (never from toml, but never a panic).
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn yes() -> bool {
    true
}
fn default_connect_timeout() -> u64 {
    5
}
fn default_max_parallel_connects() -> usize {
    16
}
fn default_persist_secs() -> u64 {
    300
}
fn default_db_name() -> String {
    "archive".into()
}
fn default_db_user() -> String {
    "bucardo".into()
}
fn default_bucardo_db() -> String {
    "bucardo".into()
}
fn default_pg_port() -> u16 {
    5432
}
fn default_query_timeout() -> u64 {
    5
}
fn default_heartbeat_table() -> String {
    "public.archive_heartbeat".into()
}
fn default_lag_warning() -> f64 {
    30.0
}
fn default_lag_critical() -> f64 {
    300.0
}
fn default_delta_growth() -> f64 {
    50_000.0
}
fn default_delta_window() -> f64 {
    600.0
}
fn default_deploy_dir() -> String {
    "/srv/archive".into()
}
fn default_compose_project() -> String {
    "archive".into()
}
fn default_docker_socket() -> String {
    "/var/run/docker.sock".into()
}
fn default_services() -> Vec<String> {
    ["db", "bucardo", "app"].map(String::from).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
read_only = false
[ssh]
config_file = "/tmp/ssh_config"
strict_host_key_checking = true
connect_timeout_secs = 5
[database]
name = "archive"
user = "bucardo"
bucardo_db = "bucardo"
port = 5432
password_env = "ARCHTUI_DB_PASSWORD"
[thresholds]
lag_warning_secs = 30
lag_critical_secs = 300
[defaults]
deploy_dir = "/srv/archive"
compose_project = "archive"
docker_socket = "/var/run/docker.sock"
[[hosts]]
name = "cavaforgepad"
role = "master"
ssh = "cavaforgepad"
[[hosts]]
name = "jukebox"
role = "slave"
ssh = "root@10.77.0.2:2222"
docker_socket = "/run/docker.sock"
"#;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("c.toml")).map_err(|e| e.message)
    }

    #[test]
    fn parses_the_documented_shape() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.ssh.connect_timeout_secs, 5);
        assert_eq!(c.thresholds.lag_critical_secs, 300.0);
        let hosts = c.hosts();
        assert_eq!(hosts[0].name, "cavaforgepad");
        assert_eq!(hosts[0].docker_socket, "/var/run/docker.sock");
        assert_eq!(hosts[1].docker_socket, "/run/docker.sock");
        assert_eq!(hosts[1].compose_project, "archive");
        assert_eq!(hosts[0].role, Role::Master);
    }

    #[test]
    fn minimal_config_takes_defaults() {
        let c = parse("[[hosts]]\nname = \"m\"\nrole = \"master\"\nssh = \"m\"\n").unwrap();
        assert!(c.ssh.strict_host_key_checking);
        assert_eq!(c.database.port, 5432);
        assert_eq!(c.defaults.services, ["db", "bucardo", "app"]);
    }

    #[test]
    fn unknown_key_names_its_line() {
        let text = GOOD.replace(
            "connect_timeout_secs = 5",
            "connect_timeout_secs = 5\nconect_timeout = 3",
        );
        let e = parse(&text).unwrap_err();
        assert!(e.starts_with("c.toml:7:"), "{e}");
        assert!(e.contains("conect_timeout"), "{e}");
    }

    #[test]
    fn bad_role_names_its_line() {
        let e = parse(&GOOD.replace("role = \"slave\"", "role = \"boss\"")).unwrap_err();
        assert!(e.starts_with("c.toml:26:"), "{e}");
        assert!(e.contains("boss"), "{e}");
    }

    #[test]
    fn wrong_type_names_its_line() {
        let e = parse(&GOOD.replace("port = 5432", "port = \"x\"")).unwrap_err();
        assert!(e.starts_with("c.toml:11:"), "{e}");
    }

    #[test]
    fn duplicate_and_bad_names() {
        let e = parse(&GOOD.replace("name = \"jukebox\"", "name = \"cavaforgepad\"")).unwrap_err();
        assert!(
            e.starts_with("c.toml:25:") && e.contains("used twice"),
            "{e}"
        );
        let e = parse(&GOOD.replace("name = \"jukebox\"", "name = \"Juke-box\"")).unwrap_err();
        assert!(e.contains("must match"), "{e}");
    }

    #[test]
    fn fenced_is_read_and_defaults_to_false() {
        let c = parse(GOOD).unwrap();
        assert!(c.hosts.iter().all(|h| !h.fenced));
        let t = GOOD.replacen("role = \"master\"", "role = \"master\"\nfenced = true", 1);
        let c = parse(&t).unwrap();
        let fenced: Vec<&str> = c
            .hosts
            .iter()
            .filter(|h| c.is_fenced(h.name.get_ref()))
            .map(|h| h.name.get_ref().as_str())
            .collect();
        assert_eq!(fenced.len(), 1);
        let e = parse(&GOOD.replacen(
            "role = \"master\"",
            "role = \"master\"\nfenced = \"yes\"",
            1,
        ))
        .unwrap_err();
        assert!(e.contains("expected a boolean"), "{e}");
    }

    #[test]
    fn exactly_one_master() {
        let e = parse(&GOOD.replace("role = \"slave\"", "role = \"master\"")).unwrap_err();
        assert!(e.contains("both have role"), "{e}");
        let e = parse(&GOOD.replace("role = \"master\"", "role = \"slave\"")).unwrap_err();
        assert!(e.contains("no host has role"), "{e}");
    }

    #[test]
    fn thresholds_must_be_ordered() {
        let e =
            parse(&GOOD.replace("lag_warning_secs = 30", "lag_warning_secs = 400")).unwrap_err();
        assert!(e.contains("lag_warning_secs < lag_critical_secs"), "{e}");
    }

    #[test]
    fn delta_growth_thresholds_are_bounded() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.thresholds.delta_growth_warning_rows_per_hour, 50_000.0);
        let text = GOOD.replace(
            "lag_critical_secs = 300",
            "lag_critical_secs = 300\ndelta_growth_warning_rows_per_hour = 1000\ndelta_growth_window_secs = 120",
        );
        assert_eq!(
            parse(&text).unwrap().thresholds.delta_growth_window_secs,
            120.0
        );
        let e = parse(&GOOD.replace(
            "lag_critical_secs = 300",
            "lag_critical_secs = 300\ndelta_growth_window_secs = 5",
        ))
        .unwrap_err();
        assert!(e.contains("delta_growth_window_secs"), "{e}");
    }

    #[test]
    fn persist_default_and_bounds() {
        assert_eq!(parse(GOOD).unwrap().ssh.persist_secs, 300);
        let set = |n: &str| {
            GOOD.replace(
                "connect_timeout_secs = 5",
                &format!("connect_timeout_secs = 5\npersist_secs = {n}"),
            )
        };
        assert_eq!(parse(&set("0")).unwrap().ssh.persist_secs, 0);
        let e = parse(&set("90000")).unwrap_err();
        assert!(e.contains("persist_secs must be from 0"), "{e}");
        assert_eq!(parse(GOOD).unwrap().ssh.observer_persist_secs, 0);
        let observer = |n: &str| {
            GOOD.replacen(
                "connect_timeout_secs = 5",
                &format!("connect_timeout_secs = 5\nobserver_persist_secs = {n}"),
                1,
            )
        };
        assert_eq!(
            parse(&observer("120")).unwrap().ssh.observer_persist_secs,
            120
        );
        let e = parse(&observer("86401")).unwrap_err().to_string();
        assert!(e.contains("observer_persist_secs must be from 0"), "{e}");
    }

    #[test]
    fn parallel_connects_default_and_bounds() {
        assert_eq!(parse(GOOD).unwrap().ssh.max_parallel_connects, 16);
        let set = |n: &str| {
            GOOD.replace(
                "connect_timeout_secs = 5",
                &format!("connect_timeout_secs = 5\nmax_parallel_connects = {n}"),
            )
        };
        assert_eq!(parse(&set("4")).unwrap().ssh.max_parallel_connects, 4);
        let e = parse(&set("0")).unwrap_err();
        assert!(
            e.contains("max_parallel_connects must be from 1 to 256"),
            "{e}"
        );
    }

    #[test]
    fn one_password_source_only() {
        let text = GOOD.replace("password_env", "password_file = \"/x\"\npassword_env");
        let e = parse(&text).unwrap_err();
        assert!(e.contains("not both"), "{e}");
    }

    #[test]
    fn bad_ssh_port() {
        let e = parse(&GOOD.replace("10.77.0.2:2222", "10.77.0.2:22x")).unwrap_err();
        assert!(
            e.starts_with("c.toml:27:") && e.contains("not a port"),
            "{e}"
        );
    }

    #[test]
    fn malformed_toml_names_its_line() {
        let e = parse("[[hosts]\nname = 1").unwrap_err();
        assert!(e.starts_with("c.toml:1:"), "{e}");
    }

    #[test]
    fn destinations() {
        assert_eq!(ssh_destination("alias").unwrap(), "alias");
        assert_eq!(ssh_destination("root@h").unwrap(), "root@h");
        assert_eq!(ssh_destination("root@h:2222").unwrap(), "ssh://root@h:2222");
        assert!(ssh_destination("-oProxyCommand=x").is_err());
        assert_eq!(
            ssh_destination("root@h:"),
            Err(DestinationError::Port {
                dest: "root@h:".into(),
                port: String::new()
            })
        );
        assert!(matches!(
            ssh_destination("-oProxyCommand=x"),
            Err(DestinationError::Shape(_))
        ));
    }

    #[test]
    fn log_file_is_optional_and_nothing_else_is_taken() {
        let base = "[[hosts]]\nname = \"m\"\nrole = \"master\"\nssh = \"m\"\n";
        let c = parse(base).unwrap();
        assert_eq!(c.log.file, None);
        let c = parse(&format!("[log]\nfile = \"~/a.log\"\n{base}")).unwrap();
        assert_eq!(c.log.file.as_deref(), Some(Path::new("~/a.log")));
        assert!(parse(&format!("[log]\nlevel = \"debug\"\n{base}")).is_err());
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../../config.example.toml");
        let c = parse(text).unwrap();
        assert_eq!(c.hosts().len(), 2);
        // Its list of action names for [keys] is complete.
        let list = text
            .split("# Action names:")
            .nth(1)
            .and_then(|t| t.split("# [keys]").next())
            .expect("an action-name list");
        let listed: Vec<&str> = list
            .split(|c: char| c.is_whitespace() || c == '#' || c == '.')
            .filter(|w| !w.is_empty())
            .collect();
        for (_, name, _, _) in crate::keymap::ACTIONS {
            assert!(
                listed.contains(name),
                "config.example.toml does not list {name}"
            );
        }
        assert_eq!(listed.len(), crate::keymap::ACTIONS.len(), "{listed:?}");
    }

    #[test]
    fn keys_table_remaps_and_rejects_nonsense() {
        use crate::keymap::{Action, Key};
        let base = "[[hosts]]\nname = \"m\"\nrole = \"master\"\nssh = \"m\"\n";
        let parse = |keys: &str| Config::parse(&format!("{keys}\n{base}"), Path::new("k.toml"));
        let c = parse("[keys]\nquit = \"x\"\nfollow = [\"q\", \"ctrl-p\"]").unwrap();
        let k = c.keymap();
        assert_eq!(k.keys(Action::Quit), [Key::parse("x").unwrap()]);
        assert_eq!(k.keys(Action::Follow).len(), 2);
        let e = parse("[keys]\nquitt = \"x\"").unwrap_err().message;
        assert!(
            e.starts_with("k.toml:2:") && e.contains("unknown action `quitt`"),
            "{e}"
        );
        let e = parse("[keys]\nquit = \"hyper-x\"").unwrap_err().message;
        assert!(e.contains("unknown key \"hyper-x\""), "{e}");
        let e = parse("[keys]\nquit = \"x\"\nhelp = \"x\"")
            .unwrap_err()
            .message;
        assert!(
            e.contains("both help and quit") || e.contains("both quit and help"),
            "{e}"
        );
        let e = parse("[keys]\nquit = []").unwrap_err().message;
        assert!(e.contains("at least one key"), "{e}");
    }

    /// Property tests (cases per run: 256 each: every case parses TOML).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any text: an error that names the file, never a panic.
            #[test]
            fn any_text_is_an_error_or_a_config(text in "(.{0,50}\n){0,10}") {
                if let Err(e) = Config::parse(&text, Path::new("p.toml")) {
                    prop_assert!(e.message.starts_with("p.toml"));
                }
            }

            /// The documented config with one character replaced or cut.
            #[test]
            fn damaged_configs(at in 0usize..10_000, with in any::<char>(), cut in any::<bool>()) {
                let base = super::GOOD;
                let mut at = at % base.len();
                while !base.is_char_boundary(at) {
                    at -= 1;
                }
                let text = if cut {
                    base[..at].to_string()
                } else {
                    let mut t = base.to_string();
                    let end = t[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                    t.replace_range(at..end, &with.to_string());
                    t
                };
                let _ = Config::parse(&text, Path::new("p.toml"));
            }

            /// Timeouts from the file are bounded before anything adds to them.
            #[test]
            fn timeouts_are_bounded(n in any::<u64>()) {
                let text = super::GOOD.replace("connect_timeout_secs = 5", &format!("connect_timeout_secs = {}", n / 2));
                if let Ok(c) = Config::parse(&text, Path::new("p.toml")) {
                    prop_assert!(c.ssh.connect_timeout_secs <= MAX_TIMEOUT_SECS);
                }
            }
        }
    }
}
