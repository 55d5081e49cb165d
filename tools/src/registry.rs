//! [`ToolRegistry`]: holds the tools, exports their specs, and routes calls through
//! policy, validation, timeout, panic catching and the output budget.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::call::{ApprovedCall, ToolCall};
use crate::error::{RegistryError, ToolError};
use crate::output::truncate_to_budget;
use crate::policy::{Approval, Policy};
use crate::spec::{ToolSpec, is_valid_tool_name};
use crate::tool::{ProgressSink, Tool, ToolContext, ToolOutput};

/// Default time limit of one call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default output budget, in bytes of rendered text.
pub const DEFAULT_OUTPUT_BUDGET: usize = 16 * 1024;
/// At most this many schema validation messages are shown to the model.
const MAX_VALIDATION_MESSAGES: usize = 8;

/// Why a call produced no output. Each is an observation for the model, never a crash.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToolFailure {
    /// No tool has this name (among those the policy allows).
    #[error("unknown tool `{name}`; available tools: {}", list_or_none(.available))]
    UnknownTool {
        /// The name asked for.
        name: String,
        /// The tools the agent may call.
        available: Vec<String>,
    },
    /// The policy's allow-list does not include the tool.
    #[error("tool `{name}` is not allowed for this agent; allowed tools: {}", list_or_none(.allowed))]
    NotAllowed {
        /// The tool's name.
        name: String,
        /// The tools the agent may call.
        allowed: Vec<String>,
    },
    /// The tool needs capabilities the policy does not grant.
    #[error("tool `{name}` needs capabilities this agent is not granted: {}", .missing.join(", "))]
    CapabilityDenied {
        /// The tool's name.
        name: String,
        /// The capabilities lacking.
        missing: Vec<String>,
    },
    /// The arguments do not match the tool's schema.
    #[error("invalid arguments for `{name}`: {}", .errors.join("; "))]
    InvalidArguments {
        /// The tool's name.
        name: String,
        /// The validation messages.
        errors: Vec<String>,
    },
    /// The call had to wait for approval and no approver is set: it was not made.
    #[error(
        "the call to `{name}` was not made: {reason}, and no one can approve it in this run (non-interactive); {remedy}"
    )]
    NoApprover {
        /// The tool's name.
        name: String,
        /// Why the call had to wait ([`crate::HoldReason`]'s text).
        reason: String,
        /// How to let it run next time ([`crate::HoldReason::remedy`]).
        remedy: String,
    },
    /// The approver denied the call.
    #[error("the call to `{name}` was denied: {reason}")]
    ApprovalDenied {
        /// The tool's name.
        name: String,
        /// The approver's reason.
        reason: String,
    },
    /// The call ran past its time limit and was stopped.
    #[error("tool `{name}` timed out after {} ms and was stopped", .after.as_millis())]
    TimedOut {
        /// The tool's name.
        name: String,
        /// The time limit.
        after: Duration,
    },
    /// The tool panicked; the panic was caught.
    #[error("tool `{name}` crashed (panic: {message})")]
    Panicked {
        /// The tool's name.
        name: String,
        /// The panic message.
        message: String,
    },
    /// The tool returned an error.
    #[error("tool `{name}` failed: {message}")]
    Failed {
        /// The tool's name.
        name: String,
        /// The tool's error message.
        message: String,
    },
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

/// The outcome of one [`ToolCall`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The id of the call.
    pub call_id: String,
    /// The tool's name as called.
    pub name: String,
    /// The output, or why there is none.
    pub outcome: Result<ToolOutput, ToolFailure>,
}

impl ToolResult {
    /// Whether the call failed.
    pub fn is_error(&self) -> bool {
        self.outcome.is_err()
    }

    /// The text the model sees: the rendered output, or `error: <message>`.
    pub fn observation(&self) -> String {
        match &self.outcome {
            Ok(output) => output.render(),
            Err(failure) => format!("error: {failure}"),
        }
    }
}

struct Entry {
    tool: Arc<dyn Tool>,
    spec: ToolSpec,
    validator: jsonschema::Validator,
}

/// The tools an agent can call, and the one place their calls go through.
///
/// ```
/// use agentry_tools::{Policy, ToolCall, ToolRegistry, builtin::Calculator};
/// use serde_json::json;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut registry = ToolRegistry::new();
/// registry.register(Calculator).unwrap();
/// let call = ToolCall::new("1", "calculator", json!({"expression": "2^10"}));
/// let result = registry.call(&call, &Policy::default()).await;
/// assert_eq!(result.observation(), r#"{"expression":"2^10","value":1024}"#);
/// # });
/// ```
pub struct ToolRegistry {
    tools: BTreeMap<String, Entry>,
    default_timeout: Duration,
    output_budget: usize,
}

impl Default for ToolRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolRegistry")
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .field("default_timeout", &self.default_timeout)
            .field("output_budget", &self.output_budget)
            .finish()
    }
}

impl ToolRegistry {
    /// An empty registry with [`DEFAULT_TIMEOUT`] and [`DEFAULT_OUTPUT_BUDGET`].
    pub fn new() -> Self {
        Self {
            tools: BTreeMap::new(),
            default_timeout: DEFAULT_TIMEOUT,
            output_budget: DEFAULT_OUTPUT_BUDGET,
        }
    }

    /// Sets the time limit for tools that declare none.
    pub fn with_default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// Sets the output budget: an output whose rendered text is longer than `bytes` is
    /// replaced by that text cut to the budget, ending in `…[truncated N bytes]`.
    pub fn with_output_budget(mut self, bytes: usize) -> Self {
        self.output_budget = bytes;
        self
    }

    /// Registers a tool.
    ///
    /// # Errors
    /// An invalid or duplicate name, or a parameter schema that does not compile.
    pub fn register(&mut self, tool: impl Tool + 'static) -> Result<(), RegistryError> {
        self.register_arc(Arc::new(tool))
    }

    /// Registers a shared tool (see [`ToolRegistry::register`]).
    ///
    /// # Errors
    /// An invalid or duplicate name, or a parameter schema that does not compile.
    pub fn register_arc(&mut self, tool: Arc<dyn Tool>) -> Result<(), RegistryError> {
        let spec = tool.spec();
        if !is_valid_tool_name(&spec.name) {
            return Err(RegistryError::InvalidName(spec.name));
        }
        if self.tools.contains_key(&spec.name) {
            return Err(RegistryError::Duplicate(spec.name));
        }
        let validator = jsonschema::validator_for(&spec.parameters).map_err(|e| {
            RegistryError::InvalidSchema {
                tool: spec.name.clone(),
                message: e.to_string(),
            }
        })?;
        self.tools.insert(
            spec.name.clone(),
            Entry {
                tool,
                spec,
                validator,
            },
        );
        Ok(())
    }

    /// Registers several shared tools, stopping at the first error.
    ///
    /// # Errors
    /// As [`ToolRegistry::register`].
    pub fn register_all(
        &mut self,
        tools: impl IntoIterator<Item = Arc<dyn Tool>>,
    ) -> Result<(), RegistryError> {
        tools
            .into_iter()
            .try_for_each(|tool| self.register_arc(tool))
    }

    /// The tool named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.get(name).map(|entry| entry.tool.clone())
    }

    /// The specs of all registered tools, by name.
    pub fn list(&self) -> Vec<&ToolSpec> {
        self.tools.values().map(|entry| &entry.spec).collect()
    }

    /// The specs of the tools `policy` lets the model see (allowed name, granted capabilities).
    pub fn permitted(&self, policy: &Policy) -> Vec<&ToolSpec> {
        self.tools
            .values()
            .map(|entry| &entry.spec)
            .filter(|spec| policy.permits(spec))
            .collect()
    }

    /// The permitted tools in OpenAI's `tools` form:
    /// `[{"type":"function","function":{"name","description","parameters"}}]`.
    pub fn openai_tools(&self, policy: &Policy) -> Value {
        Value::Array(
            self.permitted(policy)
                .into_iter()
                .map(|spec| {
                    json!({
                        "type": "function",
                        "function": {
                            "name": spec.name,
                            "description": spec.description,
                            "parameters": spec.parameters,
                        }
                    })
                })
                .collect(),
        )
    }

    /// The permitted tools in MCP's `tools/list` form: `[{"name","description","inputSchema"}]`.
    pub fn mcp_tools(&self, policy: &Policy) -> Value {
        Value::Array(
            self.permitted(policy)
                .into_iter()
                .map(|spec| {
                    json!({
                        "name": spec.name,
                        "description": spec.description,
                        "inputSchema": spec.parameters,
                    })
                })
                .collect(),
        )
    }

    /// Runs one call under `policy`, its arguments written by a trusted hand (a person, a
    /// program): a call that must wait (see [`crate::hold()`]) is put to the policy's
    /// approver first, and not made without one. Every failure comes back as a
    /// [`ToolFailure`] in the result; this never panics and never returns an error.
    pub async fn call(&self, call: &ToolCall, policy: &Policy) -> ToolResult {
        self.result(
            call,
            self.run_call(call, policy, Some(&[]), ProgressSink::default())
                .await,
        )
    }

    /// As [`ToolRegistry::call`] for a call made after untrusted text entered the run
    /// (its arguments were templated from a fetched page, say); `sources` say where that
    /// text came from. A pre-approved tool with side effects then waits for the approver
    /// too, unless the policy lets it act on untrusted input.
    pub async fn call_untrusted(
        &self,
        call: &ToolCall,
        policy: &Policy,
        sources: &[String],
    ) -> ToolResult {
        self.result(
            call,
            self.run_call(call, policy, Some(sources), ProgressSink::default())
                .await,
        )
    }

    /// Runs one call whose approval the caller has decided ([`ApprovedCall`]): the policy's
    /// approver is not asked again; everything else is checked as by [`ToolRegistry::call`].
    pub async fn call_approved(&self, call: &ApprovedCall, policy: &Policy) -> ToolResult {
        self.result(
            call,
            self.run_call(call, policy, None, ProgressSink::default())
                .await,
        )
    }

    /// As [`ToolRegistry::call_approved`], the tool reporting its progress to `progress`
    /// ([`ToolContext::progress`]).
    pub async fn call_approved_with_progress(
        &self,
        call: &ApprovedCall,
        policy: &Policy,
        progress: ProgressSink,
    ) -> ToolResult {
        self.result(call, self.run_call(call, policy, None, progress).await)
    }

    /// Checks `args` against the argument schema of the tool named `name`: `None` when
    /// they fit (or no such tool is registered), else the failure a call would give.
    pub fn check_args(&self, name: &str, args: &Value) -> Option<ToolFailure> {
        let entry = self.tools.get(name)?;
        let errors = validation_errors(&entry.validator, args);
        (!errors.is_empty()).then(|| ToolFailure::InvalidArguments {
            name: name.to_owned(),
            errors,
        })
    }

    /// Runs `calls` concurrently, at most `concurrency` at a time (0 counts as 1), and
    /// returns their results in the order of `calls`.
    ///
    /// The calls run on the caller's task, interleaved at their `.await` points; a tool
    /// doing heavy computation should move it to `tokio::task::spawn_blocking`.
    pub async fn call_all(
        &self,
        calls: &[ToolCall],
        policy: &Policy,
        concurrency: usize,
    ) -> Vec<ToolResult> {
        // The futures are made before the stream is polled: a stream holding the
        // closure would make the caller's future `Send` only for one lifetime.
        let calls: Vec<_> = calls.iter().map(|call| self.call(call, policy)).collect();
        stream::iter(calls)
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    /// [`ToolRegistry::call_all`] for calls whose approval the caller has decided.
    pub async fn call_all_approved(
        &self,
        calls: &[ApprovedCall],
        policy: &Policy,
        concurrency: usize,
    ) -> Vec<ToolResult> {
        let calls: Vec<_> = calls
            .iter()
            .map(|call| self.call_approved(call, policy))
            .collect();
        stream::iter(calls)
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    fn result(&self, call: &ToolCall, outcome: Result<ToolOutput, ToolFailure>) -> ToolResult {
        ToolResult {
            call_id: call.id.clone(),
            name: call.name.clone(),
            outcome,
        }
    }

    /// Runs `call`; `untrusted` is `None` for a call already approved, else where the
    /// untrusted text in its run came from (empty: none).
    async fn run_call(
        &self,
        call: &ToolCall,
        policy: &Policy,
        untrusted: Option<&[String]>,
        progress: ProgressSink,
    ) -> Result<ToolOutput, ToolFailure> {
        let name = call.name.clone();
        let Some(entry) = self.tools.get(&call.name) else {
            return Err(ToolFailure::UnknownTool {
                name,
                available: self.allowed_names(policy),
            });
        };
        if !policy.allows_name(&call.name) {
            return Err(ToolFailure::NotAllowed {
                name,
                allowed: self.allowed_names(policy),
            });
        }
        let missing = entry.spec.capabilities.missing_from(&policy.capabilities);
        if !missing.is_empty() {
            return Err(ToolFailure::CapabilityDenied {
                name,
                missing: missing.into_iter().map(str::to_owned).collect(),
            });
        }
        let errors = validation_errors(&entry.validator, &call.args);
        if !errors.is_empty() {
            return Err(ToolFailure::InvalidArguments { name, errors });
        }
        if let Some(reason) = untrusted.and_then(|sources| policy.hold(&entry.spec, sources)) {
            let Some(approver) = &policy.approver else {
                return Err(ToolFailure::NoApprover {
                    name,
                    reason: reason.to_string(),
                    remedy: reason.remedy(),
                });
            };
            if let Approval::Deny(reason) = approver.approve(call, &entry.spec, &reason).await {
                return Err(ToolFailure::ApprovalDenied { name, reason });
            }
        }
        let ctx = ToolContext {
            call_id: call.id.clone(),
            granted: policy.capabilities,
            progress,
        };
        let timeout = entry.spec.timeout.unwrap_or(self.default_timeout);
        let running = AssertUnwindSafe(entry.tool.call(call.args.clone(), &ctx)).catch_unwind();
        match tokio::time::timeout(timeout, running).await {
            Err(_) => Err(ToolFailure::TimedOut {
                name,
                after: timeout,
            }),
            Ok(Err(payload)) => Err(ToolFailure::Panicked {
                name,
                message: panic_message(payload.as_ref()),
            }),
            Ok(Ok(Err(error))) => Err(failure_from(name, error)),
            Ok(Ok(Ok(output))) => Ok(self.apply_budget(output)),
        }
    }

    fn allowed_names(&self, policy: &Policy) -> Vec<String> {
        self.permitted(policy)
            .into_iter()
            .map(|spec| spec.name.clone())
            .collect()
    }

    fn apply_budget(&self, output: ToolOutput) -> ToolOutput {
        let rendered = output.render();
        if rendered.len() <= self.output_budget {
            output
        } else {
            ToolOutput::text(truncate_to_budget(&rendered, self.output_budget))
        }
    }
}

/// The first validation messages of `args` against `validator` (empty: valid).
fn validation_errors(validator: &jsonschema::Validator, args: &Value) -> Vec<String> {
    validator
        .iter_errors(args)
        .take(MAX_VALIDATION_MESSAGES)
        .map(|error| {
            let path = error.instance_path().to_string();
            if path.is_empty() {
                error.to_string()
            } else {
                format!("at `{path}`: {error}")
            }
        })
        .collect()
}

fn failure_from(name: String, error: ToolError) -> ToolFailure {
    match error {
        ToolError::InvalidArguments { message, .. } => ToolFailure::InvalidArguments {
            name,
            errors: vec![message],
        },
        other => ToolFailure::Failed {
            name,
            message: other.to_string(),
        },
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a non-text panic payload".to_owned()
    }
}
