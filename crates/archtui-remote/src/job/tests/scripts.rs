//! The host scripts, run here with bash: a temp dir is the deploy dir.

use super::*;

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
