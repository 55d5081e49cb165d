//! # agentry-tools
//!
//! The tools an agent can call, and the one place their calls go through.
//!
//! - [`Tool`] is the contract: a [`ToolSpec`] (name, description, JSON Schema of the
//!   arguments, [`Capabilities`], approval need, timeout) and an async `call`.
//!   [`TypedTool`] derives the schema from a Rust type (schemars) and deserialises the
//!   arguments; [`FnTool`] turns a plain async closure into a tool.
//! - [`ToolRegistry`] holds tools, exports their specs (OpenAI `tools`, MCP
//!   `tools/list`, and the planner's step schema, built from [`ToolRegistry::permitted`]), and runs calls:
//!   allow-list, capabilities and approval from the agent's [`Policy`], argument
//!   validation against the schema, a timeout, panic catching and an output budget.
//!   Every failure comes back as a [`ToolFailure`] observation for the model.
//! - [`builtin`]: `calculator`, `clock`, `http_get`, `read_file` / `list_dir` /
//!   `write_file`. [`mcp`]: tools of MCP servers started over stdio, kept at arm's length
//!   (time limits, bounds, a cleared environment, untrusted descriptions and output).
//!
//! ```
//! use agentry_tools::{Policy, ToolCall, ToolError, ToolRegistry, TypedTool, ToolContext};
//! use async_trait::async_trait;
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct GreetArgs {
//!     /// Who to greet.
//!     name: String,
//! }
//!
//! struct Greet;
//!
//! #[async_trait]
//! impl TypedTool for Greet {
//!     const NAME: &'static str = "greet";
//!     type Args = GreetArgs;
//!     type Output = String;
//!     fn description(&self) -> String { "Greets someone.".into() }
//!     async fn run(&self, args: GreetArgs, _ctx: &ToolContext) -> Result<String, ToolError> {
//!         Ok(format!("Hello, {}!", args.name))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut tools = ToolRegistry::new();
//! tools.register(Greet).unwrap();
//! let policy = Policy::default();
//!
//! let ok = tools.call(&ToolCall::new("c1", "greet", json!({"name": "Ada"})), &policy).await;
//! assert_eq!(ok.observation(), "Hello, Ada!");
//!
//! // A bad call is an observation for the model, not a crash.
//! let bad = tools.call(&ToolCall::new("c2", "greet", json!({"nom": "Ada"})), &policy).await;
//! assert!(bad.observation().starts_with("error: invalid arguments for `greet`"));
//! # });
//! ```

#![warn(missing_docs)]

pub mod builtin;
mod call;
mod error;
mod hold;
pub mod mcp;
mod output;
mod policy;
mod registry;
pub mod schema;
mod spec;
mod tool;

pub use call::{ApprovedCall, ToolCall};
pub use error::{RegistryError, ToolError};
pub use hold::{Approvals, HoldReason, ToolSet, hold};
pub use mcp::{HandshakeFailure, McpError, McpLimits, McpServer, McpServerConfig};
pub use output::truncate_to_budget;
pub use policy::{Approval, Approver, Policy};
pub use registry::{DEFAULT_OUTPUT_BUDGET, DEFAULT_TIMEOUT, ToolFailure, ToolRegistry, ToolResult};
pub use spec::{Capabilities, ToolSpec, is_valid_tool_name};
pub use tool::{FnTool, Progress, ProgressSink, Tool, ToolContext, ToolOutput, TypedTool};
