//! The console's verify key: compares the selected slave with the master
//! (`crate::verify`) and shows its progress and report in the action
//! pane. It only reads, so it runs at once, read-only mode included; a
//! repair stays on the command line (`archtui verify SLAVE --repair`),
//! where its plan is read before the question.

use crate::actions::{Outcome, Status};
use crate::app::actions::ActionPane;
use crate::app::state::Model;
use crate::app::Effect;

/// One verify per slave at a time.
pub fn target(slave: &str) -> String {
    format!("verify-{slave}")
}

pub fn start(m: &mut Model) -> Vec<Effect> {
    let Some(h) = m.selected_host() else {
        m.flash = Some("no host selected".into());
        return Vec::new();
    };
    if h.seen.host.role != crate::config::Role::Slave {
        m.flash = Some(format!(
            "{} is the master: select a slave to verify against it",
            h.seen.host.name
        ));
        return Vec::new();
    }
    let slave = h.seen.host.name.clone();
    if m.actions.running.values().any(|t| *t == target(&slave)) {
        m.flash = Some(format!("verify {slave} is already running"));
        return Vec::new();
    }
    m.actions.next_id += 1;
    let id = m.actions.next_id;
    m.actions.running.insert(id, target(&slave));
    m.actions.pane = Some(ActionPane::new(
        id,
        format!("verify {slave} against the master"),
    ));
    vec![Effect::RunVerify { id, slave }]
}

pub fn done(m: &mut Model, id: u64, outcome: Outcome) {
    m.actions.running.remove(&id);
    m.flash = Some(format!("{}: {}", outcome.status, outcome.message));
    if let Some(p) = m.actions.pane.as_mut().filter(|p| p.id == id) {
        p.outcome = Some(outcome);
    }
}

/// A verify's outcome as the pane and the audit show it. Pure.
pub fn outcome(r: &crate::verify::report::Report) -> Outcome {
    use crate::verify::report::Outcome as V;
    let first = r
        .slaves
        .iter()
        .map(|s| crate::verify::report::slave_text(s)[0].clone())
        .collect::<Vec<_>>()
        .join("; ");
    let status = match r.outcome {
        V::Equal => Status::Ok,
        V::Differ => Status::Failed,
        V::Refused => Status::Refused,
        V::Unreachable => Status::Unreachable,
    };
    Outcome::new(status, first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures::*;
    use crate::app::{update, Msg};
    use crate::key::{KeyCode, KeyEvent};

    fn press(m: &mut Model, k: KeyCode) -> Vec<Effect> {
        update(m, Msg::Key(KeyEvent::from(k)))
    }

    #[test]
    fn the_verify_key_runs_on_the_selected_slave_and_shows_the_result() {
        let mut m = healthy();
        // The master is selected first: refused with a word.
        assert!(press(&mut m, KeyCode::Char('C')).is_empty());
        assert!(m.flash.as_deref().unwrap().contains("master"));
        press(&mut m, KeyCode::Down);
        let fx = press(&mut m, KeyCode::Char('C'));
        assert_eq!(
            fx,
            [Effect::RunVerify {
                id: 1,
                slave: "jukebox".into()
            }]
        );
        assert!(
            m.actions.confirm.is_none(),
            "it only reads: nothing to confirm"
        );
        // One at a time per slave.
        assert!(press(&mut m, KeyCode::Char('C')).is_empty());
        assert!(m.flash.as_deref().unwrap().contains("already running"));
        update(
            &mut m,
            Msg::ActionOutput {
                id: 1,
                line: "jukebox: public.items: 100 rows".into(),
            },
        );
        update(
            &mut m,
            Msg::VerifyDone {
                id: 1,
                outcome: Outcome::new(Status::Failed, "jukebox: DIFFERENT: 1 rows differ"),
            },
        );
        let p = m.actions.pane.as_ref().unwrap();
        assert_eq!(p.lines, ["jukebox: public.items: 100 rows"]);
        assert_eq!(p.outcome.as_ref().unwrap().status, Status::Failed);
        assert!(m.actions.running.is_empty());
        // Read-only mode verifies all the same.
        m.read_only = true;
        assert!(matches!(
            &press(&mut m, KeyCode::Char('C'))[..],
            [Effect::RunVerify { .. }]
        ));
    }

    #[test]
    fn the_outcome_says_equal_or_different() {
        use crate::verify::report::{Report, SlaveReport, TableReport};
        let now = chrono::Utc::now();
        let mut s = SlaveReport::new("jukebox", now);
        s.tables.push(TableReport::default());
        s.conclude();
        let o = outcome(&Report::new(now, vec![s.clone()]));
        assert_eq!(o.status, Status::Ok);
        assert!(o.message.starts_with("jukebox: equal"), "{}", o.message);
        s.tables[0].changed.push(vec!["5".into()]);
        s.conclude();
        assert_eq!(outcome(&Report::new(now, vec![s])).status, Status::Failed);
    }
}
