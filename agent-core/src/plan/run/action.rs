//! What the run asks of the driver ([`Action`]), what the driver feeds back ([`Input`]),
//! and how a run ends ([`RunOutcome`]).

use std::time::Duration;

use agentry_tools::{ApprovedCall, HoldReason, ToolCall, ToolResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::limits::StopReason;
use crate::model::{Completion, GenerateRequest, ModelInput, Sampling, Usage};
use crate::plan::strategy::Strategy;

/// The next thing the driver must do, from [`AgentRun::next_action`](super::AgentRun::next_action).
/// Each action but [`Action::Done`] is answered by one [`Input`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Search memory for `query` and feed the `top_k` best hits as [`Input::Recalled`].
    /// Comes before each model step when recall is configured.
    Recall {
        /// What to search for: the task, and the last observation when there is one.
        query: String,
        /// How many hits to return at most.
        top_k: usize,
    },
    /// Run this request (one sample) and feed the completion as [`Input::Generated`]. The
    /// request is constrained to the step schema and carries the run's session, so the
    /// model's KV cache is reused from step to step.
    Generate(GenerateRequest),
    /// Ask a person whether `call` may run, and feed the answer as [`Input::Approval`].
    AwaitApproval {
        /// The call.
        call: ToolCall,
        /// Why it waits (side effects not pre-approved, or untrusted text in the run).
        reason: HoldReason,
    },
    /// Run the calls (with `ToolRegistry::call_all_approved`: the run has decided their
    /// approval) and feed one result per call as [`Input::ToolResults`], in any order.
    CallTools {
        /// The calls; ids are unique within the run (`call-STEP-N`).
        calls: Vec<ApprovedCall>,
    },
    /// Let the reasoning strategy solve the request (it makes its own model requests) and
    /// feed what it found as [`Input::Solved`].
    Solve(SolveRequest),
    /// Store this episode in long-term memory and feed [`Input::EpisodeStored`].
    StoreEpisode {
        /// What happened, in a few lines (task, answer, tools used).
        text: String,
        /// `{"kind": "episodic", "run_id", "task", "answer", "tools_used", "steps"}`.
        metadata: Value,
    },
    /// The run is over.
    Done(RunOutcome),
}

/// What the driver feeds back with [`AgentRun::feed`](super::AgentRun::feed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// The answer to [`Action::Recall`]: the hits, best first (may be empty).
    Recalled(Vec<Recollection>),
    /// The answer to [`Action::Generate`]: the completion.
    Generated(Completion),
    /// The answer to [`Action::AwaitApproval`].
    Approval(ApprovalDecision),
    /// The answer to [`Action::CallTools`]: one result per call.
    ToolResults(Vec<ToolResult>),
    /// The answer to [`Action::StoreEpisode`].
    EpisodeStored,
    /// The answer to [`Action::Solve`].
    Solved(Solved),
    /// Wall time spent since the last report; accepted at any time. Feed it after each
    /// action with the time the action took. It adds up in the checkpoint, and once the
    /// total reaches [`Limits::deadline`](super::Limits::deadline) the run ends (unless it
    /// has already answered).
    Elapsed(Duration),
}

impl Input {
    /// What this input answers, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Input::Recalled(_) => "recalled memories",
            Input::Generated(_) => "a model completion",
            Input::Approval(_) => "an approval decision",
            Input::ToolResults(_) => "tool results",
            Input::EpisodeStored => "episode stored",
            Input::Solved(_) => "a strategy's answer",
            Input::Elapsed(_) => "elapsed time",
        }
    }
}

/// What a reasoning strategy is asked to solve ([`Action::Solve`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolveRequest {
    /// The strategy.
    pub strategy: Strategy,
    /// Role, instructions, the untrusted items (recalled memories, or the tool
    /// observations after ReAct steps) fenced by a fresh guard, and the task.
    pub prompt: ModelInput,
    /// The JSON Schema every answer must match.
    pub answer_schema: Value,
    /// Sampling of the strategy's answers.
    pub sampling: Sampling,
}

/// What a reasoning strategy found ([`Input::Solved`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Solved {
    /// The answer (it must match the answer schema).
    pub answer: Value,
    /// Token counts of the strategy's requests (first sample of each).
    pub usage: Usage,
    /// Model requests the strategy made.
    pub model_calls: usize,
    /// Its reasoning, when it gives one.
    pub reasoning: Option<String>,
}

/// A person's decision on a call that needs approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalDecision {
    /// The call may run.
    Approve,
    /// The call must not run; the model is told, with the reason.
    Deny {
        /// Why, in words for the model.
        reason: String,
    },
}

/// One memory hit, as the driver maps it from the memory store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recollection {
    /// The remembered text.
    pub text: String,
    /// Where it came from (e.g. a document path or `episode`).
    pub source: String,
    /// The retrieval score (higher is closer).
    pub score: f32,
}

impl Recollection {
    /// A hit with the given text, source and score.
    pub fn new(text: impl Into<String>, source: impl Into<String>, score: f32) -> Self {
        Self {
            text: text.into(),
            source: source.into(),
            score,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The final answer (valid against the answer schema), or `None` when the run stopped
    /// without one.
    pub answer: Option<Value>,
    /// Why the run ended.
    pub stop: StopReason,
    /// Model steps taken.
    pub steps: usize,
    /// Steps among `steps` that did not count toward the step limit: the first few that
    /// only repeated calls already answered (nothing ran). `steps - uncounted_steps`
    /// never exceeds [`Limits::max_steps`](super::Limits::max_steps).
    #[serde(default)]
    pub uncounted_steps: usize,
    /// Tool calls the model asked for (denied ones included).
    pub tool_calls: usize,
    /// Token counts, summed over all steps.
    pub usage: Usage,
    /// Names of the tools that were run, in order of first use.
    pub tools_used: Vec<String>,
    /// Wall time reported by the driver up to the end.
    pub elapsed: Duration,
    /// The reasoning behind the answer, when a reasoning strategy derived it.
    #[serde(default)]
    pub reasoning: Option<String>,
}
