//! Log text is untrusted: it is parsed as a terminal would parse it, and
//! only printable characters come out. Colours and attributes (SGR) become
//! styles; every other control or escape sequence (cursor moves, screen
//! clears, OSC titles, DCS, ...) is dropped, so none reaches the terminal.

use ratatui::style::{Color, Modifier, Style};
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
    let mut out = Sink {
        line: CleanLine::default(),
        chars: 0,
        max_chars,
        style: Style::default(),
        run_start: 0,
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

/// Characters that are printable to vte but still rearrange or hide text:
/// C1 controls and bidirectional overrides ("Trojan source").
fn hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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
        if byte == b'\t' {
            let n = 8 - self.chars % 8;
            for _ in 0..n {
                self.push(' ');
            }
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        if action == 'm' && intermediates.is_empty() && !ignore {
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
}
