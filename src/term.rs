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
