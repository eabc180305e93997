use std::collections::BTreeMap;

use super::*;
use crate::envfile::parse_env;
use crate::wizard::checks::{Check, Verdict};

fn roles() -> Roles {
    Roles {
        old_master: "cavaforgepad".into(),
        candidate: "jukebox".into(),
        others: vec!["turntable".into()],
        left_behind: Vec::new(),
    }
}

fn envs() -> BTreeMap<String, HostEnv> {
    let common =
        "export DB_PORT=5432\nexport ARCHIVE_DB_USER=archive\nexport BUCARDO_PASSWORD=s3cret\n";
    let mut m = BTreeMap::new();
    m.insert(
        "cavaforgepad".into(),
        HostEnv {
            deploy_dir: "/srv/archive".into(),
            role_env: "export ARCHIVE_ROLE=master\nexport APP_HOST=10.77.0.1\nexport BUCARDO_SYNC_DIRECTION=master_to_slaves\nexport APP_PORT=80\n".into(),
            common: common.into(),
        },
    );
    for (n, a) in [("jukebox", "10.77.0.2"), ("turntable", "10.77.0.3")] {
        m.insert(
            n.into(),
            HostEnv {
                deploy_dir: "/srv/archive".into(),
                role_env: format!("export ARCHIVE_ROLE=slave\nexport APP_HOST={a}\nexport BUCARDO_SYNC_DIRECTION=slave_from_master\nexport MASTER_DB_HOST=10.77.0.1\nexport MASTER_DB_PORT=5432\nexport APP_PORT=3000\nexport SLAVE_NAME={n}\n"),
                common: common.into(),
            },
        );
    }
    m
}

#[test]
fn env_files_swap_roles_and_point_at_the_candidate() {
    let n = new_env(&roles(), &envs()).unwrap();
    let get = |h: &str, f: &str| {
        let (_, t) = n.files[h].iter().find(|(name, _)| name == f).unwrap();
        parse_env(t)
    };
    let j = get("jukebox", "env.master");
    assert_eq!(j["ARCHIVE_ROLE"], "master");
    assert_eq!(j["APP_HOST"], "10.77.0.2");
    assert_eq!(j["APP_PORT"], "80");
    let m = get("cavaforgepad", "env.slave");
    assert_eq!(m["ARCHIVE_ROLE"], "slave");
    assert_eq!(m["APP_HOST"], "10.77.0.1");
    assert_eq!(m["MASTER_DB_HOST"], "10.77.0.2");
    assert_eq!(m["SLAVE_NAME"], "cavaforgepad");
    let t = get("turntable", "env.slave");
    assert_eq!(t["MASTER_DB_HOST"], "10.77.0.2");
    assert_eq!(t["APP_HOST"], "10.77.0.3");
    assert_eq!(t["SLAVE_NAME"], "turntable");
    // Nothing else is written: the replaced files stay for the way back.
    assert_eq!(n.files.values().map(Vec::len).sum::<usize>(), 3);
}

#[test]
fn a_host_without_an_address_is_named() {
    let mut e = envs();
    e.get_mut("jukebox").unwrap().role_env = "export ARCHIVE_ROLE=slave\n".into();
    let err = new_env(&roles(), &e).unwrap_err();
    assert!(
        err.to_string()
            .contains("jukebox's env files have no APP_HOST"),
        "{err}"
    );
}

#[test]
fn the_plan_names_every_host_and_no_secret() {
    let p = plan(Kind::Switchover, &roles(), &envs()).join("\n");
    for h in [
        "cavaforgepad",
        "jukebox",
        "turntable",
        "10.77.0.2",
        "deploy.sh",
        "env.master",
    ] {
        assert!(p.contains(h), "{h} missing from\n{p}");
    }
    assert!(!p.contains("s3cret"));
    assert_eq!(p.matches("/10] ").count(), 10, "{p}");
}

fn good() -> Facts {
    let mut migrations = BTreeMap::new();
    for h in ["cavaforgepad", "jukebox", "turntable"] {
        migrations.insert(h.to_string(), Ok("3 (001..003)".to_string()));
    }
    Facts {
        master_down: None,
        candidate_down: None,
        candidate_unhealthy: vec![],
        heartbeat_age: Ok(2.0),
        pending: Ok(0),
        sync_state: Ok("active".into()),
        migrations,
        verify: Ok("4 tables equal".into()),
        unreachable: vec![],
    }
}

#[test]
fn every_check_passes_on_a_healthy_fleet() {
    let c = checks(&roles(), &good(), 30.0);
    assert_eq!(c.len(), 7);
    assert!(all_pass(&c), "{c:?}");
}

#[test]
fn each_fault_fails_its_own_check_with_a_reason() {
    type Fault = Box<dyn Fn(&mut Facts)>;
    let cases: Vec<(&str, Fault)> = vec![
        (
            "master up",
            Box::new(|f| f.master_down = Some("ssh: timeout".into())),
        ),
        (
            "candidate up",
            Box::new(|f| f.candidate_down = Some("ssh: timeout".into())),
        ),
        (
            "candidate up",
            Box::new(|f| f.candidate_unhealthy = vec!["bucardo unhealthy".into()]),
        ),
        ("heartbeat fresh", Box::new(|f| f.heartbeat_age = Ok(90.0))),
        (
            "heartbeat fresh",
            Box::new(|f| f.heartbeat_age = Err("no heartbeat table".into())),
        ),
        ("nothing pending", Box::new(|f| f.pending = Ok(12))),
        (
            "nothing pending",
            Box::new(|f| f.sync_state = Ok("paused".into())),
        ),
        (
            "same migrations",
            Box::new(|f| {
                f.migrations
                    .insert("turntable".into(), Ok("2 (001..002)".into()));
            }),
        ),
        (
            "verify",
            Box::new(|f| f.verify = Err("1 table differs".into())),
        ),
        (
            "other slaves reachable",
            Box::new(|f| f.unreachable = vec![("turntable".into(), "timeout".into())]),
        ),
    ];
    for (what, fault) in cases {
        let mut f = good();
        fault(&mut f);
        let c = checks(&roles(), &f, 30.0);
        assert!(!all_pass(&c));
        let failed: Vec<&Check> = c.iter().filter(|c| c.verdict != Verdict::Pass).collect();
        assert_eq!(failed.len(), 1, "{what}: {failed:?}");
        assert_eq!(failed[0].what, what);
        assert!(failed[0].fix.is_some() && !failed[0].detail.is_empty());
    }
}

#[test]
fn the_journal_resumes_at_the_first_step_not_done() {
    let mut j = Journal::new(roles(), "2026-12-01T00:00:00Z".into());
    assert_eq!(j.next(), Some(Step::Fence));
    j.mark(Step::Fence);
    j.mark(Step::Drain);
    j.mark(Step::Drain);
    assert_eq!(j.done.len(), 2);
    assert_eq!(j.next(), Some(Step::PrepareCandidate));
    let text = serde_json::to_string(&j).unwrap();
    assert!(text.contains("\"prepare-candidate\"") || text.contains("\"fence\""));
    let back: Journal = serde_json::from_str(&text).unwrap();
    assert_eq!(back, j);
    j.fenced_at_ms = Some(1_000);
    j.writable_at_ms = Some(31_500);
    assert_eq!(j.refused_secs(), Some(30.5));
    let f = finding(&j);
    assert_eq!(
        f.level,
        crate::verdict::Level::Warning,
        "writable again: {f:?}"
    );
    j.writable_at_ms = None;
    let f = finding(&j);
    assert_eq!(f.level, crate::verdict::Level::Critical);
    assert!(
        f.message.contains("switchover in progress") && f.message.contains("writes are refused"),
        "{f:?}"
    );
    assert!(f
        .message
        .contains("`archtui switchover jukebox` resumes it"));
    for s in Step::ALL {
        j.mark(s);
    }
    assert_eq!(j.next(), None);
}

fn slave(name: &str, age: Result<f64, String>, down: Option<&str>) -> SlaveFacts {
    SlaveFacts {
        name: name.into(),
        down: down.map(String::from),
        unhealthy: Vec::new(),
        heartbeat_age: age,
    }
}

fn failover_facts() -> FailoverFacts {
    let mut migrations = BTreeMap::new();
    migrations.insert("jukebox".to_string(), Ok("3 a..c md5 x".to_string()));
    migrations.insert("turntable".to_string(), Ok("3 a..c md5 x".to_string()));
    FailoverFacts {
        master_down: Some("ssh: connection timed out".into()),
        slaves: vec![
            slave("jukebox", Ok(4.0), None),
            slave("turntable", Ok(40.0), None),
        ],
        migrations,
    }
}

fn verdicts(c: &[Check]) -> Vec<(&str, Verdict)> {
    c.iter().map(|c| (c.what.as_str(), c.verdict)).collect()
}

#[test]
fn failover_ranks_by_heartbeat_and_names_the_bound() {
    let f = failover_facts();
    assert_eq!(rank(&f), vec![("jukebox", 4.0), ("turntable", 40.0)]);
    let c = failover_checks(&roles(), &f, 5.0);
    assert!(all_pass(&c), "{:?}", verdicts(&c));
    let fresh = c.iter().find(|c| c.what == "freshest heartbeat").unwrap();
    assert!(
        fresh.detail.contains("last 4 s may be missing"),
        "{}",
        fresh.detail
    );
}

#[test]
fn failover_to_a_staler_slave_is_refused_naming_the_fresher() {
    let mut r = roles();
    r.candidate = "turntable".into();
    r.others = vec!["jukebox".into()];
    let c = failover_checks(&r, &failover_facts(), 5.0);
    let fresh = c.iter().find(|c| c.what == "freshest heartbeat").unwrap();
    assert_eq!(fresh.verdict, Verdict::Fail);
    assert!(fresh
        .fix
        .as_deref()
        .unwrap()
        .contains("archtui failover jukebox"));
}

#[test]
fn failover_is_refused_while_the_master_answers() {
    let mut f = failover_facts();
    f.master_down = None;
    let c = failover_checks(&roles(), &f, 5.0);
    let m = c.iter().find(|c| c.what == "master unreachable").unwrap();
    assert_eq!(m.verdict, Verdict::Fail);
    assert!(m
        .fix
        .as_deref()
        .unwrap()
        .contains("archtui switchover jukebox"));
}

#[test]
fn an_unreachable_other_slave_is_listed_not_refused() {
    let mut f = failover_facts();
    f.slaves[1] = slave(
        "turntable",
        Err("down".into()),
        Some("ssh: no route to host"),
    );
    f.migrations.remove("turntable");
    let c = failover_checks(&roles(), &f, 5.0);
    assert!(all_pass(&c), "{:?}", verdicts(&c));
    let o = c.iter().find(|c| c.what == "other slaves").unwrap();
    assert!(
        o.detail.contains("turntable (ssh: no route to host)"),
        "{}",
        o.detail
    );
    assert!(o.detail.contains("archtui rejoin"), "{}", o.detail);
    // An unknown heartbeat on the candidate bounds nothing: refused.
    f.slaves[0].heartbeat_age = Err("no heartbeat row".into());
    assert!(!all_pass(&failover_checks(&roles(), &f, 5.0)));
}

#[test]
fn failover_env_makes_the_candidate_a_master_of_its_own_address() {
    let n = failover_env(&roles(), &envs(), None).unwrap();
    assert!(
        !n.files.contains_key("cavaforgepad"),
        "the lost master is not written"
    );
    let (_, t) = &n.files["jukebox"][0];
    let j = parse_env(t);
    assert_eq!(j["ARCHIVE_ROLE"], "master");
    assert_eq!(j["BUCARDO_SYNC_DIRECTION"], "master_to_slaves");
    assert_eq!(j["APP_HOST"], "10.77.0.2");
    assert!(!j.contains_key("MASTER_DB_HOST") && !j.contains_key("SLAVE_NAME"));
    let (_, t) = &n.files["turntable"][0];
    assert_eq!(parse_env(t)["MASTER_DB_HOST"], "10.77.0.2");
    // The candidate's own env.master (the stack's template) is preferred.
    let tpl = "export ARCHIVE_ROLE=master\nexport APP_HOST=192.168.1.200\nexport APP_PORT=80\n";
    let n = failover_env(&roles(), &envs(), Some(tpl)).unwrap();
    let j = parse_env(&n.files["jukebox"][0].1);
    assert_eq!(
        (j["APP_HOST"].as_str(), j["APP_PORT"].as_str()),
        ("10.77.0.2", "80")
    );
}

#[test]
fn rejoin_env_points_the_host_at_the_new_master() {
    let src = &envs()["jukebox"].role_env;
    let t = parse_env(&rejoin_env(
        src,
        "cavaforgepad",
        "10.77.0.1",
        "10.77.0.2",
        "5432",
    ));
    assert_eq!(t["APP_HOST"], "10.77.0.1");
    assert_eq!(t["MASTER_DB_HOST"], "10.77.0.2");
    assert_eq!(t["SLAVE_NAME"], "cavaforgepad");
    assert_eq!(t["ARCHIVE_ROLE"], "slave");
}

#[test]
fn the_failover_plan_never_touches_the_lost_master() {
    let mut r = roles();
    r.left_behind = vec!["turntable".into()];
    r.others.clear();
    let p = plan(Kind::Failover, &r, &envs());
    let text = p.join("\n");
    assert!(
        p[0].contains("cavaforgepad is lost and stays fenced"),
        "{}",
        p[0]
    );
    assert!(p[0].contains("left as they are: turntable"), "{}", p[0]);
    assert!(text.contains("[1/9] mark the lost master fenced"), "{text}");
    assert!(!text.contains("cavaforgepad: docker compose"), "{text}");
    assert!(!text.contains("cavaforgepad: write"), "{text}");
    assert!(text.contains(&format!("+ {SEQUENCE_GAP}")), "{text}");
    assert!(!text.contains("s3cret"));
}

#[test]
fn a_journal_without_a_kind_is_a_switchover_and_failovers_skip_the_fence() {
    let old = r#"{"roles":{"old_master":"a","candidate":"b","others":[]},"started_at":"t","done":["fence"]}"#;
    let j: Journal = serde_json::from_str(old).unwrap();
    assert_eq!(j.kind, Kind::Switchover);
    assert_eq!(j.next(), Some(Step::Drain));
    let mut f = Journal::failover(roles(), "t".into());
    assert_eq!(f.next(), Some(Step::MarkFenced));
    f.mark(Step::MarkFenced);
    assert_eq!(f.next(), Some(Step::PrepareCandidate));
    assert!(!f.remaining().contains(&Step::Fence) && !f.remaining().contains(&Step::Drain));
    assert!(finding(&f).message.starts_with("failover in progress"));
}
