//! The journal of an interrupted provisioning: the input and the steps done,
//! one JSON file per slave under the XDG state dir, rewritten atomically
//! after every step so a killed run resumes where it stopped.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LocalError;

use archtui_core::wizard::input::Input;
use archtui_core::wizard::machine::{Effect, Step, Wizard};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub input: Input,
    pub done: Vec<Step>,
}

/// `<state dir>/provision/<name>.json`.
pub fn path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("provision").join(format!("{name}.json"))
}

pub fn load(path: &Path) -> Result<Option<Journal>, LocalError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LocalError::JournalRead {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A journal's text; what does not parse is an error naming the file.
fn parse(text: &str, path: &Path) -> Result<Journal, LocalError> {
    serde_json::from_str(text).map_err(|e| LocalError::JournalBad {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// Interrupted provisionings: each journal's slave and its steps done,
/// by name. Unreadable journals are left out (`load` names them).
pub fn pending(state_dir: &Path) -> Vec<(String, usize)> {
    let Ok(dir) = std::fs::read_dir(state_dir.join("provision")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, usize)> = dir
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "json").then_some(())?;
            let j = load(&p).ok()??;
            Some((j.input.name, j.done.len()))
        })
        .collect();
    out.sort();
    out
}

/// The wizard of an interrupted run, picked up where its journal stopped.
pub fn resume(path: &Path) -> Result<Option<Wizard>, LocalError> {
    Ok(load(path)?.map(|j| Wizard::resume(j.input, j.done)))
}

/// Keeps the journal as the machine asks: rewritten after every step,
/// gone once the slave is done. Other effects leave it alone.
pub fn apply(path: &Path, input: &Input, effect: &Effect) -> Result<(), LocalError> {
    match effect {
        Effect::SaveJournal(done) => save(
            path,
            &Journal {
                input: input.clone(),
                done: done.clone(),
            },
        ),
        Effect::Finished => remove(path),
        Effect::Preflight { .. } | Effect::Run(_) => Ok(()),
    }
}

/// Rewrites the journal atomically (temporary file, fsync, rename, fsync
/// of the directory) under its lock, 0600.
pub fn save(path: &Path, journal: &Journal) -> Result<(), LocalError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    super::audit::ensure_dir(dir).map_err(LocalError::io(dir))?;
    let text =
        serde_json::to_string_pretty(journal).map_err(|e| LocalError::Encode(e.to_string()))?;
    crate::local::files::write(path, (text + "\n").as_bytes(), 0o600).map_err(LocalError::io(path))
}

pub fn remove(path: &Path) -> Result<(), LocalError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LocalError::io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::input::fixtures::input;

    #[test]
    fn save_load_remove() {
        let dir = std::env::temp_dir().join(format!("archtui-journal-{}", std::process::id()));
        let p = path(&dir, "turntable");
        assert_eq!(load(&p).unwrap(), None);
        let j = Journal {
            input: input(),
            done: vec![Step::Upload, Step::ComposeUp],
        };
        assert!(pending(&dir).is_empty());
        save(&p, &j).unwrap();
        assert_eq!(load(&p).unwrap(), Some(j));
        assert_eq!(pending(&dir), [(input().name, 2)]);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"compose_up\""), "{text}");
        std::fs::write(&p, "{").unwrap();
        let e = load(&p).unwrap_err();
        assert!(matches!(e, LocalError::JournalBad { .. }), "{e:?}");
        assert!(e.to_string().contains("remove it"));
        assert!(pending(&dir).is_empty(), "a garbled journal is not listed");
        remove(&p).unwrap();
        remove(&p).unwrap();
        // As the machine asks: written after a step, resumable, gone when done.
        apply(&p, &input(), &Effect::SaveJournal(vec![Step::Upload])).unwrap();
        let w = resume(&p).unwrap().expect("a resumable run");
        assert!(w.resuming);
        assert_eq!(w.done, [Step::Upload]);
        apply(&p, &input(), &Effect::Run(Step::ComposeUp)).unwrap();
        assert!(p.exists(), "running a step leaves the journal alone");
        apply(&p, &input(), &Effect::Finished).unwrap();
        assert!(!p.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Property tests (cases per run: 512 each).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// A journal cut anywhere or with garbage is an error that says
            /// how to start over, never a panic.
            #[test]
            fn damaged_journals(cut in 0usize..2000, junk in ".{0,20}") {
                let j = Journal {
                    input: crate::wizard::input::fixtures::input(),
                    done: vec![Step::Upload, Step::Registered],
                };
                let text = serde_json::to_string_pretty(&j).unwrap_or_default();
                let mut at = cut.min(text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let damaged = format!("{}{junk}", &text[..at]);
                match parse(&damaged, Path::new("j.json")) {
                    Ok(got) => prop_assert_eq!(got, j),
                    Err(e) => prop_assert!(e.to_string().contains("remove it to start over")),
                }
            }
        }
    }
}
