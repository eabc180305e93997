//! Keys on the wizard's screen, per phase. Pure: a key in, what it means
//! out. Esc never confirms; Enter on the plan review is the one key that
//! starts changing hosts.

use crate::key::{KeyCode, KeyEvent, KeyModifiers};

use super::machine::{Edit, Event, Phase, Wizard};

#[derive(Debug, Clone, PartialEq)]
pub enum KeyAction {
    /// Feed this event to the machine.
    Event(Event),
    /// Submit the form: the caller adds the config's hosts.
    Submit,
    /// Trust the host key with this fingerprint (shown on screen), then
    /// check again.
    Trust(String),
    /// Leave the wizard screen (it keeps running in the background while
    /// a step runs; the journal keeps its place either way).
    Close,
    None,
}

pub fn key(w: &Wizard, k: KeyEvent) -> KeyAction {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match (&w.phase, k.code) {
        (_, KeyCode::Char('c')) if ctrl => KeyAction::Close,
        (Phase::Input, KeyCode::Esc) => KeyAction::Event(Event::Cancel),
        (Phase::Input, KeyCode::Enter) => KeyAction::Submit,
        (Phase::Input, KeyCode::Tab | KeyCode::Down) => KeyAction::Event(Event::Edit(Edit::Next)),
        (Phase::Input, KeyCode::BackTab | KeyCode::Up) => KeyAction::Event(Event::Edit(Edit::Prev)),
        (Phase::Input, _) => match crate::line_edit::request(&k) {
            Some(r) => KeyAction::Event(Event::Edit(Edit::Text(r))),
            None => KeyAction::None,
        },
        (Phase::Review, KeyCode::Enter) => KeyAction::Event(Event::Confirm),
        (Phase::Review | Phase::Refused, KeyCode::Esc | KeyCode::Char('n')) => {
            KeyAction::Event(Event::Cancel)
        }
        (Phase::Refused, KeyCode::Char('e')) => KeyAction::Submit,
        (Phase::Refused, KeyCode::Char('t')) => match w.host_key_to_trust() {
            Some(fp) => KeyAction::Trust(fp.to_string()),
            None => KeyAction::None,
        },
        (Phase::Failed { .. }, KeyCode::Char('r')) => KeyAction::Event(Event::Retry),
        (Phase::Failed { .. } | Phase::Done | Phase::Cancelled, KeyCode::Esc | KeyCode::Enter) => {
            KeyAction::Close
        }
        (Phase::Running(_) | Phase::Preflight, KeyCode::Esc) => KeyAction::Close,
        _ => KeyAction::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line_edit::InputRequest;
    use crate::wizard::checks::Check;
    use crate::wizard::input::fixtures::{hosts, input};

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_per_phase() {
        let mut w = Wizard::new(input());
        assert_eq!(key(&w, k(KeyCode::Enter)), KeyAction::Submit);
        assert_eq!(
            key(&w, k(KeyCode::Char('q'))),
            KeyAction::Event(Event::Edit(Edit::Text(InputRequest::InsertChar('q'))))
        );
        assert_eq!(
            key(&w, k(KeyCode::Left)),
            KeyAction::Event(Event::Edit(Edit::Text(InputRequest::GoToPrevChar)))
        );
        assert_eq!(
            key(&w, KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL)),
            KeyAction::Event(Event::Edit(Edit::Text(InputRequest::DeletePrevWord)))
        );
        assert_eq!(
            key(&w, k(KeyCode::Down)),
            KeyAction::Event(Event::Edit(Edit::Next))
        );
        assert_eq!(key(&w, k(KeyCode::F(2))), KeyAction::None);
        w.update(Event::Submit { hosts: hosts() });
        w.update(Event::Checked(vec![Check::pass("x", "y")]));
        assert_eq!(key(&w, k(KeyCode::Enter)), KeyAction::Event(Event::Confirm));
        assert_eq!(key(&w, k(KeyCode::Esc)), KeyAction::Event(Event::Cancel));
        assert_eq!(
            key(&w, k(KeyCode::Char('y'))),
            KeyAction::None,
            "only Enter confirms"
        );
        w.update(Event::Confirm);
        assert_eq!(key(&w, k(KeyCode::Esc)), KeyAction::Close);
        assert_eq!(key(&w, k(KeyCode::Enter)), KeyAction::None);
    }

    #[test]
    fn t_trusts_only_an_unknown_key_that_pre_flight_showed() {
        let mut w = Wizard::new(input());
        w.update(Event::Submit { hosts: hosts() });
        w.update(Event::Checked(vec![Check::fail(
            "ssh",
            "no route to host",
            "check the link",
        )]));
        assert_eq!(w.phase, Phase::Refused);
        assert_eq!(key(&w, k(KeyCode::Char('t'))), KeyAction::None);
        w.update(Event::Submit { hosts: hosts() });
        w.update(Event::Checked(vec![Check::fail(
            "ssh",
            "unknown host key: 256 SHA256:abc (ED25519)",
            "compare it",
        )
        .trusting("SHA256:abc")]));
        assert_eq!(
            key(&w, k(KeyCode::Char('t'))),
            KeyAction::Trust("SHA256:abc".into())
        );
        // Once checks run again, the old offer is gone.
        w.update(Event::Submit { hosts: hosts() });
        assert_eq!(w.host_key_to_trust(), None);
        assert_eq!(key(&w, k(KeyCode::Char('t'))), KeyAction::None);
    }
}
