//! archtui driven as an operator would: its own state dir (audit log,
//! locks), runs in the background with their output collected, checkouts
//! to deploy from, and jukebox's deployed state. Shared by the lab tests
//! that act on the fleet.
// Test helpers outside #[test] fns, where clippy.toml's allowance does not
// reach: a failed unwrap here is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{all_text, text, wait_until, Lab};

/// The lab's deploy dir on every host.
pub const DIR: &str = "/srv/archive";

/// A private state dir (audit log, locks): one per archtui "operator".
pub struct State(pub PathBuf);

impl State {
    pub fn new(test: &str) -> State {
        let p = std::env::temp_dir().join(format!("archtui-jobs-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        State(p)
    }
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.0.join("archtui/audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
            .collect()
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn command(lab: &Lab, state: &State, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_archtui"));
    c.args(args)
        .env("ARCHTUI_CONFIG", lab.config())
        .env("XDG_STATE_HOME", &state.0)
        .stdin(Stdio::null());
    c
}

pub fn archtui(lab: &Lab, state: &State, args: &[&str]) -> Output {
    let o = command(lab, state, args).output().expect("run archtui");
    eprintln!("archtui {}: {}\n{}", args.join(" "), o.status, all_text(&o));
    o
}

/// archtui running in the background, its output collected as it comes.
pub struct Running {
    pub child: Child,
    pub out: Arc<Mutex<Vec<String>>>,
}

impl Running {
    pub fn start(lab: &Lab, state: &State, args: &[&str]) -> Running {
        Running::spawn(command(lab, state, args))
    }

    /// Like `start`, for a command set up by the caller.
    pub fn spawn(mut c: Command) -> Running {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start archtui");
        let out = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                    eprintln!("  archtui | {l}");
                    out.lock().unwrap().push(l);
                }
            });
        }
        Running { child, out }
    }

    pub fn text(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    /// Waits for a line of output with every one of `parts` in it.
    pub fn wait_for(&self, parts: &[&str], secs: u64) {
        wait_until(Duration::from_secs(secs), Duration::from_millis(50), || {
            let out = self.out.lock().unwrap();
            out.iter()
                .any(|l| parts.iter().all(|p| l.contains(p)))
                .then_some(())
        })
        .unwrap_or_else(|w| panic!("no {parts:?} from archtui after {w:?}:\n{}", self.text()));
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Its exit code, within `secs`.
    pub fn wait(&mut self, secs: u64) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // Let the readers take the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return s.code();
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "archtui still running after {secs} s:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A checkout for jukebox: the repo's compose file and assets, jukebox's
/// deployed env files (they hold the lab's values).
pub struct Checkout(pub PathBuf);

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Checkout {
    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

pub fn checkout(lab: &Lab, name: &str) -> Checkout {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("archtui-jobs-co-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(repo.join("docker-compose.yml"))
        .arg(repo.join(".env"))
        .arg(repo.join("deploy.sh"))
        .arg(repo.join("deploy_slave.sh"))
        .arg(repo.join("assets"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(ok.success());
    for f in ["env.common", "env.slave"] {
        let text = lab.sh_ok("jukebox", &format!("cat {DIR}/{f}"));
        std::fs::write(dir.join(f), text + "\n").unwrap();
    }
    Checkout(dir)
}

/// A checkout whose deploy recreates jukebox's db (a changed
/// DB_ALLOWED_CIDRS, the same networks plus loopback), so compose stops
/// the database and waits for the new one to be healthy.
pub fn db_changing_checkout(lab: &Lab, name: &str) -> (Checkout, String) {
    let c = checkout(lab, name);
    let cidrs = lab.sh_ok(
        "jukebox",
        &format!(". {DIR}/env.common; . {DIR}/env.slave; printf %s \"$DB_ALLOWED_CIDRS\""),
    );
    let extra = format!("{cidrs} 127.0.0.1/32");
    let mut slave = std::fs::read_to_string(c.0.join("env.slave")).unwrap();
    slave.push_str(&format!("export DB_ALLOWED_CIDRS=\"{extra}\"\n"));
    std::fs::write(c.0.join("env.slave"), slave).unwrap();
    (c, extra)
}

pub fn db_env(lab: &Lab) -> String {
    lab.sh_ok(
        "jukebox",
        "docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' archive-db-1",
    )
}

/// Every container of jukebox's project running, and healthy.
pub fn all_healthy(lab: &Lab) -> bool {
    let out = lab.sh(
        "jukebox",
        "docker ps -a --filter label=com.docker.compose.project=archive --format '{{.Names}} {{.State}} {{.Status}}'",
    );
    let text = text(&out);
    let lines: Vec<&str> = text.lines().collect();
    lines.len() == 3
        && lines
            .iter()
            .all(|l| l.contains(" running ") && l.contains("(healthy)"))
}

pub fn wait_all_healthy(lab: &Lab, secs: u64) {
    wait_until(Duration::from_secs(secs), Duration::from_secs(1), || {
        all_healthy(lab).then_some(())
    })
    .unwrap_or_else(|w| panic!("jukebox not healthy after {w:?}"));
}

/// Deploys the original files back with archtui's own deploy.
pub fn redeploy(lab: &Lab, original: &Checkout) {
    let state = State::new("restore");
    let o = archtui(
        lab,
        &state,
        &["deploy", "jukebox", "--yes", "--from", original.path()],
    );
    if o.status.code() == Some(2) {
        // A job still running: wait for it to free the lock, then again.
        wait_lock_free(lab, "jukebox", 300);
        let _ = archtui(
            lab,
            &state,
            &["deploy", "jukebox", "--yes", "--from", original.path()],
        );
    }
    wait_all_healthy(lab, 240);
}

pub fn lock_free(lab: &Lab, host: &str) -> bool {
    lab.sh(host, &format!("flock -n {DIR}/.archtui/lock true"))
        .status
        .success()
}

pub fn holder_gone(lab: &Lab, host: &str) -> bool {
    lab.sh(host, &format!("flock -n {DIR}/.archtui/holder true"))
        .status
        .success()
}

pub fn wait_lock_free(lab: &Lab, host: &str, secs: u64) {
    let _ = wait_until(Duration::from_secs(secs), Duration::from_secs(1), || {
        lock_free(lab, host).then_some(())
    });
}
