//! Errors of parsing and extraction.

use agentry_prompts::PromptError;

use super::extract::Attempt;
use crate::model::ModelError;

/// Why a text could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("expected {expected}: {detail}")]
pub struct ParseError {
    /// What the parser wanted (e.g. "a JSON value of type `City`").
    pub expected: String,
    /// What was wrong, in words the model can act on.
    pub detail: String,
}

impl ParseError {
    /// An error with the given expectation and detail.
    pub fn new(expected: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            expected: expected.into(),
            detail: detail.into(),
        }
    }
}

/// Why [`extract`](super::extract) produced no value.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A prompt template failed to render.
    #[error(transparent)]
    Template(#[from] PromptError),
    /// Every attempt produced text that did not parse.
    #[error("no parseable answer after {} attempt(s); last error: {last}", attempts.len())]
    Unparseable {
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
        /// The last parse error.
        last: ParseError,
    },
}
