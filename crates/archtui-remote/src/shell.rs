//! Every command archtui runs on a host goes through here. Scripts are
//! constants; everything variable goes in as positional arguments ("$1"...),
//! each one shell-quoted into the one command line ssh sends, so no value is
//! ever parsed by the remote shell. Every command has a time limit, a
//! required argument: a short command is bounded as a whole (on the host by
//! `timeout`, here by the same limit plus a margin), a long-lived channel by
//! its start and by every single read and write.

use std::sync::Arc;
use std::time::Duration;

use openssh::{ChildStdin, ChildStdout, Session};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};

use archtui_core::actions::clean;

/// Time the host's `timeout` gets to kill a command after TERM, and the
/// margin archtui waits beyond a limit before it drops the channel itself.
const KILL_AFTER: Duration = Duration::from_secs(3);
const MARGIN: Duration = Duration::from_secs(5);
/// For a command that reads or writes a few small files.
pub const QUICK: Duration = Duration::from_secs(20);
/// Opening a channel over the (local) mux master; a hung host shows here.
pub const SPAWN_WITHIN: Duration = Duration::from_secs(15);

/// Why a command on a host did not give an answer to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    /// An argument holds a NUL byte, which no command line can carry.
    #[error("cannot pass an argument with a NUL byte to a host: {0}")]
    Nul(String),
    /// The command ran past its limit (killed on the host, or dropped).
    #[error("ssh: the host did not finish within {secs} s")]
    TooSlow { secs: u64 },
    /// No channel opened in time over the mux.
    #[error("ssh: no channel opened within {secs} s")]
    NoChannel { secs: u64 },
    /// The session or its channel failed (openssh's text).
    #[error("ssh: {0}")]
    Ssh(String),
    /// Copying the input to the command failed.
    #[error("copying: {0}")]
    Copy(String),
    /// The command exited non-zero: its stderr, cleaned.
    #[error("{0}")]
    Failed(String),
}

impl From<ShellError> for String {
    fn from(e: ShellError) -> String {
        e.to_string()
    }
}

/// The command line for `argv`: every word shell-quoted, so the remote
/// shell hands the program exactly these words. A NUL cannot be passed.
pub fn command_line<S: AsRef<str>>(argv: &[S]) -> Result<String, ShellError> {
    shlex::try_join(argv.iter().map(AsRef::as_ref)).map_err(|e| ShellError::Nul(e.to_string()))
}

/// `timeout -k K LIMIT sh -c SCRIPT sh ARGS...`: killed on the host once its
/// time is up, so a hung command does not outlive archtui's interest in it.
fn bounded_line(script: &str, args: &[&str], limit: Duration) -> Result<String, ShellError> {
    let secs = limit.as_secs().max(1).to_string();
    let kill = format!("{}s", KILL_AFTER.as_secs());
    let mut argv = vec!["timeout", "-k", &kill, &secs, "sh", "-c", script, "sh"];
    argv.extend_from_slice(args);
    command_line(&argv)
}

/// What a host said when a bounded command ran out of time.
fn too_slow(limit: Duration) -> ShellError {
    ShellError::TooSlow {
        secs: limit.as_secs(),
    }
}

/// The program a script runs, for the debug log: its first word only,
/// never its arguments (they may be data or secrets).
pub fn program(script: &str) -> &str {
    let word = script
        .split(|c: char| c.is_whitespace() || c == ';' || c == '|' || c == '&')
        .find(|w| !w.is_empty() && !w.contains('='))
        .unwrap_or("sh");
    word.rsplit('/').next().unwrap_or(word)
}

/// `sh -c SCRIPT sh ARGS...` on the host, bounded by `limit`; the caller
/// reads status and output. Exit status 124 means the host's `timeout`
/// stopped it.
pub async fn sh(
    session: &Session,
    script: &str,
    args: &[&str],
    limit: Duration,
) -> Result<std::process::Output, ShellError> {
    let line = bounded_line(script, args, limit)?;
    let program = program(script);
    tracing::debug!(
        program,
        args = args.len(),
        limit_s = limit.as_secs(),
        "remote command"
    );
    #[allow(clippy::disallowed_methods)] // the one place commands are made
    let mut cmd = session.raw_command(line);
    cmd.stdin(openssh::Stdio::null());
    let run = async {
        cmd.output()
            .await
            .map_err(|e| ShellError::Ssh(e.to_string()))
    };
    bounded(program, limit, run).await
}

/// A remote command's end within `limit` (plus the host's KILL grace and
/// a margin): our own timeout, or the host's `timeout` (status 124), is
/// `too_slow`; either is logged with the program's name.
async fn bounded(
    program: &str,
    limit: Duration,
    run: impl std::future::Future<Output = Result<std::process::Output, ShellError>>,
) -> Result<std::process::Output, ShellError> {
    let out = match tokio::time::timeout(limit + KILL_AFTER + MARGIN, run).await {
        Err(_) => {
            tracing::warn!(
                program,
                limit_s = limit.as_secs(),
                "remote command timed out"
            );
            return Err(too_slow(limit));
        }
        Ok(r) => r?,
    };
    if out.status.code() == Some(124) {
        tracing::warn!(
            program,
            limit_s = limit.as_secs(),
            "remote command timed out on the host"
        );
        return Err(too_slow(limit));
    }
    tracing::debug!(program, status = ?out.status.code(), "remote command ended");
    Ok(out)
}

/// Like `sh`, for scripts that must succeed: stdout, or stderr (cleaned of
/// control sequences) as the error.
pub async fn sh_ok(
    session: &Session,
    script: &str,
    args: &[&str],
    limit: Duration,
) -> Result<String, ShellError> {
    let out = sh(session, script, args, limit).await?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(ShellError::Failed(clean(
            String::from_utf8_lossy(&out.stderr).trim(),
        )))
    }
}

/// Like `sh`, with `input` copied to the script's stdin (an upload); the
/// whole transfer is bounded by `limit`.
pub async fn sh_with_input<R: AsyncRead + Unpin>(
    session: &Session,
    script: &str,
    args: &[&str],
    input: &mut R,
    limit: Duration,
) -> Result<std::process::Output, ShellError> {
    let line = bounded_line(script, args, limit)?;
    let program = program(script);
    tracing::debug!(
        program,
        args = args.len(),
        limit_s = limit.as_secs(),
        "remote command with input"
    );
    let run = async {
        #[allow(clippy::disallowed_methods)] // the one place commands are made
        let mut cmd = session.raw_command(line);
        cmd.stdin(openssh::Stdio::piped())
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::piped());
        let mut child = cmd
            .spawn()
            .await
            .map_err(|e| ShellError::Ssh(e.to_string()))?;
        let Some(mut dst) = child.stdin().take() else {
            return Err(ShellError::Ssh("no stdin pipe".into()));
        };
        let copied = tokio::io::copy(input, &mut dst).await;
        let _ = dst.shutdown().await;
        drop(dst);
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| ShellError::Ssh(e.to_string()))?;
        copied.map_err(|e| ShellError::Copy(e.to_string()))?;
        Ok(out)
    };
    bounded(program, limit, run).await
}

/// A long-lived command on the host (the lock holder, a log stream): its
/// stdin and stdout as lines and chunks, each read and write bounded by
/// the caller. Dropping it closes the channel.
pub struct Channel {
    child: openssh::Child<Arc<Session>>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// Why a read on a channel ended without data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEnd {
    /// The command exited or the channel closed.
    Closed,
    /// Nothing arrived within the bound.
    Silent,
    Failed(String),
}

impl Channel {
    /// Starts `bash -c SCRIPT bash ARGS...` with piped stdin and stdout
    /// (stderr discarded); the channel must open within `SPAWN_WITHIN`.
    pub async fn spawn(
        session: Arc<Session>,
        script: &str,
        args: &[&str],
    ) -> Result<Self, ShellError> {
        let mut argv = vec!["bash", "-c", script, "bash"];
        argv.extend_from_slice(args);
        let line = command_line(&argv)?;
        tracing::debug!(
            program = program(script),
            args = args.len(),
            "remote channel"
        );
        #[allow(clippy::disallowed_methods)] // the one place commands are made
        let mut cmd = Session::to_raw_command(session, line);
        cmd.stdin(openssh::Stdio::piped())
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::null());
        let mut child = match tokio::time::timeout(SPAWN_WITHIN, cmd.spawn()).await {
            Err(_) => {
                tracing::warn!(
                    program = program(script),
                    "remote channel timed out opening"
                );
                return Err(ShellError::NoChannel {
                    secs: SPAWN_WITHIN.as_secs(),
                });
            }
            Ok(r) => r.map_err(|e| ShellError::Ssh(e.to_string()))?,
        };
        let stdin = child.stdin().take();
        let stdout = child
            .stdout()
            .take()
            .ok_or_else(|| ShellError::Ssh("no stdout pipe".into()))?;
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// One line (without its newline), within `within`.
    pub async fn line(&mut self, within: Duration) -> Result<String, ReadEnd> {
        let mut buf = Vec::new();
        match tokio::time::timeout(within, self.stdout.read_until(b'\n', &mut buf)).await {
            Err(_) => Err(ReadEnd::Silent),
            Ok(Err(e)) => Err(ReadEnd::Failed(e.to_string())),
            Ok(Ok(0)) => Err(ReadEnd::Closed),
            Ok(Ok(_)) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                Ok(String::from_utf8_lossy(&buf).into_owned())
            }
        }
    }

    /// Whatever bytes arrive next, within `within`.
    pub async fn chunk(&mut self, within: Duration) -> Result<Vec<u8>, ReadEnd> {
        let read = async {
            let got = self.stdout.fill_buf().await?.to_vec();
            self.stdout.consume(got.len());
            Ok::<_, std::io::Error>(got)
        };
        match tokio::time::timeout(within, read).await {
            Err(_) => Err(ReadEnd::Silent),
            Ok(Err(e)) => Err(ReadEnd::Failed(e.to_string())),
            Ok(Ok(b)) if b.is_empty() => Err(ReadEnd::Closed),
            Ok(Ok(b)) => Ok(b),
        }
    }

    /// The stdin half, for a task that writes while another reads.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// Closes stdin, then gives the command `within` to exit.
    pub async fn close(mut self, within: Duration) {
        if let Some(mut s) = self.stdin.take() {
            let _ = tokio::time::timeout(within, s.shutdown()).await;
        }
        let _ = tokio::time::timeout(within, self.child.wait()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a POSIX shell makes of `line`: its words, one per NUL.
    fn words_through_sh(line: &str) -> Vec<String> {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\0' {line}"))
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(String::from)
            .collect()
    }

    #[test]
    fn every_argument_reaches_the_remote_program_as_one_word() {
        let argv = [
            "plain",
            "two words",
            "it's",
            "$(touch /tmp/archtui-pwned)",
            "`id`",
            "a;b|c&d",
            "*",
            "~",
            "\"dq\"",
            "back\\slash",
            "new\nline",
            "",
            "ünïcode",
        ];
        let line = command_line(&argv).unwrap();
        assert_eq!(words_through_sh(&line), argv);
        assert!(!std::path::Path::new("/tmp/archtui-pwned").exists());
    }

    #[test]
    fn a_nul_byte_is_refused_not_truncated() {
        let err = command_line(&["a\0b"]).unwrap_err();
        assert!(matches!(err, ShellError::Nul(_)), "{err:?}");
        assert!(err.to_string().contains("NUL"), "{err}");
    }

    #[test]
    fn the_logged_program_is_the_first_word_only() {
        assert_eq!(program("docker compose up -d"), "docker");
        assert_eq!(program("  PGPASSWORD=x /usr/bin/psql -c 'select'"), "psql");
        assert_eq!(program("set -e; cat > \"$1\""), "set");
        assert_eq!(program(""), "sh");
    }

    #[test]
    fn bounded_commands_run_under_the_hosts_timeout() {
        let line = bounded_line("echo \"$1\"", &["x y"], Duration::from_secs(7)).unwrap();
        let words = words_through_sh(&line);
        assert_eq!(
            words,
            [
                "timeout",
                "-k",
                "3s",
                "7",
                "sh",
                "-c",
                "echo \"$1\"",
                "sh",
                "x y"
            ]
        );
        // Run as the host would: the limit really stops the script.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(bounded_line("sleep 5", &[], Duration::from_secs(1)).unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(124));
    }
}
