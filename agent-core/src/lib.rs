//! agentry's core: language models, the model store, the hardware
//! self-check, and (as they land) output parsers, the planner and the agent.
//!
//! ```no_run
//! use agentry_core::doctor::{DoctorOptions, DoctorReport, Machine};
//! use agentry_core::model::{gguf::GgufInfo, store::ModelStore};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let path = ModelStore::from_env()?.pull("smollm2-135m").await?;
//! let info = GgufInfo::read(&path)?;
//! let report = DoctorReport::new(&info, Machine::detect(), DoctorOptions::default());
//! println!("{}", report.to_table());
//! # Ok(()) }
//! ```
//!
//! Generation on the local model (one worker thread owns llama.cpp; share the model with `Arc`):
//!
//! ```no_run
//! use agentry_core::model::{GenerateRequest, LanguageModel, LlamaConfig, LlamaModel, store::ModelStore};
//! use agentry_prompts::{ChatMessage, Role};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let path = ModelStore::from_env()?.pull("smollm2-135m").await?;
//! let model = LlamaModel::open(path, LlamaConfig::default()).await?;
//! let req = GenerateRequest::chat(vec![ChatMessage::new(Role::User, "Say hello.")]);
//! let answer = model.generate(req).await?;
//! println!("{}", answer[0].text);
//! # Ok(()) }
//! ```

pub mod doctor;
pub mod model;
pub mod plan;
pub mod summarize;
