//! The contract between agentry and a language model: the [`LanguageModel`] trait that every
//! backend implements, and the values that cross it (requests, constraints, completions,
//! streams, usage, errors). No native code: depend on this crate (and `agentry-core`) to write
//! or use a backend without compiling llama.cpp.
//!
//! The llama.cpp backend is `agentry-llama`; a backend of your own implements the trait:
//!
//! ```
//! use agentry_model::{
//!     CandidateScore, Completion, CompletionStream, FinishReason, GenerateRequest,
//!     LanguageModel, ModelError, ModelInfo, ScoreRequest, Usage,
//! };
//!
//! /// A model that always says the same thing (for a test).
//! struct Parrot(ModelInfo);
//!
//! #[async_trait::async_trait]
//! impl LanguageModel for Parrot {
//!     fn info(&self) -> &ModelInfo {
//!         &self.0
//!     }
//!     async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
//!         let one = Completion {
//!             text: "hello".into(),
//!             finish_reason: FinishReason::Stop,
//!             usage: Usage::default(),
//!             timings: Default::default(),
//!         };
//!         Ok(vec![one; req.n.max(1)])
//!     }
//!     async fn stream(&self, _req: GenerateRequest) -> Result<CompletionStream, ModelError> {
//!         Err(ModelError::Unsupported("streaming".into()))
//!     }
//!     async fn score(&self, _req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
//!         Err(ModelError::Unsupported("scoring".into()))
//!     }
//!     async fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
//!         Ok(text.len().div_ceil(4))
//!     }
//! }
//! ```
//!
//! - [`types`]: requests ([`GenerateRequest`], [`Sampling`], [`Constraint`]) and results.
//! - [`stream`]: [`CompletionStream`], tokens as they are decoded.
//! - [`tool_call`]: [`ToolCallSyntax`], tool calls in a chat template's own format.
//! - [`error`]: [`ModelError`], the one error of the model layer.
//! - [`complete`]: [`Completion::require_complete`], a cut constrained reply is an error.

#![warn(missing_docs)]

pub mod complete;
pub mod constraint;
pub mod error;
pub mod stream;
pub mod tool_call;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;

/// Reading files a user or a file names: regular files only, non-blocking, capped (the
/// implementation lives in `agentry-prompts`, the lowest crate that reads user files).
pub use agentry_prompts::file;
pub use error::ModelError;
pub use stream::CompletionStream;
pub use tool_call::{ParsedReply, ToolCallError, ToolCallSyntax, call_names, tool_definition};
pub use types::{
    CandidateScore, Completion, Constraint, FinishReason, GenerateRequest, ModelInfo, ModelInput,
    Sampling, ScoreRequest, SessionId, StreamEvent, Timings, Usage,
};

/// Counts tokens synchronously, from any thread, without waiting for the model (the
/// conversation window of the agent's chat counts every turn this way).
pub trait TokenCount: Send + Sync {
    /// The number of tokens of `text` (no special tokens added).
    fn count(&self, text: &str) -> usize;
}

/// A language model: generation (n samples, streamed or not), scoring and token counting.
///
/// Object safe: use it as `Arc<dyn LanguageModel>`.
#[async_trait]
pub trait LanguageModel: Send + Sync {
    /// Static facts about the model.
    fn info(&self) -> &ModelInfo;

    /// `req.n` completions of the request.
    async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError>;

    /// Several requests at once, each with its `n` completions, in request order.
    ///
    /// The llama.cpp backend decodes requests without a session together (one batch per
    /// token step, prompts evaluated in their own sequences), so a set of different prompts
    /// costs about one decode loop. The default serves them one after another.
    async fn generate_batch(
        &self,
        reqs: Vec<GenerateRequest>,
    ) -> Result<Vec<Vec<Completion>>, ModelError> {
        let mut out = Vec::with_capacity(reqs.len());
        for req in reqs {
            out.push(self.generate(req).await?);
        }
        Ok(out)
    }

    /// The request's tokens as they are decoded; dropping the stream cancels decoding.
    async fn stream(&self, req: GenerateRequest) -> Result<CompletionStream, ModelError>;

    /// The log-probability of each candidate as the continuation of the prompt.
    async fn score(&self, req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError>;

    /// The number of tokens of a text (no special tokens added).
    async fn count_tokens(&self, text: &str) -> Result<usize, ModelError>;

    /// A counter of this model's tokens that does not queue behind generation, when the
    /// backend has one (llama.cpp loads the vocabulary alone); `None` by default, and callers
    /// then estimate.
    async fn token_counter(&self) -> Option<Arc<dyn TokenCount>> {
        None
    }

    /// The tool-call format the model's chat template speaks, when it renders tools
    /// itself ([`ModelInput::WithTools`]); `None` by default: the model is then given
    /// tools in agentry's own JSON step format.
    fn tool_call_syntax(&self) -> Option<ToolCallSyntax> {
        None
    }
}
