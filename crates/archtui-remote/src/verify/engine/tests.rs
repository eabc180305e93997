use super::*;

fn config() -> Config {
    Config::parse(
        "[[hosts]]\nname = \"m\"\nrole = \"master\"\nssh = \"m\"\n[[hosts]]\nname = \"jukebox\"\nrole = \"slave\"\nssh = \"j\"\n[[hosts]]\nname = \"turntable\"\nrole = \"slave\"\nssh = \"t\"\n",
        std::path::Path::new("t.toml"),
    )
    .unwrap()
}

#[test]
fn slaves_come_from_the_config() {
    let c = config();
    let all = slaves_of(&c, &Request::default()).unwrap();
    assert_eq!(
        all.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        ["jukebox", "turntable"]
    );
    let one = Request {
        slaves: vec!["turntable".into()],
        tables: None,
    };
    assert_eq!(slaves_of(&c, &one).unwrap()[0].name, "turntable");
    for bad in ["m", "nope"] {
        let r = Request {
            slaves: vec![bad.into()],
            tables: None,
        };
        let e = slaves_of(&c, &r).unwrap_err();
        assert!(matches!(&e, SlavesError::NotASlave { name, .. } if name == bad));
        let e = e.to_string();
        assert!(
            e.contains("not a slave") && e.contains("jukebox, turntable"),
            "{e}"
        );
    }
}

#[test]
fn limits_follow_the_thresholds() {
    let l = Limits::from_config(&config());
    assert_eq!(l.lag_warning_secs, 30.0);
    assert_eq!(l.catch_up, Duration::from_secs(60));
}
