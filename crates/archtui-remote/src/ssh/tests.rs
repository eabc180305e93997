use super::*;

#[tokio::test(start_paused = true)]
async fn connects_are_capped_and_every_one_gets_its_turn() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let sem = Arc::new(tokio::sync::Semaphore::new(3));
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (sem, now, most) = (sem.clone(), now.clone(), most.clone());
        tasks.spawn(async move {
            let _turn = take_turn(&sem).await.expect("the semaphore stays open");
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await; // a handshake
            now.fetch_sub(1, Ordering::SeqCst);
        });
    }
    let mut done = 0;
    while tasks.join_next().await.is_some() {
        done += 1;
    }
    assert_eq!(done, 40);
    assert_eq!(most.load(Ordering::SeqCst), 3);
}

#[test]
fn keepalive_follows_the_connect_timeout() {
    assert_eq!(keepalive_interval(5), Duration::from_secs(1));
    assert_eq!(keepalive_interval(1), Duration::from_secs(1));
    assert_eq!(keepalive_interval(30), Duration::from_secs(10));
}

#[test]
fn a_changed_key_is_shown_with_both_fingerprints() {
    let key = "AAAAC3NzaC1lZDI1NTE5AAAAIAtORs734sin02NP1BoBRkCcA72pIWZV+VVaQsek1ukf";
    let known_fp = key_fingerprint(key).unwrap();
    let dir = std::env::temp_dir().join(format!("archtui-kh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kh = dir.join("known_hosts");
    std::fs::write(
        &kh,
        format!("# c\nother ssh-ed25519 {key}x\n10.77.0.2 ssh-ed25519 {key}\n"),
    )
    .unwrap();
    let stderr = format!(
        "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@\n\
             The fingerprint for the ED25519 key sent by the remote host is\nSHA256:OffeRed0ffered0ffered0ffered0ffered0ffer.\n\
             Offending ED25519 key in {}:3\n  remove with:\nHost key for 10.77.0.2 has changed and you have requested strict checking.\n\
             Host key verification failed.",
        kh.display()
    );
    let c = changed_key(&stderr);
    assert_eq!(
        c.offered.as_deref(),
        Some("SHA256:OffeRed0ffered0ffered0ffered0ffered0ffer")
    );
    assert_eq!(c.offending, [(kh.clone(), 3)]);
    let f = classify(
        "jukebox",
        &openssh::Error::Connect(std::io::Error::other(stderr)),
    );
    assert_eq!(f.state, HostState::HostKeyChanged);
    assert!(f.reason.contains(&known_fp), "{}", f.reason);
    assert!(
        f.reason
            .contains("SHA256:OffeRed0ffered0ffered0ffered0ffered0ffer"),
        "{}",
        f.reason
    );
    assert!(f.reason.contains("refused"), "{}", f.reason);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fingerprints_match_ssh_keygen() {
    // `ssh-keygen -lf` of this key prints this fingerprint.
    let key = "AAAAC3NzaC1lZDI1NTE5AAAAIAtORs734sin02NP1BoBRkCcA72pIWZV+VVaQsek1ukf";
    assert_eq!(
        key_fingerprint(key).as_deref(),
        Some("SHA256:MQtsnAoY2QvEPjaRCSXT4I7LjJkR/bFMW0WBI6fWOv4")
    );
    assert_eq!(known_hosts_entry("@revoked * ssh-rsa AAAA"), None);
    assert_eq!(known_hosts_entry("# comment"), None);
    assert_eq!(
        known_hosts_entry(&format!("|1|salt|hash ssh-ed25519 {key} c")),
        Some(("|1|salt|hash", "ssh-ed25519", key))
    );
}

#[test]
fn not_strict_means_accept_new() {
    let mut c = archtui_core::app::fixtures::config();
    c.ssh.strict_host_key_checking = false;
    let b = format!("{:?}", builder(&c, Path::new("/tmp")));
    assert!(b.contains("Add"), "{b}");
    assert!(!b.contains("Accept"), "{b}");
}

#[test]
fn classifies_ssh_failures() {
    let unknown = "No ED25519 host key is known for 10.77.0.2 and you have requested strict checking.\nHost key verification failed.";
    assert_eq!(classify_text(unknown).0, HostState::HostKeyUnknown);
    let changed = "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@\nHost key verification failed.";
    assert_eq!(classify_text(changed).0, HostState::HostKeyChanged);
    assert_eq!(
        classify_text("root@10.77.0.2: Permission denied (publickey).").0,
        HostState::AuthFailed
    );
    assert_eq!(
        classify_text("connect to host 10.77.0.2 port 22: Connection timed out").0,
        HostState::Unreachable
    );
    assert_eq!(
        last_meaningful_line(changed),
        "Host key verification failed."
    );
}

/// Property tests (cases per run: 512 each).
mod props {
    use super::super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any ssh stderr: one state and one line, never a panic.
        #[test]
        fn any_ssh_stderr(text in "(.{0,60}\n){0,8}") {
            let _ = classify_text(&text);
            let l = last_meaningful_line(&text);
            prop_assert!(!l.contains('\n'));
            let c = changed_key(&text);
            if let Some(fp) = c.offered {
                prop_assert!(fp.starts_with("SHA256:"));
            }
            let f = classify("d", &openssh::Error::Connect(std::io::Error::other(text.clone())));
            prop_assert!(f.reason.starts_with("ssh d: "));
        }

        /// Any known_hosts line: an entry only when its key decodes, and
        /// then its fingerprint is ssh's form.
        #[test]
        fn known_hosts_any_line(line in ".{0,120}", names in "[a-z0-9.,]{1,20}", blob in proptest::collection::vec(any::<u8>(), 1..64)) {
            let _ = known_hosts_entry(&line);
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
            let l = format!("{names} ssh-ed25519 {b64} comment");
            let (n, k, key) = known_hosts_entry(&l).expect("a well-formed line");
            prop_assert_eq!((n, k, key), (names.as_str(), "ssh-ed25519", b64.as_str()));
            let fp = key_fingerprint(key).unwrap_or_default();
            prop_assert!(fp.starts_with("SHA256:") && fp.len() == 50 && !fp.ends_with('='));
        }
    }
}
