//! A remote model backend: [`OpenAiModel`], agentry's [`LanguageModel`] over any
//! OpenAI-compatible Chat Completions server — llama.cpp's `llama-server`, vLLM, Ollama,
//! a hosted API — so the same agents, tools, memory and workflows drive a model behind a
//! server.
//!
//! ```no_run
//! use agentry_model::{GenerateRequest, LanguageModel};
//! use agentry_openai::{OpenAiConfig, OpenAiModel};
//! use agentry_prompts::ChatMessage;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // The spec form is what `--model` and a workflow's `model:` take.
//! let config = OpenAiConfig::from_spec("openai:http://127.0.0.1:8080/v1#qwen")?;
//! let model = OpenAiModel::connect(config).await?;
//! let reply = model
//!     .generate(GenerateRequest::chat(vec![ChatMessage::user("Say hi")]))
//!     .await?;
//! println!("{}", reply[0].text);
//! # Ok(())
//! # }
//! ```
//!
//! - [`config`]: [`OpenAiConfig`], the spec `openai:URL#MODEL`, the API key variable
//!   (`OPENAI_API_KEY` unless another is named), timeouts and retries.
//! - [`constraint`]: how each [`Constraint`](agentry_model::Constraint) is sent, and how
//!   the reply is checked again: a constraint the server cannot honour is an error, never
//!   unconstrained text.
//! - [`model`]: [`OpenAiModel`] itself.

#![warn(missing_docs)]

pub mod config;
pub mod constraint;
pub mod model;
mod sse;
mod wire;

pub use agentry_model::LanguageModel;
pub use config::{ApiKey, DEFAULT_API_KEY_ENV, OpenAiConfig, SPEC_PREFIX, ServerFlavor, SpecError};
pub use model::OpenAiModel;

/// Whether `spec` names a remote model (`openai:URL#MODEL`) rather than a local one.
pub fn is_remote_spec(spec: &str) -> bool {
    spec.starts_with(SPEC_PREFIX)
}
