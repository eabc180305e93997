//! The binary on hostile input, without a lab: no host is contacted (the
//! config names hosts under .invalid, and every case fails before a
//! connection). Nothing panics; what is refused says why.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn config() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("archtui-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        "[[hosts]]\nname = \"m\"\nrole = \"master\"\nssh = \"m.invalid\"\n",
    )
    .unwrap();
    p
}

fn archtui(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(args)
        .env("ARCHTUI_CONFIG", config())
        // Refusals are audited too: never into the operator's own log.
        .env(
            "XDG_STATE_HOME",
            std::env::temp_dir().join(format!("archtui-cli-state-{}", std::process::id())),
        )
        .stdin(Stdio::null())
        .output()
        .expect("run archtui")
}

fn all(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_console_without_a_terminal_says_so_in_one_line_and_exits_3() {
    for args in [&[][..], &["provision", "x", "--tui"][..]] {
        let o = archtui(args);
        let text = all(&o);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {text}");
        assert!(text.contains("needs a terminal"), "{args:?}: {text}");
        assert!(!text.contains('\x1b'), "{args:?} wrote an escape: {text:?}");
        assert!(!text.contains("panicked"), "{args:?}: {text}");
        assert!(o.stdout.is_empty(), "{args:?}: stdout {text:?}");
    }
    // The console's refusal is exactly one line.
    let o = archtui(&[]);
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
}

#[test]
fn watch_and_thresholds_refuse_what_is_not_a_duration() {
    for (flag, v) in [
        ("--watch", "inf"),
        ("--watch", "NaN"),
        ("--watch", "-1"),
        ("--watch", "1e400"),
        ("--watch", "0"),
        ("--watch", "99999999999"),
        ("--warning", "nan"),
        ("--critical", "inf"),
        ("--warning", "-5"),
    ] {
        let arg = format!("{flag}={v}");
        let o = archtui(&["status", &arg]);
        let text = all(&o);
        assert_ne!(o.status.code(), Some(101), "{arg}: {text}");
        assert!(!text.contains("panicked"), "{arg}: {text}");
        assert!(text.contains("is not a number of seconds"), "{arg}: {text}");
    }
}

#[test]
fn a_hostile_config_is_an_error_not_a_panic() {
    let dir = std::env::temp_dir().join(format!("archtui-cli-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = "[[hosts]]\nname = \"m\"\nrole = \"master\"\nssh = \"m.invalid\"\n";
    for (name, text) in [
        (
            "huge",
            format!("[ssh]\nconnect_timeout_secs = {}\n{base}", i64::MAX),
        ),
        (
            "query",
            format!("[database]\nquery_timeout_secs = {}\n{base}", i64::MAX),
        ),
        (
            "nan",
            format!("[thresholds]\nlag_warning_secs = nan\n{base}"),
        ),
        ("binary", "\u{0}\u{1b}[2J\u{9b}".to_string()),
    ] {
        let p = dir.join(format!("{name}.toml"));
        std::fs::write(&p, &text).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
            .args(["--config", p.to_str().unwrap(), "status"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let out = all(&o);
        assert_eq!(o.status.code(), Some(3), "{name}: {out}");
        assert!(out.contains(&format!("{name}.toml")), "{name}: {out}");
        assert!(
            !out.contains("panicked") && !out.contains('\x1b'),
            "{name}: {out:?}"
        );
    }
}

#[test]
fn usage_errors_of_status_and_check_are_unknown_not_critical() {
    // 2 means critical for status and "some checks failed" for check.
    for args in [&["status", "--bogus"][..], &["check", "extra"], &["--nope"]] {
        let o = archtui(args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", all(&o));
    }
    // An action's bad arguments are refused (2), as documented.
    let o = archtui(&["kick"]);
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    let o = archtui(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_run_dir_others_can_enter_is_refused() {
    // $XDG_RUNTIME_DIR/archtui open to everyone: another user could put
    // a socket of their own where archtui expects the forwarded database.
    let rt = std::env::temp_dir().join(format!("archtui-cli-xdg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&rt);
    std::fs::create_dir_all(rt.join("archtui")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(rt.join("archtui"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
        .arg("status")
        .env("ARCHTUI_CONFIG", config())
        .env("XDG_RUNTIME_DIR", &rt)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = all(&o);
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert!(
        text.contains("mode 0777") && text.contains("0700"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&rt);
}

/// `switchover` refuses before any connection: the master itself, a name
/// the config lacks, another switchover's open journal; a damaged journal
/// is named with what to do. Each run appends its audit line.
#[test]
fn switchover_refuses_before_connecting_and_names_a_damaged_journal() {
    let dir = std::env::temp_dir().join(format!("archtui-cli-so-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("archtui")).unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        "[[hosts]]\nname = \"m\"\nrole = \"master\"\nssh = \"m.invalid\"\n\n[[hosts]]\nname = \"s\"\nrole = \"slave\"\nssh = \"s.invalid\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
            .args(args)
            .env("ARCHTUI_CONFIG", &cfg)
            .env("XDG_STATE_HOME", &dir)
            .stdin(Stdio::null())
            .output()
            .expect("run archtui");
        (o.status.code(), all(&o))
    };
    let (code, text) = run(&["switchover", "m", "--yes"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("m is already the master"), "{text}");
    let (code, text) = run(&["switchover", "nobody", "--dry-run"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("\"nobody\" is not a slave of the config (slaves: s)"),
        "{text}"
    );
    let journal = dir.join("archtui/switchover.json");
    std::fs::write(
        &journal,
        r#"{"roles":{"old_master":"m","candidate":"other","others":[]},"started_at":"2026-12-01T00:00:00Z","done":["fence"]}"#,
    )
    .unwrap();
    let (code, text) = run(&["switchover", "s", "--yes"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("a switchover to other is under way"),
        "{text}"
    );
    // A failover or a rejoin is refused too while it is open, by kind.
    let (code, text) = run(&["failover", "s", "--yes"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("a switchover to other is under way"),
        "{text}"
    );
    let (code, text) = run(&["rejoin", "s", "--yes"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("archtui switchover other"), "{text}");
    let (code, text) = run(&["rejoin", "m", "--yes"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("m is the config's master"), "{text}");
    let _ = std::fs::remove_file(&journal);
    // A fenced host cannot become the master, by either command.
    let text_before = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text_before.replace("role = \"slave\"", "role = \"slave\"\nfenced = true"),
    )
    .unwrap();
    for cmd in ["switchover", "failover"] {
        let (code, text) = run(&[cmd, "s", "--yes"]);
        assert_eq!(code, Some(2), "{text}");
        assert!(
            text.contains("s is fenced (a failover replaced it)"),
            "{text}"
        );
    }
    std::fs::write(&cfg, text_before).unwrap();
    std::fs::write(&journal, "{\"roles\":").unwrap();
    let (code, text) = run(&["switchover", "s", "--yes"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("may be half done"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    let audit = std::fs::read_to_string(dir.join("archtui/audit.log")).unwrap_or_default();
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("\"switchover\""))
            .count(),
        5,
        "one line per switchover run: {audit}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
