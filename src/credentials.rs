//! The database password: from an environment variable, a file, or the
//! user's `.pgpass`. It lives in a `Secret` whose Debug never shows it, and
//! no error message here ever includes it.

use std::fmt;
use std::path::PathBuf;

use crate::config::DatabaseConfig;

#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
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

impl Password {
    pub fn resolve(db: &DatabaseConfig) -> Result<Password, String> {
        if let Some(var) = &db.password_env {
            let var = var.get_ref();
            return match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Password::Given(Secret(v))),
                _ => Err(format!(
                    "[database] password_env = {var:?}, but that environment variable is not set; export it or use password_file"
                )),
            };
        }
        if let Some(path) = &db.password_file {
            return match std::fs::read_to_string(path) {
                // Only the first line: files written by `echo` end in a newline.
                Ok(text) => Ok(Password::Given(Secret(
                    text.lines().next().unwrap_or("").to_string(),
                ))),
                Err(e) => Err(format!("[database] password_file {}: {e}", path.display())),
            };
        }
        let path = std::env::var_os("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")));
        let entries = path
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| parse_pgpass(&t))
            .unwrap_or_default();
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
    fn secrets_never_debug_print() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let e = &parse_pgpass("h:1:d:u:hunter2")[0];
        assert!(!format!("{e:?}").contains("hunter2"));
    }
}
