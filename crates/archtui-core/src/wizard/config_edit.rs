//! Adding and removing a `[[hosts]]` entry in the config's text, keeping
//! the operator's comments and layout. Pure but for `update`, which
//! rewrites the file (atomic, locked, through a symlink, mode kept) with
//! a `.bak` (0600).

use std::path::{Path, PathBuf};

/// The text with a slave appended; unchanged when a host of that name is
/// already there (a resumed run must not add it twice).
pub fn add_host(text: &str, name: &str, ssh: &str, deploy_dir: Option<&str>) -> String {
    if host_ranges(text).iter().any(|(n, _)| n == name) {
        return text.to_string();
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "\n# Added by archtui provision.\n[[hosts]]\nname = {}\nrole = \"slave\"\nssh = {}\n",
        quote(name),
        quote(ssh)
    ));
    if let Some(d) = deploy_dir {
        out.push_str(&format!("deploy_dir = {}\n", quote(d)));
    }
    out
}

/// The text without the host's `[[hosts]]` table; None if it is not there.
pub fn remove_host(text: &str, name: &str) -> Option<String> {
    let (_, range) = host_ranges(text).into_iter().find(|(n, _)| n == name)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut start = range.start;
    // The comment lines right above the table belong to it.
    while start > 0 && lines[start - 1].trim_start().starts_with('#') {
        start -= 1;
    }
    let mut kept: Vec<&str> = lines[..start].to_vec();
    kept.extend(&lines[range.end..]);
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    Some(kept.join("\n") + "\n")
}

/// The text with `name`'s `role` line set to `role` (a switchover swaps
/// two); None if the host or its `role` line is not there. The line's
/// trailing comment is kept.
pub fn set_role(text: &str, name: &str, role: &str) -> Option<String> {
    let (_, range) = host_ranges(text).into_iter().find(|(n, _)| n == name)?;
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let i = (range.start + 1..range.end).find(|&i| {
        lines[i]
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == "role")
    })?;
    let line = &lines[i];
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    let comment = line
        .split_once('=')
        .and_then(|(_, v)| v.find(" #").map(|at| v[at..].to_string()))
        .unwrap_or_default();
    lines[i] = format!("{indent}role = {}{comment}", quote(role));
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

/// The text with `name`'s `fenced = true` line added after its `role`
/// line (`fenced`) or every `fenced` line of its table removed; None if
/// the host or its `role` line is not there. Unchanged when it already
/// says so, so a resumed run writes nothing.
pub fn set_fenced(text: &str, name: &str, fenced: bool) -> Option<String> {
    let (_, range) = host_ranges(text).into_iter().find(|(n, _)| n == name)?;
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let key_at = |lines: &[String], key: &str| {
        (range.start + 1..range.end).find(|&i| {
            lines[i]
                .split_once('=')
                .is_some_and(|(k, _)| k.trim() == key)
        })
    };
    let role = key_at(&lines, "role")?;
    match (key_at(&lines, "fenced"), fenced) {
        (Some(i), true) => {
            lines[i] = "fenced = true                           # set by archtui failover: `archtui rejoin` clears it".into();
        }
        (None, true) => lines.insert(
            role + 1,
            "fenced = true                           # set by archtui failover: `archtui rejoin` clears it".into(),
        ),
        (Some(i), false) => {
            lines.remove(i);
        }
        (None, false) => return Some(text.to_string()),
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

/// Each `[[hosts]]` table's name and its line range (header to the line
/// before the next table header, trailing blank lines excluded).
fn host_ranges(text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "[[hosts]]" {
            let start = i;
            let mut end = i + 1;
            while end < lines.len() && !lines[end].trim_start().starts_with('[') {
                end += 1;
            }
            // Comments and blanks right before the next header are its own.
            let mut stop = end;
            while stop > start + 1 && {
                let t = lines[stop - 1].trim();
                t.is_empty() || t.starts_with('#')
            } {
                stop -= 1;
            }
            let name = lines[start + 1..stop].iter().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "name").then(|| unquote(v.trim()))
            });
            if let Some(n) = name {
                out.push((n, start..stop));
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn unquote(v: &str) -> String {
    let v = v.split(" #").next().unwrap_or(v).trim();
    v.trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// Backup path: `<config>.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".bak");
    PathBuf::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_role_changes_one_line_and_keeps_its_comment() {
        let text = "[ssh]\nconnect_timeout_secs = 5\n\n[[hosts]]\nname = \"a\"\nrole = \"master\"   # the one\nssh = \"a\"\n\n[[hosts]]\nname = \"b\"\nrole = \"slave\"\nssh = \"b\"\n";
        let once = set_role(text, "a", "slave").unwrap();
        let both = set_role(&once, "b", "master").unwrap();
        assert!(
            both.contains("name = \"a\"\nrole = \"slave\" # the one\n"),
            "{both}"
        );
        assert!(both.contains("name = \"b\"\nrole = \"master\"\n"), "{both}");
        assert_eq!(both.lines().count(), text.lines().count());
        assert!(set_role(text, "nobody", "slave").is_none());
    }

    #[test]
    fn set_fenced_adds_once_and_removes_to_the_same_text() {
        let text = "[[hosts]]\nname = \"a\"\nrole = \"master\"\nssh = \"a\"\n\n[[hosts]]\nname = \"b\"\nrole = \"slave\"\nssh = \"b\"\n";
        let on = set_fenced(text, "a", true).unwrap();
        assert!(on.contains("role = \"master\"\nfenced = true "), "{on}");
        assert_eq!(set_fenced(&on, "a", true).unwrap(), on, "idempotent");
        assert_eq!(on.matches("fenced").count(), 1);
        let off = set_fenced(&on, "a", false).unwrap();
        assert_eq!(off, text);
        assert_eq!(set_fenced(text, "b", false).unwrap(), text);
        assert!(set_fenced(text, "nobody", true).is_none());
    }

    const CONF: &str = "[ssh]\nconnect_timeout_secs = 5\n\n[[hosts]]\nname = \"cavaforgepad\"\nrole = \"master\"\nssh = \"cavaforgepad\"\n\n# the first slave\n[[hosts]]\nname = \"jukebox\"\nrole = \"slave\"\nssh = \"jukebox\"\n\n[keys]\nquit = \"q\"\n";

    #[test]
    fn add_then_remove_round_trips() {
        let added = add_host(CONF, "turntable", "root@10.77.0.3", None);
        let c = crate::config::Config::parse(&added, Path::new("t.toml")).unwrap();
        let hosts = c.hosts();
        assert_eq!(hosts.len(), 3);
        assert_eq!(hosts[2].name, "turntable");
        assert_eq!(hosts[2].ssh, "root@10.77.0.3");
        assert_eq!(
            add_host(&added, "turntable", "x", None),
            added,
            "no duplicate"
        );
        let removed = remove_host(&added, "turntable").unwrap();
        assert_eq!(removed, CONF);
        assert!(remove_host(CONF, "turntable").is_none());
    }

    #[test]
    fn remove_a_middle_host_keeps_the_rest() {
        let removed = remove_host(CONF, "jukebox").unwrap();
        assert!(!removed.contains("jukebox"));
        assert!(!removed.contains("the first slave"));
        assert!(removed.contains("[keys]\nquit = \"q\""));
        let c = crate::config::Config::parse(&removed, Path::new("t.toml")).unwrap();
        assert_eq!(c.hosts().len(), 1);
    }

    #[test]
    fn deploy_dir_and_quoting() {
        let added = add_host("", "a", "we\"ird", Some("/opt/x"));
        let v: toml::Value = toml::from_str(&added).unwrap();
        assert_eq!(v["hosts"][0]["ssh"].as_str(), Some("we\"ird"), "{added}");
        assert!(added.contains("deploy_dir = \"/opt/x\""));
    }
}
