//! The agent: a language model with a role, tools, memory and a reasoning strategy,
//! driven through the sans-IO [`AgentRun`] state machine.
//!
//! - [`Agent::builder`] → [`AgentBuilder`] → [`Agent`].
//! - [`Agent::run`]: a task to a typed answer ([`AgentOutput`]); a run that reaches a
//!   limit is [`AgentError::Stopped`] with the [`StopReason`](crate::plan::run::StopReason).
//! - [`Agent::start`], [`Agent::advance`], [`Agent::step`], [`Agent::finish`]: drive a
//!   run yourself, pause for a person's approval ([`Pause::Approval`]) and go on.
//! - [`Agent::resume`]: continue a run from its checkpoint (e.g. written to
//!   [`AgentBuilder::checkpoint_dir`]), in this or a fresh agent.
//! - [`Agent::chat`]: a conversation with a token-bounded window, recall from long-term
//!   memory, and what the user says remembered for later agents.
//! - [`Agent::events`]: every event of every run, plus the streamed tokens.
//!
//! How the driver performs each [`Action`](crate::plan::run::Action): `Generate` streams
//! the request with `LanguageModel::stream` (each piece becomes an
//! [`AgentEvent::Token`]); `Recall` asks long-term memory (conversation turns excluded)
//! and the documents for `top_k` hits each; `CallTools` runs the calls through
//! `ToolRegistry::call_all_approved` under the agent's policy (the run has decided their
//! approval, and the calls' type says so: the registry does not ask again); `Solve` lets
//! the reasoning strategy answer on the agent's model; `StoreEpisode` remembers the episode
//! as [`MemoryKind::Episodic`](agentry_memory::MemoryKind).
//! After each action the time it took is fed as `Input::Elapsed`, the run's events are
//! published and written to the transcript, and after each model step the run is
//! checkpointed. A model or memory failure ends the run with `StopReason::Failed` and is
//! returned as the error.

mod builder;
mod chat;
mod checkpoint;
mod driver;
mod error;
mod output;
#[cfg(test)]
mod resume_tests;

use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agentry_memory::{Documents, LongTermMemory};
use agentry_prompts::Templates;
use agentry_tools::{Policy, ToolRegistry, ToolSpec};
use tokio::sync::broadcast;

pub use builder::AgentBuilder;
pub use chat::ModelTokenCounter;
pub use checkpoint::{CheckpointDir, CheckpointSink};
pub use error::{AgentError, PendingApproval};
pub use output::{AgentOutput, Pause};

use crate::model::LanguageModel;
use crate::plan::run::{AgentEvent, AgentRun, Prepared, RunConfig, TranscriptWriter};

/// Events buffered for a slow [`Agent::events`] receiver before it starts missing some.
pub const EVENT_CAPACITY: usize = 4096;

/// A language model with a role, instructions, tools, a policy, memory and a strategy.
/// Build one with [`Agent::builder`]; share it with `Arc` (every method takes `&self`).
///
/// See the [module docs](self) for what a run does, and the crate docs for an example.
pub struct Agent {
    model: Arc<dyn LanguageModel>,
    /// Everything its runs share (role, instructions, strategy, limits, sampling, recall,
    /// episodes, calls per step, thought cap); a run adds its task, tools and answer schema.
    settings: RunConfig,
    tools: Arc<ToolRegistry>,
    policy: Policy,
    memory: Option<Arc<LongTermMemory>>,
    documents: Option<Arc<Documents>>,
    answer_schema: Option<serde_json::Value>,
    templates: Arc<Templates>,
    transcript: Option<Mutex<TranscriptWriter<BufWriter<std::fs::File>>>>,
    checkpoint_dir: Option<CheckpointDir>,
    checkpoints: Option<Arc<dyn CheckpointSink>>,
    chat_budget: usize,
    events: broadcast::Sender<AgentEvent>,
    chat: tokio::sync::Mutex<Option<chat::Conversation>>,
    /// Preparations of earlier runs, reused by runs of the same configuration.
    prepared: Mutex<Vec<Arc<Prepared>>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("model", &self.model.info().name)
            .field("role", &self.settings.role)
            .field("tools", &self.tools)
            .field("strategy", &self.settings.strategy)
            .field("limits", &self.settings.limits)
            .field("memory", &self.memory.is_some())
            .field("documents", &self.documents.is_some())
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// A builder; only [`AgentBuilder::model`] is required.
    pub fn builder() -> AgentBuilder {
        AgentBuilder::default()
    }

    /// Every event of the runs and chat turns that start after this call: the run's own
    /// events and the driver's [`AgentEvent::Token`]s. Subscribe before running.
    pub fn events(&self) -> broadcast::Receiver<AgentEvent> {
        self.events.subscribe()
    }

    /// The model.
    pub fn model(&self) -> &Arc<dyn LanguageModel> {
        &self.model
    }

    /// The tools the policy lets the model see.
    pub fn tool_specs(&self) -> Vec<ToolSpec> {
        self.tools
            .permitted(&self.policy)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Where the checkpoint of `run` is saved, when a checkpoint folder is set.
    pub fn checkpoint_path(&self, run: &AgentRun) -> Option<PathBuf> {
        self.checkpoint_dir.as_ref().map(|dir| dir.path(run))
    }
}
