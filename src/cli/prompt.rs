//! Questions asked on the operator's terminal by headless commands.

use std::io::{BufRead, IsTerminal, Write};

/// Asks `prompt` and says whether the answer confirms: `y`/`yes`, or
/// exactly `expect` when a name must be typed. None when there is no
/// terminal to ask on (the caller says how to confirm without one).
pub async fn confirm(prompt: String, expect: Option<&str>) -> Option<bool> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let answer = read_line(prompt).await.unwrap_or_default();
    Some(confirmation_matches(&answer, expect))
}

/// Pure: `y`/`yes`, or the exact name when one must be typed.
pub fn confirmation_matches(answer: &str, expect: Option<&str>) -> bool {
    match expect {
        Some(name) => answer == name,
        None => matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes"),
    }
}

/// Prints `prompt` on stderr and reads one line from stdin, off the async
/// runtime; None when stdin is closed or unreadable.
async fn read_line(prompt: String) -> Option<String> {
    tokio::task::spawn_blocking(move || {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{prompt}");
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).ok()?;
        Some(line.trim().to_string())
    })
    .await
    .ok()
    .flatten()
}
