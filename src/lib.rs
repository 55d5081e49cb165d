//! agentry: a local-first agent orchestration runtime.
//!
//! An agent is a language model, a prompt, tools and memory, driven by a
//! planner loop. This crate re-exports the parts:
//!
//! - [`core`] (`agentry-core`): models, the model store, the hardware
//!   self-check ([`core::doctor`]), the planner and the agent ([`core::agent`]);
//! - [`store`] (`agentry-store`): model specs, the built-in registry and
//!   verified downloads;
//! - [`prompts`], [`tools`], [`memory`]: prompt templates and the injection
//!   guard, the tool registry, and vector memory.
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

pub use agentry_core as core;
pub use agentry_memory as memory;
pub use agentry_prompts as prompts;
pub use agentry_store as store;
pub use agentry_tools as tools;

/// The names most programs need.
pub mod prelude {
    pub use agentry_core::agent::{
        Agent, AgentBuilder, AgentError, AgentOutput, Pause, PendingApproval,
    };
    pub use agentry_core::doctor::{DoctorOptions, DoctorReport, Machine};
    pub use agentry_core::model::gguf::GgufInfo;
    pub use agentry_core::plan::run::{
        AgentEvent, AgentRun, ApprovalDecision, Input, Limits, RunOutcome, StopReason,
    };
    pub use agentry_core::plan::strategy::Strategy;
    pub use agentry_store::{ModelSpec, ModelStore};
}
