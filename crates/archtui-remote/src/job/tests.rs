//! The pure parts (metadata, lock info, the reconciliation) and the host
//! scripts themselves, run with bash in a temp dir standing for a host's
//! deploy dir.

use super::follow::{split_status, Lines};
use super::*;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn meta(id: &str, action: &str) -> Meta {
    Meta {
        id: id.into(),
        action: action.into(),
        argv: vec!["docker".into(), "compose".into()],
        operator: "alice@laptop".into(),
        started: "2026-03-04T09:12:03Z".into(),
        idle_secs: 300,
        pid: Some(42),
    }
}

fn job_line(id: &str, state: &str, action: &str) -> String {
    format!(
        "archtui-job {id} {state} {}",
        serde_json::to_string(&meta(id, action)).unwrap()
    )
}

fn lines(l: &[&str]) -> Vec<String> {
    l.iter().map(|s| s.to_string()).collect()
}

#[test]
fn job_states_parse_and_junk_does_not() {
    assert_eq!(JobState::parse("running"), Some(JobState::Running));
    assert_eq!(JobState::parse("lost"), Some(JobState::Lost));
    assert_eq!(JobState::parse("rc:0"), Some(JobState::Exited(0)));
    assert_eq!(JobState::parse("rc:143"), Some(JobState::Exited(143)));
    assert_eq!(JobState::parse("idle:143"), Some(JobState::Idle(143)));
    for junk in ["", "rc:", "rc:x", "idle", "Running", "rc:1:2", "done:0"] {
        assert_eq!(JobState::parse(junk), None, "{junk}");
    }
}

#[test]
fn replies_ready_and_busy() {
    let ready = vec![
        job_line("20260304T091203Z-a1b2c3", "rc:0", "deploy"),
        "archtui-ready 123".to_string(),
    ];
    let Reply::Ready { unreported } = parse_reply(&ready) else {
        panic!("ready");
    };
    assert_eq!(unreported.len(), 1);
    assert_eq!(unreported[0].state, JobState::Exited(0));
    assert_eq!(unreported[0].meta.pid, Some(42));

    let busy = vec![
        "archtui-busy".to_string(),
        "who=alice@laptop".into(),
        "action=deploy".into(),
        "since=2026-03-04T09:12:00Z".into(),
        "holder_pid=77".into(),
        "job=20260304T091203Z-a1b2c3".into(),
        "holder=gone".into(),
        job_line("20260304T091203Z-a1b2c3", "running", "deploy"),
    ];
    let Reply::Busy { info, unreported } = parse_reply(&busy) else {
        panic!("busy");
    };
    assert_eq!(info.who, "alice@laptop");
    assert_eq!(info.action, "deploy");
    assert_eq!(info.job.as_deref(), Some("20260304T091203Z-a1b2c3"));
    assert!(!info.holder_alive);
    assert_eq!(unreported[0].state, JobState::Running);

    assert_eq!(
        parse_reply(&lines(&["archtui-error flock is not installed"])),
        Reply::Error("flock is not installed".into())
    );
    assert!(matches!(parse_reply(&[]), Reply::Error(_)));
}

#[test]
fn hostile_reply_lines_are_skipped_or_cleaned() {
    let wrong_id = format!(
        "archtui-job other-id rc:0 {}",
        serde_json::to_string(&meta("x-1", "deploy")).unwrap()
    );
    let bad_id = format!(
        "archtui-job ../x rc:0 {}",
        serde_json::to_string(&meta("../x", "deploy")).unwrap()
    );
    let reply = parse_reply(&lines(&[
        "archtui-job x-1 rc:0 {not json",
        "archtui-job x-1 bogus {}",
        "archtui-job",
        &wrong_id,
        &bad_id,
        "archtui-busy",
        "who=\u{1b}[31mmallory\u{7}",
        "job=../../etc",
        "holder=alive",
    ]));
    let Reply::Busy { info, unreported } = reply else {
        panic!("busy");
    };
    assert!(unreported.is_empty(), "{unreported:?}");
    assert!(!info.who.contains('\u{1b}') && info.who.contains("mallory"));
    assert_eq!(info.job, None);
    assert!(info.holder_alive);
}

#[test]
fn a_lone_job_of_the_same_action_is_attached_to_anything_else_refused() {
    let now = t("2026-03-04T10:00:00Z");
    let id = "20260304T091203Z-a1b2c3";
    let busy = |holder_alive: bool, state: &str| Reply::Busy {
        info: LockInfo {
            who: "alice@laptop".into(),
            action: "deploy".into(),
            since: "2026-03-04T09:12:00Z".into(),
            job: Some(id.into()),
            holder_alive,
        },
        unreported: vec![Reported {
            meta: meta(id, "deploy"),
            state: JobState::parse(state).unwrap(),
        }],
    };
    assert_eq!(
        decide(
            &Reply::Ready { unreported: vec![] },
            "deploy",
            "jukebox",
            now
        ),
        Decision::Held
    );
    assert!(matches!(
        decide(&busy(false, "running"), "deploy", "jukebox", now),
        Decision::Attach(m) if m.id == id
    ));
    // Someone follows it: refused, naming them, the action and the time.
    let Decision::Refused(m) = decide(&busy(true, "running"), "deploy", "jukebox", now) else {
        panic!("refused");
    };
    for w in ["jukebox", "alice@laptop", "deploy", "09:12:00 UTC", id] {
        assert!(m.contains(w), "{w}: {m}");
    }
    // Another action never attaches.
    assert!(matches!(
        decide(&busy(false, "running"), "retire turntable", "jukebox", now),
        Decision::Refused(m) if m.contains("is running")
    ));
    // Held, but not by archtui: say how to find the process.
    assert!(matches!(
        decide(&busy(false, "rc:0"), "deploy", "jukebox", now),
        Decision::Refused(m) if m.contains("fuser")
    ));
}

#[test]
fn what_happened_meanwhile() {
    let now = t("2026-03-04T10:00:00Z");
    let say = |state| {
        meanwhile(
            &Reported {
                meta: meta("20260304T091203Z-a1b2c3", "deploy"),
                state,
            },
            now,
        )
    };
    assert_eq!(
        say(JobState::Exited(0)),
        "deploy job 20260304T091203Z-a1b2c3 started 09:12:03 UTC by alice@laptop finished meanwhile: exit 0"
    );
    assert!(say(JobState::Exited(17)).ends_with("finished meanwhile: exit 17 (failed)"));
    assert!(say(JobState::Running).ends_with("is still running"));
    assert!(
        say(JobState::Lost).ends_with("ended without an exit status: the host may have rebooted")
    );
    assert!(say(JobState::Idle(143)).ends_with("no output for 300 s"));
    // Another day shows the date; junk is shown cleaned, not parsed.
    assert_eq!(when("2026-03-01T23:59:00Z", now), "2026-03-01 23:59 UTC");
    assert_eq!(when("yesterday\u{1b}[2J", now), "yesterday");
}

#[test]
fn specs_refuse_secrets_and_multiline_arguments() {
    let ok = Spec::new(
        "deploy",
        ["docker", "compose", "up"].map(String::from).to_vec(),
        Duration::ZERO,
    )
    .unwrap();
    assert_eq!(ok.idle, Duration::from_secs(1), "a zero bound is raised");
    let err = Spec::new(
        "deploy",
        vec!["env".into(), "BUCARDO_PASSWORD=hunter2".into(), "x".into()],
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert_eq!(err, SpecError::SecretArgument("BUCARDO_PASSWORD".into()));
    let err = err.to_string();
    assert!(
        err.contains("BUCARDO_PASSWORD") && !err.contains("hunter2"),
        "{err}"
    );
    assert!(Spec::new("deploy", vec!["a\nb".into()], Duration::from_secs(5)).is_err());
    assert!(Spec::new("de\nploy", vec!["a".into()], Duration::from_secs(5)).is_err());
    assert!(Spec::new("deploy", vec![], Duration::from_secs(5)).is_err());
}

#[test]
fn the_jobs_of_deploy_provision_and_retire_carry_no_secret() {
    use archtui_core::config::Role;
    let secret = "s3cr3t-Pa55";
    for role in [Role::Master, Role::Slave] {
        let host = Host::example("h", role);
        let specs = [
            crate::actions::deploy::up_spec(&host, "deploy", false).unwrap(),
            crate::actions::deploy::up_spec(&host, "provision", false).unwrap(),
            Spec::new(
                "retire t",
                crate::actions::deploy::compose_argv(
                    &host,
                    &["exec", "-T", "bucardo", "archive-retire-slave", "t"],
                ),
                Duration::from_secs(60),
            )
            .unwrap(),
        ];
        for s in specs {
            let line = shell::command_line(&s.argv).unwrap();
            assert_eq!(crate::actions::plan::redact_text(&line), line, "{line}");
            assert!(!line.contains(secret));
            assert!(
                line.starts_with("./deploy")
                    || line.starts_with("docker compose --ansi never --env-file env.common"),
                "{line}"
            );
        }
    }
}

#[test]
fn ids_sort_by_time_and_pass_the_hosts_check() {
    let a = new_id(t("2026-03-04T09:12:03Z"));
    let b = new_id(t("2026-03-04T09:12:04Z"));
    assert!(a.starts_with("20260304T091203Z-") && a.len() == 23, "{a}");
    assert!(a < b);
    assert!(valid_id(&a));
    assert!(!valid_id("a/b") && !valid_id("") && !valid_id("a b"));
}

#[test]
fn operator_is_one_word() {
    let o = operator();
    assert_eq!(o.matches('@').count(), 1, "{o}");
    assert!(o.chars().all(|c| c.is_ascii_graphic()), "{o}");
}

#[test]
fn status_output_splits_into_state_and_log() {
    assert_eq!(
        split_status(b"state rc:0\nlog\nmore"),
        (Some(JobState::Exited(0)), &b"log\nmore"[..])
    );
    assert_eq!(
        split_status(b"state running"),
        (Some(JobState::Running), &b""[..])
    );
    assert_eq!(split_status(b"garbage\nx").0, None);
}

#[test]
fn the_host_scripts_reach_bash_unchanged_through_the_quoted_command_line() {
    // What the remote login shell makes of the line `Channel::spawn` sends.
    let args = [
        "/srv/x y",
        "alice@laptop",
        "retire t",
        "2026-03-04T09:12:00Z",
        "20",
        WRAPPER,
    ];
    let mut argv = vec!["bash", "-c", HOLDER, "bash"];
    argv.extend_from_slice(&args);
    let line = shell::command_line(&argv).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {line}"))
        .output()
        .unwrap();
    let words: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(String::from)
        .collect();
    assert_eq!(words, argv);
}

#[test]
fn job_output_is_cut_into_clean_lines_across_chunks() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut l = Lines::default();
    l.feed(b"one\ntw", &tx);
    l.feed(b"o \x1b[2Jcleared\x1b]0;title\x07\nthree", &tx);
    l.flush(&tx);
    let mut got = Vec::new();
    while let Ok(s) = rx.try_recv() {
        got.push(s);
    }
    assert_eq!(got, ["one", "two cleared", "three"]);
    assert_eq!(l.kept, got);
}

mod scripts;
