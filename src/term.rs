//! The terminal's key events as the core's keys: the one place that maps
//! crossterm's types, so `archtui_core` never names a terminal library.

use archtui_core::key::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::event as ct;

pub fn key(k: ct::KeyEvent) -> KeyEvent {
    let code = match k.code {
        ct::KeyCode::Backspace => KeyCode::Backspace,
        ct::KeyCode::Enter => KeyCode::Enter,
        ct::KeyCode::Left => KeyCode::Left,
        ct::KeyCode::Right => KeyCode::Right,
        ct::KeyCode::Up => KeyCode::Up,
        ct::KeyCode::Down => KeyCode::Down,
        ct::KeyCode::Home => KeyCode::Home,
        ct::KeyCode::End => KeyCode::End,
        ct::KeyCode::PageUp => KeyCode::PageUp,
        ct::KeyCode::PageDown => KeyCode::PageDown,
        ct::KeyCode::Tab => KeyCode::Tab,
        ct::KeyCode::BackTab => KeyCode::BackTab,
        ct::KeyCode::Delete => KeyCode::Delete,
        ct::KeyCode::Insert => KeyCode::Insert,
        ct::KeyCode::F(n) => KeyCode::F(n),
        ct::KeyCode::Char(c) => KeyCode::Char(c),
        ct::KeyCode::Esc => KeyCode::Esc,
        _ => KeyCode::Other,
    };
    let mut modifiers = KeyModifiers::NONE;
    for (theirs, ours) in [
        (ct::KeyModifiers::SHIFT, KeyModifiers::SHIFT),
        (ct::KeyModifiers::CONTROL, KeyModifiers::CONTROL),
        (ct::KeyModifiers::ALT, KeyModifiers::ALT),
    ] {
        if k.modifiers.contains(theirs) {
            modifiers = modifiers | ours;
        }
    }
    let kind = match k.kind {
        ct::KeyEventKind::Press => KeyEventKind::Press,
        ct::KeyEventKind::Repeat => KeyEventKind::Repeat,
        ct::KeyEventKind::Release => KeyEventKind::Release,
    };
    KeyEvent {
        code,
        modifiers,
        kind,
    }
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// While a screen is up, a panic on a tokio worker (a console task) is
/// the task owner's to report (`archtui_remote::tasks`): it is logged, and
/// the terminal is neither restored nor written to under the running
/// screen. Any other panic goes to the hook that was there (ratatui's:
/// restore the terminal, then colour-eyre's report). Dropping the guard
/// puts that hook back.
pub struct TaskPanics(Option<std::sync::Arc<PanicHook>>);

pub fn task_panics_logged() -> TaskPanics {
    let screen: std::sync::Arc<PanicHook> = std::sync::Arc::new(std::panic::take_hook());
    let hook = screen.clone();
    std::panic::set_hook(Box::new(move |info| {
        // tokio's default name for its worker (and blocking) threads.
        if std::thread::current().name() == Some("tokio-runtime-worker") {
            tracing::error!(panic = %info, "a task panicked");
        } else {
            hook(info);
        }
    }));
    TaskPanics(Some(screen))
}

impl Drop for TaskPanics {
    fn drop(&mut self) {
        // Swapping hooks while unwinding would abort the process.
        if std::thread::panicking() {
            return;
        }
        if let Some(screen) = self.0.take() {
            drop(std::panic::take_hook());
            std::panic::set_hook(Box::new(move |info| screen(info)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_code_modifiers_and_kind() {
        let k = key(ct::KeyEvent::new(
            ct::KeyCode::Char('c'),
            ct::KeyModifiers::CONTROL,
        ));
        assert_eq!(k, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        let mut r = ct::KeyEvent::new(ct::KeyCode::BackTab, ct::KeyModifiers::SHIFT);
        r.kind = ct::KeyEventKind::Release;
        let k = key(r);
        assert_eq!((k.code, k.kind), (KeyCode::BackTab, KeyEventKind::Release));
        assert!(k.modifiers.contains(KeyModifiers::SHIFT));
        assert_eq!(
            key(ct::KeyEvent::from(ct::KeyCode::CapsLock)).code,
            KeyCode::Other
        );
    }
}
