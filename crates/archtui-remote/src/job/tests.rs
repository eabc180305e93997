//! The pure parts (metadata, lock info, the reconciliation) and the host
//! scripts themselves, run with bash in a temp dir standing for a host's
//! deploy dir.

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

// The host scripts, run here with bash: a temp dir is the deploy dir.

struct Host0 {
    root: PathBuf,
}

impl Host0 {
    fn new(name: &str) -> Host0 {
        let root = std::env::temp_dir().join(format!("archtui-job-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Host0 { root }
    }
    fn dir(&self) -> PathBuf {
        self.root.join("srv/archive")
    }
    fn jobs(&self) -> String {
        format!("{}/.archtui/jobs", self.dir().display())
    }
    fn lock_free(&self) -> bool {
        std::process::Command::new("flock")
            .args(["-n"])
            .arg(self.dir().join(".archtui/lock"))
            .arg("true")
            .status()
            .unwrap()
            .success()
    }
    /// A script the way `shell::sh` runs it on a host.
    fn sh(&self, script: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Host0 {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

struct Holder {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    out: BufReader<tokio::process::ChildStdout>,
}

impl Holder {
    async fn spawn(h: &Host0, who: &str, action: &str, silence: u64) -> Holder {
        let mut child = tokio::process::Command::new("bash")
            .arg("-c")
            .arg(HOLDER)
            .arg("bash")
            .arg(h.dir())
            .arg(who)
            .arg(action)
            .arg("2026-03-04T09:12:00Z")
            .arg(silence.to_string())
            .arg(WRAPPER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Holder {
            stdin: child.stdin.take().unwrap(),
            out: BufReader::new(child.stdout.take().unwrap()),
            child,
        }
    }

    async fn line(&mut self) -> Option<String> {
        let mut l = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), self.out.read_line(&mut l))
            .await
            .expect("the holder answers within 10 s")
            .unwrap();
        (n > 0).then(|| l.trim_end().to_string())
    }

    /// Its first answer, as `acquire` reads it.
    async fn reply(&mut self) -> Vec<String> {
        let mut all = Vec::new();
        while let Some(l) = self.line().await {
            let ready = l.starts_with("archtui-ready");
            all.push(l);
            if ready {
                break;
            }
        }
        all
    }

    /// Starts `cmd` (argv) as a job, as `HostLock::start` does.
    async fn start(&mut self, id: &str, idle: u64, argv: &[&str]) -> Meta {
        let m = Meta {
            id: id.into(),
            action: "deploy".into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            operator: "alice@laptop".into(),
            started: "2026-03-04T09:12:03Z".into(),
            idle_secs: idle,
            pid: None,
        };
        let req = format!(
            "start {id} {idle}\n{}\n{}\n",
            serde_json::to_string(&m).unwrap(),
            shell::command_line(argv).unwrap()
        );
        self.stdin.write_all(req.as_bytes()).await.unwrap();
        let l = self.line().await.unwrap();
        let pid = l
            .strip_prefix(&format!("archtui-started {id} "))
            .unwrap_or_else(|| panic!("started: {l}"))
            .parse()
            .unwrap();
        Meta {
            pid: Some(pid),
            ..m
        }
    }

    async fn bye(mut self) -> Option<i32> {
        self.stdin.write_all(b"bye\n").await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .unwrap()
            .unwrap()
            .code()
    }
}

async fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what} within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn status_of(h: &Host0, id: &str) -> (Option<JobState>, String) {
    let out = h.sh(STATUS, &[&h.jobs(), id, "0"]);
    let (state, rest) = split_status(&out.stdout);
    (state, String::from_utf8_lossy(rest).into_owned())
}

#[tokio::test]
async fn a_second_holder_is_refused_with_the_firsts_info() {
    let h = Host0::new("two");
    let mut a = Holder::spawn(&h, "alice@laptop", "deploy", 20).await;
    assert!(matches!(parse_reply(&a.reply().await), Reply::Ready { .. }));
    let mut b = Holder::spawn(&h, "bob@desk", "deploy", 20).await;
    let reply = parse_reply(&b.reply().await);
    assert_eq!(b.child.wait().await.unwrap().code(), Some(2));
    let Reply::Busy { info, .. } = &reply else {
        panic!("busy: {reply:?}");
    };
    assert_eq!(info.who, "alice@laptop");
    assert!(info.holder_alive);
    let now = t("2026-03-04T10:00:00Z");
    let Decision::Refused(m) = decide(&reply, "deploy", "jukebox", now) else {
        panic!("refused");
    };
    assert!(
        m.contains("locked by alice@laptop for deploy since 09:12:00 UTC"),
        "{m}"
    );
    assert_eq!(a.bye().await, Some(0));
    assert!(h.lock_free());
    // A bare host got its deploy dir, archtui's own dir private.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&h.dir()), 0o755);
    assert_eq!(mode(&h.dir().join(".archtui")), 0o700);
}

#[tokio::test]
async fn the_lock_outlives_the_holder_while_its_job_runs_then_frees() {
    let h = Host0::new("outlive");
    let id = "20260304T091203Z-000001";
    let mut a = Holder::spawn(&h, "alice@laptop", "deploy", 20).await;
    a.reply().await;
    // Quoting: the words arrive as given, `$HOME` unexpanded.
    let job = a
        .start(
            id,
            30,
            &[
                "sh",
                "-c",
                "echo \"$1\"; sleep 2; echo done",
                "sh",
                "a $HOME b",
            ],
        )
        .await;
    assert_eq!(a.bye().await, Some(0));
    assert!(!h.lock_free(), "the running job holds the lock");

    let mut b = Holder::spawn(&h, "bob@desk", "deploy", 20).await;
    let reply = parse_reply(&b.reply().await);
    let now = t("2026-03-04T10:00:00Z");
    match decide(&reply, "deploy", "jukebox", now) {
        Decision::Attach(m) => assert_eq!(m.pid, job.pid, "the wrapper's pid in the metadata"),
        other => panic!("attach: {other:?}"),
    }
    assert!(matches!(
        decide(&reply, "provision", "jukebox", now),
        Decision::Refused(_)
    ));

    // The stream ends by itself when the job does, with all of its output.
    let pid = job.pid.unwrap().to_string();
    let log = format!("{}/{id}.log", h.jobs());
    let stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new("bash")
            .arg("-c")
            .arg(STREAM)
            .arg("bash")
            .args([&log, "0", &pid])
            .output(),
    )
    .await
    .expect("the stream ends with the job")
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&stream.stdout), "a $HOME b\ndone\n");
    wait_for("rc written", 5, || {
        status_of(&h, id).0 == Some(JobState::Exited(0))
    })
    .await;
    wait_for("the lock free", 5, || h.lock_free()).await;
    assert_eq!(status_of(&h, id).1, "a $HOME b\ndone\n");

    // The next holder reports it, once; after `seen`, never again.
    let mut c = Holder::spawn(&h, "carol@box", "deploy", 20).await;
    let Reply::Ready { unreported } = parse_reply(&c.reply().await) else {
        panic!("ready");
    };
    assert_eq!(unreported.len(), 1);
    assert!(meanwhile(&unreported[0], now).contains("finished meanwhile: exit 0"));
    assert!(h.sh(SEEN, &[&h.jobs(), id]).status.success());
    c.bye().await;
    let mut d = Holder::spawn(&h, "dave@box", "deploy", 20).await;
    assert_eq!(
        parse_reply(&d.reply().await),
        Reply::Ready { unreported: vec![] }
    );
    d.bye().await;
}

#[tokio::test]
async fn a_silent_job_is_stopped_after_its_idle_bound_and_frees_the_lock() {
    let h = Host0::new("idle");
    let id = "20260304T091203Z-000002";
    let mut a = Holder::spawn(&h, "alice@laptop", "deploy", 20).await;
    a.reply().await;
    let started = Instant::now();
    a.start(id, 2, &["sh", "-c", "echo start; exec sleep 60"])
        .await;
    a.bye().await;
    wait_for("the idle job stopped", 10, || {
        matches!(status_of(&h, id).0, Some(JobState::Idle(_)))
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status_of(&h, id).0, Some(JobState::Idle(143)));
    assert!(status_of(&h, id).1.contains("no output for 2 s"));
    wait_for("the lock free", 5, || h.lock_free()).await;
}

#[tokio::test]
async fn a_holder_nobody_pings_lets_go() {
    let h = Host0::new("silence");
    let mut a = Holder::spawn(&h, "alice@laptop", "deploy", 1).await;
    a.reply().await;
    assert!(!h.lock_free());
    let exited = tokio::time::timeout(Duration::from_secs(5), a.child.wait()).await;
    assert!(exited.is_ok(), "the holder exits after its silence");
    assert!(h.lock_free());
}

#[tokio::test]
async fn a_job_killed_with_its_wrapper_is_lost_and_a_stale_lock_info_blocks_nobody() {
    let h = Host0::new("lost");
    let id = "20260304T091203Z-000003";
    let mut a = Holder::spawn(&h, "alice@laptop", "deploy", 20).await;
    a.reply().await;
    let job = a.start(id, 60, &["sleep", "5"]).await;
    a.bye().await;
    // What a reboot does: every process gone at once, no rc written.
    let pid = job.pid.unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
    wait_for("the lock free", 5, || h.lock_free()).await;
    assert_eq!(status_of(&h, id).0, Some(JobState::Lost));
    // lock.info still names alice: only flock counts.
    let info = std::fs::read_to_string(h.dir().join(".archtui/lock.info")).unwrap();
    assert!(info.contains("alice@laptop"));
    let mut b = Holder::spawn(&h, "bob@desk", "deploy", 20).await;
    let Reply::Ready { unreported } = parse_reply(&b.reply().await) else {
        panic!("ready despite the stale lock.info");
    };
    assert_eq!(unreported[0].state, JobState::Lost);
    assert!(meanwhile(&unreported[0], t("2026-03-04T10:00:00Z")).contains("host may have rebooted"));
    b.bye().await;
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
