//! The agent run: a sans-IO state machine that decides what an agent does next.
//!
//! [`AgentRun`] performs no I/O. It says what to do ([`AgentRun::next_action`]: recall,
//! generate, ask for approval, call tools, store an episode, or done); the driver does it
//! and feeds the result back ([`AgentRun::feed`]). The run is plain data: serialise it
//! for a checkpoint, pause it while a person approves a call, test it without a model.
//!
//! Each model step is ReAct by JSON Schema: the reply is constrained to
//! `{"thought", "action"}` or `{"thought", "final_answer"}` ([`step_schema`]). Tool
//! results and recalled memories come back as user turns, fenced by the run's guard. The
//! message list only grows (the system message is fixed, each step appends the model's
//! raw reply and one user turn), so every request extends the previous one and the
//! model's KV cache, kept under the run's session id, is reused.
//!
//! A driver loop (the model here is a scripted stand-in; a real driver awaits
//! `LanguageModel::generate`, `ToolRegistry::call_all` and the memory):
//!
//! ```
//! use std::time::Instant;
//! use agentry_core::model::{Completion, FinishReason, GenerateRequest, Timings, Usage};
//! use agentry_core::plan::run::{Action, AgentRun, ApprovalDecision, Input, RunConfig};
//!
//! fn scripted_model(_request: GenerateRequest) -> Completion {
//!     let text = r#"{"thought": "Two and two make four.", "final_answer": 4}"#;
//!     Completion { text: text.into(), finish_reason: FinishReason::Stop, usage: Usage::default(), timings: Timings::default() }
//! }
//!
//! let config = RunConfig::new("What is 2 + 2?").with_answer_schema(serde_json::json!({"type": "integer"}));
//! let mut run = AgentRun::new(config)?;
//! let outcome = loop {
//!     let started = Instant::now();
//!     let input = match run.next_action() {
//!         Action::Recall { .. } => Input::Recalled(Vec::new()),
//!         Action::Generate(request) => Input::Generated(scripted_model(request)),
//!         Action::AwaitApproval { .. } => Input::Approval(ApprovalDecision::Approve),
//!         Action::CallTools { .. } => Input::ToolResults(Vec::new()),
//!         Action::StoreEpisode { .. } => Input::EpisodeStored,
//!         Action::Done(outcome) => break outcome,
//!     };
//!     run.feed(input)?;
//!     run.feed(Input::Elapsed(started.elapsed()))?;
//!     for event in run.drain_events() {
//!         println!("{}", serde_json::to_string(&event)?);
//!     }
//! };
//! assert_eq!(outcome.answer, Some(serde_json::json!(4)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod action;
mod error;
mod events;
mod limits;
mod prompt;
mod step;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use agentry_prompts::{ChatMessage, Guard, Templates};
use agentry_tools::{ToolCall, ToolFailure, ToolResult, ToolSpec, is_valid_tool_name};
use jsonschema::Validator;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

pub use action::{Action, ApprovalDecision, Input, Recollection, RunOutcome};
pub use error::RunError;
pub use events::{AgentEvent, TranscriptError, TranscriptLine, TranscriptWriter, read_transcript};
pub use limits::{Limits, StopReason};
pub use step::step_schema;

use crate::model::{Constraint, FinishReason, GenerateRequest, Sampling, SessionId, Usage};
use step::Step;

/// At most this many characters of the last observation go into a recall query.
const RECALL_OBSERVATION_CHARS: usize = 500;
/// At most this many schema errors are shown to the model for a wrong answer.
const MAX_ANSWER_ERRORS: usize = 4;

/// Everything a run is told up front. Build with [`RunConfig::new`] and the `with_*`
/// methods, or fill the fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The task, as the first user turn.
    pub task: String,
    /// Who the model is (first part of the system message; may be empty).
    pub role: String,
    /// What to do, one item per instruction.
    pub instructions: Vec<String>,
    /// The tools the model may call (the ones the policy permits). A spec with
    /// `needs_approval` makes each call wait for [`Action::AwaitApproval`].
    pub tools: Vec<ToolSpec>,
    /// JSON Schema of the final answer, e.g. `{"type": "string"}` or `schema_for::<T>()`.
    pub answer_schema: Value,
    /// How far the run may go.
    pub limits: Limits,
    /// Sampling of each step (`max_tokens` is cut to what [`Limits::max_tokens`] leaves).
    pub sampling: Sampling,
    /// Recall this many memories before each step; `None` turns recall off.
    pub recall_top_k: Option<usize>,
    /// Store the episode in memory after the answer.
    pub store_episode: bool,
    /// Most tool calls in one step: 1 for one `action`, more for an `actions` list run in
    /// parallel. At least 1.
    pub max_calls_per_step: usize,
    /// Longest thought, in characters (`maxLength` of the step schema); `None` for no cap.
    pub thought_max_chars: Option<usize>,
}

impl RunConfig {
    /// A run of `task` with no role, instructions or tools, a string answer, default
    /// [`Limits`], greedy steps of at most 512 tokens, no recall or episode, one call per
    /// step and thoughts of at most 800 characters.
    pub fn new(task: impl Into<String>) -> Self {
        Self {
            task: task.into(),
            role: String::new(),
            instructions: Vec::new(),
            tools: Vec::new(),
            answer_schema: json!({"type": "string"}),
            limits: Limits::default(),
            sampling: crate::defaults::sampling(),
            recall_top_k: None,
            store_episode: false,
            max_calls_per_step: 1,
            thought_max_chars: Some(800),
        }
    }

    /// Sets the role.
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = role.into();
        self
    }

    /// Appends instructions.
    pub fn with_instructions<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.instructions.extend(items.into_iter().map(Into::into));
        self
    }

    /// Sets the tools.
    pub fn with_tools(mut self, tools: Vec<ToolSpec>) -> Self {
        self.tools = tools;
        self
    }

    /// Sets the answer's JSON Schema.
    pub fn with_answer_schema(mut self, schema: Value) -> Self {
        self.answer_schema = schema;
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the sampling of each step.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Recalls `top_k` memories before each step.
    pub fn with_recall(mut self, top_k: usize) -> Self {
        self.recall_top_k = Some(top_k);
        self
    }

    /// Stores the episode in memory after the answer.
    pub fn with_episode(mut self) -> Self {
        self.store_episode = true;
        self
    }

    /// Lets one step make up to `n` tool calls, run in parallel.
    pub fn with_parallel_calls(mut self, n: usize) -> Self {
        self.max_calls_per_step = n;
        self
    }

    /// Checks the configuration; returns the compiled answer schema.
    fn check(&self) -> Result<Validator, RunError> {
        let invalid = |reason: String| Err(RunError::InvalidConfig { reason });
        if self.task.trim().is_empty() {
            return invalid("the task is empty".into());
        }
        if self.max_calls_per_step == 0 {
            return invalid("max_calls_per_step must be at least 1".into());
        }
        let mut names = BTreeSet::new();
        for spec in &self.tools {
            if !is_valid_tool_name(&spec.name) {
                return invalid(format!("`{}` is not a valid tool name", spec.name));
            }
            if !names.insert(spec.name.as_str()) {
                return invalid(format!("tool `{}` is listed twice", spec.name));
            }
        }
        if !(self.answer_schema.is_object() || self.answer_schema.is_boolean()) {
            return invalid(format!(
                "the answer schema must be an object or a boolean, not {}",
                self.answer_schema
            ));
        }
        jsonschema::validator_for(&self.answer_schema).map_err(|error| RunError::InvalidConfig {
            reason: format!("the answer schema does not compile: {error}"),
        })
    }

    /// Checks the task alone (the part of [`RunConfig::check`] that [`Prepared`] does not
    /// cover).
    fn check_task(&self) -> Result<(), RunError> {
        if self.task.trim().is_empty() {
            return Err(RunError::InvalidConfig {
                reason: "the task is empty".into(),
            });
        }
        Ok(())
    }

    /// Calls one step may make: 0 without tools.
    fn max_calls(&self) -> usize {
        if self.tools.is_empty() {
            0
        } else {
            self.max_calls_per_step
        }
    }

    /// Whether tool results or memories can appear, so the system message carries the
    /// guard notice.
    fn guarded(&self) -> bool {
        !self.tools.is_empty() || self.recall_top_k.is_some()
    }
}

/// What starting a run takes that depends on its configuration but not on its task: the
/// checked configuration, the step schema (checked to compile), the compiled answer
/// schema and the system message up to the guard notice. Preparing compiles two schemas
/// and renders three templates; an [`Agent`](crate::agent::Agent) prepares once per
/// configuration and starts every run of it from the same `Prepared`.
#[derive(Debug)]
pub(crate) struct Prepared {
    role: String,
    instructions: Vec<String>,
    tools: Vec<ToolSpec>,
    answer_schema: Value,
    max_calls_per_step: usize,
    thought_max_chars: Option<usize>,
    guarded: bool,
    step_schema: Arc<Value>,
    answer_validator: Arc<Validator>,
    system_head: String,
}

impl Prepared {
    /// Checks `config` (its task included) and prepares its runs, rendering with
    /// `templates`.
    ///
    /// # Errors
    /// As [`AgentRun::new`].
    pub(crate) fn new(config: &RunConfig, templates: &Templates) -> Result<Self, RunError> {
        let answer_validator = config.check()?;
        let max_calls = config.max_calls();
        let step_schema = step_schema(
            &config.tools,
            &config.answer_schema,
            max_calls,
            config.thought_max_chars,
        );
        if let Err(error) = jsonschema::validator_for(&step_schema) {
            return Err(RunError::InvalidConfig {
                reason: format!("the step schema does not compile: {error}"),
            });
        }
        let system_head = prompt::system_head(templates, config, max_calls)?;
        Ok(Self {
            role: config.role.clone(),
            instructions: config.instructions.clone(),
            tools: config.tools.clone(),
            answer_schema: config.answer_schema.clone(),
            max_calls_per_step: config.max_calls_per_step,
            thought_max_chars: config.thought_max_chars,
            guarded: config.guarded(),
            step_schema: Arc::new(step_schema),
            answer_validator: Arc::new(answer_validator),
            system_head,
        })
    }

    /// Whether runs of `config` can start from this preparation: everything it was made
    /// from is the same but the task.
    pub(crate) fn fits(&self, config: &RunConfig) -> bool {
        // Destructured in full, so that a new field must be sorted here.
        let RunConfig {
            task: _,
            role,
            instructions,
            tools,
            answer_schema,
            limits: _,
            sampling: _,
            recall_top_k,
            store_episode: _,
            max_calls_per_step,
            thought_max_chars,
        } = config;
        *max_calls_per_step == self.max_calls_per_step
            && *thought_max_chars == self.thought_max_chars
            && (!tools.is_empty() || recall_top_k.is_some()) == self.guarded
            && role == &self.role
            && instructions == &self.instructions
            && answer_schema == &self.answer_schema
            && tools == &self.tools
    }
}

/// Where the run stands: what it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// Waits for [`Input::Recalled`].
    Recall,
    /// Waits for [`Input::Generated`].
    Generate,
    /// Waits for the decision on `waiting`; `rest` are the step's calls after it.
    Approve {
        waiting: ToolCall,
        rest: Vec<ToolCall>,
        approved: Vec<ToolCall>,
        denied: Vec<ToolResult>,
    },
    /// Waits for the results of `calls`; `denied` are the step's denied calls.
    CallTools {
        calls: Vec<ToolCall>,
        denied: Vec<ToolResult>,
    },
    /// Answered; waits for [`Input::EpisodeStored`].
    StoreEpisode {
        outcome: RunOutcome,
        text: String,
        metadata: Value,
    },
    /// Over.
    Done { outcome: RunOutcome },
}

impl Phase {
    fn expects(&self) -> &'static str {
        match self {
            Phase::Recall => "recalled memories",
            Phase::Generate => "a model completion",
            Phase::Approve { .. } => "an approval decision",
            Phase::CallTools { .. } => "tool results",
            Phase::StoreEpisode { .. } => "episode stored",
            Phase::Done { .. } => "nothing",
        }
    }
}

/// One agent run as a sans-IO state machine; see the [module docs](self) for the driver
/// loop.
///
/// The run is its own checkpoint: [`AgentRun::to_json`] at any point, and
/// [`AgentRun::from_json`] (or [`AgentRun::resume`] with custom templates) continues
/// exactly where it stopped: same id and session, same fence marker, same messages,
/// counters, elapsed time and pending action. The templates are not part of the
/// checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentRun {
    id: Uuid,
    config: RunConfig,
    #[serde(with = "shared_value")]
    step_schema: Arc<Value>,
    marker: String,
    messages: Vec<ChatMessage>,
    /// Parts of the next user turn, sent with the next generation.
    pending: Vec<String>,
    phase: Phase,
    steps: usize,
    tool_calls: usize,
    usage: Usage,
    elapsed: Duration,
    tools_used: Vec<String>,
    last_observation: Option<String>,
    /// Whether the last step ran into the token limit (almost always a repetition loop).
    #[serde(default)]
    last_cut_off: bool,
    events: Vec<AgentEvent>,
    #[serde(skip)]
    templates: Arc<Templates>,
    /// The compiled answer schema; compiled again when needed after a resume.
    #[serde(skip)]
    answer_validator: Option<Arc<Validator>>,
}

impl AgentRun {
    /// A run of `config` with the built-in templates.
    ///
    /// # Errors
    /// An invalid configuration (empty task, bad or duplicate tool names, an answer schema
    /// that does not compile, no calls per step), or a template that fails to render.
    pub fn new(config: RunConfig) -> Result<Self, RunError> {
        Self::with_templates(config, Arc::new(Templates::new()))
    }

    /// A run of `config` rendering its prompts with `templates` (built-ins overridden
    /// from a user folder, say).
    ///
    /// # Errors
    /// As [`AgentRun::new`].
    pub fn with_templates(config: RunConfig, templates: Arc<Templates>) -> Result<Self, RunError> {
        let prepared = Prepared::new(&config, &templates)?;
        Self::prepared(config, templates, &prepared)
    }

    /// A run of `config` started from `prepared`, which must [fit](Prepared::fits) it and
    /// have been made with `templates`.
    ///
    /// # Errors
    /// An empty task, or a template that fails to render.
    pub(crate) fn prepared(
        config: RunConfig,
        templates: Arc<Templates>,
        prepared: &Prepared,
    ) -> Result<Self, RunError> {
        config.check_task()?;
        let guard = Guard::for_texts([config.task.as_str()])?;
        let system =
            prompt::with_guard_notice(&templates, &prepared.system_head, prepared.guarded, &guard)?;
        let mut run = Self {
            id: Uuid::new_v4(),
            step_schema: prepared.step_schema.clone(),
            marker: guard.marker().to_owned(),
            messages: vec![ChatMessage::system(system)],
            pending: vec![config.task.clone()],
            phase: Phase::Generate,
            steps: 0,
            tool_calls: 0,
            usage: Usage::default(),
            elapsed: Duration::ZERO,
            tools_used: Vec::new(),
            last_observation: None,
            last_cut_off: false,
            events: Vec::new(),
            templates,
            answer_validator: Some(prepared.answer_validator.clone()),
            config,
        };
        run.next_step();
        Ok(run)
    }

    /// What the driver must do next. Calling it again without feeding gives the same
    /// action.
    pub fn next_action(&self) -> Action {
        match &self.phase {
            Phase::Recall => Action::Recall {
                query: self.recall_query(),
                top_k: self.config.recall_top_k.unwrap_or(0),
            },
            Phase::Generate => Action::Generate(self.request()),
            Phase::Approve { waiting, .. } => Action::AwaitApproval {
                call: waiting.clone(),
            },
            Phase::CallTools { calls, .. } => Action::CallTools {
                calls: calls.clone(),
            },
            Phase::StoreEpisode { text, metadata, .. } => Action::StoreEpisode {
                text: text.clone(),
                metadata: metadata.clone(),
            },
            Phase::Done { outcome } => Action::Done(outcome.clone()),
        }
    }

    /// Takes the result of the pending action (or an [`Input::Elapsed`] report, at any
    /// time) and moves the run on.
    ///
    /// # Errors
    /// An input that does not answer the pending action, results that are not one per
    /// pending call, input after the end, or a template that fails to render. On error
    /// the run is unchanged.
    pub fn feed(&mut self, input: Input) -> Result<(), RunError> {
        match input {
            Input::Elapsed(spent) => {
                self.add_elapsed(spent);
                Ok(())
            }
            Input::Recalled(items) if self.phase == Phase::Recall => self.on_recalled(items),
            Input::Generated(completion) if self.phase == Phase::Generate => {
                self.on_generated(completion.text, completion.finish_reason, completion.usage)
            }
            Input::Approval(decision) if matches!(self.phase, Phase::Approve { .. }) => {
                self.on_approval(decision)
            }
            Input::ToolResults(results) if matches!(self.phase, Phase::CallTools { .. }) => {
                self.on_results(results)
            }
            Input::EpisodeStored => match &self.phase {
                Phase::StoreEpisode { outcome, .. } => {
                    let outcome = outcome.clone();
                    self.end(outcome);
                    Ok(())
                }
                _ => Err(self.mismatch(&Input::EpisodeStored)),
            },
            other => Err(self.mismatch(&other)),
        }
    }

    /// The error for `input` fed in the current phase.
    fn mismatch(&self, input: &Input) -> RunError {
        match &self.phase {
            Phase::Done { outcome } => RunError::Finished {
                stop: outcome.stop.clone(),
            },
            phase => RunError::UnexpectedInput {
                expected: phase.expects(),
                got: input.kind(),
            },
        }
    }

    /// Ends the run now with [`StopReason::Cancelled`], or with its answer when it has
    /// one (the episode is then not stored). Does nothing after the end.
    pub fn cancel(&mut self) {
        self.stop_now(StopReason::Cancelled);
    }

    /// Ends the run because the driver could not perform the pending action (the model
    /// or a store failed): records an [`AgentEvent::Error`] and stops with
    /// [`StopReason::Failed`], or with its answer when it has one. Does nothing after the
    /// end.
    pub fn fail(&mut self, message: impl Into<String>) {
        if self.is_done() {
            return;
        }
        let message = message.into();
        self.events.push(AgentEvent::Error {
            message: message.clone(),
        });
        self.stop_now(StopReason::Failed { message });
    }

    /// The events recorded since the last drain, oldest first.
    pub fn drain_events(&mut self) -> Vec<AgentEvent> {
        std::mem::take(&mut self.events)
    }

    /// The events recorded and not drained yet.
    pub fn events(&self) -> &[AgentEvent] {
        &self.events
    }

    /// The run's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The model session of every request: the run id, so the KV cache carries over.
    pub fn session(&self) -> SessionId {
        SessionId::new(self.id.to_string())
    }

    /// The configuration.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The JSON Schema each step is constrained to.
    pub fn step_schema(&self) -> &Value {
        self.step_schema.as_ref()
    }

    /// The fence marker of this run's guard (stable for the whole run).
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// Model steps taken so far; the next generation is step `step() + 1`.
    pub fn step(&self) -> usize {
        self.steps
    }

    /// The messages sent so far: the system message, then a user turn and the model's
    /// reply per step. Only grows.
    pub fn messages(&self) -> &[ChatMessage] {
        &self.messages
    }

    /// Token counts summed over the steps taken.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Wall time reported so far.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Time left before the deadline, `None` without one; a driver can use it as the
    /// timeout of the next action.
    pub fn time_left(&self) -> Option<Duration> {
        self.config
            .limits
            .deadline
            .map(|deadline| deadline.saturating_sub(self.elapsed))
    }

    /// Tool calls the model asked for so far.
    pub fn tool_calls(&self) -> usize {
        self.tool_calls
    }

    /// Names of the tools run so far, in order of first use.
    pub fn tools_used(&self) -> &[String] {
        &self.tools_used
    }

    /// How the run ended, once it has.
    pub fn outcome(&self) -> Option<&RunOutcome> {
        match &self.phase {
            Phase::Done { outcome } => Some(outcome),
            _ => None,
        }
    }

    /// Whether the run has ended.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done { .. })
    }

    /// The run as a JSON checkpoint.
    ///
    /// # Errors
    /// Serialisation failed (not expected: every part of the run is plain data).
    pub fn to_json(&self) -> Result<String, RunError> {
        Ok(serde_json::to_string(self)?)
    }

    /// A run restored from [`AgentRun::to_json`], with the built-in templates.
    ///
    /// # Errors
    /// The text is not a checkpoint, or its fence marker is not valid.
    pub fn from_json(json: &str) -> Result<Self, RunError> {
        Self::resume(json, Arc::new(Templates::new()))
    }

    /// A run restored from [`AgentRun::to_json`], rendering with `templates`.
    ///
    /// # Errors
    /// As [`AgentRun::from_json`].
    pub fn resume(json: &str, templates: Arc<Templates>) -> Result<Self, RunError> {
        let mut run: Self = serde_json::from_str(json)?;
        Guard::from_marker(&run.marker)?;
        run.templates = templates;
        Ok(run)
    }

    /// Replaces the templates (e.g. after deserialising the run as part of a larger
    /// checkpoint, which leaves the built-ins).
    pub fn set_templates(&mut self, templates: Arc<Templates>) {
        self.templates = templates;
    }

    // ---- transitions ----

    fn on_recalled(&mut self, items: Vec<Recollection>) -> Result<(), RunError> {
        let block = prompt::recalled(&self.templates, &self.guard()?, &items)?;
        self.events.push(AgentEvent::Recall {
            step: self.steps + 1,
            items,
        });
        // Before the task or the new observations: a small model answers from what it
        // reads last, so the question comes after the notes that answer it.
        if let Some(block) = block {
            self.pending.insert(0, block);
        }
        self.start_generation();
        Ok(())
    }

    fn on_generated(
        &mut self,
        text: String,
        finish: FinishReason,
        usage: Usage,
    ) -> Result<(), RunError> {
        let step = self.steps + 1;
        let parsed = step::parse_step(&text, self.max_calls());
        let thought = match &parsed {
            Ok(Step::Act { thought, .. } | Step::Answer { thought, .. }) => thought.clone(),
            Err(_) => String::new(),
        };
        let verdict = match parsed {
            Err(error) => Err(unusable(&error.to_string(), finish)),
            Ok(step) => match self.answer_problem(&step) {
                Some(problem) => Err(problem),
                None => Ok(step),
            },
        };
        let retry = match &verdict {
            Err(problem) => Some(prompt::step_error(&self.templates, problem)?),
            Ok(_) => None,
        };

        self.steps = step;
        self.last_cut_off = finish == FinishReason::Length;
        self.add_usage(usage);
        self.messages.push(ChatMessage::assistant(text));
        if !thought.is_empty() {
            self.events.push(AgentEvent::Thought {
                step,
                text: thought,
            });
        }
        match verdict {
            Err(problem) => {
                self.events.push(AgentEvent::Error {
                    message: format!("step {step}: the reply could not be used: {problem}"),
                });
                self.pending.extend(retry);
                self.next_step();
            }
            Ok(Step::Answer { answer, .. }) => self.answered(answer),
            Ok(Step::Act { calls, .. }) => self.request_calls(step, calls),
        }
        Ok(())
    }

    fn request_calls(&mut self, step: usize, calls: Vec<(String, Value)>) {
        let calls: Vec<ToolCall> = calls
            .into_iter()
            .enumerate()
            .map(|(i, (name, args))| ToolCall::new(format!("call-{step}-{}", i + 1), name, args))
            .collect();
        if let Some(limit) = self.config.limits.max_tool_calls
            && self.tool_calls + calls.len() > limit
        {
            self.finish(StopReason::MaxToolCalls { limit });
            return;
        }
        self.tool_calls += calls.len();
        self.events
            .extend(calls.iter().map(|call| AgentEvent::ToolCall {
                step,
                call: call.clone(),
            }));
        // No call is denied yet, so routing renders nothing and cannot fail.
        if let Err(error) = self.route(calls, Vec::new(), Vec::new(), Vec::new()) {
            self.fail(error.to_string());
        }
    }

    fn on_approval(&mut self, decision: ApprovalDecision) -> Result<(), RunError> {
        let Phase::Approve {
            waiting,
            rest,
            approved,
            denied,
        } = &self.phase
        else {
            return Err(self.mismatch(&Input::Approval(decision)));
        };
        let (mut approved, mut denied, rest) = (approved.clone(), denied.clone(), rest.clone());
        let mut events = Vec::new();
        match decision {
            ApprovalDecision::Approve => approved.push(waiting.clone()),
            ApprovalDecision::Deny { reason } => {
                let result = ToolResult {
                    call_id: waiting.id.clone(),
                    name: waiting.name.clone(),
                    outcome: Err(ToolFailure::ApprovalDenied {
                        name: waiting.name.clone(),
                        reason,
                    }),
                };
                events.push(AgentEvent::ToolResult {
                    step: self.steps,
                    result: result.clone(),
                });
                denied.push(result);
            }
        }
        self.route(rest, approved, denied, events)
    }

    /// Sends the calls of the current step on: the first one that needs approval waits
    /// for it; once none is left, the approved ones go to the tools, or, when all were
    /// denied, the denials go back to the model. Renders before changing anything.
    fn route(
        &mut self,
        rest: Vec<ToolCall>,
        mut approved: Vec<ToolCall>,
        denied: Vec<ToolResult>,
        mut events: Vec<AgentEvent>,
    ) -> Result<(), RunError> {
        let mut rest = rest.into_iter();
        while let Some(call) = rest.next() {
            if self.needs_approval(&call.name) {
                events.push(AgentEvent::ApprovalNeeded {
                    step: self.steps,
                    call: call.clone(),
                });
                self.events.extend(events);
                self.phase = Phase::Approve {
                    waiting: call,
                    rest: rest.collect(),
                    approved,
                    denied,
                };
                return Ok(());
            }
            approved.push(call);
        }
        if approved.is_empty() {
            let observations: Vec<String> = denied.iter().map(ToolResult::observation).collect();
            let text = prompt::observations(
                &self.templates,
                &self.guard()?,
                named(&denied, &observations),
            )?;
            self.events.extend(events);
            self.observe(text, &observations);
            return Ok(());
        }
        for call in &approved {
            if !self.tools_used.contains(&call.name) {
                self.tools_used.push(call.name.clone());
            }
        }
        self.events.extend(events);
        self.phase = Phase::CallTools {
            calls: approved,
            denied,
        };
        Ok(())
    }

    fn on_results(&mut self, results: Vec<ToolResult>) -> Result<(), RunError> {
        let Phase::CallTools { calls, denied } = &self.phase else {
            return Err(self.mismatch(&Input::ToolResults(results)));
        };
        let ordered = in_call_order(calls, results)?;
        let all: Vec<&ToolResult> = denied.iter().chain(&ordered).collect();
        let observations: Vec<String> = all.iter().map(|result| result.observation()).collect();
        let text = prompt::observations(
            &self.templates,
            &self.guard()?,
            named(all.iter().copied(), &observations),
        )?;
        let step = self.steps;
        self.events.extend(
            ordered
                .into_iter()
                .map(|result| AgentEvent::ToolResult { step, result }),
        );
        self.observe(text, &observations);
        Ok(())
    }

    /// Queues an observation for the next user turn and starts the next step;
    /// `observations` are the texts of the step's results.
    fn observe(&mut self, text: String, observations: &[String]) {
        self.pending.push(text);
        self.last_observation = Some(observations.join("\n"));
        self.next_step();
    }

    fn answered(&mut self, answer: Value) {
        self.events.push(AgentEvent::Answer {
            value: answer.clone(),
        });
        let outcome = self.outcome_with(Some(answer), StopReason::Answered);
        if self.config.store_episode {
            let (text, metadata) = self.episode(&outcome);
            self.phase = Phase::StoreEpisode {
                outcome,
                text,
                metadata,
            };
        } else {
            self.end(outcome);
        }
    }

    /// Starts the next step, or ends the run when a limit is reached.
    fn next_step(&mut self) {
        if let Some(stop) = self.limit_reached() {
            self.finish(stop);
        } else if self.config.recall_top_k.is_some() {
            self.phase = Phase::Recall;
        } else {
            self.start_generation();
        }
    }

    /// Sends the queued parts as one user turn and waits for the model.
    fn start_generation(&mut self) {
        if !self.pending.is_empty() {
            let turn = std::mem::take(&mut self.pending).join("\n\n");
            self.messages.push(ChatMessage::user(turn));
        }
        self.phase = Phase::Generate;
    }

    fn add_elapsed(&mut self, spent: Duration) {
        self.elapsed = self.elapsed.saturating_add(spent);
        let running = matches!(
            self.phase,
            Phase::Recall | Phase::Generate | Phase::Approve { .. } | Phase::CallTools { .. }
        );
        if let Some(limit) = self.deadline_passed()
            && running
        {
            self.finish(StopReason::Deadline { limit });
        }
    }

    fn stop_now(&mut self, reason: StopReason) {
        match &self.phase {
            Phase::Done { .. } => {}
            Phase::StoreEpisode { outcome, .. } => {
                let outcome = outcome.clone();
                self.end(outcome);
            }
            _ => self.finish(reason),
        }
    }

    /// Ends the run without an answer.
    fn finish(&mut self, stop: StopReason) {
        let outcome = self.outcome_with(None, stop);
        self.end(outcome);
    }

    fn end(&mut self, outcome: RunOutcome) {
        self.events.push(AgentEvent::Stopped {
            reason: outcome.stop.clone(),
        });
        self.phase = Phase::Done { outcome };
    }

    // ---- helpers ----

    fn guard(&self) -> Result<Guard, RunError> {
        Ok(Guard::from_marker(&self.marker)?)
    }

    fn max_calls(&self) -> usize {
        self.config.max_calls()
    }

    fn needs_approval(&self, tool: &str) -> bool {
        self.config
            .tools
            .iter()
            .any(|spec| spec.name == tool && spec.needs_approval)
    }

    fn limit_reached(&self) -> Option<StopReason> {
        let limits = &self.config.limits;
        if self.steps >= limits.max_steps {
            return Some(StopReason::MaxSteps {
                limit: limits.max_steps,
            });
        }
        if let Some(limit) = limits.max_tokens
            && self.usage.completion_tokens >= limit
        {
            return Some(StopReason::MaxTokens { limit });
        }
        self.deadline_passed()
            .map(|limit| StopReason::Deadline { limit })
    }

    fn deadline_passed(&self) -> Option<Duration> {
        self.config
            .limits
            .deadline
            .filter(|deadline| self.elapsed >= *deadline)
    }

    fn add_usage(&mut self, usage: Usage) {
        let total = &mut self.usage;
        total.prompt_tokens = total.prompt_tokens.saturating_add(usage.prompt_tokens);
        total.cached_tokens = total.cached_tokens.saturating_add(usage.cached_tokens);
        total.evaluated_tokens = total
            .evaluated_tokens
            .saturating_add(usage.evaluated_tokens);
        total.completion_tokens = total
            .completion_tokens
            .saturating_add(usage.completion_tokens);
    }

    fn request(&self) -> GenerateRequest {
        let mut sampling = self.config.sampling.clone();
        if self.last_cut_off {
            // A step cut at the token limit is almost always a repetition loop, which greedy
            // decoding would repeat exactly: sample the next one with a repetition penalty.
            sampling.repeat_penalty = sampling.repeat_penalty.max(LOOP_BREAK_PENALTY);
            sampling.temperature = sampling.temperature.max(LOOP_BREAK_TEMPERATURE);
            sampling.seed = sampling.seed.wrapping_add(self.steps as u32);
        }
        if let Some(limit) = self.config.limits.max_tokens {
            let left = limit.saturating_sub(self.usage.completion_tokens);
            sampling.max_tokens = sampling.max_tokens.min(left);
        }
        GenerateRequest::chat(self.messages.clone())
            .with_sampling(sampling)
            .with_constraint(Constraint::JsonSchema(self.step_schema.as_ref().clone()))
            .with_session(self.session())
    }

    fn recall_query(&self) -> String {
        match &self.last_observation {
            Some(observation) => format!(
                "{}\n{}",
                self.config.task,
                step::shorten(observation, RECALL_OBSERVATION_CHARS)
            ),
            None => self.config.task.clone(),
        }
    }

    /// Why the answer of `step` does not match the answer schema; `None` when it does or
    /// when `step` is no answer.
    fn answer_problem(&mut self, step: &Step) -> Option<String> {
        let Step::Answer { answer, .. } = step else {
            return None;
        };
        if step::is_free_text(&self.config.answer_schema)
            && answer.as_str().is_some_and(|text| text.trim().is_empty())
        {
            return Some("\"final_answer\" is blank: write the answer itself".to_owned());
        }
        let validator = match &self.answer_validator {
            Some(validator) => validator.clone(),
            None => {
                let validator =
                    Arc::new(jsonschema::validator_for(&self.config.answer_schema).ok()?);
                self.answer_validator = Some(validator.clone());
                validator
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(answer)
            .take(MAX_ANSWER_ERRORS)
            .map(|error| error.to_string())
            .collect();
        (!errors.is_empty()).then(|| {
            format!(
                "\"final_answer\" does not match the answer schema: {}",
                errors.join("; ")
            )
        })
    }

    fn outcome_with(&self, answer: Option<Value>, stop: StopReason) -> RunOutcome {
        RunOutcome {
            answer,
            stop,
            steps: self.steps,
            tool_calls: self.tool_calls,
            usage: self.usage,
            tools_used: self.tools_used.clone(),
            elapsed: self.elapsed,
        }
    }

    fn episode(&self, outcome: &RunOutcome) -> (String, Value) {
        let answer = outcome.answer.clone().unwrap_or(Value::Null);
        let answer_text = match &answer {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let tools = if self.tools_used.is_empty() {
            "none".to_owned()
        } else {
            self.tools_used.join(", ")
        };
        let text = format!(
            "Task: {}\nAnswer: {answer_text}\nTools used: {tools}",
            self.config.task
        );
        let metadata = json!({
            "kind": "episodic",
            "run_id": self.id.to_string(),
            "task": self.config.task,
            "answer": answer,
            "tools_used": self.tools_used,
            "steps": outcome.steps,
        });
        (text, metadata)
    }
}

/// Repetition penalty of a step after one that ran into the token limit.
const LOOP_BREAK_PENALTY: f32 = 1.3;
/// Temperature of such a step.
const LOOP_BREAK_TEMPERATURE: f32 = 0.7;

/// Why a reply could not be read, with the hint that it was cut off when it was.
fn unusable(error: &str, finish: FinishReason) -> String {
    match finish {
        FinishReason::Length => {
            format!(
                "{error} (the reply was cut off at the token limit: keep the thought and the arguments short and do not repeat yourself)"
            )
        }
        FinishReason::ContextFull => format!("{error} (the context is full)"),
        _ => error.to_owned(),
    }
}

/// `(tool name, observation)` of each result, `observations` being their texts.
fn named<'a>(
    results: impl IntoIterator<Item = &'a ToolResult>,
    observations: &'a [String],
) -> impl Iterator<Item = (&'a str, &'a str)> {
    results
        .into_iter()
        .zip(observations)
        .map(|(result, observation)| (result.name.as_str(), observation.as_str()))
}

/// `results` in the order of `calls`, when there is exactly one per call.
fn in_call_order(
    calls: &[ToolCall],
    results: Vec<ToolResult>,
) -> Result<Vec<ToolResult>, RunError> {
    let mismatch = |detail: String| Err(RunError::MismatchedResults { detail });
    if results.len() != calls.len() {
        return mismatch(format!(
            "{} results for {} calls",
            results.len(),
            calls.len()
        ));
    }
    let mut slots: Vec<Option<ToolResult>> = vec![None; calls.len()];
    for result in results {
        let slot = calls
            .iter()
            .position(|call| call.id == result.call_id)
            .and_then(|index| slots.get_mut(index));
        match slot {
            None => return mismatch(format!("no pending call has id `{}`", result.call_id)),
            Some(Some(_)) => return mismatch(format!("two results for call `{}`", result.call_id)),
            Some(slot) => *slot = Some(result),
        }
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Serde for an `Arc<Value>` field as the plain value.
mod shared_value {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub(super) fn serialize<S: Serializer>(
        value: &Arc<Value>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_ref().serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Arc<Value>, D::Error> {
        Value::deserialize(deserializer).map(Arc::new)
    }
}

#[cfg(test)]
mod tests;
