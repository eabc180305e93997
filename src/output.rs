//! What the front-ends print: every line through the one sanitizer and
//! the redactor, the exit code for "no verdict", and the check that a
//! full-screen front-end has a terminal. Shared by `cli` and `tui`, so
//! neither imports the other for them.

/// Exit code for anything that prevents a verdict (monitoring's UNKNOWN).
pub const EXIT_UNKNOWN: i32 = 3;

/// No terminal on stdin or stdout: `missing` says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("archtui: {}", self.reason())]
pub struct NoTerminal {
    pub missing: &'static str,
}

impl NoTerminal {
    /// The text without the `archtui: ` a line of its own starts with.
    pub fn reason(&self) -> String {
        format!(
            "the console needs a terminal ({}); without one use `archtui status`, `archtui check` or the action subcommands",
            self.missing
        )
    }
}

/// The full-screen console and wizard need a terminal on stdin and stdout
/// (not cron, `setsid`, `</dev/null` or a pipe): without one they say so
/// in one line, before a single escape sequence is written.
pub fn need_terminal() -> Result<(), NoTerminal> {
    use std::io::IsTerminal;
    let (stdin, stdout) = (
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    );
    if stdin && stdout {
        return Ok(());
    }
    let missing = match (stdin, stdout) {
        (false, false) => "stdin and stdout are not a terminal",
        (false, true) => "stdin is not a terminal",
        _ => "stdout is not a terminal",
    };
    Err(NoTerminal { missing })
}

/// Text for stdout: through the one sanitizer (it may quote a host) and
/// the redactor; a closed stdout (`| head`) is not worth a panic.
pub fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        archtui_core::sanitize::shown_text(text)
    );
}

/// `say` for stderr.
pub fn warn(text: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}",
        archtui_core::sanitize::shown_text(text)
    );
}

/// A document for `--json`: every string redacted, then written so that
/// no character a terminal acts on appears raw.
pub fn json_out<T: serde::Serialize>(value: &T) -> String {
    fn scrub(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => *s = archtui_core::credentials::redact(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(scrub),
            serde_json::Value::Object(o) => o.values_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    scrub(&mut v);
    archtui_core::sanitize::json(&v).unwrap_or_else(|_| "null".into())
}

/// A `--json` document on stdout, as `json_out` made it: whole. `say`
/// would cut its one long line at `MAX_LINE_CHARS` and break the JSON.
pub fn say_json<T: serde::Serialize>(value: &T) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", json_out(value)).and_then(|()| out.flush());
}

/// How the progress printer shows a line.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Put before every line (`"  | "` for the wizard's step output).
    pub prefix: &'static str,
    /// Progress on stderr keeps stdout for the document (`verify --json`).
    pub stderr: bool,
    /// Lines with nothing but blanks are left out.
    pub skip_blank: bool,
}

impl Style {
    /// Each line as it comes, on stdout.
    pub const PLAIN: Style = Style {
        prefix: "",
        stderr: false,
        skip_blank: false,
    };
}

/// The one printer of a headless command's progress: lines sent on the
/// returned `Progress` are printed in order, through `say` or `warn`;
/// drop every sender, then await the handle, and all of them are out.
pub fn printer(style: Style) -> (archtui_remote::Progress, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let task = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            show(style, &line);
        }
    });
    (tx, task)
}

/// One line of progress, printed now (what the printer does with each).
pub fn show(style: Style, line: &str) {
    if style.skip_blank && line.trim().is_empty() {
        return;
    }
    let text = format!("{}{line}", style.prefix);
    if style.stderr {
        warn(&text);
    } else {
        say(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_terminal_says_which_and_what_instead() {
        let e = NoTerminal {
            missing: "stdin is not a terminal",
        };
        assert_eq!(e.to_string(), format!("archtui: {}", e.reason()));
        assert!(e.reason().starts_with(
            "the console needs a terminal (stdin is not a terminal); without one use"
        ));
    }
}
