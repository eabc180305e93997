//! Questions asked on the operator's terminal by headless commands.

use std::io::{BufRead, Write};

/// Prints `prompt` on stderr and reads one line from stdin, off the async
/// runtime; None when stdin is closed or unreadable. Callers check first
/// that stdin is a terminal.
pub async fn read_line(prompt: String) -> Option<String> {
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
