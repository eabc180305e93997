//! Hostile input and hostile hosts against the lab (issue 12): each test is
//! written to fail on the code before the fix. Run with the lab up and
//! ARCHTUI_LAB=1 (README); every test puts back what it changed.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::{all_text, lab, restore, Lab};

const MASTER: &str = "cavaforgepad";
const SLAVE: &str = "jukebox";
const NEW: &str = "turntable";

/// A private scratch dir: copies of the lab's config (edited), ssh config
/// and state, removed on drop.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new(what: &str) -> Scratch {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let root = std::env::temp_dir().join(format!(
            "archtui-hostile-{what}-{}-{}",
            std::process::id(),
            t.as_millis()
        ));
        std::fs::create_dir_all(root.join("state")).unwrap();
        Scratch { root }
    }

    /// The lab's config with `edit` applied, as `name` in the scratch dir.
    fn config(&self, lab: &Lab, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
        let p = self.root.join(name);
        let text = std::fs::read_to_string(lab.config()).unwrap();
        std::fs::write(&p, edit(text)).unwrap();
        p
    }

    fn archtui(&self, config: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_archtui"))
            .args(args)
            .env("ARCHTUI_CONFIG", config)
            .env("XDG_STATE_HOME", self.root.join("state"))
            .stdin(Stdio::null())
            .output()
            .expect("run archtui")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn lab_password(lab: &Lab, name: &str) -> String {
    std::fs::read_to_string(lab.state.join("secrets").join(name))
        .unwrap()
        .trim()
        .to_string()
}

fn no_panic(text: &str) {
    assert!(
        !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
        "{text}"
    );
}

/// Item 1: a heartbeat table whose newest value the client cannot decode
/// (timestamptz 'infinity' does not fit chrono) made `status` panic (exit
/// 101). Now that host is database_unavailable with an error naming the
/// table and column, and the rest of the fleet is still read.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn an_undecodable_value_is_a_named_error_not_a_panic() {
    let Some(lab) = lab("an_undecodable_value_is_a_named_error_not_a_panic") else {
        return;
    };
    lab.psql(
        SLAVE,
        "DROP TABLE IF EXISTS public.hostile_hb; CREATE TABLE public.hostile_hb (t timestamptz); \
         INSERT INTO public.hostile_hb VALUES ('infinity')",
    );
    let _undo = restore(|| {
        let _ = lab.try_psql(
            SLAVE,
            common::ARCHIVE_DB,
            "DROP TABLE IF EXISTS public.hostile_hb",
        );
    });
    let s = Scratch::new("decode");
    let config = s.config(&lab, "decode.toml", |t| {
        t.replace(
            "[database]\n",
            "[database]\nheartbeat_table = \"public.hostile_hb\"\n",
        )
    });
    for args in [&["status", "--json"][..], &["status"], &["check"]] {
        let o = s.archtui(&config, args);
        let text = all_text(&o);
        no_panic(&text);
        assert_ne!(o.status.code(), Some(101), "{args:?}: {text}");
        assert!(text.contains("hostile_hb"), "{args:?}: {text}");
    }
    let o = s.archtui(&config, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let juke = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == SLAVE)
        .unwrap();
    assert_eq!(juke["state"], "database_unavailable", "{v}");
    let err = juke["error"].as_str().unwrap();
    assert!(err.contains("column"), "{err}");
    let master = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == MASTER)
        .unwrap();
    assert_eq!(master["state"], "up", "the master is still read: {v}");
}

/// Item 2: a container of the project whose service label carries escape
/// sequences. `status` printed them raw; now the table holds the name's
/// text and no ESC, no CSI/OSC residue, no C1.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn escape_sequences_in_labels_never_reach_the_terminal() {
    let Some(lab) = lab("escape_sequences_in_labels_never_reach_the_terminal") else {
        return;
    };
    let name = "hostile-escapes";
    lab.sh_ok(
        SLAVE,
        &format!(
            "docker rm -f {name} >/dev/null 2>&1; docker run -d --name {name} \
             --label com.docker.compose.project=archive \
             --label \"com.docker.compose.service=$(printf 'evil\\033[2J\\033]0;TITLE\\007\\302\\233\\342\\200\\256x')\" \
             debian:bookworm-slim sleep 600"
        ),
    );
    let _undo = restore(|| {
        let _ = lab.sh(SLAVE, &format!("docker rm -f {name}"));
    });
    let s = Scratch::new("labels");
    let config = s.config(&lab, "labels.toml", |t| t);
    let o = s.archtui(&config, &["status"]);
    let text = all_text(&o);
    no_panic(&text);
    assert!(text.contains("evilx"), "the label's text is shown: {text}");
    for residue in ["\x1b", "[2J", "]0;", "TITLE", "\u{9b}", "\u{202e}", "\x07"] {
        assert!(
            !text.contains(residue),
            "{residue:?} reached the terminal:\n{text:?}"
        );
    }
    // --json keeps the data for a parser but nothing a terminal acts on.
    let o = s.archtui(&config, &["status", "--json"]);
    let raw = String::from_utf8_lossy(&o.stdout);
    assert!(
        !raw.contains('\u{9b}') && !raw.contains('\u{202e}'),
        "{raw:?}"
    );
    let v: serde_json::Value = serde_json::from_str(&raw).expect("JSON");
    assert!(v.to_string().contains("evil"), "{v}");
}

/// Item 3: `strict_host_key_checking = false` with jukebox's key changed
/// in known_hosts. It meant StrictHostKeyChecking=no and connected; now a
/// changed key is refused, with the known and the offered fingerprints,
/// and known_hosts is left as it was.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn a_changed_host_key_is_refused_even_when_not_strict() {
    let Some(lab) = lab("a_changed_host_key_is_refused_even_when_not_strict") else {
        return;
    };
    let s = Scratch::new("hostkey");
    let fake = s.root.join("fake_key");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&fake)
        .status()
        .unwrap();
    assert!(ok.success());
    let fake_pub = std::fs::read_to_string(fake.with_extension("pub")).unwrap();
    let fake_key: Vec<&str> = fake_pub.split_whitespace().take(2).collect();
    let lab_known = std::fs::read_to_string(lab.state.join("known_hosts")).unwrap();
    let real_line = lab_known
        .lines()
        .find(|l| l.starts_with("jukebox,"))
        .expect("jukebox in the lab's known_hosts")
        .to_string();
    let known = s.root.join("known_hosts");
    let changed = lab_known.replace(
        &real_line,
        &format!("jukebox,10.77.0.2 {}", fake_key.join(" ")),
    );
    std::fs::write(&known, &changed).unwrap();
    let fp = |text: &str| -> String {
        let mut c = Command::new("ssh-keygen")
            .args(["-lf", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).to_string();
        out.split_whitespace()
            .find(|w| w.starts_with("SHA256:"))
            .unwrap()
            .to_string()
    };
    let fake_fp = fp(&format!("x {}\n", fake_key.join(" ")));
    let real_fp = fp(&format!("{real_line}\n"));
    let ssh_config = s.root.join("ssh_config");
    let lab_ssh = std::fs::read_to_string(lab.state.join("ssh_config")).unwrap();
    std::fs::write(
        &ssh_config,
        lab_ssh
            .replace(
                &lab.state.join("known_hosts").display().to_string(),
                &known.display().to_string(),
            )
            .replace("StrictHostKeyChecking yes", "StrictHostKeyChecking no"),
    )
    .unwrap();
    let lab_ssh_path = lab.state.join("ssh_config").display().to_string();
    let config = s.config(&lab, "loose.toml", |t| {
        t.replace(&lab_ssh_path, &ssh_config.display().to_string())
            .replace(
                "strict_host_key_checking = true",
                "strict_host_key_checking = false",
            )
    });
    let o = s.archtui(&config, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let juke = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == SLAVE)
        .unwrap();
    assert_eq!(juke["state"], "host_key_changed", "{v}");
    let err = juke["error"].as_str().unwrap();
    assert!(err.contains(&fake_fp), "the known fingerprint: {err}");
    assert!(err.contains(&real_fp), "the offered fingerprint: {err}");
    assert_eq!(
        std::fs::read_to_string(&known).unwrap(),
        changed,
        "known_hosts untouched"
    );
    let o = s.archtui(&config, &["check"]);
    let text = all_text(&o);
    assert!(text.contains("host_key_changed"), "{text}");
    assert!(text.contains(&fake_fp) && text.contains(&real_fp), "{text}");
    assert!(!text.contains("ssh-keyscan"), "{text}");
}

/// Item 4: a secret's value inside a variable not named like a secret
/// (DATABASE_URL) showed in a deploy's plan. Now the value of every
/// secret variable is redacted wherever it appears: plan, audit line.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn secret_values_are_redacted_wherever_they_appear() {
    let Some(lab) = lab("secret_values_are_redacted_wherever_they_appear") else {
        return;
    };
    let s = Scratch::new("redact");
    let from = s.root.join("from");
    std::fs::create_dir_all(&from).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ok = Command::new("cp")
        .arg("-a")
        .args(
            [
                "docker-compose.yml",
                ".env",
                "env.slave",
                "deploy.sh",
                "deploy_slave.sh",
                "assets",
            ]
            .map(|f| repo.join(f)),
        )
        .arg(&from)
        .status()
        .unwrap();
    assert!(ok.success());
    let pw = lab_password(&lab, "archive_db_password");
    let env_common = lab.sh_ok(SLAVE, "cat /srv/archive/env.common");
    std::fs::write(
        from.join("env.common"),
        format!(
            "{env_common}\nexport DATABASE_URL=postgres://archive:{pw}@db/archive_production\n"
        ),
    )
    .unwrap();
    let config = s.config(&lab, "redact.toml", |t| t);
    let o = s.archtui(
        &config,
        &["deploy", SLAVE, "--plan", "--from", from.to_str().unwrap()],
    );
    let text = all_text(&o);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("DATABASE_URL=postgres://archive:<redacted>@db"),
        "{text}"
    );
    assert!(!text.contains(&pw), "the password is shown:\n{text}");
    let audit = std::fs::read_to_string(s.root.join("state/archtui/audit.log")).unwrap();
    assert!(!audit.contains(&pw), "{audit}");
}

/// The new host's checkout for a provision, from the master's env.common
/// with `edit` applied.
fn checkout(lab: &Lab, s: &Scratch, edit: impl Fn(String) -> String) -> PathBuf {
    let from = s.root.join("from");
    std::fs::create_dir_all(&from).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ok = Command::new("cp")
        .arg("-a")
        .args(
            [
                "docker-compose.yml",
                ".env",
                "env.slave",
                "deploy.sh",
                "deploy_slave.sh",
                "assets",
            ]
            .map(|f| repo.join(f)),
        )
        .arg(&from)
        .status()
        .unwrap();
    assert!(ok.success());
    let env_common = lab.sh_ok(MASTER, "cat /srv/archive/env.common");
    std::fs::write(from.join("env.common"), edit(env_common) + "\n").unwrap();
    from
}

fn registered(lab: &Lab) -> String {
    lab.registered(NEW)
}

/// Item 9: a checkout whose BUCARDO_PASSWORD differs from the fleet's.
/// Pre-flight passed it and the new slave's bucardo container then
/// failed for minutes; now pre-flight logs in to the master from the new
/// host with that password, is refused, compares env.common with the
/// master's, and refuses before any change, with no secret shown.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn a_password_that_differs_from_the_fleets_is_refused_in_preflight() {
    let Some(lab) = lab("a_password_that_differs_from_the_fleets_is_refused_in_preflight") else {
        return;
    };
    let s = Scratch::new("fleetpw");
    let real = lab_password(&lab, "bucardo_password");
    let wrong = "Hostile-Wrong-Passw0rd";
    let from = checkout(&lab, &s, |t| t.replace(&real, wrong));
    let config = s.config(&lab, "config.toml", |t| t);
    let before = registered(&lab);
    let o = s.archtui(
        &config,
        &[
            "provision",
            NEW,
            "--check",
            "--from",
            from.to_str().unwrap(),
        ],
    );
    let text = all_text(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("FAIL master login"), "{text}");
    assert!(text.contains("refused user bucardo"), "{text}");
    assert!(text.contains("FAIL fleet's env.common"), "{text}");
    assert!(
        text.contains("BUCARDO_PASSWORD: <redacted> (changed)"),
        "{text}"
    );
    assert!(
        !text.contains(wrong) && !text.contains(&real),
        "a password is shown:\n{text}"
    );
    assert_eq!(registered(&lab), before, "nothing changed on the master");
    assert!(
        !s.root
            .join("state/archtui/provision")
            .join(format!("{NEW}.json"))
            .exists(),
        "no journal: nothing was started"
    );
}

/// Item 9: the shipped placeholder passwords in the env.common about to be
/// uploaded are refused by name, before anything is touched.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn placeholder_passwords_are_refused_by_name() {
    let Some(lab) = lab("placeholder_passwords_are_refused_by_name") else {
        return;
    };
    let s = Scratch::new("placeholder");
    let real = lab_password(&lab, "bucardo_password");
    let from = checkout(&lab, &s, |t| t.replace(&real, "bucardo_change_me"));
    let config = s.config(&lab, "config.toml", |t| t);
    let o = s.archtui(
        &config,
        &[
            "provision",
            NEW,
            "--check",
            "--from",
            from.to_str().unwrap(),
        ],
    );
    let text = all_text(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("FAIL env.common secrets"))
        .unwrap_or_else(|| panic!("no placeholder check:\n{text}"));
    assert!(line.contains("BUCARDO_PASSWORD"), "{line}");
    assert!(text.contains("fix: set BUCARDO_PASSWORD"), "{text}");
}

/// Item 7: a dockerd stopped with SIGSTOP on the new host while pre-flight
/// probes it. The probe's docker calls are bounded (5 s each): pre-flight
/// names the engine as not answering, refuses, and changes nothing.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn a_stopped_dockerd_during_preflight_is_named_and_bounded() {
    let Some(lab) = lab("a_stopped_dockerd_during_preflight_is_named_and_bounded") else {
        return;
    };
    let s = Scratch::new("stopped");
    let from = checkout(&lab, &s, |t| t);
    let config = s.config(&lab, "config.toml", |t| t);
    let before = registered(&lab);
    let dockerd = lab.sh_ok(NEW, "cat /run/docker.pid");
    let cont = format!("kill -CONT {dockerd}");
    let _cont = restore(|| {
        let _ = lab.sh(NEW, &cont);
    });
    lab.sh_ok(NEW, &format!("kill -STOP {dockerd}"));
    let start = std::time::Instant::now();
    let o = s.archtui(
        &config,
        &[
            "provision",
            NEW,
            "--check",
            "--from",
            from.to_str().unwrap(),
        ],
    );
    let took = start.elapsed();
    lab.sh_ok(NEW, &cont);
    let text = all_text(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("FAIL docker engine"), "{text}");
    assert!(text.contains("did not answer"), "{text}");
    assert!(
        took < std::time::Duration::from_secs(60),
        "pre-flight took {took:?} against a stopped dockerd"
    );
    eprintln!("figure: pre-flight against a SIGSTOPped dockerd refused after {took:?}");
    assert_eq!(registered(&lab), before, "nothing changed on the master");
}
