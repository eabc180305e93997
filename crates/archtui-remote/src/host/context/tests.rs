use super::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn the_run_dir_is_random_private_and_checked() {
    let rt = std::env::temp_dir().join(format!("archtui-xdg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&rt);
    std::fs::create_dir_all(&rt).unwrap();
    let a = make_process_dir(Some(rt.clone())).unwrap();
    let b = make_process_dir(Some(rt.clone())).unwrap();
    assert_ne!(a, b, "never a name to guess");
    assert!(a.starts_with(rt.join("archtui")), "{}", a.display());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&a), mode(&rt.join("archtui"))), (0o700, 0o700));
    // Room left for every socket path under 108 bytes.
    assert!(a.as_os_str().len() <= MAX_RUN_DIR, "{}", a.display());
    // Someone else's (here: one open to others) is refused, not used.
    std::fs::set_permissions(rt.join("archtui"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = make_process_dir(Some(rt.clone())).unwrap_err().to_string();
    assert!(e.contains("mode 0777") && e.contains("archtui"), "{e}");
    let _ = std::fs::remove_dir_all(&rt);
    // Unset: a random dir in the temp dir.
    let t = make_process_dir(None).unwrap();
    assert!(t
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("archtui-"));
    assert_eq!(mode(&t), 0o700);
    let _ = std::fs::remove_dir_all(&t);
}
