//! `archtui check` against the local fleet lab: every layer passes on a
//! healthy lab, and each broken layer gets one clear error with its fix.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn archtui(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(args)
        .env("ARCHTUI_CONFIG", config)
        .envs(env.iter().copied())
        .output()
        .expect("run archtui")
}

/// A private copy of the lab config with `edit` applied.
fn variant(lab: &common::Lab, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("archtui-check-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(lab.config()).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, edit(text)).unwrap();
    p
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn check_passes_on_the_lab() {
    let Some(lab) = common::lab("check_passes_on_the_lab") else {
        return;
    };
    let o = archtui(&lab.config(), &["check"], &[]);
    let text = common::all_text(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    // Every host: ssh, docker, postgres; the master its registry; the
    // slave its own daemon and the heartbeat replicated to it.
    for layer in [
        "ssh",
        "docker",
        "postgres",
        "registry",
        "bucardo",
        "heartbeat",
    ] {
        assert!(
            text.contains(&format!("  {layer:<9} ok")),
            "{layer} not ok:\n{text}"
        );
    }
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn malformed_config_names_the_line() {
    let Some(lab) = common::lab("malformed_config_names_the_line") else {
        return;
    };
    let p = variant(&lab, "typo.toml", |t| {
        t.replacen("connect_timeout_secs", "conect_timeout_secs", 1)
    });
    for cmd in ["check", "status"] {
        let o = archtui(&p, &[cmd], &[]);
        let text = common::all_text(&o);
        assert_eq!(o.status.code(), Some(3), "{text}");
        assert!(
            text.contains("typo.toml:") && text.contains("conect_timeout_secs"),
            "{text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn unknown_host_key_gives_fingerprint_and_command() {
    let Some(lab) = common::lab("unknown_host_key_gives_fingerprint_and_command") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("archtui-check-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let ssh_config = std::fs::read_to_string(lab.state.join("ssh_config")).unwrap();
    let known = lab.state.join("known_hosts");
    let ssh_copy = dir.join("ssh_config");
    std::fs::write(
        &ssh_copy,
        ssh_config.replace(known.to_str().unwrap(), empty.to_str().unwrap()),
    )
    .unwrap();
    let orig = lab.state.join("ssh_config");
    let p = variant(&lab, "nokey.toml", |t| {
        t.replace(orig.to_str().unwrap(), ssh_copy.to_str().unwrap())
    });
    let o = archtui(&p, &["check"], &[]);
    let text = common::all_text(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("host_key_unknown"), "{text}");
    assert!(text.contains("SHA256:"), "no fingerprint:\n{text}");
    // Never a blind `ssh-keyscan >> known_hosts`: compare, then trust
    // exactly the fingerprint shown.
    assert!(!text.contains("ssh-keyscan"), "{text}");
    assert!(text.contains("compare it out of band"), "{text}");
    let fp = text
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:") && w.len() > 20)
        .expect("a fingerprint");
    assert!(
        text.contains(&format!("archtui trust-host-key cavaforgepad {fp}")),
        "{text}"
    );

    let o = archtui(&p, &["status", "--json"], &[]);
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("status --json prints JSON");
    assert_eq!(v["hosts"][0]["state"], "host_key_unknown", "{v}");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn wrong_password_is_named_and_never_printed() {
    let Some(lab) = common::lab("wrong_password_is_named_and_never_printed") else {
        return;
    };
    let secret = "Wr0ngPassw0rd-do-not-print";
    let p = variant(&lab, "badpw.toml", |t| {
        t.lines()
            .map(|l| {
                if l.starts_with("password_file") {
                    "password_env = \"ARCHTUI_TEST_PW\""
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    for args in [&["check"][..], &["status"][..], &["status", "--json"][..]] {
        let o = archtui(&p, args, &[("ARCHTUI_TEST_PW", secret)]);
        let text = common::all_text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {text}");
        assert!(
            text.contains("password authentication failed"),
            "{args:?}: {text}"
        );
        assert!(
            !text.contains(secret),
            "{args:?} printed the password:\n{text}"
        );
    }
    let text = common::all_text(&archtui(&p, &["check"], &[("ARCHTUI_TEST_PW", secret)]));
    assert!(
        text.contains("ARCHTUI_TEST_PW"),
        "the fix names the variable:\n{text}"
    );
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn database_without_bucardo_schema() {
    let Some(lab) = common::lab("database_without_bucardo_schema") else {
        return;
    };
    let p = variant(&lab, "noschema.toml", |t| {
        t.replace("bucardo_db = \"bucardo\"", "bucardo_db = \"postgres\"")
    });
    let o = archtui(&p, &["check"], &[]);
    let text = common::all_text(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("has no Bucardo schema"), "{text}");
    let o = archtui(&p, &["status", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["daemons"][0]["error"]
            .as_str()
            .unwrap()
            .contains("has no Bucardo schema"),
        "{v}"
    );
    assert_eq!(o.status.code(), Some(2));
}
