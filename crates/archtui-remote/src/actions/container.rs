//! Restart, stop and start one compose service's container (bollard), then
//! wait until it is where it should be: running and healthy, or stopped.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptions, RestartContainerOptions, StartContainerOptions,
    StopContainerOptions,
};
use bollard::Docker;

use super::{clean, Outcome, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Restart,
    Stop,
    Start,
}

/// How long a container gets to come back healthy.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(120);

/// The one container of `service` in the compose project.
pub async fn find(docker: &Docker, project: &str, service: &str) -> Result<String, Outcome> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            format!("com.docker.compose.project={project}"),
            format!("com.docker.compose.service={service}"),
        ],
    )]);
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| Outcome::new(Status::Unreachable, format!("docker: {e}")))?;
    let mut names: Vec<String> = list
        .into_iter()
        .filter_map(|c| c.names?.into_iter().next())
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    match names.len() {
        0 => Err(Outcome::failed(format!(
            "no container of service {service} in project {project}"
        ))),
        1 => Ok(names.remove(0)),
        _ => Err(Outcome::failed(format!(
            "service {service} has {} containers ({}): name one",
            names.len(),
            names.join(", ")
        ))),
    }
}

/// Running, health (None without a healthcheck) and start time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub running: bool,
    pub health: Option<String>,
    pub started_at: String,
}

/// Bollard's own error: the callers only poll, none shows it.
pub async fn inspect(docker: &Docker, name: &str) -> Result<Seen, bollard::errors::Error> {
    let c = docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await?;
    let state = c.state.unwrap_or_default();
    Ok(Seen {
        running: state.running.unwrap_or(false),
        health: state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none"),
        started_at: state.started_at.unwrap_or_default(),
    })
}

/// Is the container where `op` should leave it? Pure.
pub fn settled(op: Op, seen: &Seen) -> bool {
    match op {
        Op::Stop => !seen.running,
        Op::Restart | Op::Start => {
            seen.running && seen.health.as_deref().is_none_or(|h| h == "healthy")
        }
    }
}

pub async fn run(docker: &Docker, project: &str, service: &str, op: Op) -> Outcome {
    let name = match find(docker, project, service).await {
        Ok(n) => n,
        Err(o) => return o,
    };
    let before = inspect(docker, &name).await.ok();
    let done = match op {
        Op::Restart => {
            docker
                .restart_container(&name, None::<RestartContainerOptions>)
                .await
        }
        Op::Stop => {
            docker
                .stop_container(&name, None::<StopContainerOptions>)
                .await
        }
        Op::Start => {
            docker
                .start_container(&name, None::<StartContainerOptions>)
                .await
        }
    };
    if let Err(e) = done {
        return Outcome::failed(clean(&format!("{name}: {e}")));
    }
    let verb = match op {
        Op::Restart => "restarted",
        Op::Stop => "stopped",
        Op::Start => "started",
    };
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < HEALTHY_WITHIN {
        if let Ok(seen) = inspect(docker, &name).await {
            if settled(op, &seen) {
                let how = match (&seen.health, op) {
                    (_, Op::Stop) => String::new(),
                    (Some(h), _) => format!(", {h}"),
                    (None, _) => ", running".into(),
                };
                let since = before
                    .as_ref()
                    .filter(|b| op != Op::Stop && b.started_at != seen.started_at)
                    .map(|_| format!(" (started {})", seen.started_at))
                    .unwrap_or_default();
                return Outcome::ok(format!(
                    "{verb} {name}{how}{since} in {:.1} s",
                    start.elapsed().as_secs_f64()
                ));
            }
            last = Some(seen);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Outcome::new(
        Status::Timeout,
        format!(
            "{verb} {name}, but it is not {} after {} s (last seen: {})",
            if op == Op::Stop { "stopped" } else { "healthy" },
            HEALTHY_WITHIN.as_secs(),
            last.map_or("nothing".into(), |s| format!(
                "running={} health={}",
                s.running,
                s.health.unwrap_or_else(|| "none".into())
            ))
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_states() {
        let s = |running, health: Option<&str>| Seen {
            running,
            health: health.map(String::from),
            started_at: String::new(),
        };
        assert!(settled(Op::Restart, &s(true, Some("healthy"))));
        assert!(!settled(Op::Restart, &s(true, Some("starting"))));
        assert!(settled(Op::Start, &s(true, None)));
        assert!(!settled(Op::Start, &s(false, None)));
        assert!(settled(Op::Stop, &s(false, Some("unhealthy"))));
        assert!(!settled(Op::Stop, &s(true, None)));
    }
}
