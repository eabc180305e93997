//! Shell scripts on a host over its SSH session. Scripts are constants;
//! everything variable goes in as positional arguments ("$1"...), so no
//! value is ever parsed by the remote shell.

use openssh::Session;

use crate::actions::clean;

/// `sh -c SCRIPT sh ARGS...`; the caller reads status and output.
pub async fn sh(
    session: &Session,
    script: &str,
    args: &[&str],
) -> Result<std::process::Output, String> {
    let mut cmd = session.command("sh");
    cmd.arg("-c").arg(script).arg("sh");
    for a in args {
        cmd.arg(*a);
    }
    cmd.output().await.map_err(|e| format!("ssh: {e}"))
}

/// Like `sh`, for scripts that must succeed: stdout, or stderr (cleaned of
/// control sequences) as the error.
pub async fn sh_ok(session: &Session, script: &str, args: &[&str]) -> Result<String, String> {
    let out = sh(session, script, args).await?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(clean(String::from_utf8_lossy(&out.stderr).trim()))
    }
}
