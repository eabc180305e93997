//! The pre-flight: read-only checks of the checkout, the new host (ssh, a
//! probe), the master login it will need, the fleet's env.common and the
//! name in Bucardo. Nothing is changed anywhere.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openssh::Session;

use super::{Runner, APP_PORT};
use crate::actions::deploy;
use crate::host::{make_private_dir, HostLink};
use crate::pg::Pg;
use crate::shell::sh_ok;
use crate::wizard::checks::{self, Check, Expect};
use crate::wizard::input::Input;
use crate::wizard::ssh_dest::fingerprint;
use crate::{bucardo, ssh};
use archtui_core::model::HostState;

impl Runner {
    /// Every pre-flight check; nothing is changed anywhere.
    pub async fn preflight(&mut self, input: &Input, resuming: bool) -> Vec<Check> {
        let mut out = Vec::new();
        out.push(match deploy::check_checkout(&self.from, &input.host()) {
            Ok(()) => Check::pass("checkout", self.from.display().to_string()),
            Err(e) => Check::fail(
                "checkout",
                e,
                "pass --from DIR: a checkout with the operator's env.common",
            ),
        });
        // What will be uploaded: its secrets known to the redactor from
        // here on, and none of them a placeholder.
        let env_path = self.from.join("env.common");
        let env_text = std::fs::read_to_string(&env_path).ok();
        if let Some(t) = &env_text {
            archtui_core::credentials::remember_env(t);
            out.push(checks::placeholder_check(
                t,
                &env_path.display().to_string(),
            ));
        }
        // The master's link opens while the new host is reached: the checks
        // after the probe need it, and its handshake need not queue behind
        // the new host's.
        let early = self.open_link(input, true);
        let (reached, early) = tokio::join!(self.ssh_check(input), early);
        self.adopt(early, true).await;
        let session = match reached {
            Ok((s, check)) => {
                out.push(check);
                s
            }
            Err(check) => {
                out.push(check);
                out.push(self.name_check(input, resuming).await);
                return out;
            }
        };
        let before = now_secs();
        let probe = sh_ok(
            &session,
            PROBE,
            &[
                &input.deploy_dir,
                &input.compose_project,
                &input.master_db_host,
                &input.db_port.to_string(),
            ],
            PROBE_WITHIN,
        )
        .await;
        let after = now_secs();
        let mut reachable = false;
        match probe {
            Ok(text) => {
                let p = checks::parse_probe(&text);
                reachable = p.master_reachable == Some(true);
                let e = Expect {
                    ports: vec![input.db_port, APP_PORT],
                    master: input.master_db_host.clone(),
                    master_port: input.db_port,
                    local_time: (before + after) / 2.0,
                    resuming,
                };
                out.extend(checks::host_checks(&p, &e));
            }
            Err(e) => out.push(Check::fail("probe", e, "check the host's shell and tools")),
        }
        // The new host's link (Docker, its database) opens while the
        // master is asked; the upload is its first user.
        let early = self.open_link(input, false);
        let (rest, early) = tokio::join!(
            async {
                let mut rest = Vec::new();
                if let Some(t) = &env_text {
                    if reachable {
                        rest.push(self.master_login(&session, input, t).await);
                    }
                    rest.push(self.fleet_env_check(input, t).await);
                }
                rest.push(self.name_check(input, resuming).await);
                rest
            },
            early
        );
        self.adopt(early, false).await;
        out.extend(rest);
        out
    }

    /// Opens the master's (or the new host's) link unless one is held,
    /// borrowing nothing of the runner, so it can run beside other checks.
    /// `None` on failure: the step that needs the link opens it again and
    /// says why.
    fn open_link(
        &self,
        input: &Input,
        master: bool,
    ) -> impl std::future::Future<Output = Option<HostLink>> + 'static {
        let held = if master { &self.master } else { &self.slave };
        let host = held
            .is_none()
            .then(|| self.link_host(input, master).ok())
            .flatten();
        let ctx = self.ctx.clone();
        async move {
            HostLink::open(ctx, &host?, crate::host::next_link())
                .await
                .ok()
        }
    }

    /// Keeps a link `open_link` made, unless one came meanwhile.
    async fn adopt(&mut self, link: Option<HostLink>, master: bool) {
        let Some(link) = link else { return };
        let slot = self.slot(master);
        match slot {
            None => *slot = Some(link),
            Some(_) => link.close().await,
        }
    }

    /// The new host logs in to the master's control database, as its
    /// bucardo container will, with exactly the BUCARDO_PASSWORD about to
    /// be uploaded: a forward through the new host's SSH session (the
    /// connection starts there, so the master's pg_hba sees the new host),
    /// the password handed to the client in this process: never on a
    /// command line, never in a file on the host.
    async fn master_login(&self, session: &Session, input: &Input, env_text: &str) -> Check {
        let what = "master login";
        let (user, db, password) = match self.bucardo_login(env_text) {
            Ok(login) => login,
            Err(check) => return check,
        };
        let at = format!("{}:{}", input.master_db_host, input.db_port);
        let dir = self
            .ctx
            .run_dir
            .join(format!("m{}", crate::host::next_link()));
        if let Err(e) = make_private_dir(&dir) {
            return Check::fail(what, format!("{}: {e}", dir.display()), "check the run dir");
        }
        let local = dir.join(format!(".s.PGSQL.{}", input.db_port));
        let remote = openssh::Socket::new(&input.master_db_host, input.db_port);
        let forward = session
            .request_port_forward(
                openssh::ForwardType::Local,
                openssh::Socket::from(local.clone()),
                remote.clone(),
            )
            .await;
        if let Err(e) = forward {
            return Check::fail(
                what,
                format!("no forward through the new host to {at}: {e}"),
                "allow TCP forwarding in the new host's sshd (AllowTcpForwarding)",
            );
        }
        let login = Pg::connect(crate::pg::Params {
            application_name: None,
            socket_dir: &dir,
            port: input.db_port,
            user: &user,
            dbname: &db,
            password: Some(archtui_core::credentials::Secret::known(password)),
            timeout: self.ctx.timeout(),
        })
        .await;
        let _ = session
            .close_port_forward(
                openssh::ForwardType::Local,
                openssh::Socket::from(local),
                remote,
            )
            .await;
        login_check(&self.from, &at, &user, &db, login)
    }

    /// The user, database and password the new host's bucardo will log in
    /// to the master with, from env.common (and the checkout's secrets dir
    /// for BUCARDO_PASSWORD_FILE); or the check that says why not.
    fn bucardo_login(&self, env_text: &str) -> Result<(String, String, String), Check> {
        let what = "master login";
        let env = archtui_core::envfile::parse_env(env_text);
        let get = |k: &str| {
            env.get(k)
                .map(|v| archtui_core::credentials::unquote(v).to_string())
                .filter(|v| !v.is_empty())
        };
        let user = get("BUCARDO_DB_USER").unwrap_or_else(|| "bucardo".into());
        let db = get("BUCARDO_DB_NAME").unwrap_or_else(|| "bucardo".into());
        let password =
            match (get("BUCARDO_PASSWORD"), get("BUCARDO_PASSWORD_FILE")) {
                (Some(p), _) => p,
                (None, Some(f)) => {
                    // The checkout's copy of the secrets dir, when it has one.
                    let dir = get("SECRETS_DIR").unwrap_or_else(|| "./secrets".into());
                    let name = Path::new(&f).file_name().unwrap_or_default();
                    let local = self.from.join(dir).join(name);
                    match std::fs::read_to_string(&local) {
                    Ok(t) => t.lines().next().unwrap_or("").to_string(),
                    Err(_) => return Err(Check::warn(
                        what,
                        format!(
                            "not tested: BUCARDO_PASSWORD_FILE={f} and no {} here",
                            local.display()
                        ),
                        "make sure that file on the new host holds the master's BUCARDO_PASSWORD",
                    )),
                }
                }
                (None, None) => return Err(Check::fail(
                    what,
                    "BUCARDO_PASSWORD is not set in env.common",
                    "set BUCARDO_PASSWORD (or BUCARDO_PASSWORD_FILE) in env.common to the master's",
                )),
            };
        Ok((user, db, password))
    }

    /// The env.common about to be uploaded against the master's deploy
    /// dir's, read over the master's SSH session; secrets redacted.
    async fn fleet_env_check(&mut self, input: &Input, env_text: &str) -> Check {
        let what = "fleet's env.common";
        let master = match self.master_host(input) {
            Ok(m) => m,
            Err(e) => return Check::warn(what, e, "compare env.common with the master's by hand"),
        };
        let session = match self.link(input, true).await {
            Ok(l) => l.session(),
            Err(e) => {
                return Check::warn(
                    what,
                    format!("master {}: {e}", master.name),
                    "compare env.common with the master's by hand",
                )
            }
        };
        let Some(session) = session else {
            return Check::warn(what, "ssh session to the master closed", "run again");
        };
        let path = format!("{}/env.common", master.deploy_dir);
        match sh_ok(&session, r#"cat "$1""#, &[&path], crate::shell::QUICK).await {
            Ok(text) => {
                archtui_core::credentials::remember_env(&text);
                checks::fleet_check(env_text, &text, &format!("{}:{path}", master.name))
            }
            Err(e) => Check::warn(
                what,
                format!("cannot read {}:{path}: {e}", master.name),
                "compare env.common with the master's by hand",
            ),
        }
    }

    async fn ssh_check(&mut self, input: &Input) -> Result<(Arc<Session>, Check), Check> {
        let host = input.host();
        let dir = self
            .ctx
            .run_dir
            .join(format!("p{}", crate::host::next_link()));
        make_private_dir(&dir).map_err(|e| Check::fail("ssh", e.to_string(), "check /tmp"))?;
        // A fresh handshake, never a kept master: pre-flight checks the
        // host key as known_hosts holds it now.
        match ssh::connect_anew(&self.ctx.config, &host, &dir).await {
            Ok(session) => {
                let session = Arc::new(session);
                let who = sh_ok(&session, "id -un; uname -n", &[], crate::shell::QUICK)
                    .await
                    .unwrap_or_default();
                let who = who.split_whitespace().collect::<Vec<_>>().join("@");
                // Later steps open their own link; this one goes when dropped.
                Ok((
                    session,
                    Check::pass("ssh", format!("{} as {who}", input.ssh)),
                ))
            }
            Err(f) if f.state == HostState::HostKeyUnknown => {
                let line = fingerprint(&self.ctx.config, &input.ssh).await;
                let fp = crate::wizard::ssh_dest::fingerprint_of(&line).map(str::to_string);
                let check = Check::fail(
                    "ssh",
                    format!("unknown host key: {line}"),
                    format!(
                        "compare it with the host's own (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console), then trust it: t on the wizard's screen, or run again with --trust-host-key '{}'",
                        fp.as_deref().unwrap_or("SHA256:...")
                    ),
                );
                Err(match fp {
                    Some(fp) => check.trusting(fp),
                    None => check,
                })
            }
            Err(f) => Err(Check::fail(
                "ssh",
                f.reason,
                "check the address, that sshd runs, the link, and your key (ssh -v)",
            )),
        }
    }

    async fn name_check(&mut self, input: &Input, resuming: bool) -> Check {
        let db = self.ctx.config.database.name.clone();
        let pg = match self.pg(input, true, &db).await {
            Ok(pg) => pg,
            Err(e) => {
                return Check::fail(
                    "name in Bucardo",
                    format!("master {}: {e}", input.master),
                    "the master must be up: `archtui check`",
                )
            }
        };
        match bucardo::provision::taken(&pg, &input.name).await {
            Ok(t) => checks::name_check(&input.name, &t, resuming),
            Err(e) => Check::fail("name in Bucardo", e, "the master's stack must be deployed"),
        }
    }
}

/// The probe's own waits are 5 s each (dockerd's answers, the master's
/// port); this bounds the whole probe should the host itself hang.
const PROBE_WITHIN: Duration = Duration::from_secs(30);

/// Read-only probe of the new host: `key=value` lines (see checks::parse_probe).
/// $1 deploy dir, $2 compose project, $3 master address, $4 its port.
const PROBE: &str = r#"
v=$(timeout 5 docker version --format '{{.Server.Version}}' 2>/dev/null); [ $? = 124 ] && echo docker_hung=1
echo "docker=$v"
echo "compose=$(timeout 5 docker compose version --short 2>/dev/null)"
d=$1; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
echo "disk_path=$d"
echo "disk=$(df -Pk "$d" 2>/dev/null | awk 'NR==2{print $4}')"
echo "listen=$(ss -Hltn 2>/dev/null | awk '{print $4}' | tr '\n' ' ')"
# Every state: a container just created holds its ports before it runs
# (a run killed in compose up leaves some so).
echo "ours=$(timeout 5 docker ps -aq --filter "label=com.docker.compose.project=$2" 2>/dev/null | wc -l)"
if timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$3" "$4" 2>/dev/null; then echo master=ok; else echo master=fail; fi
echo "time=$(date +%s.%N)"
[ -f "$1/docker-compose.yml" ] && echo existing=1
exit 0
"#;

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What the master said to the new host's login, as the check's verdict.
fn login_check(
    from: &Path,
    at: &str,
    user: &str,
    db: &str,
    login: Result<Pg, crate::pg::PgError>,
) -> Check {
    let what = "master login";
    let env_file = from.join("env.common").display().to_string();
    match login {
        Ok(pg) => {
            drop(pg);
            Check::pass(
                what,
                format!("the master's database at {at} accepts user {user} with the BUCARDO_PASSWORD of {env_file}, from the new host"),
            )
        }
        Err(e) if e.to_string().contains("password authentication failed") => Check::fail(
            what,
            format!("the master at {at} refused user {user} with the BUCARDO_PASSWORD of {env_file}"),
            format!("set BUCARDO_PASSWORD in {env_file} to the fleet's (the master's env.common): it must be the same on every host"),
        ),
        Err(e) if e.to_string().contains("no pg_hba.conf entry") => Check::fail(
            what,
            format!("the master at {at} does not accept the new host: {e}"),
            "add the new host's network to DB_ALLOWED_CIDRS in the master's env.common, then restart its db",
        ),
        Err(e) => Check::fail(
            what,
            format!("logging in to {db} at {at} from the new host: {e}"),
            "check MASTER_DB_HOST, the master's db, and BUCARDO_DB_USER / BUCARDO_DB_NAME in env.common",
        ),
    }
}
