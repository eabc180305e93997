//! Env files (compose's `KEY=VALUE` format) and which of their keys hold
//! secrets: read by the deploy plan, the wizard and the redactor alike.

use std::collections::BTreeMap;

/// Env keys whose values are never shown: any key containing one of these.
const SECRET_MARKS: [&str; 4] = ["PASSWORD", "SECRET", "KEY", "TOKEN"];
pub const REDACTED: &str = "<redacted>";

pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    SECRET_MARKS.iter().any(|m| k.contains(m))
}

/// `KEY=VALUE` lines of an env file (compose's format: `#` comments,
/// blank lines, an optional `export `). Later keys win.
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// Replaces the value of every `SECRETKEY=value` word in free text (an
/// error message, a compose line) with the redaction mark.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match word.split_once('=') {
            Some((k, _)) if is_secret_key(k.trim_start_matches(['-', '"', '\''])) => {
                out.push_str(k);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(word),
        }
    }
    out
}

/// Drops every `KEY=...` line of env-file text (commented lines stay).
pub fn remove_env(text: &str, key: &str) -> String {
    let out: Vec<&str> = text
        .lines()
        .filter(|line| {
            let rest = line.strip_prefix("export ").unwrap_or(line);
            rest.split_once('=').map(|(k, _)| k) != Some(key)
        })
        .collect();
    out.join("\n") + "\n"
}

/// Sets `KEY=value` in env-file text, keeping an `export ` prefix;
/// appends the line when the key is absent (commented lines do not count).
pub fn set_env(text: &str, key: &str, value: &str) -> String {
    let mut found = false;
    let mut out: Vec<String> = text
        .lines()
        .map(|line| {
            let (prefix, rest) = match line.strip_prefix("export ") {
                Some(r) => ("export ", r),
                None => ("", line),
            };
            match rest.split_once('=') {
                Some((k, _)) if k == key => {
                    found = true;
                    format!("{prefix}{key}={value}")
                }
                _ => line.to_string(),
            }
        })
        .collect();
    if !found {
        out.push(format!("export {key}={value}"));
    }
    out.join("\n") + "\n"
}
