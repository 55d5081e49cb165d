//! What can go wrong when building, feeding or restoring a run ([`RunError`]).

use agentry_prompts::PromptError;

use super::limits::StopReason;

/// A run refused a configuration, an input or a checkpoint. Feeding an input never
/// changes the run when it returns an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration cannot make a run.
    #[error("invalid run configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The input does not answer the pending action.
    #[error("the run is waiting for {expected}, but was fed {got}")]
    UnexpectedInput {
        /// What the pending action needs.
        expected: &'static str,
        /// What was fed.
        got: &'static str,
    },
    /// The run has ended; only [`Input::Elapsed`](super::Input::Elapsed) is still accepted.
    #[error("the run has ended ({stop}) and takes no more input")]
    Finished {
        /// Why it ended.
        stop: StopReason,
    },
    /// Tool results that are not exactly one per pending call.
    #[error("tool results do not match the pending calls: {detail}")]
    MismatchedResults {
        /// Which result or call is wrong.
        detail: String,
    },
    /// A strategy's answer that does not match the answer schema.
    #[error("the strategy's answer does not match the answer schema: {detail}")]
    UnfitAnswer {
        /// The answer and what is wrong with it.
        detail: String,
    },
    /// A template failed to render, or the fence marker is not valid.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// A checkpoint could not be written or read.
    #[error("run checkpoint: {0}")]
    Checkpoint(#[from] serde_json::Error),
}
