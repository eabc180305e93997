use super::*;

#[test]
fn copy_progress_reads_at_a_glance() {
    assert_eq!(
        copy_progress("items", 1_234_567, Some(5_000_000)),
        "initial copy: items 1,234,567 of ~5,000,000 rows (24%)"
    );
    assert_eq!(
        copy_progress("public.files", 12, Some(0)),
        "initial copy: public.files 12 rows so far"
    );
    // Estimates lag: never past 100 %.
    assert!(copy_progress("t", 150, Some(100)).ends_with("(100%)"));
    assert_eq!(
        copy_progress("t", 999, None),
        "initial copy: t 999 rows so far"
    );
}

const PROBE: &str = "docker=20.10.24+dfsg1\ncompose=2.26.1-4\ndisk=76245932\ndisk_path=/srv\n\
listen=0.0.0.0:22 [::]:22 127.0.0.1:631\nours=0\nmaster=ok\ntime=1000.5\nexisting=0\ngarbage\n";

fn expect() -> Expect {
    Expect {
        ports: vec![5432, 3000],
        master: "10.77.0.1".into(),
        master_port: 5432,
        local_time: 1000.0,
        resuming: false,
    }
}

#[test]
fn probe_parses() {
    let p = parse_probe(PROBE);
    assert_eq!(p.docker.as_deref(), Some("20.10.24+dfsg1"));
    assert_eq!(p.compose.as_deref(), Some("2.26.1-4"));
    assert_eq!(p.disk_kib, Some(76245932));
    assert_eq!(p.listening, [22, 631]);
    assert_eq!(p.master_reachable, Some(true));
    assert_eq!(p.time, Some(1000.5));
}

#[test]
fn a_good_host_passes() {
    let c = host_checks(&parse_probe(PROBE), &expect());
    assert!(all_clear(&c), "{c:#?}");
    assert!(c.iter().all(|c| c.verdict == Verdict::Pass), "{c:#?}");
    assert!(c[0].detail.contains("20.10"));
    assert_eq!(c[1].detail, "v2.26.1-4");
    assert!(c[5].detail.contains("+0.5"));
}

#[test]
fn a_hung_dockerd_is_named_as_hung_not_missing() {
    let text = PROBE.replace("docker=20.10.24+dfsg1", "docker_hung=1\ndocker=");
    let p = parse_probe(&text);
    assert!(p.docker_hung);
    let c = host_checks(&p, &expect());
    assert_eq!(c[0].verdict, Verdict::Fail);
    assert!(c[0].detail.contains("did not answer"), "{:?}", c[0]);
    let missing = host_checks(
        &parse_probe(&PROBE.replace("docker=20.10.24+dfsg1", "docker=")),
        &expect(),
    );
    assert!(
        missing[0].detail.contains("no answer from"),
        "{:?}",
        missing[0]
    );
}

#[test]
fn each_problem_fails_with_a_fix() {
    let mut p = parse_probe(PROBE);
    p.compose = None;
    p.docker = None;
    p.disk_kib = Some(1024);
    p.listening = vec![5432];
    p.master_reachable = Some(false);
    p.time = Some(1200.0);
    let c = host_checks(&p, &expect());
    assert!(!all_clear(&c));
    let fails: Vec<&str> = c
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.what.as_str())
        .collect();
    assert_eq!(
        fails,
        [
            "docker engine",
            "docker compose",
            "disk space",
            "ports",
            "master's database",
            "clock"
        ]
    );
    assert!(c
        .iter()
        .all(|c| c.verdict == Verdict::Pass || c.fix.is_some()));
    let mut p = parse_probe(PROBE);
    p.compose = Some("1.29.2".into());
    assert_eq!(host_checks(&p, &expect())[1].verdict, Verdict::Fail);
}

#[test]
fn a_resumed_run_accepts_its_own_stack() {
    let mut p = parse_probe(PROBE);
    p.listening = vec![3000, 5432];
    p.ours = 3;
    p.existing_deploy = true;
    assert_eq!(host_checks(&p, &expect())[3].verdict, Verdict::Fail);
    let mut e = expect();
    e.resuming = true;
    let c = host_checks(&p, &e);
    assert_eq!(c[3].verdict, Verdict::Warn);
    assert!(all_clear(&c));
    assert_eq!(c.len(), 6);
}

#[test]
fn placeholders_are_refused_by_name() {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../env.common")).unwrap();
    let c = placeholder_check(&shipped, "/co/env.common");
    assert_eq!(c.verdict, Verdict::Fail);
    for k in [
        "ARCHIVE_DB_PASSWORD",
        "POSTGRES_PASSWORD",
        "BUCARDO_PASSWORD",
        "SECRET_KEY_BASE",
    ] {
        assert!(c.detail.contains(k), "{k}: {}", c.detail);
    }
    assert!(c.fix.as_deref().unwrap_or("").contains("/co/env.common"));
    let good = "BUCARDO_PASSWORD=\"s3cret-long\"\nexport ARCHIVE_DB_PASSWORD=\nARCHIVE_DB_PASSWORD_FILE=/run/secrets/archive/a\n";
    assert_eq!(
        placeholder_check(good, "e").verdict,
        Verdict::Pass,
        "a file instead is fine"
    );
    let empty = "BUCARDO_PASSWORD=\n";
    assert_eq!(placeholder_check(empty, "e").verdict, Verdict::Fail);
}

#[test]
fn the_fleet_must_share_its_env_common() {
    crate::credentials::remember("Fleet-Pw-1234");
    let master = "BUCARDO_PASSWORD=Fleet-Pw-1234\nDB_PORT=5432\nBUCARDO_LOG_LEVEL=terse\n";
    assert_eq!(fleet_check(master, master, "m").verdict, Verdict::Pass);
    let c = fleet_check(
        "BUCARDO_PASSWORD=Other-Pw-5678\nDB_PORT=5433\nBUCARDO_LOG_LEVEL=terse\n",
        master,
        "/srv/archive/env.common",
    );
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.detail.contains("~ DB_PORT: 5432 -> 5433"), "{}", c.detail);
    assert!(
        c.detail.contains("BUCARDO_PASSWORD: <redacted> (changed)"),
        "{}",
        c.detail
    );
    assert!(!c.detail.contains("Pw-"), "secrets shown: {}", c.detail);
    let c = fleet_check(
        "BUCARDO_PASSWORD=Fleet-Pw-1234\nDB_PORT=5432\nBUCARDO_LOG_LEVEL=debug\n",
        master,
        "m",
    );
    assert_eq!(c.verdict, Verdict::Warn, "{c:?}");
}

#[test]
fn container_errors_that_cannot_pass_end_the_wait() {
    let lines: Vec<String> = [
        "archive-bucardo: slave turntable: local db ready",
        "archive-bucardo: error: MASTER_DB_HOST=10.77.0.1 (port 5432) is unreachable (x): check",
        "archive-bucardo: error: the master refused user bucardo at 10.77.0.1:5432: BUCARDO_PASSWORD must be the same as on the master (env.common)",
    ]
    .map(String::from)
    .to_vec();
    let (shown, fatal) = container_errors(&lines[..2]);
    assert_eq!(shown.len(), 1);
    assert_eq!(fatal, None, "unreachable is retried");
    let (shown, fatal) = container_errors(&lines);
    assert_eq!(shown.len(), 2);
    assert!(fatal.unwrap().contains("refused user bucardo"));
}

#[test]
fn names_taken_in_bucardo() {
    assert_eq!(name_check("x", &[], false).verdict, Verdict::Pass);
    let taken = vec![
        "registry entry (10.0.0.2:5432)".to_string(),
        "4 delta targets".to_string(),
    ];
    let c = name_check("jukebox", &taken, false);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(
        c.detail
            .contains("registry entry (10.0.0.2:5432), 4 delta targets for jukebox"),
        "{}",
        c.detail
    );
    assert_eq!(name_check("x", &taken, true).verdict, Verdict::Warn);
}

#[test]
fn clock_and_disk_thresholds() {
    assert_eq!(clock_check(1.0).verdict, Verdict::Pass);
    assert_eq!(clock_check(-5.0).verdict, Verdict::Warn);
    assert_eq!(clock_check(-61.0).verdict, Verdict::Fail);
    assert_eq!(human_kib(512 * 1024), "512 MiB");
    assert_eq!(human_kib(3 * 1024 * 1024), "3.0 GiB");
}

/// Property tests (cases per run: 512 each).
mod props {
    use super::super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the probe printed, the checks come out, and each
        /// one that is not a pass says how to fix it.
        #[test]
        fn any_probe_output(text in "((docker|compose|disk|disk_path|listen|ours|master|time|existing)=.{0,30}\n){0,12}", done in any::<i64>(), est in proptest::option::of(any::<i64>())) {
            let p = parse_probe(&text);
            let e = Expect {
                ports: vec![5432, 3000],
                master: "m".into(),
                master_port: 5432,
                local_time: 1000.0,
                resuming: false,
            };
            for c in host_checks(&p, &e) {
                prop_assert!(c.verdict == Verdict::Pass || c.fix.is_some());
            }
            let _ = copy_progress("t", done, est);
        }

        /// Any env texts: the checks come out, secrets never shown.
        #[test]
        fn any_env_common(a in "((BUCARDO_PASSWORD|DB_PORT|X|SECRET_KEY_BASE)=[ -~]{0,12}\n){0,6}", b in "((BUCARDO_PASSWORD|DB_PORT|Y)=[ -~]{0,12}\n){0,6}") {
            let _ = placeholder_check(&a, "p");
            let c = fleet_check(&a, &b, "m");
            prop_assert!(c.verdict == Verdict::Pass || c.fix.is_some());
            let lines: Vec<String> = a.lines().chain(b.lines()).map(String::from).collect();
            let (shown, fatal) = container_errors(&lines);
            if let Some(f) = fatal {
                prop_assert!(shown.contains(&f));
            }
        }
    }
}
