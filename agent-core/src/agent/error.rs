//! What can go wrong when building or driving an agent ([`AgentError`]).

use std::path::PathBuf;

use agentry_memory::MemoryError;
use agentry_prompts::PromptError;
use agentry_tools::{HoldReason, ToolCall};

use crate::model::ModelError;
use crate::plan::run::{AgentRun, RunError, RunOutcome, StopReason, TranscriptError};
use crate::plan::strategy::StrategyError;

/// A run paused on a call that needs approval, from [`AgentError::ApprovalNeeded`].
#[derive(Debug)]
pub struct PendingApproval {
    /// The call waiting for a decision.
    pub call: ToolCall,
    /// Why it waits.
    pub reason: HoldReason,
    /// The paused run: feed it `Input::Approval(..)` and drive it on.
    pub run: AgentRun,
}

/// Why an agent could not be built, or a run or chat turn gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// [`AgentBuilder::build`](super::AgentBuilder::build) was called without a model.
    #[error("the agent has no model: call `.model(..)` on the builder before `.build()`")]
    MissingModel,
    /// A builder setting cannot make an agent.
    #[error("invalid agent configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The run refused a configuration, an input or a checkpoint.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The model failed (the run was ended with [`StopReason::Failed`]).
    #[error("the model failed: {0}")]
    Model(#[from] ModelError),
    /// Long-term memory or document retrieval failed (the run was ended with
    /// [`StopReason::Failed`]).
    #[error("memory failed: {0}")]
    Memory(#[from] MemoryError),
    /// A reasoning strategy produced no answer.
    #[error("the strategy gave no answer: {0}")]
    Strategy(#[from] StrategyError),
    /// A prompt template failed to render.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The transcript could not be written.
    #[error(transparent)]
    Transcript(#[from] TranscriptError),
    /// A file of the agent (transcript, checkpoint) could not be opened, written or read.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What the file is, e.g. `checkpoint`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The run ended without an answer (a limit was reached, or it was cancelled).
    /// `reason` says which; `outcome` has the counts.
    #[error("the run stopped without an answer: {reason}")]
    Stopped {
        /// Why the run ended.
        reason: StopReason,
        /// The run's outcome (steps, tool calls, usage, time).
        outcome: Box<RunOutcome>,
    },
    /// A call waits for approval (see [`agentry_tools::hold()`]) and the policy has no
    /// approver. The paused run is returned: feed it `Input::Approval(..)` and continue
    /// with [`Agent::finish`](super::Agent::finish) or
    /// [`Agent::advance`](super::Agent::advance).
    #[error(
        "the call to `{}` waits for approval ({}) and the policy has no approver; feed a decision to the returned run and continue it, or {}",
        .0.call.name, .0.reason, .0.reason.remedy()
    )]
    ApprovalNeeded(Box<PendingApproval>),
    /// The final answer matched the answer schema but not the Rust type.
    #[error("the answer does not convert to the requested type: {detail}")]
    AnswerType {
        /// What serde said.
        detail: String,
    },
    /// The model returned no completion for a request.
    #[error("the model returned no completion")]
    NoCompletion,
}
