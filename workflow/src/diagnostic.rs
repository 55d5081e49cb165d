//! Errors found in a workflow file, each with its place, rendered with a caret snippet.

use std::fmt;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Config};

use super::source::{SourceText, Span};

/// One problem in a workflow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where (absent for problems of the file as a whole).
    pub span: Option<Span>,
    /// A short label under the caret.
    pub label: String,
    /// A hint on how to fix it ("did you mean `task`?").
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem at `span`.
    pub fn at(span: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span: Some(span),
            label: label.into(),
            help: None,
        }
    }

    /// A problem of the whole file.
    pub fn file(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
        }
    }

    /// The same problem with a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every problem found in one workflow file, in file order.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    source: SourceText,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// The problems found in `source`.
    pub fn new(source: SourceText, mut items: Vec<Diagnostic>) -> Self {
        items.sort_by_key(|d| d.span.map_or((0, 0), |s| (s.line, s.column)));
        items.dedup();
        Self { source, items }
    }

    /// The problems, in file order.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// The file they were found in.
    pub fn source(&self) -> &SourceText {
        &self.source
    }

    /// Each problem as `file:line:col: message` (one line each).
    pub fn short(&self) -> String {
        let mut out = String::new();
        for d in &self.items {
            match d.span {
                Some(s) => out.push_str(&format!(
                    "{}:{}:{}: {}\n",
                    self.source.name(),
                    s.line,
                    s.column,
                    d.message
                )),
                None => out.push_str(&format!("{}: {}\n", self.source.name(), d.message)),
            }
        }
        out
    }

    /// Every problem rendered with its snippet and caret, then a count.
    pub fn render(&self) -> String {
        let file = SimpleFile::new(self.source.name(), self.source.text());
        let config = Config::default();
        let mut out = String::new();
        for d in &self.items {
            let mut report = Report::error().with_message(&d.message);
            if let Some(span) = d.span {
                report = report.with_labels(vec![
                    Label::primary((), span.range()).with_message(&d.label),
                ]);
            }
            if let Some(help) = &d.help {
                report = report.with_notes(vec![format!("help: {help}")]);
            }
            match term::emit_into_string(&config, &file, &report) {
                Ok(text) => out.push_str(&text),
                // A span outside the text: fall back to the one-line form.
                Err(_) => out.push_str(&format!("error: {}\n", d.message)),
            }
        }
        let n = self.items.len();
        out.push_str(&format!(
            "{}: {n} error{} found; nothing was run\n",
            self.source.name(),
            if n == 1 { "" } else { "s" }
        ));
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostics {}
