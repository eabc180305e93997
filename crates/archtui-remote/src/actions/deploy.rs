//! Deploy the stack from the operator's checkout to a host: plan, copy
//! (tar over the SSH session, env files 0600), `docker compose up -d
//! --build` with its output streamed, then wait until the services are
//! healthy. Compose builds every image before it recreates a container,
//! so a failed build leaves the running containers running.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bollard::Docker;
use openssh::Session;

use super::plan::{self, Plan};
use super::{clean, Outcome, Progress, Status};
use crate::shell::{self, sh};
use crate::{docker, job};
use archtui_core::config::Host;

/// The job action (and host-lock action) of a deploy.
pub const DEPLOY: &str = "deploy";
/// How long the services get to become healthy after `up`.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(180);
const COMPOSE_FILE: &str = "docker-compose.yml";
/// Hashing the deploy dir's files on the host.
const SUMS_WITHIN: Duration = Duration::from_secs(60);
/// Copying the stack (compose file, env files, assets: a few MB).
pub const COPY_WITHIN: Duration = Duration::from_secs(300);

/// The stack's files for a host of this role, relative to the checkout:
/// the runbook's deploy scripts beside the compose file, and `.env` (a
/// link to env.common, so that `source env.slave; docker compose up -d`
/// alone still finds the fleet's common settings).
pub fn stack_paths(host: &Host) -> Vec<String> {
    vec![
        COMPOSE_FILE.to_string(),
        ".env".to_string(),
        "env.common".to_string(),
        format!("env.{}", host.role),
        deploy_script(host).to_string(),
        "assets".to_string(),
    ]
}

/// The runbook's script that deploys a host of this role; deploy and
/// provision run it, so the console's deploy and the operator's manual one
/// are the same procedure.
pub fn deploy_script(host: &Host) -> &'static str {
    match host.role {
        archtui_core::config::Role::Master => "deploy.sh",
        archtui_core::config::Role::Slave => "deploy_slave.sh",
    }
}

fn env_files(host: &Host) -> [String; 2] {
    ["env.common".to_string(), format!("env.{}", host.role)]
}

/// Why a deploy's plan, copy or health wait did not get through. Its text
/// is the operator's; `String::from` keeps the callers that pass text.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{} is not a checkout of the stack for {host} (missing {missing}); pass --from DIR", from.display())]
    NotACheckout {
        from: PathBuf,
        host: String,
        missing: String,
    },
    /// Hashing the checkout failed (the spawn's or the command's stderr).
    #[error("sha256sum in {}: {why}", from.display())]
    LocalSums { from: PathBuf, why: String },
    #[error("reading {dir} on {host}: {why}")]
    ReadRemote {
        dir: String,
        host: String,
        why: String,
    },
    #[error("{}: {source}", path.display())]
    ReadLocal {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Shell(#[from] shell::ShellError),
    /// The local tar could not run.
    #[error("tar: {0}")]
    Tar(String),
    #[error("tar in {}: {why}", from.display())]
    TarFailed { from: PathBuf, why: String },
    #[error("copying to {host}: {source}")]
    CopyTo {
        host: String,
        source: shell::ShellError,
    },
    #[error("unpacking on {host}: {why}")]
    Unpack { host: String, why: String },
    /// The services named in `last` were not healthy in time.
    #[error("not healthy within {secs} s: {last}")]
    NotHealthy { secs: u64, last: String },
}

impl From<DeployError> for String {
    fn from(e: DeployError) -> String {
        e.to_string()
    }
}

/// Refuses a checkout that lacks a stack file.
pub fn check_checkout(from: &Path, host: &Host) -> Result<(), DeployError> {
    let missing: Vec<String> = stack_paths(host)
        .into_iter()
        .filter(|p| !from.join(p).exists())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DeployError::NotACheckout {
            from: from.to_path_buf(),
            host: host.name.clone(),
            missing: missing.join(", "),
        })
    }
}

const SUMS: &str = r#"cd "$1" 2>/dev/null || exit 0; shift; for p in "$@"; do [ -e "$p" ] && find "$p" -type f -print0; done | xargs -0 -r sha256sum"#;

async fn local_sums(
    from: &Path,
    paths: &[String],
) -> Result<BTreeMap<String, String>, DeployError> {
    let sums = |why: String| DeployError::LocalSums {
        from: from.to_path_buf(),
        why,
    };
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(SUMS)
        .arg("sh")
        .arg(from)
        .args(paths)
        .output()
        .await
        .map_err(|e| sums(e.to_string()))?;
    if !out.status.success() {
        return Err(sums(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(plan::parse_sums(&String::from_utf8_lossy(&out.stdout)))
}

/// Reads what the plan compares: hashes on both sides, the env files' text.
pub async fn make_plan(session: &Session, host: &Host, from: &Path) -> Result<Plan, DeployError> {
    let paths = stack_paths(host);
    let local = local_sums(from, &paths).await?;
    let mut args = vec![host.deploy_dir.as_str()];
    args.extend(paths.iter().map(String::as_str));
    let out = sh(session, SUMS, &args, SUMS_WITHIN).await?;
    if !out.status.success() {
        return Err(DeployError::ReadRemote {
            dir: host.deploy_dir.clone(),
            host: host.name.clone(),
            why: clean(String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    let remote = plan::parse_sums(&String::from_utf8_lossy(&out.stdout));
    let mut env = Vec::new();
    for f in env_files(host) {
        let new =
            std::fs::read_to_string(from.join(&f)).map_err(|source| DeployError::ReadLocal {
                path: from.join(&f),
                source,
            })?;
        let path = format!("{}/{f}", host.deploy_dir);
        let got = sh(session, r#"cat "$1" 2>/dev/null"#, &[&path], shell::QUICK).await?;
        let old = got
            .status
            .success()
            .then(|| String::from_utf8_lossy(&got.stdout).into_owned());
        // Their secrets, old and new, never leave the process from now on.
        archtui_core::credentials::remember_env(&new);
        if let Some(o) = &old {
            archtui_core::credentials::remember_env(o);
        }
        env.push((f, old, new));
    }
    Ok(plan::build(&local, &remote, &env))
}

/// Unpacks into a private staging dir inside the deploy dir, makes the env
/// files 0600 there, then moves everything into place.
const UNPACK: &str = r#"set -e; d="$1"; s="$d/.archtui-incoming"; shift
mkdir -p "$d"; rm -rf "$s"; mkdir -m 700 "$s"
tar -C "$s" --no-same-owner -xf -
for f in "$@"; do chmod 600 "$s/$f"; mv -f "$s/$f" "$d/$f"; done
cp -a "$s/." "$d/"; rm -rf "$s""#;

/// Copies the stack files: local `tar` piped into the host's `tar`.
pub async fn copy(session: &Session, host: &Host, from: &Path) -> Result<(), DeployError> {
    let mut tar = tokio::process::Command::new("tar")
        .arg("-C")
        .arg(from)
        .arg("-cf")
        .arg("-")
        .args(stack_paths(host))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DeployError::Tar(e.to_string()))?;
    let Some(mut src) = tar.stdout.take() else {
        return Err(DeployError::Tar("no pipe".into()));
    };
    let mut args = vec![host.deploy_dir.clone()];
    args.extend(env_files(host));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = shell::sh_with_input(session, UNPACK, &args, &mut src, COPY_WITHIN).await;
    let local = tar
        .wait_with_output()
        .await
        .map_err(|e| DeployError::Tar(e.to_string()))?;
    if !local.status.success() {
        return Err(DeployError::TarFailed {
            from: from.to_path_buf(),
            why: String::from_utf8_lossy(&local.stderr).trim().to_string(),
        });
    }
    let out = out.map_err(|source| DeployError::CopyTo {
        host: host.name.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(DeployError::Unpack {
            host: host.name.clone(),
            why: clean(String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    Ok(())
}

/// A compose run that prints nothing for this long is taken as hung and
/// stopped on the host (a build step may well be quiet for minutes).
pub const COMPOSE_IDLE: Duration = Duration::from_secs(300);

/// `docker compose ARGS` with the role's env files, as a job's argv (it
/// runs in the deploy dir).
pub fn compose_argv(host: &Host, args: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = [
        "docker",
        "compose",
        "--ansi",
        "never",
        "--env-file",
        "env.common",
    ]
    .map(String::from)
    .to_vec();
    argv.push("--env-file".into());
    argv.push(format!("env.{}", host.role));
    argv.extend(args.iter().map(|a| a.to_string()));
    argv
}

pub use crate::job::failure_lines;

/// The role's deploy script as a job: `docker compose up -d --build`
/// (builds what changed, starts what is not running), then it waits until
/// every service is healthy (on a slave also the sync's first good run).
/// A master is deployed with `--allow-empty` only when asked.
pub fn up_spec(host: &Host, action: &str, allow_empty: bool) -> Result<job::Spec, job::SpecError> {
    let mut argv = vec![format!("./{}", deploy_script(host))];
    if allow_empty && host.role == archtui_core::config::Role::Master {
        argv.push("--allow-empty".into());
    }
    job::Spec::new(action, argv, COMPOSE_IDLE)
}

/// The compose run's outcome, for deploy and provision alike.
pub fn settle_up(
    r: Result<job::Finished, job::JobError>,
    host: &Host,
) -> Result<job::Finished, Outcome> {
    job::settle(r, deploy_script(host), host)
}

/// Waits until every container of the project runs, healthy where it has
/// a healthcheck; names the laggards when the time is up.
pub async fn wait_healthy(docker_client: &Docker, host: &Host) -> Result<String, DeployError> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < HEALTHY_WITHIN {
        if let Ok(cs) = docker::containers(docker_client, &host.compose_project).await {
            let bad: Vec<String> = cs
                .iter()
                .filter(|c| {
                    c.state != "running" || c.health.as_deref().is_some_and(|h| h != "healthy")
                })
                .map(|c| {
                    format!(
                        "{} {}{}",
                        c.service,
                        c.state,
                        c.health
                            .as_ref()
                            .map(|h| format!("/{h}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            if !cs.is_empty() && bad.is_empty() {
                let names: Vec<&str> = cs.iter().map(|c| c.service.as_str()).collect();
                return Ok(format!(
                    "{} healthy after {:.0} s",
                    names.join(", "),
                    start.elapsed().as_secs_f64()
                ));
            }
            last = bad.join(", ");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(DeployError::NotHealthy {
        secs: HEALTHY_WITHIN.as_secs(),
        last,
    })
}

/// The whole deploy. With `plan_only` it stops after the plan.
/// Checks the checkout, then makes the plan and shows it on `progress`.
pub async fn preview(
    session: &Session,
    host: &Host,
    from: &Path,
    progress: &Progress,
) -> Result<Plan, Outcome> {
    check_checkout(from, host).map_err(Outcome::refused)?;
    let plan = make_plan(session, host, from)
        .await
        .map_err(|e| Outcome::new(Status::Unreachable, e))?;
    for line in plan.render(&host.name) {
        super::step(progress, line);
    }
    Ok(plan)
}

pub async fn run(
    session: &std::sync::Arc<Session>,
    docker_client: &Docker,
    host: &Host,
    from: &Path,
    plan_only: bool,
    allow_empty: bool,
    progress: &Progress,
) -> Outcome {
    if let Err(o) = preview(session, host, from, progress).await {
        return o;
    }
    if plan_only {
        return Outcome::ok(format!("plan for {} shown; nothing changed", host.name));
    }
    let mut lock = match job::acquire(session, host, DEPLOY, progress).await {
        Err(o) => return o,
        Ok(job::Acquired::Attach(meta)) => {
            let note = format!(
                " (re-attached to job {} started by {}; run deploy again if the plan above still shows changes)",
                meta.id,
                clean(&meta.operator)
            );
            let r = job::follow(session, host, meta, progress).await;
            return finish(docker_client, host, r, &note, progress).await;
        }
        Ok(job::Acquired::Held(l)) => l,
    };
    super::step(
        progress,
        format!("copying the stack to {}:{}", host.name, host.deploy_dir),
    );
    if let Err(e) = copy(session, host, from).await {
        lock.release().await;
        return Outcome::failed(e);
    }
    let spec = match up_spec(host, DEPLOY, allow_empty) {
        Ok(s) => s,
        Err(e) => {
            lock.release().await;
            return Outcome::failed(e);
        }
    };
    super::step(progress, "docker compose up -d --build".to_string());
    let r = lock.run(&spec, progress).await;
    lock.release().await;
    finish(docker_client, host, r, "", progress).await
}

/// The job's outcome, then the services' health.
async fn finish(
    docker_client: &Docker,
    host: &Host,
    r: Result<job::Finished, job::JobError>,
    note: &str,
    progress: &Progress,
) -> Outcome {
    if let Err(mut o) = settle_up(r, host) {
        o.message = if o.status == Status::Failed {
            format!(
                "deploy to {}: {} (containers that were running keep running){note}",
                host.name, o.message
            )
        } else {
            format!("deploy to {}: {}{note}", host.name, o.message)
        };
        return o;
    }
    super::step(
        progress,
        "waiting for the services to be healthy".to_string(),
    );
    match wait_healthy(docker_client, host).await {
        Ok(s) => Outcome::ok(format!("deployed to {}: {s}{note}", host.name)),
        Err(e) => Outcome::new(
            Status::Timeout,
            format!("deployed to {}, but {e}{note}", host.name),
        ),
    }
}

/// Where the checkout is: `--from`, else the current directory.
pub fn checkout_dir(from: Option<PathBuf>) -> PathBuf {
    from.unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use archtui_core::config::Role;

    fn host(role: Role) -> Host {
        Host::example("h", role)
    }

    #[test]
    fn stack_files_follow_the_role() {
        assert_eq!(
            stack_paths(&host(Role::Slave)),
            [
                "docker-compose.yml",
                ".env",
                "env.common",
                "env.slave",
                "deploy_slave.sh",
                "assets"
            ]
        );
        assert_eq!(
            up_spec(&host(Role::Master), "deploy", true).unwrap().argv,
            ["./deploy.sh", "--allow-empty"]
        );
        assert_eq!(
            up_spec(&host(Role::Slave), "deploy", true).unwrap().argv,
            ["./deploy_slave.sh"]
        );
        assert_eq!(env_files(&host(Role::Master))[1], "env.master");
    }

    #[test]
    fn checkout_must_hold_the_stack() {
        let repo = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        assert!(check_checkout(repo, &host(Role::Slave)).is_ok());
        let err = check_checkout(Path::new("/nonexistent"), &host(Role::Slave)).unwrap_err();
        assert!(
            err.to_string().contains("missing docker-compose.yml"),
            "{err}"
        );
    }

    #[test]
    fn failure_lines_pick_the_errors() {
        let out: Vec<String> = [
            "#1 building",
            "#5 ERROR: process \"/bin/sh -c false\" did not complete successfully",
            "ok line",
            "failed to solve: exit code 1",
        ]
        .map(String::from)
        .to_vec();
        let f = failure_lines(&out);
        assert_eq!(f.len(), 2);
        assert!(f[1].contains("failed to solve"));
        let quiet: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        assert_eq!(failure_lines(&quiet), ["b", "c", "d"]);
    }

    #[tokio::test]
    async fn local_sums_of_the_checkout() {
        let repo = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let sums = local_sums(repo, &stack_paths(&host(Role::Slave)))
            .await
            .unwrap();
        assert!(sums.contains_key("docker-compose.yml"));
        assert!(sums.contains_key("assets/app/Dockerfile"));
        assert!(!sums.contains_key("env.master"));
    }
}
