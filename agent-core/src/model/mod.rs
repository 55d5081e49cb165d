//! Language models: the [`LanguageModel`] trait, its llama.cpp backend [`LlamaModel`], the GGUF
//! header reader and the model store.
//!
//! - [`types`]: requests ([`GenerateRequest`], [`Sampling`], [`Constraint`]) and results.
//! - [`llama`]: the llama.cpp backend (one worker thread per model).
//! - [`classify`]: single- and multi-label classification and number prediction on any model.
//! - [`bench`]: the model benchmark behind `agentry bench model`.

pub mod bench;
pub mod classify;
pub mod constraint;
pub mod error;
pub mod gguf;
#[cfg(feature = "llguidance")]
pub mod guidance;
pub mod llama;
pub mod sampler;
mod slots;
pub mod stream;
pub mod template;
pub mod text;
pub mod tokenizer;
pub mod types;
mod worker;

use async_trait::async_trait;

pub use classify::{Classification, LabelProbability, LanguageModelExt};
pub use error::ModelError;
pub use llama::{LlamaConfig, LlamaModel, ModelStats};
pub use sampler::{GrammarMode, SchemaEngine};
pub use stream::CompletionStream;
pub use tokenizer::ModelTokenizer;
pub use types::Sampling;
pub use types::{
    CandidateScore, Completion, Constraint, FinishReason, GenerateRequest, ModelInfo, Prompt,
    ScoreRequest, SessionId, StreamEvent, Timings, Usage,
};

/// The model store (the `agentry-store` crate): specs, registry, downloads.
pub use agentry_store as store;

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
}
