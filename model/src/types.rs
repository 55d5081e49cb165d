//! The request and response types of the [`LanguageModel`](super::LanguageModel) trait.

use std::time::Duration;

use agentry_prompts::ChatMessage;
use serde::{Deserialize, Serialize};

/// What the model is asked to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModelInput {
    /// Chat messages, rendered with the model's chat template (generation prompt appended).
    Messages(Vec<ChatMessage>),
    /// Text given to the model as is (for base models without a template).
    Raw(String),
    /// Chat messages and the tools the chat template renders itself (its `tools`
    /// variable), each a [`tool_definition`](crate::tool_call::tool_definition). Only for
    /// a model whose template speaks a tool-call format
    /// ([`LanguageModel::tool_call_syntax`](crate::LanguageModel::tool_call_syntax)).
    WithTools {
        /// The conversation.
        messages: Vec<ChatMessage>,
        /// The tool definitions.
        tools: Vec<serde_json::Value>,
    },
}

impl ModelInput {
    /// The chat messages; `None` for raw text.
    pub fn messages(&self) -> Option<&[ChatMessage]> {
        match self {
            ModelInput::Messages(messages) | ModelInput::WithTools { messages, .. } => {
                Some(messages)
            }
            ModelInput::Raw(_) => None,
        }
    }

    /// The chat messages, to change (tools stay as they are); `None` for raw text.
    pub fn messages_mut(&mut self) -> Option<&mut Vec<ChatMessage>> {
        match self {
            ModelInput::Messages(messages) | ModelInput::WithTools { messages, .. } => {
                Some(messages)
            }
            ModelInput::Raw(_) => None,
        }
    }
}

impl From<Vec<ChatMessage>> for ModelInput {
    fn from(messages: Vec<ChatMessage>) -> Self {
        ModelInput::Messages(messages)
    }
}

/// How tokens are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Temperature; 0 is greedy.
    pub temperature: f32,
    /// Keep the k most probable tokens (0 = off).
    pub top_k: i32,
    /// Nucleus sampling threshold (1 = off).
    pub top_p: f32,
    /// Minimum probability relative to the best token (0 = off).
    pub min_p: f32,
    /// Repetition penalty over the last 64 tokens (1 = off).
    pub repeat_penalty: f32,
    /// Seed of the random sampler.
    pub seed: u32,
    /// Most tokens to generate per sample.
    pub max_tokens: usize,
    /// Generation stops before the first occurrence of any of these strings.
    pub stop: Vec<String>,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            seed: 0,
            max_tokens: 256,
            stop: Vec::new(),
        }
    }
}

/// A constraint that every generated text satisfies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum Constraint {
    /// Free text.
    #[default]
    None,
    /// JSON that validates against this JSON Schema.
    JsonSchema(serde_json::Value),
    /// Text of this GBNF grammar (root rule `root`).
    Grammar(String),
    /// Exactly one of these strings.
    Choice(Vec<String>),
    /// Free text, or tool calls written in `syntax`: from the call's opener on, each call
    /// is decoded under `call_schema` (the JSON Schema of one call, as
    /// [`ToolCallSyntax::call_schema`](crate::ToolCallSyntax::call_schema) makes it), at
    /// most `max_calls` calls, and nothing after the last one. Text before a call stays
    /// free, so an answer needs no wrapper and a call is always well-formed.
    ToolCalls {
        /// The format of the calls.
        syntax: crate::ToolCallSyntax,
        /// The JSON Schema of one call.
        call_schema: serde_json::Value,
        /// Most calls in one reply (at least 1).
        max_calls: usize,
        /// Whether a reply that starts with a bare call object (`{"name": ..`, no
        /// opener; small models often drop Hermes' tags) is also held to the call's
        /// schema. Leave it off when a JSON answer can start with a `name` key.
        bare_calls: bool,
    },
}

/// Names a conversation whose tokens stay in the KV cache between requests.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionId(pub String);

impl SessionId {
    /// A session id from any string.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
}

/// One generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// What to continue.
    pub prompt: ModelInput,
    /// How to sample.
    pub sampling: Sampling,
    /// What the output must satisfy.
    pub constraint: Constraint,
    /// Keep the evaluated tokens under this session for prefix reuse.
    pub session: Option<SessionId>,
    /// Number of samples (each with seed `sampling.seed + i`).
    pub n: usize,
}

impl GenerateRequest {
    /// A greedy request for these chat messages.
    pub fn chat(messages: Vec<ChatMessage>) -> Self {
        Self::new(ModelInput::Messages(messages))
    }

    /// A greedy request for this raw text (no chat template).
    pub fn raw(text: impl Into<String>) -> Self {
        Self::new(ModelInput::Raw(text.into()))
    }

    /// A greedy request for `prompt`.
    pub fn new(prompt: ModelInput) -> Self {
        Self {
            prompt,
            sampling: Sampling::default(),
            constraint: Constraint::None,
            session: None,
            n: 1,
        }
    }

    /// Sets the sampling parameters.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Sets the constraint.
    pub fn with_constraint(mut self, constraint: Constraint) -> Self {
        self.constraint = constraint;
        self
    }

    /// Sets the session.
    pub fn with_session(mut self, session: SessionId) -> Self {
        self.session = Some(session);
        self
    }

    /// Sets the number of samples.
    pub fn with_n(mut self, n: usize) -> Self {
        self.n = n;
        self
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishReason {
    /// The model produced an end-of-generation token, or the constraint completed.
    Stop,
    /// A stop string was produced (it is not part of the text).
    StopString,
    /// `max_tokens` was reached.
    Length,
    /// The context filled up.
    ContextFull,
    /// The caller went away.
    Cancelled,
}

/// Token counts of one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Prompt tokens found in the KV cache (not evaluated again).
    pub cached_tokens: usize,
    /// Prompt tokens evaluated by this request (`prompt_tokens - cached_tokens`).
    pub evaluated_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
}

impl std::ops::AddAssign for Usage {
    /// Adds another completion's counts (a run's total over its steps).
    /// Saturating: a total never wraps.
    fn add_assign(&mut self, other: Usage) {
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self.evaluated_tokens = self.evaluated_tokens.saturating_add(other.evaluated_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
    }
}

impl std::iter::Sum for Usage {
    /// The total of the counts, as [`AddAssign`](std::ops::AddAssign) adds them.
    fn sum<I: Iterator<Item = Usage>>(iter: I) -> Usage {
        iter.fold(Usage::default(), |mut total, one| {
            total += one;
            total
        })
    }
}

/// Wall time of one request.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Time spent evaluating the prompt.
    pub prompt: Duration,
    /// Time spent decoding (all samples together).
    pub decode: Duration,
}

/// One generated sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text (stop string excluded).
    pub text: String,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// Token counts.
    pub usage: Usage,
    /// Timings of the whole request.
    pub timings: Timings,
}

/// What a [`CompletionStream`](super::CompletionStream) yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of text of sample `index`.
    Token {
        /// Which sample.
        index: usize,
        /// The text.
        text: String,
    },
    /// All samples are done.
    Done(Vec<Completion>),
}

/// Static facts about a loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model's name (GGUF `general.name`, else the file stem).
    pub name: String,
    /// The GGUF file.
    pub path: std::path::PathBuf,
    /// The context size in tokens.
    pub n_ctx: usize,
    /// The training context size.
    pub n_ctx_train: usize,
    /// Vocabulary size.
    pub n_vocab: usize,
    /// Parameter count.
    pub parameters: u64,
    /// Whether a chat template is available.
    pub has_chat_template: bool,
}

/// A scoring request: the log-probability of each candidate continuation of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRequest {
    /// The prompt.
    pub prompt: ModelInput,
    /// The continuations to score.
    pub candidates: Vec<String>,
}

/// The score of one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    /// The candidate.
    pub candidate: String,
    /// Sum of the natural-log probabilities of its tokens.
    pub logprob: f64,
    /// Number of tokens.
    pub tokens: usize,
}
