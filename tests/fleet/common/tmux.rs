//! A program under test in a detached tmux session of a fixed size: keys
//! go in with send-keys, the screen comes back with capture-pane.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The console in tmux on `config`, with a shell line before it and the
/// terminal's modes after it (to see the terminal as it was left) and its
/// exit code (`ARCHTUI-EXIT=N`); `env` goes before the command
/// (`VAR='value' ` pairs), and `state`, when given, is its XDG_STATE_HOME.
pub fn start_console(
    name: &str,
    env: &str,
    config: &Path,
    state: Option<&Path>,
    w: u16,
    h: u16,
) -> Tmux {
    let state = state
        .map(|s| format!("XDG_STATE_HOME='{}' ", s.display()))
        .unwrap_or_default();
    let script = format!(
        "echo BEFORE-ARCHTUI; {env}{state}ARCHTUI_CONFIG='{}' '{}'; echo \"ARCHTUI-EXIT=$?\"; stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo; sleep 600",
        config.display(),
        env!("CARGO_BIN_EXE_archtui")
    );
    Tmux::start(name, &script, w, h)
}

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs the sh command line `script` in a new session of `w` x `h`, on
    /// a tmux server of its own (killed on drop).
    pub fn start(name: &str, script: &str, w: u16, h: u16) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let t = Tmux {
            socket: format!("archtui-{name}-{}-{n}", std::process::id()),
        };
        let (w, h) = (w.to_string(), h.to_string());
        let o = t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &w,
            "-y",
            &h,
            "sh",
            "-c",
            script,
        ]);
        assert!(
            o.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        t
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs (tests/lab/up installs it)")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// Sends keys one at a time, leaving the program time to redraw.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "t", k]);
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn key(&self, k: &str) {
        self.keys(&[k]);
    }

    /// Waits for the screen to satisfy `ok`; the last screen in the panic.
    /// A capture can catch a frame half written (the title new, the body
    /// old), so a match counts once a second capture 300 ms later still
    /// satisfies `ok`, and that later screen is the one returned.
    pub fn wait(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        match super::wait_until(
            Duration::from_secs(secs),
            Duration::from_millis(200),
            || {
                if !ok(&self.screen()) {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(300));
                let s = self.screen();
                ok(&s).then_some(s)
            },
        ) {
            Ok((s, _)) => s,
            Err(w) => panic!("{what}: not seen after {w:?}; screen:\n{}", self.screen()),
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
