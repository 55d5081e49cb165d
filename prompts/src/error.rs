//! The errors of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading or rendering prompts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    /// A render referred to a template name that is neither built in nor
    /// loaded from the override folder.
    #[error("unknown template `{name}`; known templates: {known}")]
    UnknownTemplate {
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
    /// Strict undefined: a template used a variable the context did not give.
    #[error(
        "template `{template}` line {line}: variable `{variable}` is undefined (give it in the render context)"
    )]
    MissingVariable {
        /// The template that failed.
        template: String,
        /// The undefined variable (or attribute path, e.g. `state.steps`).
        variable: String,
        /// 1-based line in the template source (0 when unknown).
        line: usize,
    },
    /// A template does not compile (syntax error), or failed for another reason
    /// while rendering.
    #[error("template `{template}`: {message}")]
    Template {
        /// The template that failed.
        template: String,
        /// What minijinja said, with line information.
        message: String,
    },
    /// The override folder (or one file in it) could not be read.
    #[error("cannot read template override {path}: {source}")]
    OverrideDir {
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file in the override folder has a name that is not valid UTF-8.
    #[error("template override {path}: file name is not valid UTF-8")]
    OverrideName {
        /// The offending file.
        path: PathBuf,
    },
    /// The render context could not be turned into template values.
    #[error("template `{template}`: render context is not serialisable: {message}")]
    Context {
        /// The template being rendered.
        template: String,
        /// What went wrong.
        message: String,
    },
    /// A saved fence marker does not have the form of one
    /// ([`Guard::from_marker`](crate::Guard::from_marker)).
    #[error("`{marker}` is not a fence marker (expected `DATA-` and 16 lowercase hex digits)")]
    InvalidMarker {
        /// The text given (at most 64 characters of it).
        marker: String,
    },
    /// The operating system's random source failed, so no fence marker could
    /// be made.
    #[error("cannot draw a random fence marker from the OS: {0}")]
    Random(String),
}
