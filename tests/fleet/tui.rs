//! The console end to end: the real binary in a detached tmux session of
//! fixed size against the lab; keys go in with send-keys, the screen comes
//! back with capture-pane.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use crate::common::tmux::start_console;

use crate::common::lab;

fn row<'a>(screen: &'a str, needle: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(needle))
}

/// Seconds of a compact age (`5s`, `2m`) in a row's cells.
fn good_age(sync_row: &str) -> Option<u64> {
    let cells: Vec<&str> = sync_row.split_whitespace().collect();
    let i = cells.iter().position(|c| *c == "good")?;
    let a = cells.get(i + 1)?;
    let (n, unit) = a.split_at(a.len() - 1);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "s" => n,
        "m" => n * 60,
        _ => n * 3600,
    })
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn console_shows_fleet_logs_and_exits_cleanly() {
    let Some(lab) = lab("console_shows_fleet_logs_and_exits_cleanly") else {
        return;
    };
    let t = start_console("main", "", &lab.config(), None, 120, 40);
    let s = t.wait("both hosts up, sync good", 60, |s| {
        s.contains("● cavaforgepad")
            && s.contains("● jukebox")
            && row(s, "archive_jukebox").is_some_and(|r| r.contains(" good "))
    });
    assert!(row(&s, "│● cavaforgepad").unwrap().contains(" up "), "{s}");
    assert!(row(&s, "│● jukebox").unwrap().contains(" up "), "{s}");

    // A row written on the master: the sync's last-good age comes back
    // to a few seconds after it ran. The master's heartbeat (every 5 s)
    // would reset the age by itself, so its writer is paused first and the
    // age let grow past it: only the write's own run can reset it then.
    let beat = lab.sh_ok(
        "cavaforgepad",
        "docker ps -q --filter label=com.docker.compose.project=archive --filter label=com.docker.compose.service=bucardo",
    );
    assert!(!beat.is_empty(), "the master's bucardo container");
    let _unpause = common::restore(|| {
        let _ = lab.sh("cavaforgepad", &format!("docker unpause {beat}"));
    });
    lab.sh_ok("cavaforgepad", &format!("docker pause {beat}"));
    t.wait("last good older than a heartbeat period", 60, |s| {
        row(s, "archive_jukebox")
            .and_then(good_age)
            .is_some_and(|age| age >= 9)
    });
    let coll = lab.psql(
        "cavaforgepad",
        "INSERT INTO collections (name) VALUES ('tui-lab-' || clock_timestamp()) RETURNING id",
    );
    t.wait("last good resets after a write", 30, |s| {
        row(s, "archive_jukebox")
            .and_then(good_age)
            .is_some_and(|age| age <= 3)
    });
    assert_eq!(
        lab.psql(
            "jukebox",
            &format!("SELECT count(*) FROM collections WHERE id = {coll}")
        ),
        "1",
        "the written row is on jukebox"
    );
    lab.sh_ok("cavaforgepad", &format!("docker unpause {beat}"));

    // jukebox, then its db container (services sort: app, bucardo, db).
    t.keys(&["j", "Enter", "G", "Enter"]);
    let s = t.wait("jukebox db log lines", 30, |s| {
        s.contains("logs · jukebox/db") && s.contains("LOG:")
    });
    assert!(s.contains("following"), "{s}");

    // Pause, then help, then quit from help.
    t.keys(&["f"]);
    t.wait("paused", 5, |s| s.contains("paused"));
    t.keys(&["?"]);
    t.wait("help overlay", 5, |s| s.contains("drill in / tail logs"));
    t.keys(&["q"]);
    let s = t.wait("exit", 10, |s| s.contains("ARCHTUI-EXIT="));
    assert!(s.contains("ARCHTUI-EXIT=0"), "{s}");
    // The alternate screen is gone and the tty is cooked again.
    assert!(s.contains("BEFORE-ARCHTUI"), "{s}");
    assert!(!s.contains("┌ fleet"), "{s}");
    assert!(
        s.lines().any(|l| l.trim() == "icanon") && s.lines().any(|l| l.trim() == "echo"),
        "{s}"
    );
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn escape_sequences_and_huge_lines_do_not_disturb_the_screen() {
    let Some(lab) = lab("escape_sequences_and_huge_lines_do_not_disturb_the_screen") else {
        return;
    };
    let base = std::fs::read_to_string(lab.config()).expect("lab config");
    let dir = std::env::temp_dir().join(format!("archtui-esc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("archtui.toml");
    std::fs::write(
        &config,
        format!("{base}\n[[hosts]]\nname = \"turntable\"\nrole = \"slave\"\nssh = \"turntable\"\n"),
    )
    .unwrap();
    let _cleanup = common::restore(|| {
        let _ = lab.sh("turntable", "docker rm -f archtui-esc >/dev/null 2>&1");
        let _ = std::fs::remove_dir_all(&dir);
    });
    // Labelled as the compose project's, so the console lists it.
    let script = r"while :; do
printf '\033[2J\033[HCLEAR-ATTEMPT\n'
printf '\033]0;PWNED-TITLE\007TITLE-ATTEMPT\n'
printf '\033[10;10H\033[?1049l\033[?25lMOVE-ATTEMPT\033[0m\n'
printf '\033[1;31mRED-TEXT\033[0m\n'
head -c 1000000 /dev/zero | tr '\0' x; echo
printf 'AFTER-BIG-LINE\n'
sleep 1; done";
    lab.sh_ok(
        "turntable",
        &format!(
            "docker rm -f archtui-esc >/dev/null 2>&1; docker run -d --name archtui-esc \
             --label com.docker.compose.project=archive --label com.docker.compose.service=esc \
             debian:bookworm-slim sh -c '{}'",
            script.replace('\'', "'\\''")
        ),
    );
    let t = start_console("esc", "", &config, None, 100, 30);
    t.wait("turntable listed", 60, |s| s.contains("turntable"));
    t.keys(&["j", "j", "Enter"]);
    t.wait("esc container listed", 30, |s| s.contains("esc "));
    t.keys(&["Enter"]);
    let s = t.wait("escape lines shown as text", 30, |s| {
        s.contains("AFTER-BIG-LINE") && s.contains("CLEAR-ATTEMPT") && s.contains("MOVE-ATTEMPT")
    });
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[0].starts_with("archtui"), "title bar intact:\n{s}");
    assert!(lines[1].starts_with("┌ fleet"), "fleet pane intact:\n{s}");
    assert!(
        lines.iter().any(|l| l.starts_with("f pause")),
        "hint bar intact:\n{s}"
    );
    // Every log line stays inside the pane's borders.
    for l in lines
        .iter()
        .filter(|l| l.contains("ATTEMPT") || l.contains("xxxx"))
    {
        assert!(
            l.starts_with('│') && l.ends_with('│'),
            "line escaped its pane: {l:?}\n{s}"
        );
    }
    // ratatui drops the ESC byte by itself; what follows it must go too,
    // or the pane shows `[2J`, `]0;PWNED-TITLE` and the like.
    for l in lines.iter().filter(|l| l.contains("ATTEMPT")) {
        for residue in [
            "[2J", "[H", "]0;", "PWNED", "[10;10H", "[?1049l", "[?25l", "[0m",
        ] {
            assert!(
                !l.contains(residue),
                "escape residue {residue:?} shown: {l:?}\n{s}"
            );
        }
    }
    let title = t.tmux(&["display-message", "-p", "-t", "t", "#{pane_title}"]);
    assert!(
        !String::from_utf8_lossy(&title.stdout).contains("PWNED"),
        "an OSC title got through"
    );
    t.keys(&["q"]);
    t.wait("exit", 10, |s| s.contains("ARCHTUI-EXIT=0"));
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn ctrl_r_reloads_the_config_and_a_broken_file_keeps_the_last_good_one() {
    let Some(lab) = lab("ctrl_r_reloads_the_config") else {
        return;
    };
    let base = std::fs::read_to_string(lab.config()).expect("lab config");
    let dir = std::env::temp_dir().join(format!("archtui-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = common::restore(|| {
        let _ = std::fs::remove_dir_all(&dir);
    });
    let config = dir.join("archtui.toml");
    std::fs::write(&config, &base).unwrap();
    let t = start_console("reload", "", &config, None, 100, 30);
    t.wait("both hosts", 60, |s| {
        s.contains("● cavaforgepad") && s.contains("● jukebox")
    });

    // A host added to the file shows after ctrl-r.
    std::fs::write(
        &config,
        format!("{base}\n[[hosts]]\nname = \"turntable\"\nrole = \"slave\"\nssh = \"turntable\"\n"),
    )
    .unwrap();
    t.key("C-r");
    // The bare host has Docker but no stack: listed, marked as failing.
    let s = t.wait("turntable after the reload", 30, |s| {
        row(s, "│✗ turntable").is_some() || row(s, "│● turntable").is_some()
    });
    assert!(s.contains("config reloaded"), "{s}");
    // The reload connected every host anew: the bare host fails at once,
    // the others are up a moment later.
    t.wait("jukebox up again after the reload", 30, |s| {
        row(s, "│● jukebox").is_some() && row(s, "│● cavaforgepad").is_some()
    });

    // A broken file: said so, and the console stays on the last good one.
    std::fs::write(&config, format!("{base}\nthis is not toml\n")).unwrap();
    t.key("C-r");
    let s = t.wait("the refusal", 30, |s| s.contains("config not reloaded"));
    assert!(s.contains(" turntable ") && s.contains("● jukebox"), "{s}");
    t.key("q");
    t.wait("exit", 10, |s| s.contains("ARCHTUI-EXIT=0"));
}

/// Pids of archtui processes whose command line holds `needle`.
fn pids_with(needle: &str) -> Vec<u32> {
    let bin = env!("CARGO_BIN_EXE_archtui");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let line = String::from_utf8_lossy(&c);
                line.split('\0').next() == Some(bin) && line.contains(needle)
            })
        })
        .collect()
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn a_console_whose_terminal_goes_away_ends_instead_of_spinning() {
    let Some(lab) = lab("a_console_whose_terminal_goes_away") else {
        return;
    };
    // Once as the pane's own process (SIGHUP reaches it), once in a
    // session of its own (nothing signals it: only its dead terminal says
    // so). Either way crossterm spins in its read of the dead terminal.
    for (how, prefix) in [("sighup", "exec "), ("no signal", "exec setsid -w ")] {
        let cfg = std::env::temp_dir().join(format!(
            "archtui-hangup-{}-{}.toml",
            how.replace(' ', "-"),
            std::process::id()
        ));
        std::fs::copy(lab.config(), &cfg).unwrap();
        let script = format!(
            "{prefix}'{}' --config '{}'",
            env!("CARGO_BIN_EXE_archtui"),
            cfg.display()
        );
        let t = common::tmux::Tmux::start("hangup", &script, 100, 30);
        t.wait("the console", 60, |s| s.contains("● cavaforgepad"));
        let needle = cfg.display().to_string();
        let pids = pids_with(&needle);
        assert_eq!(pids.len(), 1, "{how}: one console: {pids:?}");
        drop(t); // tmux kill-server: the terminal is gone
        let gone = common::wait_until(
            std::time::Duration::from_secs(10),
            std::time::Duration::from_millis(200),
            || pids_with(&needle).is_empty().then_some(()),
        );
        for pid in pids_with(&needle) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
        let _ = std::fs::remove_file(&cfg);
        assert!(gone.is_ok(), "{how}: the console outlived its terminal");
    }
}
