//! A deploy's plan, computed before anything changes: which stack files
//! differ between the checkout and the host, and how the env files differ,
//! with secret values redacted. Pure: the inputs are already read.

use std::collections::{BTreeMap, BTreeSet};

pub use crate::envfile::redact_text;
use crate::envfile::{is_secret_key, parse_env, REDACTED};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvChange {
    Added {
        key: String,
        value: String,
    },
    Removed {
        key: String,
    },
    Changed {
        key: String,
        old: String,
        new: String,
    },
}

fn shown(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        REDACTED.to_string()
    } else {
        value.to_string()
    }
}

impl EnvChange {
    /// One line for the operator, secrets redacted: by key name, and the
    /// values of known secrets wherever they appear (a URL's password).
    pub fn describe(&self) -> String {
        crate::credentials::redact(&self.describe_by_key())
    }

    fn describe_by_key(&self) -> String {
        match self {
            EnvChange::Added { key, value } => format!("+ {key}={}", shown(key, value)),
            EnvChange::Removed { key } => format!("- {key}"),
            EnvChange::Changed { key, old, new } => {
                if is_secret_key(key) {
                    format!("~ {key}: {REDACTED} (changed)")
                } else {
                    format!("~ {key}: {old} -> {new}")
                }
            }
        }
    }
}

/// How the checkout's env file (`new`) differs from the host's (`old`).
pub fn env_diff(old: &str, new: &str) -> Vec<EnvChange> {
    let (old, new) = (parse_env(old), parse_env(new));
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|k| match (old.get(k), new.get(k)) {
            (None, Some(v)) => Some(EnvChange::Added {
                key: k.clone(),
                value: v.clone(),
            }),
            (Some(_), None) => Some(EnvChange::Removed { key: k.clone() }),
            (Some(o), Some(n)) if o != n => Some(EnvChange::Changed {
                key: k.clone(),
                old: o.clone(),
                new: n.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileChange {
    /// In the checkout, not on the host.
    New,
    Changed,
    /// On the host only: a deploy leaves it alone.
    HostOnly,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub files: Vec<(String, FileChange)>,
    /// Per env file, its changes.
    pub env: Vec<(String, Vec<EnvChange>)>,
    /// Services whose build context changed (`assets/<service>/...`).
    pub rebuild: Vec<String>,
}

impl Plan {
    /// Does the deploy copy anything?
    pub fn changes_files(&self) -> bool {
        self.files.iter().any(|(_, c)| *c != FileChange::HostOnly)
    }

    /// The plan as lines for the operator; never a secret value.
    pub fn render(&self, host: &str) -> Vec<String> {
        let mut out = vec![format!("Plan for {host}:")];
        if !self.changes_files() {
            out.push("  files: the host already has the checkout's files".into());
        }
        for (path, change) in &self.files {
            let mark = match change {
                FileChange::New => "new      ",
                FileChange::Changed => "changed  ",
                FileChange::HostOnly => "host only",
            };
            out.push(format!("  {mark} {path}"));
        }
        for (file, changes) in &self.env {
            out.push(format!("  {file}:"));
            out.extend(changes.iter().map(|c| format!("    {}", c.describe())));
        }
        if !self.rebuild.is_empty() {
            out.push(format!("  rebuilds: {}", self.rebuild.join(", ")));
        }
        out.push(
            "  then: the role's deploy script: docker compose up -d --build (recreates services whose image or env changed), wait healthy"
                .into(),
        );
        out
    }
}

/// Compares the checkout with the host. `local`/`remote` map a path
/// relative to the deploy dir to a content hash; `env` holds, per env
/// file, the host's text (None if missing) and the checkout's text.
pub fn build(
    local: &BTreeMap<String, String>,
    remote: &BTreeMap<String, String>,
    env: &[(String, Option<String>, String)],
) -> Plan {
    let mut plan = Plan::default();
    for (path, hash) in local {
        match remote.get(path) {
            None => plan.files.push((path.clone(), FileChange::New)),
            Some(h) if h != hash => plan.files.push((path.clone(), FileChange::Changed)),
            _ => {}
        }
    }
    for path in remote.keys().filter(|p| !local.contains_key(*p)) {
        plan.files.push((path.clone(), FileChange::HostOnly));
    }
    plan.files.sort();
    for (file, old, new) in env {
        let changes = env_diff(old.as_deref().unwrap_or(""), new);
        if !changes.is_empty() {
            plan.env.push((file.clone(), changes));
        }
    }
    let rebuild: BTreeSet<String> = plan
        .files
        .iter()
        .filter(|(_, c)| *c != FileChange::HostOnly)
        .filter_map(|(p, _)| {
            p.strip_prefix("assets/")?
                .split_once('/')
                .map(|(s, _)| s.to_string())
        })
        .collect();
    plan.rebuild = rebuild.into_iter().collect();
    plan
}

/// Parses `sha256sum` output (`HASH  PATH`, paths maybe `./`-prefixed).
pub fn parse_sums(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (hash, path) = l.split_once("  ")?;
            let path = path.strip_prefix("./").unwrap_or(path);
            Some((path.to_string(), hash.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for k in [
            "DB_PASSWORD",
            "api_key",
            "SECRET",
            "GITHUB_TOKEN",
            "KEYRING",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["APP_PORT", "BUCARDO_LOG_LEVEL", "ARCHIVE_DB_NAME"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn env_diff_redacts_secrets() {
        let old = "# c\nA=1\nDB_PASSWORD=old-secret\nGONE=x\n";
        let new = "A=2\nDB_PASSWORD=new-secret\nexport NEW_TOKEN=tok\nPLAIN=v\n";
        let d = env_diff(old, new);
        let lines: Vec<String> = d.iter().map(EnvChange::describe).collect();
        assert_eq!(
            lines,
            [
                "~ A: 1 -> 2",
                "~ DB_PASSWORD: <redacted> (changed)",
                "- GONE",
                "+ NEW_TOKEN=<redacted>",
                "+ PLAIN=v"
            ]
        );
        let all = lines.join("\n");
        assert!(!all.contains("secret") && !all.contains("tok\n"));
    }

    #[test]
    fn env_diff_redacts_secret_values_in_other_keys() {
        let new = "ARCHIVE_DB_PASSWORD=Plan-Pw-77q\nDATABASE_URL=postgres://u:Plan-Pw-77q@db/x\n";
        crate::credentials::remember_env(new);
        let lines: Vec<String> = env_diff("", new).iter().map(EnvChange::describe).collect();
        assert_eq!(
            lines,
            [
                "+ ARCHIVE_DB_PASSWORD=<redacted>",
                "+ DATABASE_URL=postgres://u:<redacted>@db/x"
            ]
        );
    }

    #[test]
    fn redact_free_text() {
        assert_eq!(
            redact_text("set DB_PASSWORD=abc and A=b --api-key=zz"),
            "set DB_PASSWORD=<redacted> and A=b --api-key=<redacted>"
        );
    }

    #[test]
    fn plan_lists_differences_and_rebuilds() {
        let m = |v: &[(&str, &str)]| -> BTreeMap<String, String> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let local = m(&[
            ("docker-compose.yml", "1"),
            ("env.common", "2"),
            ("assets/app/Dockerfile", "3"),
            ("assets/db/Dockerfile", "4"),
            ("assets/new/x", "5"),
        ]);
        let remote = m(&[
            ("docker-compose.yml", "1"),
            ("env.common", "9"),
            ("assets/app/Dockerfile", "8"),
            ("assets/db/Dockerfile", "4"),
            ("assets/old/y", "7"),
        ]);
        let env = vec![(
            "env.common".to_string(),
            Some("X=1\nPASSWORD=a".to_string()),
            "X=2\nPASSWORD=b".to_string(),
        )];
        let p = build(&local, &remote, &env);
        assert_eq!(
            p.files,
            [
                ("assets/app/Dockerfile".to_string(), FileChange::Changed),
                ("assets/new/x".to_string(), FileChange::New),
                ("assets/old/y".to_string(), FileChange::HostOnly),
                ("env.common".to_string(), FileChange::Changed),
            ]
        );
        assert_eq!(p.rebuild, ["app", "new"]);
        let text = p.render("jukebox").join("\n");
        assert!(text.contains("~ X: 1 -> 2"), "{text}");
        assert!(
            !text.contains("PASSWORD=a") && !text.contains("-> b"),
            "{text}"
        );
        let same = build(&local, &local, &[]);
        assert!(!same.changes_files());
    }

    #[test]
    fn sums_parse() {
        let s = parse_sums("abc  ./env.common\ndef  assets/app/Dockerfile\ngarbage\n");
        assert_eq!(s.get("env.common").map(String::as_str), Some("abc"));
        assert_eq!(
            s.get("assets/app/Dockerfile").map(String::as_str),
            Some("def")
        );
        assert_eq!(s.len(), 2);
    }

    /// Property tests (cases per run: 512 each).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any env text parses; a key set by the wizard's renderer
            /// reads back as set.
            #[test]
            fn env_files_any_text(text in "(.{0,40}\n){0,8}", key in "[A-Z_]{1,12}", value in "([!-~]([ -~]{0,18}[!-~])?)?") {
                let _ = parse_env(&text);
                let set = crate::envfile::set_env(&text, &key, &value);
                let parsed = parse_env(&set);
                prop_assert_eq!(parsed.get(&key), Some(&value));
                let _ = env_diff(&text, &set);
                let _ = redact_text(&text);
            }

            /// Any sha256sum output parses without a panic.
            #[test]
            fn sums_any_text(text in "(.{0,60}\n){0,6}") {
                for (path, _) in parse_sums(&text) {
                    prop_assert!(!path.starts_with("./"));
                }
            }
        }
    }
}
