//! [`AgentBuilder`]: the settings of an [`Agent`], checked once by
//! [`AgentBuilder::build`].

use std::fs::OpenOptions;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agentry_memory::{Documents, LongTermMemory};
use agentry_prompts::Templates;
use agentry_tools::{Policy, ToolRegistry};
use tokio::sync::broadcast;

use super::{Agent, AgentError, CheckpointDir, CheckpointSink, EVENT_CAPACITY};
use crate::defaults;
use crate::model::{LanguageModel, Sampling};
use crate::plan::run::{Limits, RunConfig, ToolFormat, TranscriptWriter};
use crate::plan::strategy::Strategy;

/// Builds an [`Agent`]; only the model is required. Start with [`Agent::builder`].
#[derive(Default)]
pub struct AgentBuilder {
    model: Option<Arc<dyn LanguageModel>>,
    role: String,
    instructions: Vec<String>,
    tools: Option<Arc<ToolRegistry>>,
    policy: Policy,
    memory: Option<Arc<LongTermMemory>>,
    documents: Option<Arc<Documents>>,
    strategy: Strategy,
    limits: Limits,
    sampling: Option<Sampling>,
    templates: Option<Templates>,
    recall_top_k: Option<usize>,
    store_episodes: Option<bool>,
    parallel_tool_calls: usize,
    transcript: Option<PathBuf>,
    checkpoint_dir: Option<PathBuf>,
    checkpoint_sink: Option<Arc<dyn CheckpointSink>>,
    chat_budget_tokens: Option<usize>,
    thought_max_chars: Option<Option<usize>>,
    answer_schema: Option<serde_json::Value>,
    tool_format: ToolFormat,
}

impl std::fmt::Debug for AgentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentBuilder")
            .field("model", &self.model.as_ref().map(|m| m.info().name.clone()))
            .field("role", &self.role)
            .field("strategy", &self.strategy)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl AgentBuilder {
    /// The language model (required).
    pub fn model(mut self, model: Arc<dyn LanguageModel>) -> Self {
        self.model = Some(model);
        self
    }

    /// Who the model is, e.g. "You are a careful research assistant."
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = role.into();
        self
    }

    /// Appends instructions, one item per instruction.
    pub fn instructions<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.instructions.extend(items.into_iter().map(Into::into));
        self
    }

    /// The tools (a registry, or a shared one). The model sees those the policy permits.
    pub fn tools(mut self, tools: impl Into<Arc<ToolRegistry>>) -> Self {
        self.tools = Some(tools.into());
        self
    }

    /// What the agent may do with its tools (default: every tool by name, no capability,
    /// no approver).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Long-term memory: recalled before each step, and where episodes and what the user
    /// says in [`Agent::chat`] are stored.
    pub fn memory(mut self, memory: Arc<LongTermMemory>) -> Self {
        self.memory = Some(memory);
        self
    }

    /// Documents retrieved (hybrid search) along with memories before each step.
    pub fn documents(mut self, documents: Arc<Documents>) -> Self {
        self.documents = Some(documents);
        self
    }

    /// The reasoning strategy of answer steps (default [`Strategy::Direct`]); see
    /// [`Agent::run`] for how it is used.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// How far a run may go (default: 10 steps).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sampling of each model step and chat reply (default: greedy, 512 tokens).
    pub fn sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = Some(sampling);
        self
    }

    /// The prompt templates (default: the built-ins).
    pub fn templates(mut self, templates: Templates) -> Self {
        self.templates = Some(templates);
        self
    }

    /// How many memories (and as many document chunks) are recalled before each step
    /// (default 3 when memory or documents are set); 0 turns recall off.
    pub fn recall_top_k(mut self, top_k: usize) -> Self {
        self.recall_top_k = Some(top_k);
        self
    }

    /// Whether each answered run is stored as an episodic memory (default: yes when
    /// memory is set).
    pub fn store_episodes(mut self, store: bool) -> Self {
        self.store_episodes = Some(store);
        self
    }

    /// How steps are written (default [`ToolFormat::Auto`]: the model's own tool-call
    /// format when its chat template has one, else agentry's JSON step).
    pub fn tool_format(mut self, format: ToolFormat) -> Self {
        self.tool_format = format;
        self
    }

    /// Most tool calls in one step, run in parallel (default 1).
    pub fn parallel_tool_calls(mut self, n: usize) -> Self {
        self.parallel_tool_calls = n;
        self
    }

    /// Appends every event of every run to this JSON Lines file (created if missing).
    /// Streamed tokens go to [`Agent::events`] only.
    pub fn transcript(mut self, path: impl Into<PathBuf>) -> Self {
        self.transcript = Some(path.into());
        self
    }

    /// Saves each run as `DIR/<run id>.json` after every model step and at every
    /// approval pause (created if missing); resume it with [`Agent::resume`].
    pub fn checkpoint_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }

    /// Hands each run's checkpoint to `sink` (after every model step and at every approval
    /// pause), in place of a checkpoint folder: a workflow keeps its running agent this way.
    pub fn checkpoint_sink(mut self, sink: Arc<dyn CheckpointSink>) -> Self {
        self.checkpoint_sink = Some(sink);
        self
    }

    /// Most tokens of the chat window (system prompt, summary note, turns); default half
    /// the model's context.
    pub fn chat_budget_tokens(mut self, tokens: usize) -> Self {
        self.chat_budget_tokens = Some(tokens);
        self
    }

    /// Longest thought of a step, in characters (the `maxLength` of the step schema);
    /// `None` for no cap beyond the step's token limit. Default: 800.
    pub fn thought_max_chars(mut self, chars: Option<usize>) -> Self {
        self.thought_max_chars = Some(chars);
        self
    }

    /// The JSON Schema every answer must match, in place of the answer type's own: for
    /// answers whose shape is known only at run time (a workflow step's `output`), run
    /// with `T = serde_json::Value` and set this.
    pub fn answer_schema(mut self, schema: serde_json::Value) -> Self {
        self.answer_schema = Some(schema);
        self
    }

    /// The agent.
    ///
    /// # Errors
    /// [`AgentError::MissingModel`] without a model; [`AgentError::InvalidConfig`] for a
    /// strategy with a zero count, zero steps, a chat budget of zero, or
    /// `tool_format` native for a model whose chat template renders no tools;
    /// [`AgentError::Io`] when the transcript or checkpoint folder cannot be created.
    pub fn build(self) -> Result<Agent, AgentError> {
        let model = self.model.ok_or(AgentError::MissingModel)?;
        self.strategy
            .validate()
            .map_err(|error| AgentError::InvalidConfig {
                reason: error.to_string(),
            })?;
        if self.limits.max_steps == 0 {
            return Err(AgentError::InvalidConfig {
                reason: "limits.max_steps must be at least 1".into(),
            });
        }
        let step_format = self
            .tool_format
            .resolve(model.as_ref())
            .map_err(|reason| AgentError::InvalidConfig { reason })?;
        if self.chat_budget_tokens == Some(0) {
            return Err(AgentError::InvalidConfig {
                reason: "the chat budget must be at least 1 token".into(),
            });
        }
        let transcript = match &self.transcript {
            None => None,
            Some(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| AgentError::Io {
                        what: "transcript",
                        path: path.clone(),
                        source,
                    })?;
                Some(Mutex::new(TranscriptWriter::new(BufWriter::new(file))))
            }
        };
        let checkpoint_dir = self.checkpoint_dir.map(CheckpointDir::create).transpose()?;
        let checkpoints = match (&self.checkpoint_sink, &checkpoint_dir) {
            (Some(sink), _) => Some(sink.clone()),
            (None, Some(dir)) => Some(Arc::new(dir.clone()) as Arc<dyn CheckpointSink>),
            (None, None) => None,
        };
        let retrieves = self.memory.is_some() || self.documents.is_some();
        let recall_top_k = match self.recall_top_k {
            Some(0) => None,
            Some(k) => retrieves.then_some(k),
            None => retrieves.then_some(defaults::RECALL_TOP_K),
        };
        let store_episodes = self.memory.is_some() && self.store_episodes.unwrap_or(true);
        let chat_budget = self
            .chat_budget_tokens
            .unwrap_or_else(|| (model.info().n_ctx / 2).max(256));
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        // The one configuration of the agent's runs: each run adds its task, the tools the
        // policy permits and its answer schema.
        let mut settings = RunConfig::new(String::new())
            .with_role(self.role)
            .with_instructions(self.instructions)
            .with_strategy(self.strategy)
            .with_limits(self.limits)
            .with_sampling(self.sampling.unwrap_or_else(defaults::sampling))
            .with_parallel_calls(self.parallel_tool_calls.max(1))
            .with_step_format(step_format);
        settings.thought_max_chars = self
            .thought_max_chars
            .unwrap_or(Some(defaults::THOUGHT_MAX_CHARS));
        settings.recall_top_k = recall_top_k;
        settings.store_episode = store_episodes;
        Ok(Agent {
            model,
            settings,
            tools: self.tools.unwrap_or_default(),
            policy: self.policy,
            memory: self.memory,
            documents: self.documents,
            answer_schema: self.answer_schema,
            templates: Arc::new(self.templates.unwrap_or_default()),
            transcript,
            checkpoint_dir,
            checkpoints,
            chat_budget,
            events,
            chat: tokio::sync::Mutex::new(None),
            prepared: Mutex::new(Vec::new()),
        })
    }
}
