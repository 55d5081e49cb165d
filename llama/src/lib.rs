//! agentry's llama.cpp backend: [`LlamaModel`] runs a GGUF model in-process (CPU, or GPU with
//! the `cuda` feature) behind the `agentry-model` contract, with the model's own chat template,
//! sampling, streaming, decoding constrained by JSON Schema or grammar (llguidance or
//! llama.cpp's GBNF), KV reuse across steps, batched samples and LoRA. Beside it: the GGUF
//! header reader ([`gguf`]) and the hardware self-check ([`doctor`]). This is the only crate of
//! agentry that links llama.cpp.
//!
//! ```no_run
//! use agentry_llama::{LlamaConfig, LlamaModel};
//! use agentry_model::{GenerateRequest, LanguageModel};
//! use agentry_prompts::{ChatMessage, Role};
//! use agentry_model_store::ModelStore;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let path = ModelStore::from_env()?.pull("smollm2-135m").await?;
//! let model = LlamaModel::open(path, LlamaConfig::default()).await?;
//! let req = GenerateRequest::chat(vec![ChatMessage::new(Role::User, "Say hello.")]);
//! println!("{}", model.generate(req).await?[0].text);
//! # Ok(()) }
//! ```
//!
//! The hardware self-check reads only the header:
//!
//! ```no_run
//! use agentry_llama::doctor::{DoctorOptions, DoctorReport, Machine};
//! use agentry_llama::gguf::GgufInfo;
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let info = GgufInfo::read("model.gguf".as_ref())?;
//! let report = DoctorReport::new(&info, Machine::detect(), DoctorOptions::default());
//! println!("{}", report.to_table());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod doctor;
pub mod gguf;
pub mod grammar;
#[cfg(feature = "llguidance")]
pub mod guidance;
mod lora;
mod model;
pub mod sampler;
mod slots;
pub mod template;
pub mod text;
pub mod threadpool;
pub mod tokenizer;
mod worker;

pub use model::{LlamaConfig, LlamaModel, ModelStats, backend};
pub use sampler::{GrammarMode, SchemaEngine};
pub use tokenizer::ModelTokenizer;
