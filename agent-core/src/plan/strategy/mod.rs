//! Reasoning strategies: how a task becomes a typed answer.
//!
//! - [`Strategy::Direct`]: one constrained answer.
//! - [`Strategy::ChainOfThought`]: the working as free text under a token budget (ended at
//!   a finished sentence when the budget runs out), then the typed answer decoded under its
//!   schema after it: the reasoning is finished before the answer is forced.
//! - [`Strategy::SelfConsistency`]: `samples` pieces of working from ONE batched `generate`
//!   (n = samples), each sample's typed answer from one batch of constrained requests,
//!   normalised and majority-voted; the result has the agreement ratio and every sample.
//! - [`Strategy::TreeOfThought`]: breadth-first search over partial solutions (propose
//!   `proposals` thoughts for every frontier state in one batch, value every state with the
//!   model, keep the best `breadth`, expand to `depth`), then answer from the best state.
//!
//! Every prompt is a template of `agentry-prompts` (`chain_of_thought`, `self_consistency`,
//! `reasoned_answer`, `tot_propose`, `tot_evaluate`, `tot_answer`, `parse_retry`), so a user folder can override
//! them. Every run returns a [`Solution`] with a [`Trace`] of prompts, samples and scores.
//!
//! ```no_run
//! use agentry_core::model::LanguageModel;
//! use agentry_core::plan::strategy::{SolveOptions, Strategy};
//! use agentry_prompts::ChatMessage;
//!
//! # async fn demo(model: &dyn LanguageModel) -> Result<(), Box<dyn std::error::Error>> {
//! let strategy = Strategy::SelfConsistency { samples: 5, temperature: 0.8 };
//! let task = vec![ChatMessage::user("A farmer has 3 pens of 4 sheep. How many sheep?")];
//! let solution = strategy.solve::<u32>(model, task.into(), &SolveOptions::default()).await?;
//! println!("{} (agreement {:.0}%)", solution.answer, 100.0 * solution.agreement.unwrap_or(0.0));
//! # Ok(()) }
//! ```

mod chain;
mod direct;
mod names;
mod reasoned;
mod self_consistency;
mod think;
mod trace;
mod tree;
pub mod vote;

use std::fmt;

use agentry_prompts::{PromptError, Templates};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use names::{
    DEFAULT_BREADTH, DEFAULT_DEPTH, DEFAULT_PROPOSALS, DEFAULT_SAMPLE_TEMPERATURE, DEFAULT_SAMPLES,
    DEFAULT_VOTES, UnknownStrategy,
};
pub use reasoned::{Reasoned, ReasonedAnswer, reasoned_schema};
pub use trace::{Purpose, Trace, TraceEvent, TraceObserver};

use crate::model::{
    Completion, FinishReason, GenerateRequest, LanguageModel, ModelError, ModelInput, Sampling,
    SessionId, Usage,
};
use crate::parse::{Attempt, ExtractError, ExtractOptions, ParseError, schema_of};

/// How a tree-of-thought state is valued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evaluator {
    /// Read the model's probabilities of `sure` / `likely` / `impossible` (one `score` call
    /// per state); the value is the expected verdict weight.
    Score,
    /// Sample `samples` verdicts (one batched `generate` per state) and weight the votes.
    Vote {
        /// Verdicts per state.
        samples: usize,
    },
}

/// A reasoning strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    /// One constrained answer.
    #[default]
    Direct,
    /// Free-text working first, then the typed answer under its constraint.
    ChainOfThought,
    /// Majority vote over independent samples (working, then a typed answer), each stage
    /// decoded in one batch.
    SelfConsistency {
        /// Number of samples (at least 1).
        samples: usize,
        /// Sampling temperature of the samples.
        temperature: f32,
    },
    /// Breadth-first tree-of-thought search.
    TreeOfThought {
        /// States kept per depth.
        breadth: usize,
        /// Number of thought steps.
        depth: usize,
        /// Thoughts proposed per frontier state.
        proposals: usize,
        /// How states are valued.
        evaluator: Evaluator,
    },
}

impl Strategy {
    /// The strategy's name, as in traces and YAML.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Direct => "direct",
            Strategy::ChainOfThought => "chain_of_thought",
            Strategy::SelfConsistency { .. } => "self_consistency",
            Strategy::TreeOfThought { .. } => "tree_of_thought",
        }
    }

    /// Checks the parameters (no zero counts).
    pub fn validate(&self) -> Result<(), StrategyError> {
        let bad = |what: &str| {
            Err(StrategyError::InvalidConfig(format!(
                "{what} must be at least 1"
            )))
        };
        match self {
            Strategy::SelfConsistency { samples: 0, .. } => bad("self_consistency.samples"),
            Strategy::TreeOfThought { breadth: 0, .. } => bad("tree_of_thought.breadth"),
            Strategy::TreeOfThought { depth: 0, .. } => bad("tree_of_thought.depth"),
            Strategy::TreeOfThought { proposals: 0, .. } => bad("tree_of_thought.proposals"),
            Strategy::TreeOfThought {
                evaluator: Evaluator::Vote { samples: 0 },
                ..
            } => bad("tree_of_thought.evaluator.samples"),
            _ => Ok(()),
        }
    }

    /// Solves `task` for an answer of type `T` (its JSON Schema constrains every answer).
    pub async fn solve<T>(
        &self,
        model: &dyn LanguageModel,
        task: ModelInput,
        options: &SolveOptions,
    ) -> Result<Solution<T>, StrategyError>
    where
        T: DeserializeOwned + JsonSchema + Send,
    {
        self.validate()?;
        let mut trace = Trace::new(self.name(), options.observer.clone());
        match self {
            Strategy::Direct => direct::solve(model, task, options, trace).await,
            Strategy::ChainOfThought => chain::solve(model, task, options, trace).await,
            Strategy::SelfConsistency {
                samples,
                temperature,
            } => self_consistency::solve(model, task, options, *samples, *temperature, trace).await,
            Strategy::TreeOfThought {
                breadth,
                depth,
                proposals,
                evaluator,
            } => {
                let search = tree::Search {
                    breadth: *breadth,
                    depth: *depth,
                    proposals: *proposals,
                    evaluator: evaluator.clone(),
                };
                let result = search.solve(model, task, options, &mut trace).await;
                result.map(|mut s: Solution<T>| {
                    s.trace = trace;
                    s
                })
            }
        }
    }
}

/// Options shared by all strategies.
#[derive(Clone)]
pub struct SolveOptions {
    /// Sampling of answers (greedy, 512 tokens by default). Self-consistency uses its own
    /// temperature with this seed; proposals use `explore_temperature`.
    pub sampling: Sampling,
    /// Retries after an answer that does not parse (default 2).
    pub max_retries: usize,
    /// Token budget of the free-text working of chain of thought and self-consistency
    /// (default 384); working cut by it ends at its last finished sentence.
    pub max_reasoning_tokens: usize,
    /// Temperature of tree-of-thought proposals and vote evaluations (default 0.8).
    pub explore_temperature: f32,
    /// Most tokens of one tree-of-thought proposal (default 48).
    pub max_thought_tokens: usize,
    /// The prompt templates.
    pub templates: Templates,
    /// Keep the answer prompt's tokens in this KV-cache session.
    pub session: Option<SessionId>,
    /// Sees each trace event as it happens.
    pub observer: Option<TraceObserver>,
    /// The JSON Schema answers must match, in place of the answer type's own (for answers
    /// whose shape is known only at run time: solve for `serde_json::Value` with this set).
    pub answer_schema: Option<Value>,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            sampling: crate::defaults::sampling(),
            max_retries: 2,
            max_reasoning_tokens: 384,
            explore_temperature: 0.8,
            max_thought_tokens: 48,
            templates: Templates::new(),
            session: None,
            observer: None,
            answer_schema: None,
        }
    }
}

impl fmt::Debug for SolveOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SolveOptions")
            .field("sampling", &self.sampling)
            .field("max_retries", &self.max_retries)
            .field("max_reasoning_tokens", &self.max_reasoning_tokens)
            .field("explore_temperature", &self.explore_temperature)
            .field("max_thought_tokens", &self.max_thought_tokens)
            .field("session", &self.session)
            .field("answer_schema", &self.answer_schema)
            .finish()
    }
}

impl SolveOptions {
    /// The schema answers of type `T` must match: [`SolveOptions::answer_schema`] when
    /// set, else `T`'s.
    pub fn schema_for<T: JsonSchema>(&self) -> Value {
        self.answer_schema.clone().unwrap_or_else(schema_of::<T>)
    }

    fn extract_options(&self) -> ExtractOptions {
        ExtractOptions {
            sampling: self.sampling.clone(),
            max_retries: self.max_retries,
            add_instructions: true,
            use_scores: true,
            templates: self.templates.clone(),
            session: self.session.clone(),
        }
    }
}

/// One self-consistency sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The model's text.
    pub text: String,
    /// Its reasoning, when it parsed.
    pub reasoning: Option<String>,
    /// Its answer as JSON, when it parsed.
    pub answer: Option<Value>,
    /// Its answer in normalised form (the vote key), when it parsed.
    pub normalized: Option<Value>,
    /// Why it did not parse.
    pub error: Option<String>,
}

/// The result of a strategy.
#[derive(Debug, Clone)]
pub struct Solution<T> {
    /// The answer.
    pub answer: T,
    /// The reasoning behind it (chain of thought, the winning sample's, or the tree's steps).
    pub reasoning: Option<String>,
    /// Self-consistency: votes for the answer / all samples.
    pub agreement: Option<f64>,
    /// Self-consistency: every sample.
    pub samples: Vec<Sample>,
    /// What happened.
    pub trace: Trace,
}

impl<T> Solution<T> {
    /// Token counts of the strategy's requests: the first sample of each (a request's
    /// samples share its prompt).
    pub fn usage(&self) -> Usage {
        self.trace
            .events
            .iter()
            .filter_map(|event| match event {
                TraceEvent::Completion {
                    index: 0, usage, ..
                } => Some(*usage),
                _ => None,
            })
            .sum()
    }
}

/// Why a strategy produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// A parameter is out of range.
    #[error("invalid strategy: {0}")]
    InvalidConfig(String),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A template failed to render.
    #[error(transparent)]
    Template(#[from] PromptError),
    /// No reply parsed.
    #[error("no parseable answer after {} attempt(s); last error: {last}", attempts.len())]
    Unparseable {
        /// Every attempt.
        attempts: Vec<Attempt>,
        /// The last parse error.
        last: ParseError,
    },
    /// No self-consistency sample parsed.
    #[error("none of the {} samples parsed; first error: {}", samples.len(), samples.iter().find_map(|s| s.error.as_deref()).unwrap_or("none"))]
    NoValidSample {
        /// Every sample.
        samples: Vec<Sample>,
    },
}

impl From<ExtractError> for StrategyError {
    fn from(e: ExtractError) -> Self {
        match e {
            ExtractError::Model(e) => Self::Model(e),
            ExtractError::Template(e) => Self::Template(e),
            ExtractError::Unparseable { attempts, last } => Self::Unparseable { attempts, last },
        }
    }
}

/// Sends a request, recording the prompt and every completion in the trace.
pub(crate) async fn generate_traced(
    model: &dyn LanguageModel,
    request: GenerateRequest,
    purpose: Purpose,
    trace: &mut Trace,
) -> Result<Vec<Completion>, ModelError> {
    trace.push(TraceEvent::ModelInput {
        purpose,
        prompt: request.prompt.clone(),
        n: request.n,
    });
    trace.model_calls += 1;
    let completions = model.generate(request).await?;
    trace_completions(trace, purpose, &completions);
    Ok(completions)
}

/// Records the completions of one request in the trace.
fn trace_completions(trace: &mut Trace, purpose: Purpose, completions: &[Completion]) {
    for (index, c) in completions.iter().enumerate() {
        trace.push(TraceEvent::Completion {
            purpose,
            index,
            text: c.text.clone(),
            finish_reason: c.finish_reason,
            usage: c.usage,
        });
    }
}

/// Sends several requests as one batch, recording prompts and completions in the trace.
pub(crate) async fn generate_batch_traced(
    model: &dyn LanguageModel,
    requests: Vec<GenerateRequest>,
    purpose: Purpose,
    trace: &mut Trace,
) -> Result<Vec<Vec<Completion>>, ModelError> {
    for request in &requests {
        trace.push(TraceEvent::ModelInput {
            purpose,
            prompt: request.prompt.clone(),
            n: request.n,
        });
    }
    trace.model_calls += 1;
    let batches = model.generate_batch(requests).await?;
    for completions in &batches {
        trace_completions(trace, purpose, completions);
    }
    Ok(batches)
}

/// Records the attempts of an extraction in the trace.
pub(crate) fn trace_attempts(trace: &mut Trace, prompt: &ModelInput, attempts: &[Attempt]) {
    trace.push(TraceEvent::ModelInput {
        purpose: Purpose::Answer,
        prompt: prompt.clone(),
        n: 1,
    });
    for (index, attempt) in attempts.iter().enumerate() {
        if attempt.finish_reason.is_some() {
            trace.model_calls += 1;
            trace.push(TraceEvent::Completion {
                purpose: Purpose::Answer,
                index,
                text: attempt.text.clone(),
                finish_reason: attempt.finish_reason.unwrap_or(FinishReason::Stop),
                usage: attempt.usage,
            });
        }
        if let Some(error) = &attempt.error {
            trace.push(TraceEvent::ParseError {
                purpose: Purpose::Answer,
                index,
                error: error.clone(),
            });
        }
    }
}

/// The system messages of a task and its problem text (the user messages, joined).
pub(crate) fn split_task(task: &ModelInput) -> (Vec<agentry_prompts::ChatMessage>, String) {
    match task {
        ModelInput::Raw(text) => (Vec::new(), text.clone()),
        ModelInput::Messages(messages) | ModelInput::WithTools { messages, .. } => {
            let system = messages
                .iter()
                .filter(|m| m.role == agentry_prompts::Role::System)
                .cloned()
                .collect();
            let problem = messages
                .iter()
                .filter(|m| m.role != agentry_prompts::Role::System)
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            (system, problem)
        }
    }
}

/// A prompt of the task's system messages plus one user message (or raw text for raw tasks).
pub(crate) fn ask(task: &ModelInput, text: String) -> ModelInput {
    match task {
        ModelInput::Raw(_) => ModelInput::Raw(format!("{text}\n")),
        ModelInput::Messages(_) | ModelInput::WithTools { .. } => {
            let (mut system, _) = split_task(task);
            system.push(agentry_prompts::ChatMessage::user(text));
            ModelInput::Messages(system)
        }
    }
}
