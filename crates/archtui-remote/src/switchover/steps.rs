//! The steps of a switchover, each to its checked postcondition.

use std::time::{Duration, Instant};

use super::{sql, Run, StepError, BUCARDO_STOP_SECS, DRAIN_WITHIN};
use crate::actions::deploy::COMPOSE_IDLE;
use crate::actions::step;
use crate::bucardo;
use crate::shell::{self, sh, sh_ok};
use archtui_core::config::Role;
use archtui_core::switchover::{Journal, Kind, Step, SEQUENCE_GAP};

impl Run {
    /// Runs one step to its postcondition; the line says what it did.
    pub async fn step(&mut self, s: Step, journal: &mut Journal) -> Result<String, StepError> {
        match s {
            Step::Fence => self.fence(journal).await,
            Step::Drain => self.drain().await,
            Step::PrepareCandidate => self.prepare_candidate().await,
            Step::StopReplication => self.stop_replication().await,
            Step::Sequences => self.sequences().await,
            Step::SwapEnv => self.swap_env().await,
            Step::Repoint => self.repoint().await,
            Step::Promote => self.promote(journal).await,
            Step::MarkFenced | Step::Verify | Step::Config => {
                Err(StepError(format!("step {} is run by the caller", s.name())))
            }
        }
    }

    async fn fence(&mut self, journal: &mut Journal) -> Result<String, StepError> {
        let m = self.roles.old_master.clone();
        // The app's requests get the same 3 s: its writes are refused next.
        let stop = ["stop", "-t", BUCARDO_STOP_SECS, "app", "bucardo"];
        self.compose(&m, Role::Master, &stop).await?;
        let user = self.env(&m, Role::Master).await?.app_user();
        let db = self.ctx.config.database.name.clone();
        let pg = self.archive(&m).await?;
        pg.execute_batch(&sql::read_only(&user, &db, true)).await?;
        let ended = sql::end_sessions(&pg, &user).await?;
        // Postconditions: nothing writes there any more.
        self.stopped(&m, &["app", "bucardo"]).await?;
        if !sql::is_read_only(&pg, &user, &db).await? {
            return Err(StepError(format!("{m}: role {user} is not read-only")));
        }
        let left = sql::sessions_of(&pg, &user).await?;
        if left > 0 {
            return Err(StepError(format!(
                "{m}: {left} session(s) of {user} still open"
            )));
        }
        if journal.fenced_at_ms.is_none() {
            journal.fenced_at_ms = Some(chrono::Utc::now().timestamp_millis());
        }
        Ok(format!(
            "{m}: app and heartbeat writer stopped; role {user} read-only in {db}; {ended} session(s) ended"
        ))
    }

    async fn drain(&mut self) -> Result<String, StepError> {
        let m = self.roles.old_master.clone();
        let hb = self.ctx.config.database.heartbeat_table.clone();
        let master = self.archive(&m).await?;
        let start = Instant::now();
        let mut said = Vec::new();
        for s in self.slaves() {
            let sync = format!("archive_{s}");
            let ctl = self.control(&s).await?;
            let kicked =
                crate::actions::sync::kick(&ctl, &sync, Some(Duration::from_secs(30))).await;
            if kicked.status != crate::actions::Status::Ok {
                step(&self.progress, format!("{s}: kick: {}", kicked.message));
            }
            loop {
                let p = bucardo::pending(&master, &sync, &format!("{s}_grp"), &hb).await?;
                match p {
                    Some(p) if p.rows == 0 => break,
                    Some(p) if start.elapsed() < DRAIN_WITHIN => {
                        step(&self.progress, format!("{s}: {} row(s) pending", p.rows));
                    }
                    Some(p) => {
                        return Err(StepError(format!(
                            "{s}: {} row(s) still pending after {} s: `archtui recover {sync}`, then run the switchover again",
                            p.rows,
                            DRAIN_WITHIN.as_secs()
                        )))
                    }
                    None => {
                        return Err(StepError(format!(
                            "{s}: sync {sync} has never run on {m}: nothing to drain from"
                        )))
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            said.push(format!("{s} 0 pending"));
        }
        Ok(format!(
            "{} ({:.1} s)",
            said.join(", "),
            start.elapsed().as_secs_f64()
        ))
    }

    async fn prepare_candidate(&mut self) -> Result<String, StepError> {
        let c = self.roles.candidate.clone();
        let pg = self.archive(&c).await?;
        if !sql::has_registry(&pg).await? {
            self.compose(
                &c,
                Role::Slave,
                &[
                    "exec",
                    "-T",
                    "bucardo",
                    "archive-bucardo-ctl",
                    "prepare-master",
                ],
            )
            .await?;
        }
        if !sql::has_registry(&pg).await? {
            return Err(StepError(format!(
                "{c}: no fleet registry after prepare-master"
            )));
        }
        Ok(format!("{c}: fleet registry and heartbeat table ready"))
    }

    async fn stop_replication(&mut self) -> Result<String, StepError> {
        let slaves = self.slaves();
        for s in &slaves {
            self.compose(
                s,
                Role::Slave,
                &["stop", "-t", BUCARDO_STOP_SECS, "bucardo"],
            )
            .await?;
            self.stopped(s, &["bucardo"]).await?;
        }
        Ok(format!("bucardo stopped on {}", slaves.join(", ")))
    }

    async fn sequences(&mut self) -> Result<String, StepError> {
        let (m, c) = (self.roles.old_master.clone(), self.roles.candidate.clone());
        let cand = self.archive(&c).await?;
        // A failover cannot ask the lost master; its rows the candidate
        // lacks get the gap instead.
        let old = match self.kind {
            Kind::Switchover => Some(self.archive(&m).await?),
            Kind::Failover => None,
        };
        let gap = if old.is_some() { 0 } else { SEQUENCE_GAP };
        let seqs = sql::sequences(&cand).await?;
        let mut moved = Vec::new();
        for q in &seqs {
            let on_old = match &old {
                Some(old) => sql::last_value(old, &q.sequence).await.unwrap_or(0),
                None => 0,
            };
            let before = sql::last_value(&cand, &q.sequence).await?;
            let max = sql::column_max(&cand, q).await?;
            let want = on_old.max(max.saturating_add(gap)).max(before);
            if want > before {
                sql::set_value(&cand, &q.sequence, want).await?;
                moved.push(format!("{} {before} -> {want}", q.sequence));
            }
            // Postcondition: the next value is past every key either side.
            let now = sql::last_value(&cand, &q.sequence).await?;
            if now < max || now < on_old {
                return Err(StepError(format!(
                    "{c}: {} is at {now}, under {}",
                    q.sequence,
                    max.max(on_old)
                )));
            }
        }
        Ok(format!(
            "{c}: {} sequence(s) past every key{}",
            seqs.len(),
            if moved.is_empty() {
                String::new()
            } else {
                format!(" ({})", moved.join(", "))
            }
        ))
    }

    async fn swap_env(&mut self) -> Result<String, StepError> {
        let envs = self.envs().await?;
        let c = self.roles.candidate.clone();
        let new = match self.kind {
            Kind::Switchover => archtui_core::switchover::new_env(&self.roles, &envs),
            Kind::Failover => {
                // Its own env.master as an earlier run left it (the copy
                // kept before this run's write), else as the stack ships it.
                let kept = self
                    .read_optional(&c, "env.master.before-switchover")
                    .await?;
                let template = match kept {
                    Some(t) => Some(t),
                    None => self.read_optional(&c, "env.master").await?,
                };
                if let Some(t) = &template {
                    archtui_core::credentials::remember_env(t);
                }
                archtui_core::switchover::failover_env(&self.roles, &envs, template.as_deref())
            }
        }
        .map_err(|e| StepError(e.to_string()))?;
        let mut said = Vec::new();
        for (host, files) in &new.files {
            let dir = self.host(host)?.deploy_dir;
            let s = self.session(host).await?;
            for (f, text) in files {
                write_file(&s, &format!("{dir}/{f}"), text)
                    .await
                    .map_err(|e| StepError(format!("{host}: {e}")))?;
                said.push(format!("{host}:{f}"));
            }
        }
        // The deploy scripts of the new roles, from the hosts that have them.
        let m = self.roles.old_master.clone();
        match self.kind {
            Kind::Switchover => {
                self.copy_script(&m, &c, "deploy.sh").await?;
                self.copy_script(&c, &m, "deploy_slave.sh").await?;
            }
            Kind::Failover => {
                let dir = self.host(&c)?.deploy_dir;
                let s = self.session(&c).await?;
                let has = sh(&s, r#"test -x "$1/deploy.sh""#, &[&dir], shell::QUICK).await?;
                if !has.status.success() {
                    return Err(StepError(format!(
                        "{c}: no {dir}/deploy.sh: copy the stack's deploy.sh there (from its checkout), then run the failover again"
                    )));
                }
            }
        }
        Ok(format!("written: {}", said.join(", ")))
    }

    /// `script` from `from`'s deploy dir to `to`'s, unless `to` has it.
    pub(crate) async fn copy_script(
        &mut self,
        from: &str,
        to: &str,
        script: &str,
    ) -> Result<(), StepError> {
        let to_path = format!("{}/{script}", self.host(to)?.deploy_dir);
        let to_s = self.session(to).await?;
        let has = sh(&to_s, r#"test -x "$1""#, &[&to_path], shell::QUICK).await?;
        if has.status.success() {
            return Ok(());
        }
        let from_path = format!("{}/{script}", self.host(from)?.deploy_dir);
        let from_s = self.session(from).await?;
        let text = sh_ok(&from_s, r#"cat -- "$1""#, &[&from_path], shell::QUICK).await?;
        let mut input = text.as_bytes();
        let out = shell::sh_with_input(
            &to_s,
            r#"set -e; cat > "$1.tmp"; chmod 755 "$1.tmp"; mv -f "$1.tmp" "$1""#,
            &[&to_path],
            &mut input,
            shell::QUICK,
        )
        .await?;
        if !out.status.success() {
            return Err(StepError(format!(
                "{to}: writing {to_path}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        step(&self.progress, format!("{to}: {script} copied from {from}"));
        Ok(())
    }

    async fn repoint(&mut self) -> Result<String, StepError> {
        let (m, c) = (self.roles.old_master.clone(), self.roles.candidate.clone());
        for o in self.roles.others.clone() {
            self.job(
                &o,
                Role::Slave,
                vec!["./deploy_slave.sh".into()],
                COMPOSE_IDLE,
            )
            .await?;
        }
        let mut followers = self.roles.others.clone();
        if self.kind == Kind::Switchover {
            // The old master's app starts again as a slave's: its writes are
            // a slave's, as on every other slave (its port and role say so).
            let user = self.env(&m, Role::Master).await?.app_user();
            self.redeploy_as_slave(&m, &user).await?;
            followers.push(m.clone());
        }
        if followers.is_empty() {
            return Ok("no other slave to re-point".into());
        }
        for f in &followers {
            self.validated(f, &c).await?;
        }
        Ok(format!("{} replicate from {c}", followers.join(", ")))
    }

    /// `x` deployed as a slave with its data kept (no copy), its app
    /// role's fence (if any) lifted first.
    pub(crate) async fn redeploy_as_slave(
        &mut self,
        x: &str,
        app_user: &str,
    ) -> Result<(), StepError> {
        let db = self.ctx.config.database.name.clone();
        let pg = self.archive(x).await?;
        pg.execute_batch(&sql::read_only(app_user, &db, false))
            .await?;
        let argv = ["./deploy_slave.sh", "--allow-data", "--role-change"];
        self.job(
            x,
            Role::Slave,
            argv.map(String::from).to_vec(),
            COMPOSE_IDLE,
        )
        .await
    }

    /// Postcondition of a registration: `f`'s sync has its delta tables
    /// and triggers on `master`, so its writes reach `f` from now on.
    pub(crate) async fn validated(&mut self, f: &str, master: &str) -> Result<(), StepError> {
        let m = self.archive(master).await?;
        let hb = self.ctx.config.database.heartbeat_table.clone();
        let sync = format!("archive_{f}");
        if bucardo::pending(&m, &sync, &format!("{f}_grp"), &hb)
            .await?
            .is_none()
        {
            return Err(StepError(format!(
                "{f}: sync {sync} has not validated against {master} (docker compose logs bucardo on {f})"
            )));
        }
        Ok(())
    }

    async fn promote(&mut self, journal: &mut Journal) -> Result<String, StepError> {
        let c = self.roles.candidate.clone();
        let argv = vec!["./deploy.sh".into(), "--role-change".into()];
        self.job(&c, Role::Master, argv, COMPOSE_IDLE).await?;
        if journal.writable_at_ms.is_none() {
            journal.writable_at_ms = Some(chrono::Utc::now().timestamp_millis());
        }
        // Postcondition: the new master writes its own heartbeat.
        let addr = self
            .env(&c, Role::Master)
            .await?
            .address()
            .unwrap_or_default();
        let pg = self.archive(&c).await?;
        let hb = self.ctx.config.database.heartbeat_table.clone();
        let start = Instant::now();
        loop {
            if let Some((host, age)) = sql::heartbeat_by(&pg, &hb).await? {
                if host == addr && age < 30.0 {
                    break;
                }
                if start.elapsed() > Duration::from_secs(60) {
                    return Err(StepError(format!(
                        "{c}: the heartbeat is {age:.0} s old, written by {host}, not by {c} ({addr})"
                    )));
                }
            } else if start.elapsed() > Duration::from_secs(60) {
                return Err(StepError(format!("{c}: no heartbeat row")));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(format!("{c} is the master: healthy, writing its heartbeat"))
    }
}

/// Writes `text` to `path` on the host: mode 0600, through a temporary
/// file, keeping a copy of the file it replaces (once) as
/// `<file>.before-switchover`.
pub(crate) async fn write_file(s: &openssh::Session, path: &str, text: &str) -> Result<(), String> {
    const WRITE: &str = r#"set -e; f="$1"; umask 077
if [ -e "$f" ] && [ ! -e "$f.before-switchover" ]; then cp -p -- "$f" "$f.before-switchover"; fi
cat > "$f.tmp"; chmod 600 "$f.tmp"; mv -f -- "$f.tmp" "$f"; sha256sum -- "$f""#;
    let mut input = text.as_bytes();
    let out = shell::sh_with_input(s, WRITE, &[path], &mut input, shell::QUICK)
        .await
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "writing {path}: {}",
            crate::actions::clean(String::from_utf8_lossy(&out.stderr).trim())
        ));
    }
    // Postcondition: the file holds exactly the text.
    let got = String::from_utf8_lossy(&out.stdout);
    let want = sha256_hex(text.as_bytes());
    if got.split_whitespace().next() != Some(want.as_str()) {
        return Err(format!("{path}: its content differs from what was written"));
    }
    Ok(())
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}
