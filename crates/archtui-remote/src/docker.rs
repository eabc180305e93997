//! Docker over the forwarded socket: the compose project's containers and
//! the process list of a container.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::{
    EventsOptions, InspectContainerOptions, ListContainersOptions, LogsOptions, TopOptions,
};
use bollard::Docker;
use futures_util::future::try_join_all;

use archtui_core::model::{Container, HostFailure, HostState, Time};

/// Marks a Docker call that got no answer in time.
pub const NO_ANSWER: &str = "no answer in time";

const PROJECT_LABEL: &str = "com.docker.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";

/// Connects through the local end of the forward. The engine may be older
/// than bollard's default API version, so the version is negotiated.
pub async fn connect(socket: &Path, timeout: Duration) -> Result<Docker, HostFailure> {
    let fail = |e: bollard::errors::Error| {
        HostFailure::new(HostState::DockerUnavailable, format!("docker: {e}"))
    };
    let path = socket.to_str().ok_or_else(|| {
        HostFailure::new(HostState::DockerUnavailable, "socket path is not UTF-8")
    })?;
    let docker = Docker::connect_with_unix(
        path,
        // Longer than our own per-call limit, so a silent link is reported
        // by the caller as NO_ANSWER rather than as bollard's timeout.
        timeout.as_secs().max(1) * 3,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(fail)?;
    match tokio::time::timeout(timeout, docker.negotiate_version()).await {
        Err(_) => Err(HostFailure::new(
            HostState::DockerUnavailable,
            format!("docker: {NO_ANSWER}"),
        )),
        Ok(r) => r.map_err(fail),
    }
}

fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{PROJECT_LABEL}={project}")],
    )])
}

/// All containers of the compose project, stopped ones included. Health,
/// restarts and start time come from inspect: API 1.41 lists no health.
pub async fn containers(
    docker: &Docker,
    project: &str,
) -> Result<Vec<Container>, bollard::errors::Error> {
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(project_filter(project)),
            ..Default::default()
        }))
        .await?;
    let ids: Vec<String> = list.into_iter().filter_map(|c| c.id).collect();
    let mut out = try_join_all(ids.iter().map(|id| inspect(docker, id))).await?;
    out.sort_by(|a, b| a.service.cmp(&b.service).then(a.name.cmp(&b.name)));
    Ok(out)
}

async fn inspect(docker: &Docker, id: &str) -> Result<Container, bollard::errors::Error> {
    let c = docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await?;
    let config = c.config.unwrap_or_default();
    let state = c.state.unwrap_or_default();
    let service = config
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_LABEL).cloned())
        .unwrap_or_default();
    let running = state.running.unwrap_or(false);
    Ok(Container {
        service,
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        state: state
            .status
            .map_or_else(|| "unknown".into(), |s| s.to_string()),
        health: state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none"),
        restarts: c.restart_count.unwrap_or(0),
        // Docker reports the zero time for a never-started container.
        started_at: state
            .started_at
            .as_deref()
            .filter(|_| running)
            .and_then(parse_time),
        image: config.image.unwrap_or_default(),
    })
}

fn parse_time(s: &str) -> Option<Time> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.to_utc())
}

/// Command lines of every process in a container (`docker top`).
pub async fn process_titles(
    docker: &Docker,
    container: &str,
) -> Result<Vec<String>, bollard::errors::Error> {
    let top = docker
        .top_processes(
            container,
            Some(TopOptions {
                ps_args: "-ef".into(),
            }),
        )
        .await?;
    let titles = top.titles.unwrap_or_default();
    let col = titles
        .iter()
        .position(|t| t == "CMD" || t == "COMMAND")
        .unwrap_or(titles.len().saturating_sub(1));
    Ok(top
        .processes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|mut p| (col < p.len()).then(|| p.swap_remove(col)))
        .collect())
}

/// Events that change what `containers` returns, filtered on the server:
/// a healthcheck alone emits exec events every interval.
pub fn events_options(project: &str) -> EventsOptions {
    let mut filters = project_filter(project);
    filters.insert("type".into(), vec!["container".into()]);
    filters.insert(
        "event".into(),
        [
            "start",
            "stop",
            "die",
            "kill",
            "restart",
            "destroy",
            "create",
            "pause",
            "unpause",
            "health_status",
            "oom",
        ]
        .map(String::from)
        .to_vec(),
    );
    EventsOptions {
        filters: Some(filters),
        ..Default::default()
    }
}

/// Most lines one `recent_logs` call keeps: the newest.
const RECENT_MAX: usize = 2000;

/// A container's log lines since `since` (unix seconds), each with its
/// timestamp, as far as it is now; the newest `RECENT_MAX` at most.
pub async fn recent_logs(
    docker: &Docker,
    container: &str,
    since: i64,
) -> Result<Vec<(Option<Time>, String)>, bollard::errors::Error> {
    use futures_util::StreamExt;
    let mut frames = docker.logs(
        container,
        Some(LogsOptions {
            follow: false,
            stdout: true,
            stderr: true,
            timestamps: true,
            since: i32::try_from(since).unwrap_or(0),
            tail: "all".to_string(),
            ..Default::default()
        }),
    );
    let mut asm = archtui_core::app::lines::LineAssembler::default();
    let mut out = Vec::new();
    while let Some(frame) = frames.next().await {
        for (ts, raw) in asm.feed(&frame?.into_bytes(), true) {
            out.push((ts, String::from_utf8_lossy(&raw).into_owned()));
        }
        if out.len() > RECENT_MAX {
            out.drain(..out.len() - RECENT_MAX);
        }
    }
    if let Some((ts, raw)) = asm.finish() {
        out.push((ts, String::from_utf8_lossy(&raw).into_owned()));
    }
    Ok(out)
}

/// A container's log: the last `tail` lines (all with `None`), then
/// everything new, each frame prefixed with its timestamp. `since` (unix
/// seconds, 0 for none) skips what a previous stream already delivered.
pub fn logs(
    docker: &Docker,
    container: &str,
    tail: Option<usize>,
    since: i64,
) -> impl futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + use<> {
    docker.logs(
        container,
        Some(LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            timestamps: true,
            since: i32::try_from(since).unwrap_or(0),
            tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..Default::default()
        }),
    )
}
