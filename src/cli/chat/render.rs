//! How the REPL writes: streamed tokens as they come, thoughts, tool calls, results and
//! recalled memories dimmed (ANSI when stdout is a terminal, plain otherwise).

use std::io::{self, IsTerminal, Write};

use agentry_core::plan::run::AgentEvent;

use crate::cli::terminal_text::sanitize;

/// Starts dimmed text.
const DIM: &str = "\x1b[2m";
/// Ends styled text.
const RESET: &str = "\x1b[0m";
/// Longest tool result or recalled text shown, in characters.
const SHOWN_CHARS: usize = 200;

/// Whether to style text with ANSI escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    ansi: bool,
}

impl Style {
    /// ANSI styling when stdout is a terminal and `NO_COLOR` is not set.
    pub fn detect() -> Self {
        Self {
            ansi: io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// Plain text.
    #[cfg(test)]
    pub fn plain() -> Self {
        Self { ansi: false }
    }

    /// ANSI styling.
    #[cfg(test)]
    pub fn ansi() -> Self {
        Self { ansi: true }
    }

    /// `text` dimmed.
    pub fn dim(&self, text: &str) -> String {
        if self.ansi {
            format!("{DIM}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }
}

/// What a turn is: a chat reply streams its tokens; a tool-using run streams JSON steps,
/// so its tokens are not shown and its thoughts and tool calls are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnKind {
    /// [`Agent::chat`](agentry_core::agent::Agent::chat).
    Chat,
    /// [`Agent::run`](agentry_core::agent::Agent::run).
    Run,
}

/// Writes a turn's output, keeping track of whether the cursor is at the start of a line
/// so dimmed notes never run into streamed text.
pub struct Printer<W: Write> {
    out: W,
    style: Style,
    at_line_start: bool,
    wrote_tokens: bool,
}

impl<W: Write> Printer<W> {
    /// A printer on `out`.
    pub fn new(out: W, style: Style) -> Self {
        Self {
            out,
            style,
            at_line_start: true,
            wrote_tokens: false,
        }
    }

    /// Whether any token was written since the last [`Printer::end_turn`].
    pub fn wrote_tokens(&self) -> bool {
        self.wrote_tokens
    }

    /// Writes streamed text as is, less terminal control sequences.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn token(&mut self, text: &str) -> io::Result<()> {
        let text = &*sanitize(text);
        if text.is_empty() {
            return Ok(());
        }
        let text = if self.at_line_start && !self.wrote_tokens {
            text.trim_start()
        } else {
            text
        };
        if text.is_empty() {
            return Ok(());
        }
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        self.at_line_start = text.ends_with('\n');
        self.wrote_tokens = true;
        Ok(())
    }

    /// Writes a line of text on a line of its own, less terminal control
    /// sequences.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn line(&mut self, text: &str) -> io::Result<()> {
        self.raw_line(&sanitize(text))
    }

    /// Writes a line that is ours (it may hold our own styling).
    fn raw_line(&mut self, text: &str) -> io::Result<()> {
        self.break_line()?;
        writeln!(self.out, "{text}")?;
        self.out.flush()?;
        self.at_line_start = true;
        Ok(())
    }

    /// Writes a dimmed note on a line of its own.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn note(&mut self, text: &str) -> io::Result<()> {
        let dimmed = self.style.dim(&sanitize(text));
        self.raw_line(&dimmed)
    }

    /// Shows one event of a turn of this kind.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn event(&mut self, event: &AgentEvent, kind: TurnKind) -> io::Result<()> {
        match event {
            AgentEvent::Token { text } if kind == TurnKind::Chat => self.token(text),
            other => match describe(other) {
                Some(note) => self.note(&note),
                None => Ok(()),
            },
        }
    }

    /// Ends the turn: the cursor goes to a fresh line.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn end_turn(&mut self) -> io::Result<()> {
        self.break_line()?;
        self.out.flush()?;
        self.wrote_tokens = false;
        Ok(())
    }

    fn break_line(&mut self) -> io::Result<()> {
        if !self.at_line_start {
            writeln!(self.out)?;
            self.at_line_start = true;
        }
        Ok(())
    }

    /// The output (for tests).
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The note shown for an event other than a token, if any. Answers and why a run
/// stopped without one are shown by the REPL itself, approval requests by the approval
/// prompt.
pub fn describe(event: &AgentEvent) -> Option<String> {
    match event {
        AgentEvent::Thought { text, .. } => Some(format!("thought: {}", one_line(text))),
        AgentEvent::ToolCall { call, .. } => Some(format!("call {}({})", call.name, call.args)),
        AgentEvent::ToolResult { result, .. } => Some(format!(
            "{} {}: {}",
            if result.is_error() {
                "failed"
            } else {
                "result of"
            },
            result.name,
            shorten(&one_line(&result.observation()))
        )),
        AgentEvent::Recall { items, .. } if !items.is_empty() => {
            let sources: Vec<String> = items
                .iter()
                .map(|item| format!("{} ({:.2})", item.source, item.score))
                .collect();
            Some(format!(
                "recalled {} item{}: {}",
                items.len(),
                if items.len() == 1 { "" } else { "s" },
                sources.join(", ")
            ))
        }
        AgentEvent::Error { message } => Some(format!("error: {}", one_line(message))),
        AgentEvent::SentBack { step, problem } => Some(format!(
            "step {step} sent back: {}",
            shorten(&one_line(problem))
        )),
        AgentEvent::Token { .. }
        | AgentEvent::Recall { .. }
        | AgentEvent::ApprovalNeeded { .. }
        | AgentEvent::InjectionSignals { .. }
        | AgentEvent::Answer { .. }
        | AgentEvent::Stopped { .. } => None,
    }
}

/// `text` on one line: runs of whitespace become one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most [`SHOWN_CHARS`] characters of `text`, with `…` when cut.
pub fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use agentry_core::plan::run::{Recollection, StopReason};
    use agentry_tools::{ToolCall, ToolOutput, ToolResult};
    use serde_json::json;

    use super::*;

    fn printed(style: Style, f: impl FnOnce(&mut Printer<Vec<u8>>) -> io::Result<()>) -> String {
        let mut printer = Printer::new(Vec::new(), style);
        if let Err(e) = f(&mut printer) {
            panic!("{e}");
        }
        String::from_utf8_lossy(&printer.into_inner()).into_owned()
    }

    #[test]
    fn model_and_tool_text_loses_control_sequences_but_keeps_our_colours() {
        let out = printed(Style::ansi(), |p| {
            p.token("\x1b]0;pwned\x07Hello\x1b[2J")?;
            p.line("answer\x1b[31m!")?;
            p.note("thought: \x1b[8mhidden")
        });
        assert_eq!(out, "Hello\nanswer!\n\x1b[2mthought: hidden\x1b[0m\n");
    }

    #[test]
    fn dim_only_with_ansi() {
        assert_eq!(Style::plain().dim("x"), "x");
        assert_eq!(Style::ansi().dim("x"), "\x1b[2mx\x1b[0m");
    }

    #[test]
    fn chat_tokens_stream_and_notes_start_on_their_own_line() {
        let out = printed(Style::plain(), |p| {
            p.event(
                &AgentEvent::Token {
                    text: "  Hello".into(),
                },
                TurnKind::Chat,
            )?;
            p.event(
                &AgentEvent::Token {
                    text: " there.".into(),
                },
                TurnKind::Chat,
            )?;
            p.event(
                &AgentEvent::Error {
                    message: "slow\nmodel".into(),
                },
                TurnKind::Chat,
            )?;
            p.end_turn()
        });
        assert_eq!(out, "Hello there.\nerror: slow model\n");
    }

    #[test]
    fn a_run_hides_its_json_tokens_and_dims_thoughts_and_calls() {
        let call = ToolCall::new("c1", "calculator", json!({"expression": "12*37"}));
        let result = ToolResult {
            call_id: "c1".into(),
            name: "calculator".into(),
            outcome: Ok(ToolOutput::json(json!({"value": 444}))),
        };
        let out = printed(Style::ansi(), |p| {
            p.event(
                &AgentEvent::Token {
                    text: "{\"thought\"".into(),
                },
                TurnKind::Run,
            )?;
            p.event(
                &AgentEvent::Thought {
                    step: 1,
                    text: "use the\ncalculator".into(),
                },
                TurnKind::Run,
            )?;
            p.event(&AgentEvent::ToolCall { step: 1, call }, TurnKind::Run)?;
            p.event(&AgentEvent::ToolResult { step: 1, result }, TurnKind::Run)?;
            p.event(
                &AgentEvent::Stopped {
                    reason: StopReason::Answered,
                },
                TurnKind::Run,
            )
        });
        assert_eq!(
            out,
            "\x1b[2mthought: use the calculator\x1b[0m\n\
             \x1b[2mcall calculator({\"expression\":\"12*37\"})\x1b[0m\n\
             \x1b[2mresult of calculator: {\"value\":444}\x1b[0m\n"
        );
    }

    #[test]
    fn recalls_name_their_sources_and_stops_are_left_to_the_repl() {
        let recall = AgentEvent::Recall {
            step: 1,
            items: vec![Recollection::new("teal", "chat", 0.91)],
        };
        assert_eq!(
            describe(&recall).as_deref(),
            Some("recalled 1 item: chat (0.91)")
        );
        assert_eq!(
            describe(&AgentEvent::Recall {
                step: 1,
                items: vec![]
            }),
            None
        );
        let stopped = describe(&AgentEvent::Stopped {
            reason: StopReason::MaxSteps { limit: 4 },
        });
        assert_eq!(stopped, None, "the REPL says why there is no answer");
    }

    #[test]
    fn long_text_is_shortened_on_a_char_boundary() {
        let long = "é".repeat(SHOWN_CHARS + 5);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), SHOWN_CHARS + 1);
        assert!(short.ends_with('…'));
        assert_eq!(shorten("short"), "short");
    }
}
