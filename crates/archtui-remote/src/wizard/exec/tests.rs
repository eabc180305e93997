use super::steps::stage;
use super::*;
use std::path::Path;

#[test]
fn count_differences_name_the_tables() {
    let t = vec![
        ("public".to_string(), "items".to_string()),
        ("public".to_string(), "files".to_string()),
    ];
    assert!(count_differences(&t, &[3, 4], &[3, 4]).is_empty());
    assert_eq!(count_differences(&t, &[3, 4], &[3, 1]), ["files 4/1"]);
    assert_eq!(
        count_differences(&t, &[3, 4], &[]),
        ["items 3/?", "files 4/?"]
    );
}

#[tokio::test]
async fn staging_holds_the_stack_and_the_rendered_env() {
    let repo = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let run = std::env::temp_dir().join(format!("archtui-stage-{}", std::process::id()));
    let i = crate::wizard::input::fixtures::input();
    let dir = stage(repo, &run, &i).await.unwrap();
    assert!(dir.join("assets/db").is_dir());
    let env = std::fs::read_to_string(dir.join("env.slave")).unwrap();
    assert!(env.contains("APP_HOST=10.77.0.3"));
    assert!(!dir.join("env.master").exists());
    let _ = std::fs::remove_dir_all(&run);
}
