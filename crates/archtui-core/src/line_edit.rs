//! One line the operator types: the search and filter prompt, a typed
//! confirmation, a wizard form field. tui-input keeps the text and its
//! cursor; it has no terminal backend here (that would bring a terminal
//! library into the core), so this maps the core's own keys to its
//! requests, one map for every typed line.

use tui_input::InputRequest as R;

use crate::key::{KeyCode, KeyEvent, KeyModifiers};

pub use tui_input::{Input, InputRequest};

/// The edit `k` asks for, if it is an editing key. Enter, Esc, Tab and
/// Up/Down are not: each prompt gives them its own meaning.
pub fn request(k: &KeyEvent) -> Option<InputRequest> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    Some(match k.code {
        KeyCode::Backspace if ctrl => R::DeletePrevWord,
        KeyCode::Backspace => R::DeletePrevChar,
        KeyCode::Delete => R::DeleteNextChar,
        KeyCode::Left if ctrl => R::GoToPrevWord,
        KeyCode::Left => R::GoToPrevChar,
        KeyCode::Right if ctrl => R::GoToNextWord,
        KeyCode::Right => R::GoToNextChar,
        KeyCode::Home => R::GoToStart,
        KeyCode::End => R::GoToEnd,
        KeyCode::Char('a') if ctrl => R::GoToStart,
        KeyCode::Char('e') if ctrl => R::GoToEnd,
        KeyCode::Char('w') if ctrl => R::DeletePrevWord,
        KeyCode::Char('u') if ctrl => R::DeleteFromStart,
        KeyCode::Char('k') if ctrl => R::DeleteTillEnd,
        // Other control chords and control characters are never text.
        KeyCode::Char(c) if !ctrl && !c.is_control() => R::InsertChar(c),
        _ => return None,
    })
}

/// Applies `req` to a line that holds at most `max` characters: a held
/// key or a paste cannot grow it past that.
pub fn apply(input: &mut Input, req: InputRequest, max: usize) {
    if let R::InsertChar(c) = req {
        if c.is_control() || input.value().chars().count() >= max {
            return;
        }
    }
    input.handle(req);
}

/// A typed line that compares by what it shows, its text and cursor
/// (tui-input's `Input` has no `PartialEq`; its yank buffer is not shown).
#[derive(Debug, Clone, Default)]
pub struct Field {
    input: Input,
    max: usize,
}

impl Field {
    /// `text` with the cursor at its end, holding at most `max` characters.
    pub fn new(text: impl Into<String>, max: usize) -> Field {
        Field {
            input: Input::new(text.into()),
            max,
        }
    }

    pub fn value(&self) -> &str {
        self.input.value()
    }

    /// Characters (codepoints) before the cursor.
    pub fn cursor(&self) -> usize {
        self.input.cursor()
    }

    pub fn handle(&mut self, req: InputRequest) {
        apply(&mut self.input, req, self.max);
    }

    /// Edits the line if `k` is an editing key; whether it was.
    pub fn key(&mut self, k: &KeyEvent) -> bool {
        match request(k) {
            Some(req) => {
                self.handle(req);
                true
            }
            None => false,
        }
    }
}

impl PartialEq for Field {
    fn eq(&self, other: &Field) -> bool {
        self.value() == other.value() && self.cursor() == other.cursor() && self.max == other.max
    }
}

impl Eq for Field {}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::from(code)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn keys_edit_at_the_cursor() {
        let mut f = Field::new("jukbox", 64);
        for key in [k(KeyCode::Left), k(KeyCode::Left), k(KeyCode::Left)] {
            assert!(f.key(&key));
        }
        f.key(&k(KeyCode::Char('e')));
        assert_eq!((f.value(), f.cursor()), ("jukebox", 4));
        f.key(&k(KeyCode::Home));
        f.key(&k(KeyCode::Delete));
        assert_eq!((f.value(), f.cursor()), ("ukebox", 0));
        f.key(&ctrl('e'));
        assert_eq!(f.cursor(), 6);
        f.key(&k(KeyCode::Char(' ')));
        f.key(&k(KeyCode::Char('x')));
        f.key(&ctrl('w'));
        assert_eq!(f.value(), "ukebox ");
        f.key(&ctrl('u'));
        assert_eq!((f.value(), f.cursor()), ("", 0));
    }

    #[test]
    fn prompt_keys_and_control_text_are_not_edits() {
        let mut f = Field::new("a", 64);
        for key in [
            k(KeyCode::Enter),
            k(KeyCode::Esc),
            k(KeyCode::Tab),
            k(KeyCode::Up),
            ctrl('c'),
        ] {
            assert!(!f.key(&key), "{key:?}");
        }
        assert!(!f.key(&k(KeyCode::Char('\u{1b}'))));
        // Applied directly, a control character is still refused.
        f.handle(InputRequest::InsertChar('\u{7}'));
        assert_eq!(f.value(), "a");
    }

    #[test]
    fn the_line_holds_at_most_max() {
        let mut f = Field::new("", 3);
        for c in "abcdef".chars() {
            f.key(&k(KeyCode::Char(c)));
        }
        assert_eq!(f.value(), "abc");
        f.key(&k(KeyCode::Backspace));
        assert_eq!(f.value(), "ab");
    }
}
