//! The one sanitizer for text that comes from a host and reaches a
//! terminal (log pane, console panes, CLI tables and messages, action and
//! wizard output). Text is parsed as a terminal would parse it, and only
//! printable characters come out: no ESC, no C0 (a tab is expanded or
//! becomes a space; a newline survives only in `text`), no C1, no DEL, no
//! bidirectional controls. Colours and attributes (SGR) become styles in
//! `sanitize` (the log pane draws them); every other control or escape
//! sequence (cursor moves, screen clears, OSC titles, DCS, ...) is dropped
//! whole, so not even its parameters are left behind as text.

use ratatui_core::style::{Color, Modifier, Style};
use vte::{Params, Parser, Perform};

/// Display limit of one line, in characters; the rest is counted, not kept.
pub const MAX_LINE_CHARS: usize = 2000;

/// A style applied to `text[start..end]` (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StyleRun {
    pub start: u32,
    pub end: u32,
    pub style: Style,
}

/// One sanitized line: printable text, its styled runs, and how many
/// characters were cut off the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanLine {
    pub text: String,
    pub styles: Vec<StyleRun>,
    pub cut_chars: usize,
}

impl CleanLine {
    /// Heap bytes this line holds, for the ring buffer's byte bound.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.styles.capacity() * std::mem::size_of::<StyleRun>()
    }
}

/// Sanitizes one line of raw bytes (without its newline). Invalid UTF-8
/// becomes U+FFFD.
pub fn sanitize(raw: &[u8], max_chars: usize) -> CleanLine {
    run(raw, max_chars, false)
}

/// Remote text on one line, for a table cell, a pane or a message: the
/// sequences dropped, no styles, a tab or a newline becomes one space.
pub fn line(s: &str) -> String {
    run(s.as_bytes(), MAX_LINE_CHARS, true).text
}

/// Remote text of several lines (an error with its context, a fix): each
/// line as `line` makes it, the newlines kept.
pub fn text(s: &str) -> String {
    let lines: Vec<String> = s.split('\n').map(line).collect();
    lines.join("\n")
}

/// What the operator is shown of remote text on one line: `line`, then
/// every secret value archtui knows redacted (`credentials::redact`).
pub fn shown(s: &str) -> String {
    crate::credentials::redact(&line(s))
}

/// `shown` for text of several lines.
pub fn shown_text(s: &str) -> String {
    crate::credentials::redact(&text(s))
}

/// JSON for a terminal: the characters JSON itself leaves raw but a
/// terminal would act on (DEL, C1, bidirectional controls) are written as
/// `\uXXXX` escapes, so the document is unchanged for a parser and inert
/// on a screen.
pub fn json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, InertJson);
    value.serialize(&mut ser)?;
    // The formatter writes only what serde_json and `escape` give it: UTF-8.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

struct InertJson;

impl serde_json::ser::Formatter for InertJson {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if hidden(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

fn run(raw: &[u8], max_chars: usize, plain: bool) -> CleanLine {
    let mut out = Sink {
        line: CleanLine::default(),
        chars: 0,
        max_chars,
        style: Style::default(),
        run_start: 0,
        plain,
    };
    let mut parser = Parser::new();
    parser.advance(&mut out, raw);
    out.close_run();
    out.line.text.shrink_to_fit();
    out.line.styles.shrink_to_fit();
    out.line
}

struct Sink {
    line: CleanLine,
    chars: usize,
    max_chars: usize,
    style: Style,
    run_start: usize,
    /// One plain line: no styles; tab and newline become a space.
    plain: bool,
}

impl Sink {
    fn push(&mut self, c: char) {
        if self.chars >= self.max_chars {
            self.line.cut_chars += 1;
            return;
        }
        self.line.text.push(c);
        self.chars += 1;
    }

    fn close_run(&mut self) {
        let end = self.line.text.len();
        if end > self.run_start && self.style != Style::default() {
            self.line.styles.push(StyleRun {
                start: self.run_start as u32,
                end: end as u32,
                style: self.style,
            });
        }
        self.run_start = end;
    }

    fn set_style(&mut self, style: Style) {
        if style != self.style {
            self.close_run();
            self.style = style;
        }
    }
}

/// Characters that are printable to vte but still act on a terminal or
/// rearrange text: C0, DEL, C1, and the bidirectional marks, embeddings,
/// overrides and isolates ("Trojan source").
pub fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        )
}

impl Perform for Sink {
    fn print(&mut self, c: char) {
        if !hidden(c) {
            self.push(c);
        }
    }

    fn execute(&mut self, byte: u8) {
        // A tab is layout, not control: expand it. Everything else (CR,
        // backspace, bell, ...) would move the cursor or beep: drop it.
        match byte {
            b'\t' | b'\n' if self.plain => self.push(' '),
            b'\t' => {
                let n = 8 - self.chars % 8;
                for _ in 0..n {
                    self.push(' ');
                }
            }
            _ => {}
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        if action == 'm' && intermediates.is_empty() && !ignore && !self.plain {
            let style = apply_sgr(self.style, params);
            self.set_style(style);
        }
    }
}

fn apply_sgr(mut style: Style, params: &Params) -> Style {
    let mut it = params.iter();
    // `ESC[m` is a reset too.
    if params.is_empty() {
        return Style::default();
    }
    while let Some(p) = it.next() {
        let code = p.first().copied().unwrap_or(0);
        match code {
            0 => style = Style::default(),
            1 => style = style.add_modifier(Modifier::BOLD),
            2 => style = style.add_modifier(Modifier::DIM),
            3 => style = style.add_modifier(Modifier::ITALIC),
            4 => style = style.add_modifier(Modifier::UNDERLINED),
            7 => style = style.add_modifier(Modifier::REVERSED),
            9 => style = style.add_modifier(Modifier::CROSSED_OUT),
            22 => style = style.remove_modifier(Modifier::BOLD | Modifier::DIM),
            23 => style = style.remove_modifier(Modifier::ITALIC),
            24 => style = style.remove_modifier(Modifier::UNDERLINED),
            27 => style = style.remove_modifier(Modifier::REVERSED),
            29 => style = style.remove_modifier(Modifier::CROSSED_OUT),
            30..=37 => style.fg = Some(Color::Indexed((code - 30) as u8)),
            39 => style.fg = None,
            40..=47 => style.bg = Some(Color::Indexed((code - 40) as u8)),
            49 => style.bg = None,
            90..=97 => style.fg = Some(Color::Indexed((code - 90 + 8) as u8)),
            100..=107 => style.bg = Some(Color::Indexed((code - 100 + 8) as u8)),
            38 | 48 => {
                // Either `38:5:n` (one param with subparams) or `38;5;n`.
                let color = if p.len() > 1 {
                    extended_color(&p[1..])
                } else {
                    let kind = it.next().and_then(|k| k.first().copied());
                    match kind {
                        Some(5) => it
                            .next()
                            .and_then(|n| n.first().copied())
                            .map(|n| Color::Indexed(n.min(255) as u8)),
                        Some(2) => {
                            let mut rgb = [0u8; 3];
                            for v in &mut rgb {
                                *v = it
                                    .next()
                                    .and_then(|n| n.first().copied())
                                    .unwrap_or(0)
                                    .min(255) as u8;
                            }
                            Some(Color::Rgb(rgb[0], rgb[1], rgb[2]))
                        }
                        _ => None,
                    }
                };
                if code == 38 {
                    style.fg = color.or(style.fg);
                } else {
                    style.bg = color.or(style.bg);
                }
            }
            _ => {}
        }
    }
    style
}

fn extended_color(sub: &[u16]) -> Option<Color> {
    match sub {
        [5, n, ..] => Some(Color::Indexed((*n).min(255) as u8)),
        // `38:2::r:g:b` carries a colour-space id; `38:2:r:g:b` does not.
        [2, _, r, g, b, ..] | [2, r, g, b] => Some(Color::Rgb(
            (*r).min(255) as u8,
            (*g).min(255) as u8,
            (*b).min(255) as u8,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &[u8]) -> CleanLine {
        sanitize(s, MAX_LINE_CHARS)
    }

    #[test]
    fn plain_text_passes() {
        let l = clean(b"LOG:  database system is ready");
        assert_eq!(l.text, "LOG:  database system is ready");
        assert!(l.styles.is_empty());
    }

    #[test]
    fn escape_sequences_never_come_out() {
        let evil = b"a\x1b[2J\x1b[H\x1b[10;20Hb\x1b]0;owned title\x07c\x1b]8;;http://x\x1b\\d\x1bPq#0;1\x1b\\e\x1b[?1049h\x1b[?25lf\r\x08\x07g\x1bcH";
        let l = clean(evil);
        assert_eq!(l.text, "abcdefgH");
        assert!(!l.text.chars().any(|c| c.is_control()));
    }

    #[test]
    fn sgr_becomes_styles() {
        let l = clean(b"x\x1b[1;31mERR\x1b[0m y \x1b[38;5;208mo\x1b[38;2;1;2;3mr\x1b[m");
        assert_eq!(l.text, "xERR y or");
        assert_eq!(l.styles.len(), 3);
        assert_eq!((l.styles[0].start, l.styles[0].end), (1, 4));
        assert_eq!(
            l.styles[0].style,
            Style::default()
                .fg(Color::Indexed(1))
                .add_modifier(Modifier::BOLD)
        );
        assert_eq!(l.styles[1].style.fg, Some(Color::Indexed(208)));
        assert_eq!(l.styles[2].style.fg, Some(Color::Rgb(1, 2, 3)));
    }

    #[test]
    fn colon_subparams() {
        let l = clean(b"\x1b[38:2::9:8:7mz");
        assert_eq!(l.styles[0].style.fg, Some(Color::Rgb(9, 8, 7)));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let l = clean(b"ok \xff\xfe end \xe2\x82");
        assert!(l.text.starts_with("ok "));
        assert!(l.text.contains('\u{FFFD}'));
        assert!(l.text.contains(" end"));
    }

    #[test]
    fn c1_and_bidi_controls_dropped() {
        // The C1 CSI goes; what followed it is harmless text.
        let l = clean("a\u{9b}2Jb\u{202E}c\u{85}d".as_bytes());
        assert_eq!(l.text, "a2Jbcd");
    }

    #[test]
    fn plain_lines_leave_no_residue() {
        let evil =
            "a\x1b[2Jb\x1b]0;TITLE\x07c\u{9b}d\te\nf\u{202E}g\u{200F}h\u{61C}i\x7fj\x1b[31mk";
        let l = line(evil);
        assert_eq!(l, "abcd e fghijk");
        for residue in ["[2J", "]0;", "TITLE", "\u{9b}", "[31m"] {
            assert!(!l.contains(residue), "{residue:?} in {l:?}");
        }
        assert_eq!(text("one\x1b[2J\ntwo\x1b]0;T\x07"), "one\ntwo");
    }

    #[test]
    fn json_stays_json_and_inert() {
        let v = serde_json::json!({"name": "a\u{9b}2J\u{202E}b\x1b[2J\x7f"});
        let out = json(&v).unwrap();
        assert!(!out.chars().any(hidden), "{out:?}");
        assert!(out.contains("\\u009b") && out.contains("\\u202e"), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, v, "the document is unchanged for a parser");
    }

    #[test]
    fn tabs_expand() {
        assert_eq!(clean(b"ab\tc").text, "ab      c");
    }

    #[test]
    fn long_lines_are_cut_and_counted() {
        let raw = vec![b'x'; 1_000_000];
        let l = sanitize(&raw, 100);
        assert_eq!(l.text.len(), 100);
        assert_eq!(l.cut_chars, 999_900);
    }

    /// Property tests: cases per run are set explicitly (see each config).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// Escape and control sequences a hostile host may print.
        const EVIL: [&str; 14] = [
            "\x1b[2J",
            "\x1b[H",
            "\x1b[10;20H",
            "\x1b]0;TITLE\x07",
            "\x1b]8;;http://x\x1b\\",
            "\x1bPq#0;1\x1b\\",
            "\x1b[?1049h",
            "\x1b[31m",
            "\x1b[38;2;1;2;3m",
            "\x1bc",
            "\r",
            "\x07",
            "\u{202E}",
            "\u{9b}",
        ];

        fn no_hidden(s: &str) -> bool {
            !s.chars().any(hidden)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            /// Whatever bytes come in, nothing a terminal acts on comes out.
            #[test]
            fn arbitrary_bytes_come_out_inert(raw in proptest::collection::vec(any::<u8>(), 0..400)) {
                let l = sanitize(&raw, 300);
                prop_assert!(no_hidden(&l.text));
                for r in &l.styles {
                    prop_assert!(l.text.is_char_boundary(r.start as usize));
                    prop_assert!(l.text.is_char_boundary(r.end as usize));
                }
                let s = String::from_utf8_lossy(&raw);
                prop_assert!(no_hidden(&line(&s)));
                let t = text(&s);
                prop_assert!(t.split('\n').all(no_hidden));
                prop_assert_eq!(t.matches('\n').count(), s.matches('\n').count());
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            /// Words with sequences between them: exactly the words come
            /// out, no parameter of any sequence left behind.
            #[test]
            fn sequences_leave_no_residue(
                parts in proptest::collection::vec(("[a-z0-9 ]{0,8}", 0..EVIL.len()), 0..12)
            ) {
                let mut input = String::new();
                let mut want = String::new();
                for (word, evil) in &parts {
                    input.push_str(word);
                    input.push_str(EVIL[*evil]);
                    want.push_str(word);
                }
                prop_assert_eq!(line(&input), want.clone());
                prop_assert_eq!(sanitize(input.as_bytes(), MAX_LINE_CHARS).text, want);
            }
        }
    }
}
