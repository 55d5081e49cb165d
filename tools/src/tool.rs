//! The [`Tool`] trait, its typed form [`TypedTool`], and [`FnTool`] (a tool from an async fn).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ToolError;
use crate::schema::schema_for;
use crate::spec::{Capabilities, ToolSpec};

/// What a tool gets to know about the call it serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolContext {
    /// The id of the call (from [`crate::ToolCall::id`]).
    pub call_id: String,
    /// The capabilities the policy granted for this call.
    pub granted: Capabilities,
    /// Where a long-running tool says how far it got (see [`ProgressSink`]).
    pub progress: ProgressSink,
}

/// How far a long-running call got: `done` of `total` (when known), and what it is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Work done so far (grows with every report).
    pub done: f64,
    /// All the work, when known.
    pub total: Option<f64>,
    /// What is happening now, for a person.
    pub message: String,
}

/// Where a tool reports [`Progress`] (an MCP client's progress notifications, say). The
/// default sink drops every report, so a tool may report whether or not anyone listens.
///
/// ```
/// use agentry_tools::{Progress, ProgressSink};
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let sink = ProgressSink::new(move |p: Progress| log.lock().unwrap().push(p.message));
/// sink.report(1.0, Some(2.0), "step one");
/// ProgressSink::default().report(1.0, None, "nobody hears this");
/// assert_eq!(*seen.lock().unwrap(), vec!["step one".to_string()]);
/// ```
#[derive(Clone, Default)]
pub struct ProgressSink(Option<Arc<dyn Fn(Progress) + Send + Sync>>);

impl ProgressSink {
    /// A sink that hands every report to `report`.
    pub fn new(report: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(report)))
    }

    /// Whether anyone listens (a tool may skip building costly messages otherwise).
    pub fn is_listening(&self) -> bool {
        self.0.is_some()
    }

    /// Reports `done` of `total` with `message`.
    pub fn report(&self, done: f64, total: Option<f64>, message: impl Into<String>) {
        if let Some(report) = &self.0 {
            report(Progress {
                done,
                total,
                message: message.into(),
            });
        }
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressSink(listening)"
        } else {
            "ProgressSink(none)"
        })
    }
}

/// Sinks compare equal: where progress goes is not part of a call's identity.
impl PartialEq for ProgressSink {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for ProgressSink {}

/// The successful result of a tool: a JSON value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutput {
    /// The value the tool returned.
    pub value: Value,
}

impl ToolOutput {
    /// An output holding plain text.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            value: Value::String(text.into()),
        }
    }

    /// An output holding a JSON value.
    pub fn json(value: Value) -> Self {
        Self { value }
    }

    /// The text the model sees: a string as is, any other value as compact JSON.
    pub fn render(&self) -> String {
        match &self.value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }
}

/// A tool the model can call.
///
/// Implement it directly for dynamic tools (MCP tools, tools built at run time), or
/// implement [`TypedTool`] and get this trait for free.
#[async_trait]
pub trait Tool: Send + Sync {
    /// Name, description, argument schema, capabilities and approval need.
    fn spec(&self) -> ToolSpec;

    /// Runs the tool. `args` has already been validated against `spec().parameters`.
    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError>;
}

/// A tool with typed arguments and output. The argument schema comes from `Args`
/// (schemars); a blanket impl makes every `TypedTool` a [`Tool`].
#[async_trait]
pub trait TypedTool: Send + Sync {
    /// The tool's name (see [`ToolSpec::name`]).
    const NAME: &'static str;
    /// The arguments, deserialised from the model's JSON.
    type Args: DeserializeOwned + JsonSchema + Send;
    /// The output, serialised to JSON for the model.
    type Output: Serialize + Send;

    /// What the tool does, written for the model.
    fn description(&self) -> String;

    /// The access the tool needs (default: none).
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }

    /// Whether each call must be approved (default: no).
    fn needs_approval(&self) -> bool {
        false
    }

    /// Time limit of one call (default: the registry's).
    fn timeout(&self) -> Option<Duration> {
        None
    }

    /// Whether a call repeated with the same arguments gives the same result (default:
    /// yes); see [`ToolSpec::idempotent`].
    fn idempotent(&self) -> bool {
        true
    }

    /// Whether the output is untrusted text although the tool declares no capability
    /// that reads from outside (default: no); see [`ToolSpec::output_is_untrusted`].
    fn untrusted_output(&self) -> bool {
        false
    }

    /// Runs the tool on deserialised arguments.
    async fn run(&self, args: Self::Args, ctx: &ToolContext) -> Result<Self::Output, ToolError>;
}

#[async_trait]
impl<T: TypedTool> Tool for T {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: T::NAME.to_owned(),
            description: self.description(),
            parameters: schema_for::<T::Args>(),
            capabilities: self.capabilities(),
            needs_approval: self.needs_approval(),
            timeout: self.timeout(),
            idempotent: self.idempotent(),
            untrusted_output: self.untrusted_output(),
            untrusted_description: false,
        }
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let args = decode_args::<T::Args>(T::NAME, args)?;
        let output = self.run(args, ctx).await?;
        encode_output(T::NAME, &output)
    }
}

fn decode_args<A: DeserializeOwned>(tool: &str, args: Value) -> Result<A, ToolError> {
    serde_json::from_value(args).map_err(|e| ToolError::InvalidArguments {
        tool: tool.to_owned(),
        message: e.to_string(),
    })
}

fn encode_output<O: Serialize>(tool: &str, output: &O) -> Result<ToolOutput, ToolError> {
    serde_json::to_value(output)
        .map(ToolOutput::json)
        .map_err(|source| ToolError::Output {
            tool: tool.to_owned(),
            source,
        })
}

/// A tool made from a plain async function or closure with typed arguments.
///
/// ```
/// use agentry_tools::{FnTool, ToolError};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Add { a: i64, b: i64 }
///
/// let tool = FnTool::new("add", "Adds two integers.", |args: Add| async move {
///     Ok::<_, ToolError>(args.a + args.b)
/// });
/// ```
pub struct FnTool<A, F> {
    spec: ToolSpec,
    function: F,
    args: PhantomData<fn(A)>,
}

impl<A, F, Fut, O> FnTool<A, F>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync,
    Fut: Future<Output = Result<O, ToolError>> + Send,
    O: Serialize + Send,
{
    /// A tool named `name` that runs `function` on the deserialised arguments.
    pub fn new(name: impl Into<String>, description: impl Into<String>, function: F) -> Self {
        Self {
            spec: ToolSpec::new(name, description, schema_for::<A>()),
            function,
            args: PhantomData,
        }
    }

    /// Declares the capabilities the function needs.
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.spec.capabilities = capabilities;
        self
    }

    /// Requires approval for each call.
    pub fn needs_approval(mut self, needs_approval: bool) -> Self {
        self.spec.needs_approval = needs_approval;
        self
    }

    /// Sets the time limit of one call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.spec.timeout = Some(timeout);
        self
    }

    /// Declares the output untrusted text (see [`ToolSpec::untrusted_output`]).
    pub fn untrusted_output(mut self, untrusted: bool) -> Self {
        self.spec.untrusted_output = untrusted;
        self
    }
}

#[async_trait]
impl<A, F, Fut, O> Tool for FnTool<A, F>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync,
    Fut: Future<Output = Result<O, ToolError>> + Send,
    O: Serialize + Send,
{
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    async fn call(&self, args: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let args = decode_args::<A>(&self.spec.name, args)?;
        let output = (self.function)(args).await?;
        encode_output(&self.spec.name, &output)
    }
}
