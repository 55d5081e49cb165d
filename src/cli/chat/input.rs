//! Reading what the user types: [`Composer`] joins multi-line input (a pure state
//! machine), [`LineReader`] reads lines with rustyline and keeps the history file.

use std::path::{Path, PathBuf};

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

/// The prompt of a new input.
pub const PROMPT: &str = "you> ";
/// The prompt of a continued line (after `\` or inside a `"""` block).
pub const CONTINUATION_PROMPT: &str = "...> ";
/// Opens and closes a block of lines.
const FENCE: &str = "\"\"\"";

/// Joins lines into one input: a line ending in `\` continues on the next line, and a
/// line starting with `"""` opens a block that runs to a line ending in `"""`. Lines are
/// joined with newlines.
#[derive(Debug, Default)]
pub struct Composer {
    lines: Vec<String>,
    mode: Mode,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No input under way.
    #[default]
    Idle,
    /// The previous line ended in `\`.
    Continued,
    /// Inside a `"""` block.
    Block,
}

impl Composer {
    /// Adds one line; returns the whole input once it is complete.
    pub fn push(&mut self, line: &str) -> Option<String> {
        match self.mode {
            Mode::Block => match line.trim_end().strip_suffix(FENCE) {
                Some(last) => {
                    if !last.trim().is_empty() {
                        self.lines.push(last.to_owned());
                    }
                    Some(self.finish())
                }
                None => {
                    self.lines.push(line.to_owned());
                    None
                }
            },
            Mode::Idle if line.trim_start().starts_with(FENCE) => {
                let rest = &line.trim_start()[FENCE.len()..];
                match rest.trim_end().strip_suffix(FENCE) {
                    Some(inner) => Some(inner.to_owned()),
                    None => {
                        if !rest.trim().is_empty() {
                            self.lines.push(rest.to_owned());
                        }
                        self.mode = Mode::Block;
                        None
                    }
                }
            }
            Mode::Idle | Mode::Continued => match line.strip_suffix('\\') {
                Some(head) => {
                    self.lines.push(head.to_owned());
                    self.mode = Mode::Continued;
                    None
                }
                None => {
                    self.lines.push(line.to_owned());
                    Some(self.finish())
                }
            },
        }
    }

    /// Whether an input is under way (the next line continues it).
    pub fn pending(&self) -> bool {
        self.mode != Mode::Idle
    }

    /// The prompt for the next line.
    pub fn prompt(&self) -> &'static str {
        if self.pending() {
            CONTINUATION_PROMPT
        } else {
            PROMPT
        }
    }

    /// Drops the input under way.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.mode = Mode::Idle;
    }

    fn finish(&mut self) -> String {
        let text = self.lines.join("\n");
        self.clear();
        text
    }
}

/// What reading a line gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A line (without its newline).
    Line(String),
    /// Ctrl-C: drop the line.
    Interrupted,
    /// Ctrl-D or the end of input: leave.
    Eof,
}

/// Line editing (rustyline) with a history file.
pub struct LineReader {
    editor: DefaultEditor,
    history: Option<PathBuf>,
}

impl LineReader {
    /// An editor whose history is loaded from, and appended to, `history` (created with
    /// its folder on the first entry). A history that cannot be read is reported once
    /// on stderr and the REPL goes on without it.
    ///
    /// # Errors
    /// When the terminal cannot be set up.
    pub fn new(history: Option<PathBuf>) -> anyhow::Result<Self> {
        let config = rustyline::Config::builder()
            .auto_add_history(false)
            .history_ignore_space(true)
            .max_history_size(1000)?
            .build();
        let mut editor = DefaultEditor::with_config(config)?;
        if let Some(path) = &history
            && path.exists()
            && let Err(error) = editor.load_history(path)
        {
            errln!(
                "warning: cannot read the history file {}: {error}",
                path.display()
            );
        }
        Ok(Self { editor, history })
    }

    /// The history file, if any.
    pub fn history_path(&self) -> Option<&Path> {
        self.history.as_deref()
    }

    /// Reads one line after showing `prompt`. Blocks this worker thread (the runtime
    /// moves its other tasks elsewhere meanwhile).
    ///
    /// # Errors
    /// A terminal I/O failure.
    pub fn read(&mut self, prompt: &str) -> anyhow::Result<Read> {
        let result = tokio::task::block_in_place(|| self.editor.readline(prompt));
        match result {
            Ok(line) => Ok(Read::Line(line)),
            Err(ReadlineError::Interrupted) => Ok(Read::Interrupted),
            Err(ReadlineError::Eof) => Ok(Read::Eof),
            Err(error) => Err(error.into()),
        }
    }

    /// Adds a complete input to the history and appends it to the history file. A file
    /// that cannot be written is reported on stderr; the REPL goes on.
    pub fn remember(&mut self, input: &str) {
        if input.trim().is_empty() {
            return;
        }
        if let Err(error) = self.editor.add_history_entry(input) {
            errln!("warning: cannot add to the history: {error}");
            return;
        }
        let Some(path) = &self.history else {
            return;
        };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && let Err(error) = std::fs::create_dir_all(parent)
        {
            errln!("warning: cannot create {}: {error}", parent.display());
            return;
        }
        if let Err(error) = self.editor.append_history(path) {
            errln!(
                "warning: cannot write the history file {}: {error}",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&str]) -> (Vec<String>, bool) {
        let mut composer = Composer::default();
        let done = lines.iter().filter_map(|l| composer.push(l)).collect();
        (done, composer.pending())
    }

    #[test]
    fn a_plain_line_is_complete() {
        assert_eq!(feed(&["hello"]), (vec!["hello".to_owned()], false));
        assert_eq!(feed(&["a", "b"]), (vec!["a".into(), "b".into()], false));
    }

    #[test]
    fn a_trailing_backslash_continues() {
        assert_eq!(
            feed(&["first \\", "second\\", "third"]),
            (vec!["first \nsecond\nthird".to_owned()], false)
        );
        let mut composer = Composer::default();
        assert_eq!(composer.push("open \\"), None);
        assert!(composer.pending());
        assert_eq!(composer.prompt(), CONTINUATION_PROMPT);
    }

    #[test]
    fn a_fenced_block_keeps_its_lines() {
        assert_eq!(
            feed(&["\"\"\"", "line one", "  line two \\", "\"\"\""]),
            (vec!["line one\n  line two \\".to_owned()], false)
        );
        assert_eq!(
            feed(&["\"\"\"Summarise:", "text", "end.\"\"\""]),
            (vec!["Summarise:\ntext\nend.".to_owned()], false)
        );
        assert_eq!(
            feed(&["\"\"\"one line\"\"\""]),
            (vec!["one line".to_owned()], false)
        );
        assert_eq!(feed(&["\"\"\"", "still open"]), (vec![], true));
    }

    #[test]
    fn clearing_drops_the_input_under_way() {
        let mut composer = Composer::default();
        assert_eq!(composer.push("\"\"\""), None);
        assert_eq!(composer.push("draft"), None);
        composer.clear();
        assert!(!composer.pending());
        assert_eq!(composer.prompt(), PROMPT);
        assert_eq!(composer.push("fresh"), Some("fresh".to_owned()));
    }
}
