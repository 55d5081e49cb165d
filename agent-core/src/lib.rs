//! agentry's core: the agent and what drives it, on any language model that implements the
//! `agentry-model` contract. Output parsers into typed values ([`parse`]), the planner (a
//! sans-IO agent run, [`plan::run`], and reasoning strategies, [`plan::strategy`]), the agent
//! ([`agent`]: tools, memory, approval, chat) and the summariser. No native code: the llama.cpp
//! backend is `agentry-llama`, and any other backend plugs in through the same trait.
//!
//! An agent with a tool and long-term memory, answering with a typed value:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use agentry_core::agent::{Agent, AgentError};
//! use agentry_core::model::LanguageModel;
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
//! // `model` is any backend: `agentry_llama::LlamaModel` runs a GGUF file in-process.
//! # async fn demo(model: Arc<dyn LanguageModel>) -> Result<(), Box<dyn std::error::Error>> {
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

#![warn(missing_docs)]

pub mod agent;
pub mod classify;
pub mod defaults;
pub mod durable;
pub mod model;
pub mod parse;
pub mod plan;
pub mod summarize;
