//! The debug log: `tracing` events of archtui's own crates (connects,
//! reconnects, timeouts, remote commands, action steps) appended to a file,
//! only when `--log-file`, `ARCHTUI_LOG` or `[log] file` asks for one.
//! Nothing goes to the terminal: without a file no subscriber is set and
//! every event is dropped where it is made.
//!
//! Each event is formatted whole, then passed through the one redaction
//! (`credentials::redact`: every known secret value and every
//! `SECRETKEY=value` word) before it reaches the file, so a field that
//! carried a secret by mistake still never writes it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use archtui_core::credentials::redact;

/// `ARCHTUI_LOG=PATH` names the file; `1` the default file; `0` or empty
/// asks for none (a config's `[log] file` still counts then).
pub const LOG_ENV: &str = "ARCHTUI_LOG";

/// The crates whose events are written (not tokio's, hyper's, bollard's).
const TARGETS: [&str; 3] = ["archtui", "archtui_remote", "archtui_core"];

/// `$XDG_STATE_HOME/archtui/archtui.log` (default `~/.local/state/...`).
pub fn default_file() -> PathBuf {
    archtui_remote::local::audit::state_dir().join("archtui.log")
}

/// The file the log goes to, if any: `--log-file`, else `ARCHTUI_LOG`, else
/// the config's `[log] file`; a leading `~/` is `home`.
pub fn choose(
    flag: Option<&Path>,
    env: Option<&str>,
    config: Option<&Path>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    let from_env = match env.map(str::trim) {
        None | Some("" | "0") => None,
        Some("1") => Some(default_file()),
        Some(p) => Some(PathBuf::from(p)),
    };
    let chosen = flag
        .map(Path::to_path_buf)
        .or(from_env)
        .or_else(|| config.map(Path::to_path_buf))?;
    Some(match (chosen.strip_prefix("~"), home) {
        (Ok(rest), Some(h)) => h.join(rest),
        _ => chosen,
    })
}

static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Has a log been started (a later config's `[log]` then changes nothing)?
pub fn started() -> bool {
    STARTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Opens (appends to, 0600) the file and makes it the process's log.
/// Called once, before any connection; a second call changes nothing.
pub fn start(path: &Path) -> std::io::Result<()> {
    if started() {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        archtui_remote::local::audit::ensure_dir(dir)?;
    }
    let file = open_append(path)?;
    let _ = tracing::subscriber::set_global_default(subscriber(file));
    STARTED.store(true, std::sync::atomic::Ordering::SeqCst);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "debug log started");
    Ok(())
}

fn open_append(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// The subscriber writing archtui's events at debug level and above, each
/// redacted, to `out`.
pub fn subscriber<W: Write + Send + 'static>(out: W) -> impl tracing::Subscriber + Send + Sync {
    let filter = TARGETS.iter().fold(Targets::new(), |t, name| {
        t.with_target(*name, LevelFilter::DEBUG)
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(Redacting(Mutex::new(out)))
        .with_target(true);
    tracing_subscriber::registry().with(layer.with_filter(filter))
}

use tracing_subscriber::Layer as _;

/// Makes one `EventWriter` an event; the event reaches `out` when it drops.
struct Redacting<W>(Mutex<W>);

impl<'a, W: Write + 'a> MakeWriter<'a> for Redacting<W> {
    type Writer = EventWriter<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter {
            out: &self.0,
            buf: Vec::new(),
        }
    }
}

/// Gathers one formatted event, then writes it redacted in one piece: a
/// secret split over two writes is still found.
struct EventWriter<'a, W: Write> {
    out: &'a Mutex<W>,
    buf: Vec<u8>,
}

impl<W: Write> Write for EventWriter<'_, W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for EventWriter<'_, W> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = redact(&String::from_utf8_lossy(&self.buf));
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A full disk must not stop the console: the log is best effort.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_in_a_logged_event_never_reaches_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("archtui.log");
        let secret = "s3cr3t-Pa55word-for-the-log";
        archtui_core::credentials::remember(secret);
        let sub = subscriber(open_append(&path).expect("open"));
        tracing::subscriber::with_default(sub, || {
            tracing::debug!(target: "archtui_remote::pg", url = %format!("postgres://u:{secret}@h/db"), "connect");
            tracing::warn!(target: "archtui_remote::shell", "stderr said {secret}");
            tracing::info!(target: "archtui::cli", "deploy step: DB_PASSWORD=hunter2hunter2 set");
            // Another crate's event is not archtui's to log.
            tracing::info!(target: "hyper::proto", "not ours");
        });
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("hunter2hunter2"), "{text}");
        assert!(
            text.contains("connect") && text.contains("deploy step"),
            "{text}"
        );
        assert_eq!(text.matches("<redacted>").count(), 3, "{text}");
        assert!(!text.contains("not ours"), "{text}");
        assert!(
            !text.contains('\x1b'),
            "no colour codes in a file: {text:?}"
        );
    }

    #[test]
    fn the_flag_comes_before_the_env_before_the_config() {
        let (f, c, h) = (
            Path::new("/f.log"),
            Path::new("~/c.log"),
            Path::new("/home/op"),
        );
        assert_eq!(
            choose(Some(f), Some("/e.log"), Some(c), Some(h)),
            Some(f.into())
        );
        assert_eq!(
            choose(None, Some("/e.log"), Some(c), Some(h)),
            Some("/e.log".into())
        );
        assert_eq!(
            choose(None, Some("0"), Some(c), Some(h)),
            Some("/home/op/c.log".into())
        );
        assert_eq!(choose(None, None, None, Some(h)), None);
        assert_eq!(choose(None, Some("1"), None, Some(h)), Some(default_file()));
        assert_eq!(choose(None, Some(""), None, Some(h)), None);
    }
}
