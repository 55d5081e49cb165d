//! Text from a model or a tool made safe to print on a terminal.
//!
//! A model's reply, a tool's result or a recalled document can hold terminal
//! control sequences (`ESC ]0;title BEL`, `ESC [2J`, a C1 `CSI`), which the
//! terminal would execute: retitle the window, clear the screen, rewrite
//! what was printed, or worse. Every print site of such text goes through
//! [`sanitize`]; the colours agentry adds itself are applied after it.

use std::borrow::Cow;

/// `text` without terminal control sequences (ESC, CSI, OSC, DCS, ... and
/// their arguments) and without C0/C1 control characters other than newline
/// and tab. Printable text is kept as it is.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let safe = |c: char| !c.is_control() || c == '\n' || c == '\t';
    if text.chars().all(safe) {
        return Cow::Borrowed(text);
    }
    // anstream parses the escape sequences (their arguments go with them);
    // what it keeps as printable may still hold C0/C1 controls (a CR, a C1
    // CSI as a UTF-8 character): those go too.
    let stripped: String = anstream::adapter::strip_str(text).collect();
    Cow::Owned(stripped.chars().filter(|c| safe(*c)).collect())
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn plain_text_newlines_and_tabs_stay() {
        let text = "Hello, wörld 👋\n\tindented — “quoted”";
        assert_eq!(sanitize(text), text);
    }

    #[test]
    fn escape_sequences_and_controls_go() {
        for (hostile, shown) in [
            ("\x1b]0;pwned\x07title", "title"),
            (
                "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",
                "link",
            ),
            ("\x1b[2J\x1b[Hclear", "clear"),
            ("\x1b[31mred\x1b[0m", "red"),
            ("\x1bPq#0;2;0;0;0\x1b\\dcs", "dcs"),
            ("over\rwrite", "overwrite"),
            ("back\x08\x08space", "backspace"),
            ("bell\x07", "bell"),
            ("c1\u{9b}2Jcsi", "c12Jcsi"),
            ("del\x7f", "del"),
            ("\x1b", ""),
        ] {
            assert_eq!(sanitize(hostile), shown, "{hostile:?}");
        }
    }
}
