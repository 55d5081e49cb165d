//! agentry: a local-first agent orchestration runtime.
//!
//! An agent is a language model, a prompt, tools and memory, driven by a
//! planner loop. This crate is the command-line program and re-exports the
//! parts, one crate each:
//!
//! - [`model`] (`agentry-model`): the language-model contract every backend implements;
//! - [`llama`] (`agentry-llama`): the llama.cpp backend, the GGUF reader and the
//!   hardware self-check ([`llama::doctor`]);
//! - [`core`] (`agentry-core`): parsers, the planner, strategies and the agent
//!   ([`core::agent`]);
//! - [`workflow`] (`agentry-workflow`): YAML workflows;
//! - [`model_store`] (`agentry-model-store`): model specs, the built-in registry and
//!   verified downloads;
//! - [`prompts`], [`tools`], [`memory`]: prompt templates and the injection
//!   guard, the tool registry, and vector memory;
//! - [`bench`]: the benchmarks behind `agentry bench`.
//!
//! ```no_run
//! use agentry::prelude::*;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let model = ModelStore::from_env()?.pull("smollm2-135m").await?;
//! let info = GgufInfo::read(&model)?;
//! println!("{} parameters ({})", info.parameters, info.quantization());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod bench;

pub use agentry_llama as llama;
pub use agentry_memory as memory;
pub use agentry_model as model;
pub use agentry_model_store as model_store;
pub use agentry_openai as openai;
pub use agentry_prompts as prompts;
pub use agentry_tools as tools;
pub use agentry_workflow as workflow;

/// `agentry-core`, with the paths it had before the backend, the self-check and workflows
/// became crates of their own (`agentry::core::model::LlamaModel`,
/// `agentry::core::doctor`, `agentry::core::workflow`), so programs written against them
/// keep compiling.
pub mod core {
    pub use agentry_core::*;
    pub use agentry_llama::doctor;
    pub use agentry_workflow as workflow;

    /// The model contract, the classifier extension and the llama.cpp backend in one place.
    pub mod model {
        pub use agentry_core::model::*;
        pub use agentry_llama::{
            GrammarMode, LlamaConfig, LlamaModel, ModelStats, ModelTokenizer, SchemaEngine, gguf,
            grammar, sampler, template, text, tokenizer,
        };
        /// The model store (the `agentry-model-store` crate): specs, registry, downloads.
        pub use agentry_model_store as store;
    }
}

/// The names most programs need.
pub mod prelude {
    pub use agentry_core::agent::{
        Agent, AgentBuilder, AgentError, AgentOutput, Pause, PendingApproval,
    };
    pub use agentry_core::model::LanguageModel;
    pub use agentry_core::plan::run::{
        AgentEvent, AgentRun, ApprovalDecision, Input, Limits, RunOutcome, StopReason,
    };
    pub use agentry_core::plan::strategy::Strategy;
    pub use agentry_llama::doctor::{DoctorOptions, DoctorReport, Machine};
    pub use agentry_llama::gguf::GgufInfo;
    pub use agentry_llama::{LlamaConfig, LlamaModel};
    pub use agentry_model_store::{ModelSpec, ModelStore};
    pub use agentry_openai::{OpenAiConfig, OpenAiModel};
}
