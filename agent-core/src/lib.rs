//! agentry's core: language models, the model store, the hardware self-check, output
//! parsers, the planner (sans-IO agent run and reasoning strategies) and the agent.
//!
//! An agent with a tool and long-term memory, answering with a typed value:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use agentry_core::agent::{Agent, AgentError};
//! use agentry_core::model::{LlamaConfig, LlamaModel, store::ModelStore};
//! use agentry_core::plan::run::{AgentEvent, Limits};
//! use agentry_memory::{EdgeStore, FastEmbedder, LongTermMemory, VectorStore};
//! use agentry_tools::{ToolRegistry, builtin::Calculator};
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize, JsonSchema)]
//! struct Total {
//!     /// The total price, in euros.
//!     euros: f64,
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let path = ModelStore::from_env()?.pull("smollm2-135m").await?;
//! let model = Arc::new(LlamaModel::open(path, LlamaConfig::default()).await?);
//! let store: Arc<dyn VectorStore> = Arc::new(EdgeStore::open(".agentry/memory")?);
//! let embedder = Arc::new(FastEmbedder::from_env_store().await?);
//! let memory = Arc::new(LongTermMemory::open(store, embedder).await?);
//! let mut tools = ToolRegistry::new();
//! tools.register(Calculator)?;
//!
//! let agent = Agent::builder()
//!     .model(model)
//!     .role("You are a careful shop assistant.")
//!     .instructions(["Use the calculator for arithmetic."])
//!     .tools(tools)
//!     .memory(memory)
//!     .limits(Limits { max_steps: 6, ..Limits::default() })
//!     .transcript("run.jsonl")
//!     .build()?;
//!
//! // Watch the run as it happens.
//! let mut events = agent.events();
//! tokio::spawn(async move {
//!     while let Ok(event) = events.recv().await {
//!         if let AgentEvent::ToolCall { call, .. } = event {
//!             println!("calling {} with {}", call.name, call.args);
//!         }
//!     }
//! });
//!
//! match agent.run::<Total>("Three books at 12.50 euros each: what is the total?").await {
//!     Ok(output) => println!("{} euros in {} steps", output.answer.euros, output.outcome.steps),
//!     Err(AgentError::Stopped { reason, .. }) => println!("no answer: {reason}"),
//!     Err(other) => return Err(other.into()),
//! }
//!
//! // A conversation that remembers what it is told, for this and later agents.
//! let reply = agent.chat("My name is Ada.").await?;
//! println!("{reply}");
//! # Ok(()) }
//! ```
//!
//! The model store and the hardware self-check:
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

pub mod agent;
pub mod doctor;
pub mod model;
pub mod parse;
pub mod plan;
pub mod summarize;
pub mod workflow;
