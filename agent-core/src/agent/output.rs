//! What a run gives back: [`AgentOutput`] for a finished run, [`Pause`] for one step of
//! driving.

use agentry_tools::{HoldReason, ToolCall};
use uuid::Uuid;

use crate::model::Usage;
use crate::plan::run::RunOutcome;

/// The typed answer of a finished run, with how it went.
#[derive(Debug, Clone)]
pub struct AgentOutput<T> {
    /// The final answer.
    pub answer: T,
    /// How the run ended (steps, tool calls, usage summed over steps, tools used, time).
    /// When a reasoning strategy re-derived the answer, `outcome.answer` is that answer.
    pub outcome: RunOutcome,
    /// The run's id (also the name of its checkpoint file and its model session).
    pub run_id: Uuid,
    /// The token counts of each model step this call drove, in order (steps made before
    /// a checkpoint was resumed are not included). A strategy's own requests are not
    /// steps and are not listed.
    pub step_usage: Vec<Usage>,
    /// The reasoning behind the answer, when a reasoning strategy produced it.
    pub reasoning: Option<String>,
}

/// Where driving a run stopped, from [`Agent::advance`](super::Agent::advance) or
/// [`Agent::step`](super::Agent::step).
#[derive(Debug, Clone, PartialEq)]
pub enum Pause {
    /// The run is over.
    Done(RunOutcome),
    /// A call waits for a person's decision: feed
    /// `Input::Approval(ApprovalDecision::Approve | Deny { .. })` to the run, then drive
    /// it again.
    Approval {
        /// The call.
        call: ToolCall,
        /// Why it waits.
        reason: HoldReason,
    },
    /// One model step was made (only from [`Agent::step`](super::Agent::step)).
    Stepped {
        /// The step just made (1-based), equal to `run.step()`.
        step: usize,
        /// Its token counts.
        usage: Usage,
    },
}
