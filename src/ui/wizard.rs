//! The new-slave wizard's screen: the steps on the left (done, running,
//! failed), the current phase on the right: the form, the pre-flight
//! checks, the plan, a step's live output, the outcome. Drawn from the
//! wizard's state alone.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::ui::text::clean;
use crate::ui::Theme;
use archtui_core::wizard::checks::Verdict;
use archtui_core::wizard::machine::{Leaving, Phase, Step, Wizard};

fn phase_name(p: &Phase) -> &'static str {
    match p {
        Phase::Input => "input",
        Phase::Preflight => "pre-flight",
        Phase::Refused => "refused",
        Phase::Review => "plan review",
        Phase::Running(_) => "running",
        Phase::Failed { .. } => "failed",
        Phase::Done => "done",
        Phase::Cancelled => "cancelled",
    }
}

fn hints(w: &Wizard) -> &'static str {
    if w.host_key_to_trust().is_some() {
        return "t trust the key shown · e re-check · Esc cancel (nothing was changed)";
    }
    match &w.phase {
        Phase::Input => "Tab/↓ next field · ⇧Tab/↑ previous · ⏎ check · Esc cancel",
        Phase::Preflight => "checking; nothing is changed · Esc close",
        Phase::Refused => "fix the host, then e re-check · Esc cancel (nothing was changed)",
        Phase::Review => "⏎ provision · Esc cancel (nothing is changed)",
        Phase::Running(_) if w.leaving == Leaving::Wait => {
            "leaving the wizard once the run ends · Esc choose again"
        }
        Phase::Running(_) => "Esc leave: wait for the run, or leave it running on the host",
        Phase::Failed { .. } => "r retry the step · Esc close (run it again later to resume)",
        Phase::Done => "⏎/Esc close and open the console: the new slave is in the fleet",
        Phase::Cancelled => "⏎/Esc close",
    }
}

/// The whole screen over `area`. `plan` is the plan's lines (see
/// `wizard::plan::lines`).
pub fn screen(w: &Wizard, plan: &[String], t: &Theme, f: &mut Frame, area: Rect) {
    f.render_widget(Clear, area);
    let title = format!(
        " New slave {} · {} ",
        clean(&w.input.name),
        phase_name(&w.phase)
    );
    let outer = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(
            title,
            Style::default().add_modifier(Modifier::BOLD),
        ))
        .border_style(t.border(true));
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let [body, hint] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let wide = body.width >= 100;
    let side_w = if wide { 44 } else { 22 };
    let [side, _, main] = Layout::horizontal([
        Constraint::Length(side_w),
        Constraint::Length(1),
        Constraint::Min(10),
    ])
    .areas(body);
    f.render_widget(Paragraph::new(sidebar(w, t, wide)), side);
    let lines = match &w.phase {
        Phase::Input => form(w, t),
        Phase::Preflight => vec![
            Line::from("Pre-flight checks are running: nothing is changed."),
            Line::from(format!(
                "ssh {}, docker and compose, disk, ports, the master from the host, the name, the clock",
                clean(&w.input.ssh)
            )),
        ],
        Phase::Refused => {
            let mut l = checks(w, t);
            // What failed and what to do about it matter most: on a small
            // screen the passed checks shrink to one line.
            if rows(&l, main.width) + 6 > main.height as usize {
                l = compact_checks(w, t);
            }
            l.push(Line::from(""));
            l.push(Line::from(Span::styled(
                "A check failed: nothing was changed on any host.",
                t.fg(Color::Red).add_modifier(Modifier::BOLD),
            )));
            if let Some(fp) = w.host_key_to_trust() {
                l.push(Line::from(""));
                l.push(Line::from(vec![
                    Span::raw("Press t to trust "),
                    Span::styled(clean(fp), Style::default().add_modifier(Modifier::BOLD)),
                    Span::raw(format!(
                        " for {}, only if it is the fingerprint the host's own console shows.",
                        clean(&w.input.ssh)
                    )),
                ]));
            }
            l.extend(tail(w, 3, t));
            l
        }
        Phase::Review => {
            let plan: Vec<Line> = plan.iter().map(|p| Line::from(clean(p))).collect();
            let mut l = checks(w, t);
            // The plan matters most here: on a small screen the passed
            // checks shrink to one line.
            if rows(&l, main.width) + rows(&plan, main.width) + 1 > main.height as usize {
                l = compact_checks(w, t);
            }
            l.push(Line::from(""));
            l.extend(plan);
            l
        }
        Phase::Running(step) => running(w, *step, t, main.height as usize),
        Phase::Failed { step, error } => {
            let mut l = vec![
                Line::from(Span::styled(
                    format!("{} failed:", step.title()),
                    t.fg(Color::Red).add_modifier(Modifier::BOLD),
                )),
                Line::from(clean(error)),
                Line::from(""),
                Line::from(format!(
                    "The journal keeps what is done. Undo everything: archtui retire {}",
                    clean(&w.input.name)
                )),
                Line::from(""),
            ];
            l.extend(tail(w, (main.height as usize).saturating_sub(6), t));
            l
        }
        Phase::Done => {
            let mut l = vec![Line::from(Span::styled(
                format!(
                    "{} is a replicating slave of {} and in the fleet.",
                    clean(&w.input.name),
                    clean(&w.input.master)
                ),
                t.fg(Color::Green).add_modifier(Modifier::BOLD),
            ))];
            l.push(Line::from(""));
            l.extend(
                w.results
                    .iter()
                    .map(|(s, m)| Line::from(format!("✓ {}: {}", s.title(), clean(m)))),
            );
            l
        }
        Phase::Cancelled => vec![Line::from("Cancelled: nothing was changed.")],
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), main);
    f.render_widget(Paragraph::new(Span::styled(hints(w), t.stale())), hint);
    if w.leaving == Leaving::Ask {
        let step = match &w.phase {
            Phase::Running(s) => s.title(),
            _ => "a step",
        };
        let running = format!("Provisioning {}: {step} is running.", clean(&w.input.name));
        super::actions::leave_ask(running, "leave the wizard", "the wizard", t, f, area);
    }
}

fn sidebar(w: &Wizard, t: &Theme, wide: bool) -> Vec<Line<'static>> {
    let before = |p: &Phase| match p {
        Phase::Input => 0,
        Phase::Preflight | Phase::Refused => 1,
        Phase::Review | Phase::Cancelled => 2,
        _ => 3,
    };
    let at = before(&w.phase);
    let stage = |i: usize, name: &str, failed: bool| {
        let (mark, style) = if failed && i == at {
            ("✗", t.fg(Color::Red).add_modifier(Modifier::BOLD))
        } else if i < at {
            ("✓", t.fg(Color::Green))
        } else if i == at {
            ("▶", Style::default().add_modifier(Modifier::BOLD))
        } else {
            ("·", t.stale())
        };
        Line::from(Span::styled(format!(" {mark} {name}"), style))
    };
    let mut out = vec![
        stage(0, "Input", false),
        stage(1, "Pre-flight", w.phase == Phase::Refused),
        stage(2, "Plan review", false),
    ];
    for (i, s) in Step::ALL.into_iter().enumerate() {
        let (mark, style) = match &w.phase {
            _ if w.done.contains(&s) => ("✓", t.fg(Color::Green)),
            Phase::Running(r) if *r == s => ("▶", Style::default().add_modifier(Modifier::BOLD)),
            Phase::Failed { step, .. } if *step == s => {
                ("✗", t.fg(Color::Red).add_modifier(Modifier::BOLD))
            }
            _ => ("·", t.stale()),
        };
        let name = if wide { s.title() } else { s.short() };
        out.push(Line::from(Span::styled(
            format!("   {mark} {}. {name}", i + 1),
            style,
        )));
    }
    out
}

fn form(w: &Wizard, t: &Theme) -> Vec<Line<'static>> {
    let mut l = vec![
        Line::from("A bare host with sshd and Docker becomes a slave of the master."),
        Line::from(""),
    ];
    for (i, (label, value)) in w.input.fields().into_iter().enumerate() {
        let mut spans = vec![Span::raw(format!("{label:>26}: "))];
        if i == w.field {
            // The focused field reversed; the cell under its cursor not.
            spans.extend(crate::ui::text::typed(
                value,
                w.field_cursor(),
                usize::MAX,
                Style::default().add_modifier(Modifier::REVERSED),
                Style::default().add_modifier(Modifier::BOLD),
                Span::styled("_", t.stale()),
            ));
        } else {
            spans.push(Span::styled(
                clean(value),
                Style::default().add_modifier(Modifier::BOLD),
            ));
        }
        l.push(Line::from(spans));
    }
    l.push(Line::from(Span::styled(
        format!(
            "{:>26}  {} (project {})",
            "deploy dir:",
            clean(&w.input.deploy_dir),
            clean(&w.input.compose_project)
        ),
        t.stale(),
    )));
    if !w.notes.is_empty() {
        l.push(Line::from(""));
        l.extend(
            w.notes
                .iter()
                .map(|n| Line::from(Span::styled(clean(n), t.stale()))),
        );
    }
    if !w.problems.is_empty() {
        l.push(Line::from(""));
        l.extend(
            w.problems
                .iter()
                .map(|p| Line::from(Span::styled(format!("✗ {}", clean(p)), t.fg(Color::Red)))),
        );
    }
    l
}

fn checks(w: &Wizard, t: &Theme) -> Vec<Line<'static>> {
    let mut l = vec![Line::from(Span::styled(
        "Pre-flight (nothing changed):",
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    for c in &w.checks {
        let (mark, style) = match c.verdict {
            Verdict::Pass => ("PASS", t.fg(Color::Green)),
            Verdict::Warn => ("WARN", t.fg(Color::Yellow).add_modifier(Modifier::BOLD)),
            Verdict::Fail => ("FAIL", t.fg(Color::Red).add_modifier(Modifier::BOLD)),
        };
        l.push(Line::from(vec![
            Span::styled(format!(" {mark} "), style),
            Span::raw(format!("{:<18} {}", clean(&c.what), clean(&c.detail))),
        ]));
        if c.verdict != Verdict::Pass {
            if let Some(fix) = &c.fix {
                l.push(Line::from(Span::styled(
                    format!("      fix: {}", clean(fix)),
                    t.stale(),
                )));
            }
        }
    }
    l
}

/// Screen rows `lines` take when wrapped at `width` (about: words may
/// wrap earlier).
fn rows(lines: &[Line], width: u16) -> usize {
    let w = usize::from(width.max(1));
    lines.iter().map(|l| l.width().max(1).div_ceil(w)).sum()
}

fn compact_checks(w: &Wizard, t: &Theme) -> Vec<Line<'static>> {
    let passed = w
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Pass)
        .count();
    let mut l = vec![Line::from(vec![
        Span::styled(
            "Pre-flight (nothing changed): ",
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("{passed} passed"), t.fg(Color::Green)),
    ])];
    for c in w.checks.iter().filter(|c| c.verdict != Verdict::Pass) {
        let (mark, style) = if c.verdict == Verdict::Fail {
            (" FAIL ", t.fg(Color::Red))
        } else {
            (" WARN ", t.fg(Color::Yellow))
        };
        l.push(Line::from(vec![
            Span::styled(mark, style.add_modifier(Modifier::BOLD)),
            Span::raw(format!("{}: {}", clean(&c.what), clean(&c.detail))),
        ]));
        if let Some(fix) = c.fix.as_ref().filter(|_| c.verdict == Verdict::Fail) {
            l.push(Line::from(Span::styled(
                format!("      fix: {}", clean(fix)),
                t.stale(),
            )));
        }
    }
    l
}

fn running(w: &Wizard, step: Step, t: &Theme, height: usize) -> Vec<Line<'static>> {
    let n = step.number();
    let mut l = vec![
        Line::from(Span::styled(
            format!("Step {n}/{}: {}", Step::ALL.len(), step.title()),
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::from(Span::styled(
            format!("checked after: {}", step.postcondition()),
            t.stale(),
        )),
        Line::from(""),
    ];
    l.extend(tail(w, height.saturating_sub(3), t));
    l
}

fn tail(w: &Wizard, rows: usize, _t: &Theme) -> Vec<Line<'static>> {
    let skip = w.log.len().saturating_sub(rows);
    w.log[skip..].iter().map(|s| Line::from(clean(s))).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use archtui_core::wizard::checks::Check;
    use archtui_core::wizard::input::fixtures::{hosts, input};
    use archtui_core::wizard::machine::Event;

    fn draw(w: &Wizard, width: u16, height: u16) -> String {
        let plan = archtui_core::wizard::plan::lines(
            &w.input,
            Path::new("/home/op/archive"),
            Path::new("/home/op/.config/archtui/config.toml"),
            &w.done,
        );
        let mut term = Terminal::new(TestBackend::new(width, height)).unwrap();
        term.draw(|f| screen(w, &plan, &Theme { color: false }, f, f.area()))
            .unwrap();
        term.backend().to_string()
    }

    fn both(name: &str, w: &Wizard) {
        insta::assert_snapshot!(format!("wizard_{name}_80x24"), draw(w, 80, 24));
        insta::assert_snapshot!(format!("wizard_{name}_200x50"), draw(w, 200, 50));
    }

    fn good_checks() -> Vec<Check> {
        vec![
            Check::pass("ssh", "turntable as root@turntable"),
            Check::pass("docker engine", "version 20.10.24+dfsg1"),
            Check::pass("docker compose", "v2.26.1-4"),
            Check::pass("disk space", "72.6 GiB free on /srv"),
            Check::pass("ports", "5432, 3000 free"),
            Check::pass(
                "master's database",
                "10.77.0.1:5432 reachable from the new host",
            ),
            Check::pass("clock", "offset +0.2 s"),
            Check::warn(
                "deploy dir",
                "a stack is already there",
                "its files will be replaced",
            ),
            Check::pass("name in Bucardo", "turntable is free on the master"),
        ]
    }

    fn reviewing() -> Wizard {
        let mut w = Wizard::new(input());
        w.update(Event::Submit { hosts: hosts() });
        w.update(Event::Checked(good_checks()));
        w
    }

    #[test]
    fn input_screen() {
        let mut w = Wizard::new(input());
        w.field = 2;
        both("input", &w);
        let mut bad = input();
        bad.name = "jukebox".into();
        let mut w = Wizard::new(bad);
        w.update(Event::Submit { hosts: hosts() });
        both("input_problems", &w);
    }

    #[test]
    fn the_focused_field_shows_its_cursor_where_it_is() {
        use archtui_core::line_edit::InputRequest as R;
        use archtui_core::wizard::machine::Edit;
        let mut w = Wizard::new(input());
        for r in [R::GoToStart, R::GoToNextChar, R::GoToNextChar] {
            w.update(Event::Edit(Edit::Text(r)));
        }
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| screen(&w, &[], &Theme { color: false }, f, f.area()))
            .unwrap();
        let buf = term.backend().buffer();
        let field = "Slave name: ";
        assert!(crate::ui::cells_at(buf, "Slave name: turntable_").is_none());
        let cells = crate::ui::cells_at(buf, field).expect("the name field");
        let reversed: Vec<bool> = cells[field.len()..field.len() + 4]
            .iter()
            .map(|c| c.modifier.contains(Modifier::REVERSED))
            .collect();
        // The field is reversed; the cell under the cursor stands out.
        assert_eq!(reversed, [true, true, false, true], "under the r");
    }

    #[test]
    fn preflight_screens() {
        let mut w = Wizard::new(input());
        w.update(Event::Submit { hosts: hosts() });
        both("preflight", &w);
        let mut checks = good_checks();
        checks[2] = Check::fail(
            "docker compose",
            "`docker compose version` failed: compose v2 missing",
            "install the compose v2 plugin",
        );
        w.update(Event::Checked(checks));
        both("refused", &w);
        // An unknown host key: its fingerprint, and t to trust it.
        let mut w = Wizard::new(input());
        w.update(Event::Submit { hosts: hosts() });
        let mut checks = good_checks();
        checks[0] = Check::fail(
            "ssh",
            "unknown host key: 256 SHA256:Zm9vYmFyYmF6cXV4 10.77.0.3 (ED25519)",
            "compare it with the host's own, then trust it: t on the wizard's screen, or run again with --trust-host-key 'SHA256:Zm9vYmFyYmF6cXV4'",
        )
        .trusting("SHA256:Zm9vYmFyYmF6cXV4");
        w.update(Event::Checked(checks));
        let screen = draw(&w, 80, 24);
        assert!(screen.contains("Press t to trust"), "{screen}");
        assert!(screen.contains("t trust the key shown"), "{screen}");
        both("refused_host_key", &w);
    }

    #[test]
    fn the_blank_form_from_the_console_says_how_blanks_fill() {
        let mut i = input();
        i.name.clear();
        i.ssh.clear();
        i.app_host.clear();
        let mut w = Wizard::new(i);
        w.notes.push("Blank SSH destination: the slave's name; blank APP_HOST: its address as ssh resolves it.".into());
        w.notes.push("Interrupted: turntable (2/6 steps done): type its name to resume, or `archtui retire turntable` to start over.".into());
        both("input_blank", &w);
    }

    #[test]
    fn review_screen() {
        both("review", &reviewing());
    }

    #[test]
    fn running_failed_done_screens() {
        let mut w = reviewing();
        w.update(Event::Confirm);
        w.update(Event::StepDone(Step::Upload, "4 files".into()));
        for i in 0..40 {
            w.update(Event::Output(format!(
                " Container archive-db-1  Step {i}\x1b[2J"
            )));
        }
        both("running", &w);
        w.update(Event::StepFailed(
            Step::ComposeUp,
            "docker compose up failed (exit status: 1): failed to solve".into(),
        ));
        both("failed", &w);
        let mut w = reviewing();
        w.update(Event::Confirm);
        for s in Step::ALL {
            w.update(Event::StepDone(s, format!("{} ok", s.title())));
        }
        both("done", &w);
        let mut w = reviewing();
        w.update(Event::Cancel);
        both("cancelled", &w);
    }

    #[test]
    fn leaving_while_a_step_runs_asks_wait_or_leave_it_running() {
        let mut w = reviewing();
        w.update(Event::Confirm);
        w.update(Event::AskLeave);
        let screen = draw(&w, 100, 30);
        assert!(screen.contains("leave the wizard?"), "{screen}");
        assert!(
            screen.contains(&format!(
                "Provisioning {}: upload the stack and env.slave is running.",
                w.input.name
            )),
            "{screen}"
        );
        assert!(
            screen.contains("w  wait for it to end, then leave the wizard"),
            "{screen}"
        );
        assert!(
            screen.contains("l  leave it running on the host and leave the wizard"),
            "{screen}"
        );
        assert!(screen.contains("Esc  stay in the wizard"), "{screen}");
        w.update(Event::LeaveAnswer(Leaving::Wait));
        let screen = draw(&w, 100, 30);
        assert!(!screen.contains("leave the wizard?"), "{screen}");
        assert!(
            screen.contains("leaving the wizard once the run ends"),
            "{screen}"
        );
    }
}
