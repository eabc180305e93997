//! Keys on the wizard's screen, per phase. Pure: a key in, what it means
//! out. Esc never confirms; Enter on the plan review is the one key that
//! starts changing hosts.

use crate::key::{KeyCode, KeyEvent, KeyModifiers};

use super::machine::{Edit, Event, Leaving, Phase, Wizard};

#[derive(Debug, Clone, PartialEq)]
pub enum KeyAction {
    /// Feed this event to the machine.
    Event(Event),
    /// Submit the form: the caller adds the config's hosts.
    Submit,
    /// Trust the host key with this fingerprint (shown on screen), then
    /// check again.
    Trust(String),
    /// Leave the wizard screen (the journal keeps its place).
    Close,
    /// Leave while a step runs, its remote job going on on the host: the
    /// front-end audits it as left running, then closes.
    LeaveRunning,
    None,
}

pub fn key(w: &Wizard, k: KeyEvent) -> KeyAction {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    if w.leaving == Leaving::Ask {
        // Only the question's answers while it is up.
        return match k.code {
            KeyCode::Char('w') | KeyCode::Enter => {
                KeyAction::Event(Event::LeaveAnswer(Leaving::Wait))
            }
            KeyCode::Char('l') => KeyAction::LeaveRunning,
            KeyCode::Esc => KeyAction::Event(Event::LeaveAnswer(Leaving::No)),
            _ => KeyAction::None,
        };
    }
    let asks = matches!(w.phase, Phase::Running(_));
    match (&w.phase, k.code) {
        // A step runs: ask first (a wait already chosen is asked again).
        (_, KeyCode::Char('c')) if ctrl && asks => KeyAction::Event(Event::AskLeave),
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
        (Phase::Running(_), KeyCode::Esc) => KeyAction::Event(Event::AskLeave),
        // The pre-flight only reads: nothing to wait for or leave running.
        (Phase::Preflight, KeyCode::Esc) => KeyAction::Close,
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
        assert_eq!(key(&w, k(KeyCode::Esc)), KeyAction::Event(Event::AskLeave));
        assert_eq!(key(&w, k(KeyCode::Enter)), KeyAction::None);
    }

    /// A wizard running its first step.
    fn running() -> Wizard {
        let mut w = Wizard::new(input());
        w.update(Event::Submit { hosts: hosts() });
        w.update(Event::Checked(vec![Check::pass("x", "y")]));
        w.update(Event::Confirm);
        assert!(matches!(w.phase, Phase::Running(_)), "{:?}", w.phase);
        w
    }

    /// Feeds what `key` says, as the front-end does with events.
    fn press(w: &mut Wizard, code: KeyCode) -> KeyAction {
        let a = key(w, k(code));
        if let KeyAction::Event(e) = &a {
            w.update(e.clone());
        }
        a
    }

    #[test]
    fn leaving_while_a_step_runs_asks_and_l_leaves_it_running() {
        let mut w = running();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(key(&w, ctrl_c), KeyAction::Event(Event::AskLeave));
        press(&mut w, KeyCode::Esc);
        assert_eq!(w.leaving, Leaving::Ask);
        // Other keys do nothing while it asks; Esc stays.
        assert_eq!(press(&mut w, KeyCode::Char('r')), KeyAction::None);
        assert_eq!(key(&w, ctrl_c), KeyAction::None);
        press(&mut w, KeyCode::Esc);
        assert_eq!(w.leaving, Leaving::No);
        assert!(matches!(w.phase, Phase::Running(_)), "still running");
        press(&mut w, KeyCode::Esc);
        assert_eq!(press(&mut w, KeyCode::Char('l')), KeyAction::LeaveRunning);
        assert!(!w.leave_now(), "the front-end closes on LeaveRunning");
    }

    #[test]
    fn leaving_choosing_wait_closes_once_the_run_ends() {
        let mut w = running();
        let Phase::Running(step) = w.phase else {
            unreachable!()
        };
        press(&mut w, KeyCode::Esc);
        press(&mut w, KeyCode::Char('w'));
        assert_eq!(w.leaving, Leaving::Wait);
        assert!(!w.leave_now(), "the step still runs");
        // Esc again asks again.
        press(&mut w, KeyCode::Esc);
        assert_eq!(w.leaving, Leaving::Ask);
        press(&mut w, KeyCode::Enter);
        assert_eq!(w.leaving, Leaving::Wait);
        // The next step starts: still waiting; a failure ends the run.
        w.update(Event::StepDone(step, "ok".into()));
        assert!(matches!(w.phase, Phase::Running(_)) && !w.leave_now());
        let Phase::Running(next) = w.phase else {
            unreachable!()
        };
        w.update(Event::StepFailed(next, "no".into()));
        assert!(w.leave_now());
    }

    #[test]
    fn a_run_that_ends_while_asking_takes_the_question_down() {
        let mut w = running();
        let Phase::Running(step) = w.phase else {
            unreachable!()
        };
        press(&mut w, KeyCode::Esc);
        w.update(Event::StepFailed(step, "no".into()));
        assert_eq!(w.leaving, Leaving::No);
        assert_eq!(key(&w, k(KeyCode::Esc)), KeyAction::Close);
    }

    #[test]
    fn leaving_where_nothing_runs_does_not_ask() {
        let mut w = Wizard::new(input());
        w.update(Event::Submit { hosts: hosts() });
        assert_eq!(w.phase, Phase::Preflight);
        assert_eq!(key(&w, k(KeyCode::Esc)), KeyAction::Close);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(key(&w, ctrl_c), KeyAction::Close);
        // Not running: the question cannot be put.
        w.update(Event::AskLeave);
        assert_eq!(w.leaving, Leaving::No);
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
