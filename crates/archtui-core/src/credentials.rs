//! The database password: from an environment variable, a file, or the
//! user's `.pgpass`. It lives in a `Secret` whose Debug never shows it, and
//! no error message here ever includes it.

use std::fmt;
use std::path::PathBuf;
use std::sync::RwLock;

use crate::config::DatabaseConfig;

#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    /// A secret the redactor knows from now on: its value never leaves
    /// the process in any output (see `redact`).
    pub fn known(value: String) -> Secret {
        remember(&value);
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Every secret value archtui resolved or read (its password, the secret
/// variables of the env files it deploys or compares), for `redact`.
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shorter values are not searched for: replacing every "ab" of an output
/// would garble it, and such a value is no secret worth the name.
pub const MIN_REDACTED_LEN: usize = 4;

/// The mark a secret's value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Adds a secret value to what `redact` removes.
pub fn remember(value: &str) {
    let value = value.trim_end_matches(['\r', '\n']);
    if value.chars().count() < MIN_REDACTED_LEN {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| k == value) {
        known.push(value.to_string());
        // Longest first, so a secret that contains another goes whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Adds the values of an env file's secret variables (keys containing
/// PASSWORD, SECRET, KEY or TOKEN), quoted or not, to what `redact` removes.
pub fn remember_env(text: &str) {
    for (k, v) in crate::envfile::parse_env(text) {
        if crate::envfile::is_secret_key(&k) {
            remember(&v);
            remember(unquote(&v));
        }
    }
}

/// An env value without the quotes compose and sh strip.
pub fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// Text with every known secret value replaced, wherever it appears (a
/// `postgres://u:pw@host` URL, a compose line, an error), and the value
/// of every `SECRETKEY=value` word too. Every output that leaves the
/// process goes through here: terminal, audit log, --json.
pub fn redact(text: &str) -> String {
    let mut out = crate::envfile::redact_text(text);
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    for k in known.iter() {
        if out.contains(k.as_str()) {
            out = out.replace(k.as_str(), REDACTED);
        }
    }
    out
}

/// Raw bytes (a log line before it is parsed) with known secret values
/// replaced; borrowed unchanged when none occurs.
pub fn redact_bytes(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    let hit = |k: &String| raw.windows(k.len()).any(|w| w == k.as_bytes());
    if !known.iter().any(hit) {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = raw.to_vec();
    for k in known.iter() {
        let k = k.as_bytes();
        let mut i = 0;
        let mut next = Vec::with_capacity(out.len());
        while i < out.len() {
            if out[i..].starts_with(k) {
                next.extend_from_slice(REDACTED.as_bytes());
                i += k.len();
            } else {
                next.push(out[i]);
                i += 1;
            }
        }
        out = next;
    }
    std::borrow::Cow::Owned(out)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the password comes from; `Pgpass` is looked up per connection.
#[derive(Debug, Clone)]
pub enum Password {
    Given(Secret),
    Pgpass(Vec<PgpassEntry>),
}

/// Why the configured password could not be had; never holds it.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("[database] password_env = {0:?}, but that environment variable is not set; export it or use password_file")]
    EnvUnset(String),
    #[error("[database] password_file {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<PasswordError> for String {
    fn from(e: PasswordError) -> String {
        e.to_string()
    }
}

impl Password {
    pub fn resolve(db: &DatabaseConfig) -> Result<Password, PasswordError> {
        if let Some(var) = &db.password_env {
            let var = var.get_ref();
            return match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Password::Given(Secret::known(v))),
                _ => Err(PasswordError::EnvUnset(var.clone())),
            };
        }
        if let Some(path) = &db.password_file {
            return match std::fs::read_to_string(path) {
                // Only the first line: files written by `echo` end in a newline.
                Ok(text) => Ok(Password::Given(Secret::known(
                    text.lines().next().unwrap_or("").to_string(),
                ))),
                Err(source) => Err(PasswordError::File {
                    path: path.clone(),
                    source,
                }),
            };
        }
        let path = std::env::var_os("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")));
        let entries = path
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| parse_pgpass(&t))
            .unwrap_or_default();
        for e in &entries {
            remember(e.password.expose());
        }
        Ok(Password::Pgpass(entries))
    }

    /// The password for one connection; `hosts` are the names the host is
    /// known by (the forward makes it local, so `localhost` matches too).
    pub fn for_db(&self, hosts: &[&str], port: u16, db: &str, user: &str) -> Option<Secret> {
        match self {
            Password::Given(s) => Some(s.clone()),
            Password::Pgpass(entries) => entries
                .iter()
                .find(|e| {
                    let m = |field: &str, v: &str| field == "*" || field == v;
                    hosts.iter().any(|h| m(&e.host, h))
                        && m(&e.port, &port.to_string())
                        && m(&e.database, db)
                        && m(&e.user, user)
                })
                .map(|e| e.password.clone()),
        }
    }
}

#[derive(Clone)]
pub struct PgpassEntry {
    host: String,
    port: String,
    database: String,
    user: String,
    password: Secret,
}

impl fmt::Debug for PgpassEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}:***",
            self.host, self.port, self.database, self.user
        )
    }
}

/// libpq's format: `host:port:database:user:password`, `\` escapes `:`
/// and `\`, `#` starts a comment line.
fn parse_pgpass(text: &str) -> Vec<PgpassEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let mut fields = Vec::new();
            let mut cur = String::new();
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => cur.extend(chars.next()),
                    ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            fields.push(cur);
            let [host, port, database, user, password]: [String; 5] = fields.try_into().ok()?;
            Some(PgpassEntry {
                host,
                port,
                database,
                user,
                password: Secret(password),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lookup() {
        let p = Password::Pgpass(parse_pgpass(
            "# comment\nother:5432:archive:bucardo:nope\n*:5432:archive:bucardo:pa\\:ss\nlocalhost:*:*:bucardo:any\n",
        ));
        let got = p
            .for_db(&["jukebox", "localhost"], 5432, "archive", "bucardo")
            .unwrap();
        assert_eq!(got.expose(), "pa:ss");
        let got = p
            .for_db(&["jukebox", "localhost"], 5433, "bucardo", "bucardo")
            .unwrap();
        assert_eq!(got.expose(), "any");
        assert!(p.for_db(&["jukebox"], 5433, "bucardo", "x").is_none());
    }

    #[test]
    fn redaction_knows_the_values() {
        remember("s3cr3t-Value-Zq");
        remember_env(
            "export APP_SECRET_TOKEN=\"tok-Value-Yq\"\nPLAIN=visible-Value\nDB_PASSWORD=\n",
        );
        let out = redact(
            "DATABASE_URL=postgres://u:s3cr3t-Value-Zq@db/x token tok-Value-Yq visible-Value",
        );
        assert_eq!(
            out,
            "DATABASE_URL=postgres://u:<redacted>@db/x token <redacted> visible-Value"
        );
        assert_eq!(
            redact_bytes(b"pw=s3cr3t-Value-Zq!").as_ref(),
            b"pw=<redacted>!"
        );
        assert!(matches!(
            redact_bytes(b"nothing here"),
            std::borrow::Cow::Borrowed(_)
        ));
        // Too short to search for without garbling every output.
        remember("ab");
        assert_eq!(redact("ab cab"), "ab cab");
    }

    #[test]
    fn secrets_never_debug_print() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let e = &parse_pgpass("h:1:d:u:hunter2")[0];
        assert!(!format!("{e:?}").contains("hunter2"));
    }

    /// Property tests (cases per run: 512 each).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any .pgpass text parses; an escaped entry reads back.
            #[test]
            fn pgpass_any_text(text in "(.{0,40}\n){0,6}", pw in "[ -~]{1,20}") {
                let _ = parse_pgpass(&text);
                let esc = pw.replace('\\', "\\\\").replace(':', "\\:");
                let e = parse_pgpass(&format!("h:1:d:u:{esc}\n"));
                prop_assert_eq!(e.len(), 1);
                prop_assert_eq!(e[0].password.expose(), pw.as_str());
            }

            /// A remembered value never survives redaction, wherever it is.
            #[test]
            fn redaction_removes_known_values(pre in ".{0,20}", post in ".{0,20}", secret in "[A-Za-z0-9]{8,16}") {
                let secret = format!("Pp{secret}");
                remember(&secret);
                let out = redact(&format!("{pre}{secret}{post}"));
                prop_assert!(!out.contains(&secret), "{}", out);
            }
        }
    }
}
