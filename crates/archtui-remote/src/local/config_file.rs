//! Edits of the config file on disk (the wizard adds a host, retire
//! removes one); the edits themselves are `archtui_core::wizard::config_edit`.

use std::path::Path;

use archtui_core::wizard::config_edit::backup_path;

/// Applies `edit` to the config file as it is now, under its lock (so two
/// archtui processes never lose each other's edit): the edited text must
/// still load; the old text is kept as `.bak` (0600, it may hold the
/// operator's notes) and the file is replaced atomically, its mode kept,
/// a symlink written through. `Ok(false)`: `edit` changed nothing.
pub fn update(
    path: &Path,
    edit: impl FnOnce(&str) -> Option<String>,
) -> Result<bool, super::LocalError> {
    use super::LocalError;
    let at = LocalError::io(path);
    let held = super::files::lock(path).map_err(&at)?;
    let old = std::fs::read_to_string(path).map_err(&at)?;
    let Some(new) = edit(&old).filter(|n| *n != old) else {
        return Ok(false);
    };
    archtui_core::config::Config::parse(&new, path)
        .map_err(|e| LocalError::EditInvalid(e.to_string()))?;
    let bak = backup_path(path);
    super::files::replace_with_mode(&bak, old.as_bytes(), 0o600, &held)
        .map_err(LocalError::io(&bak))?;
    super::files::replace(path, new.as_bytes(), 0o600, &held).map_err(at)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use archtui_core::wizard::config_edit::add_host;

    const CONF: &str = "[ssh]\nconnect_timeout_secs = 5\n\n[[hosts]]\nname = \"cavaforgepad\"\nrole = \"master\"\nssh = \"cavaforgepad\"\n\n# the first slave\n[[hosts]]\nname = \"jukebox\"\nrole = \"slave\"\nssh = \"jukebox\"\n\n[keys]\nquit = \"q\"\n";

    #[test]
    fn update_keeps_a_backup_the_mode_and_the_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("archtui-cfgedit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("dotfiles")).unwrap();
        let real = dir.join("dotfiles/archtui.toml");
        std::fs::write(&real, CONF).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let p = dir.join("config.toml");
        std::os::unix::fs::symlink(&real, &p).unwrap();
        // An older .bak open to everyone is replaced by a private one.
        std::fs::write(backup_path(&p), "old").unwrap();
        std::fs::set_permissions(backup_path(&p), std::fs::Permissions::from_mode(0o644)).unwrap();
        let new = add_host(CONF, "turntable", "turntable", None);
        assert!(update(&p, |t| Some(add_host(t, "turntable", "turntable", None))).unwrap());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), new);
        assert!(std::fs::symlink_metadata(&p)
            .unwrap()
            .file_type()
            .is_symlink());
        let mode = |f: &Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&real), 0o640);
        assert_eq!(std::fs::read_to_string(backup_path(&p)).unwrap(), CONF);
        assert_eq!(mode(&backup_path(&p)), 0o600);
        assert!(!update(&p, |t| Some(t.to_string())).unwrap(), "no change");
        assert!(update(&p, |_| Some("[[hosts]]\nname = 1\n".into())).is_err());
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            new,
            "bad edit not written"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
