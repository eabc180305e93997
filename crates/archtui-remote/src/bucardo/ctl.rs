//! `archive-bucardo-ctl` in a host's running bucardo container: the
//! stack's own control over its supervised daemon (restart, heartbeat),
//! which holds the supervisor's lock, so no second daemon starts.

use std::time::Duration;

use crate::host::HostLink;
use crate::shell::{sh_ok, ShellError};

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("the ssh session closed")]
    SessionClosed,
    #[error("docker: {0}")]
    Docker(String),
    #[error("{0} has no running bucardo container: start it (archtui start {0} bucardo)")]
    NoContainer(String),
    #[error("archive-bucardo-ctl {0}: {1} (an older stack has no archive-bucardo-ctl: deploy the current one)")]
    Failed(String, ShellError),
}

/// Runs `archive-bucardo-ctl ARGS` in `link`'s running bucardo container,
/// within `within`; its output.
pub async fn ctl(link: &HostLink, args: &[&str], within: Duration) -> Result<String, CtlError> {
    let session = link.session().ok_or(CtlError::SessionClosed)?;
    let containers = crate::docker::containers(&link.docker(), &link.host.compose_project)
        .await
        .map_err(|e| CtlError::Docker(e.to_string()))?;
    let container = containers
        .into_iter()
        .find(|c| c.service == "bucardo" && c.state == "running")
        .map(|c| c.name)
        .ok_or_else(|| CtlError::NoContainer(link.host.name.clone()))?;
    let mut all = vec![container.as_str()];
    all.extend_from_slice(args);
    sh_ok(
        &session,
        r#"c=$1; shift; docker exec "$c" archive-bucardo-ctl "$@""#,
        &all,
        within,
    )
    .await
    .map_err(|e| CtlError::Failed(args.first().copied().unwrap_or_default().to_string(), e))
}
