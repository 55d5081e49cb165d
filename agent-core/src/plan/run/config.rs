//! What a run is told up front ([`RunConfig`]), and what starting runs of one
//! configuration shares ([`Prepared`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use agentry_prompts::Templates;
use agentry_tools::{Approvals, ToolSpec, is_valid_tool_name};
use jsonschema::Validator;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::format::StepFormat;
use super::limits::Limits;
use super::native::NativeTools;
use super::{RunError, prompt, step_schema};
use crate::model::Sampling;
use crate::plan::strategy::Strategy;

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
    /// The tools the model may call (the ones the policy permits). A call to a tool with
    /// side effects (or `needs_approval`) waits for [`Action::AwaitApproval`] unless
    /// [`RunConfig::approvals`] pre-approves it and no untrusted text is in the run (see
    /// [`agentry_tools::hold()`]).
    pub tools: Vec<ToolSpec>,
    /// Which calls with side effects run without asking (the policy's
    /// [`Approvals`]; none by default).
    #[serde(default)]
    pub approvals: Approvals,
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
    /// How the final answer is reached. [`Strategy::Direct`]: the ReAct steps answer.
    /// Another strategy without tools solves the task alone (recall, then one
    /// [`Action::Solve`](super::Action::Solve), no ReAct step); with tools, once the ReAct
    /// steps have answered, it derives the answer again from the task and the tool
    /// observations.
    #[serde(default)]
    pub strategy: Strategy,
    /// How each step is written: agentry's JSON step (the default, any model) or the
    /// model's own tool-call format (see [`StepFormat`]).
    #[serde(default)]
    pub step_format: StepFormat,
}

impl RunConfig {
    /// A run of `task` with no role, instructions or tools, a string answer, default
    /// [`Limits`], greedy steps of at most 512 tokens, no recall or episode, one call per
    /// step, thoughts of at most 800 characters, and the ReAct steps' own answer.
    pub fn new(task: impl Into<String>) -> Self {
        Self {
            task: task.into(),
            role: String::new(),
            instructions: Vec::new(),
            tools: Vec::new(),
            approvals: Approvals::none(),
            answer_schema: json!({"type": "string"}),
            limits: Limits::default(),
            sampling: crate::defaults::sampling(),
            recall_top_k: None,
            store_episode: false,
            max_calls_per_step: 1,
            thought_max_chars: Some(crate::defaults::THOUGHT_MAX_CHARS),
            strategy: Strategy::Direct,
            step_format: StepFormat::Json,
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

    /// Sets which calls with side effects run without asking.
    pub fn with_approvals(mut self, approvals: Approvals) -> Self {
        self.approvals = approvals;
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

    /// Writes each step in `format` (see [`RunConfig::step_format`]).
    pub fn with_step_format(mut self, format: StepFormat) -> Self {
        self.step_format = format;
        self
    }

    /// Reaches the final answer with `strategy` (see [`RunConfig::strategy`]).
    pub fn with_strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Whether the strategy solves the task alone: no tools, a strategy other than
    /// [`Strategy::Direct`].
    pub(super) fn solves_alone(&self) -> bool {
        self.tools.is_empty() && self.strategy != Strategy::Direct
    }

    /// Whether the strategy derives the answer again after the ReAct steps: tools and a
    /// strategy other than [`Strategy::Direct`].
    pub(super) fn rederives(&self) -> bool {
        !self.tools.is_empty() && self.strategy != Strategy::Direct
    }

    /// Checks the configuration; returns the compiled answer schema.
    pub(super) fn check(&self) -> Result<Validator, RunError> {
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
    pub(super) fn check_task(&self) -> Result<(), RunError> {
        if self.task.trim().is_empty() {
            return Err(RunError::InvalidConfig {
                reason: "the task is empty".into(),
            });
        }
        Ok(())
    }

    /// Calls one step may make: 0 without tools.
    pub(super) fn max_calls(&self) -> usize {
        if self.tools.is_empty() {
            0
        } else {
            self.max_calls_per_step
        }
    }

    /// Whether tool results or memories can appear, so the system message carries the
    /// guard notice.
    pub(super) fn guarded(&self) -> bool {
        !self.tools.is_empty() || self.recall_top_k.is_some()
    }
}

/// What starting a run takes that depends on its configuration but not on its task: the
/// checked configuration, the step schema (checked to compile), the compiled answer
/// schema and the system message up to the guard notice. Preparing compiles two schemas
/// and renders three templates; an [`Agent`](crate::agent::Agent) prepares once per
/// configuration and starts every run of it from the same `Prepared`.
/// The part of a [`RunConfig`] that a [`Prepared`] is made from: everything that shapes the
/// step schema and the system message. Runs whose configurations have equal shapes start
/// from the same preparation.
#[derive(Debug, Clone, PartialEq)]
struct PromptShape {
    role: String,
    instructions: Vec<String>,
    tools: Vec<ToolSpec>,
    answer_schema: Value,
    max_calls_per_step: usize,
    thought_max_chars: Option<usize>,
    guarded: bool,
    step_format: StepFormat,
}

impl PromptShape {
    fn of(config: &RunConfig) -> Self {
        Self {
            role: config.role.clone(),
            instructions: config.instructions.clone(),
            tools: config.tools.clone(),
            answer_schema: config.answer_schema.clone(),
            max_calls_per_step: config.max_calls_per_step,
            thought_max_chars: config.thought_max_chars,
            guarded: config.guarded(),
            step_format: config.step_format,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Prepared {
    shape: PromptShape,
    pub(super) step_schema: Arc<Value>,
    pub(super) answer_validator: Arc<Validator>,
    pub(super) system_head: String,
    /// The tools as native steps send them (native format with tools only).
    pub(super) native_tools: Option<Arc<NativeTools>>,
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
            shape: PromptShape::of(config),
            step_schema: Arc::new(step_schema),
            answer_validator: Arc::new(answer_validator),
            system_head,
            native_tools: match config.step_format {
                StepFormat::Native(syntax) if !config.tools.is_empty() => {
                    Some(Arc::new(NativeTools::of(syntax, &config.tools)))
                }
                _ => None,
            },
        })
    }

    /// Whether runs of `config` can start from this preparation: everything it was made
    /// from is the same but the task.
    pub(crate) fn fits(&self, config: &RunConfig) -> bool {
        PromptShape::of(config) == self.shape
    }

    /// Whether the system message carries the guard notice.
    pub(super) fn guarded(&self) -> bool {
        self.shape.guarded
    }
}
