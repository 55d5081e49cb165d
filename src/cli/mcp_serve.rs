//! `agentry mcp serve`: agentry as an MCP server over stdio, or over streamable HTTP with
//! `--http ADDR` (endpoint `/mcp`, loopback by default, an optional bearer token from
//! `--api-key-env VAR`, stopped gracefully by Ctrl-C or SIGTERM). It offers the built-in tools
//! named by `--tools` (file tools rooted at `--root`) and each `--workflow FILE` as a tool
//! (the workflow's inputs are its arguments, its outputs the result). Calls with side
//! effects run only when pre-approved (`--approve`, `--approve-all`) or approved by the
//! client's user through an MCP elicitation; see `agentry_tools::mcp::McpToolServer`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use agentry_core::model::{
    CandidateScore, Completion, CompletionStream, GenerateRequest, LanguageModel, ModelError,
    ModelInfo, ScoreRequest,
};
use agentry_tools::mcp::{HttpOptions, MCP_PATH, McpToolServer};
use agentry_tools::{
    Capabilities, McpServer, Policy, Tool, ToolContext, ToolError, ToolOutput, ToolRegistry,
    ToolSpec,
};
use agentry_workflow::{self as workflow, InputType, Workflow, WorkflowEvent, WorkflowRunner};
use anyhow::Context;
use async_trait::async_trait;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use tokio::sync::{Mutex, broadcast};

use super::approve::ApprovalArgs;
use super::mcp;
use super::toolbox::{BUILTIN_TOOLS, builtin_tools};
use super::workflow_models::{LoadedModels, ModelCache, ModelFlags, ModelSpecs};

/// Exit code: bad flags, a workflow that does not validate, a server that cannot start.
const EXIT_INVALID: u8 = 2;
/// Most bytes of a result's text; a longer one is cut, ending in `…[truncated N bytes]`.
const OUTPUT_BUDGET: usize = 256 * 1024;
/// Time limit of one call of a workflow tool.
const WORKFLOW_TIMEOUT: Duration = Duration::from_secs(3600);

/// `agentry mcp ...`
#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Serve tools and workflows to an MCP client (an editor, a desktop assistant) over
    /// stdio (the protocol on stdin/stdout, logs on stderr; ends when stdin closes) or,
    /// with --http ADDR, over streamable HTTP at http://ADDR/mcp until Ctrl-C or SIGTERM.
    #[command(
        after_help = "Examples:\n  agentry mcp serve --tools read_file,list_dir --root ./notes\n  agentry mcp serve --http 127.0.0.1:8765 --tools calculator --api-key-env MCP_TOKEN\n  agentry mcp serve --workflow examples/workflows/triage.yaml --tools calculator\n  agentry mcp serve --tools write_file --root out --approve write_file\n\nA call with side effects (write_file, http_get, a workflow step that writes) runs only when\npre-approved with --approve TOOL / --approve-all, or approved by the client's user when the\nclient supports MCP elicitation; otherwise it is refused with a message saying so.\nExit codes: 0 the client closed the session (or the HTTP server was stopped), 1 the session failed, 2 bad flags or workflow."
    )]
    Serve(ServeArgs),
}

/// Flags of `agentry mcp serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Built-in tools to offer, comma-separated or repeated: calculator, clock,
    /// read_file, list_dir, write_file, http_get, or `all`.
    #[arg(long = "tools", value_name = "NAMES", value_delimiter = ',')]
    tools: Vec<String>,
    /// The folder the file tools (and workflow tool steps) work in.
    #[arg(long, value_name = "DIR", default_value = ".")]
    root: PathBuf,
    /// A workflow file to offer as a tool named after the workflow (repeatable).
    #[arg(long = "workflow", value_name = "FILE")]
    workflows: Vec<PathBuf>,
    /// Use this model instead of each workflow's `model:` (the models of its `models:`
    /// stay, loaded as `agentry run` loads them).
    #[arg(long)]
    model: Option<String>,
    /// Context size of that model (default: the workflow's, else 4096).
    #[arg(long, value_parser = super::bounds::ctx::<u32>())]
    ctx: Option<u32>,
    /// Where the workflow tools' checkpoints are kept.
    #[arg(long, default_value = ".agentry/runs")]
    runs_dir: PathBuf,
    /// Serve over streamable HTTP on this address (e.g. 127.0.0.1:8765; port 0 picks a
    /// free one) at the path /mcp, instead of stdio. The address actually bound is
    /// printed on stderr.
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// With --http: every request must carry `Authorization: Bearer TOKEN`, TOKEN being
    /// the value of this environment variable (required for a non-loopback address).
    #[arg(long, value_name = "VAR", requires = "http")]
    api_key_env: Option<String>,
    #[command(flatten)]
    approvals: ApprovalArgs,
}

pub async fn run(cmd: McpCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        McpCommand::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let root = match args.root.canonicalize() {
        Ok(root) if root.is_dir() => root,
        _ => return invalid(format!("--root {}: not a folder", args.root.display())),
    };
    let wanted = match chosen_tools(&args.tools) {
        Ok(wanted) => wanted,
        Err(message) => return invalid(message),
    };
    if wanted.is_empty() && args.workflows.is_empty() {
        return invalid("nothing to serve: give --tools NAMES and/or --workflow FILE");
    }
    let api_key = match &args.api_key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Some(key),
            _ => {
                return invalid(format!(
                    "--api-key-env {var}: the variable is not set or empty"
                ));
            }
        },
    };
    if let Some(addr) = args.http
        && !addr.ip().is_loopback()
        && api_key.is_none()
    {
        return invalid(format!(
            "--http {addr} is not a loopback address: give --api-key-env VAR so that \
             clients must present a token"
        ));
    }
    let builtins = builtin_tools(&root)?;
    // A host reads whole files and workflow outputs: a larger budget than a small model's.
    let mut offered = ToolRegistry::new().with_output_budget(OUTPUT_BUDGET);
    for name in &wanted {
        if let Some(tool) = builtins.get(name) {
            offered.register_arc(tool)?;
        }
    }
    // Tool names the approval flags may name: every built-in (workflow steps use them
    // all), the workflow tools and their MCP servers' tools.
    let mut known: Vec<String> = BUILTIN_TOOLS.iter().map(|s| s.to_string()).collect();
    let mut workflows = Vec::new();
    for file in &args.workflows {
        let flow = match workflow::load(file, BUILTIN_TOOLS) {
            Ok(flow) => flow,
            Err(workflow::WorkflowError::Invalid(problems)) => {
                // The problems render as whole `error:` lines of their own.
                err!("{}", problems.render());
                return Ok(ExitCode::from(EXIT_INVALID));
            }
            Err(error) => return invalid(error),
        };
        let servers = match connect_servers(&flow).await {
            Ok(servers) => servers,
            Err(error) => return invalid(format!("{}: {error:#}", file.display())),
        };
        known.extend(mcp::tool_names(&servers));
        workflows.push((file.clone(), flow, servers));
    }
    let mut workflow_tools = Vec::new();
    for (file, flow, servers) in workflows {
        let name = tool_name(&flow.name);
        if offered.get(&name).is_some() {
            return invalid(format!(
                "{}: the workflow `{}` would be the tool `{name}`, a name already taken",
                file.display(),
                flow.name
            ));
        }
        known.push(name.clone());
        let mut steps_tools = builtin_tools(&root)?;
        mcp::register(&mut steps_tools, &servers)?;
        let tool = WorkflowTool {
            name,
            flow: Arc::new(flow),
            tools: Arc::new(steps_tools),
            servers,
            policy: Policy::allow_all(),
            flags: ModelFlags {
                model: args.model.clone(),
                ctx: args.ctx,
                ..ModelFlags::default()
            },
            models: Mutex::new(ModelCache::default()),
            runs_dir: args.runs_dir.clone(),
        };
        workflow_tools.push(tool);
    }
    let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let policy = match args.approvals.apply(Policy::allow_all(), &known_refs) {
        Ok(policy) => policy,
        Err(message) => return invalid(message),
    };
    for mut tool in workflow_tools {
        // The workflow's steps run under the same pre-approvals (plus the workflow's own
        // `policy:`); a held step is refused, failing the call with a message.
        tool.policy = policy.clone();
        offered.register(tool)?;
    }
    let names: Vec<String> = offered.list().iter().map(|s| s.name.clone()).collect();
    tracing::info!("agentry mcp serve: offering {}", names.join(", "));
    let server = McpToolServer::new(Arc::new(offered), policy).with_instructions(
        "agentry's tools and workflows. Calls with side effects need approval: the server \
         asks through elicitation when the client supports it, else refuses them unless \
         the server was started with --approve.",
    );
    match args.http {
        None => server.serve_stdio().await.context("agentry mcp serve")?,
        Some(addr) => {
            let listener = match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => listener,
                Err(e) => return invalid(format!("--http {addr}: cannot listen: {e}")),
            };
            let bound = listener.local_addr().context("the bound address")?;
            errln!("agentry mcp serve: listening on http://{bound}{MCP_PATH}");
            let options = HttpOptions {
                any_host: !addr.ip().is_loopback(),
                api_key,
            };
            server
                .serve_http(listener, options, super::signal::stop_requested())
                .await
                .context("agentry mcp serve --http")?;
            errln!("agentry mcp serve: stopped");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Says `error: MESSAGE` on stderr and ends with the exit code of bad flags or a bad
/// workflow (nothing was served).
fn invalid(message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    errln!("error: {message}");
    Ok(ExitCode::from(EXIT_INVALID))
}

/// The built-in tools `--tools` names (`all`: every one), in order, without repeats.
fn chosen_tools(flags: &[String]) -> Result<Vec<String>, String> {
    let mut chosen: Vec<String> = Vec::new();
    for name in flags.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let names: Vec<&str> = if name == "all" {
            BUILTIN_TOOLS.to_vec()
        } else if BUILTIN_TOOLS.contains(&name) {
            vec![name]
        } else {
            return Err(format!(
                "--tools {name}: no such built-in tool; tools: {}, or all",
                BUILTIN_TOOLS.join(", ")
            ));
        };
        for name in names {
            if !chosen.iter().any(|c| c == name) {
                chosen.push(name.to_string());
            }
        }
    }
    Ok(chosen)
}

/// Starts the servers of a workflow's `mcp:` section.
async fn connect_servers(flow: &Workflow) -> anyhow::Result<Vec<McpServer>> {
    let configs = flow.mcp_configs();
    mcp::connect_all(configs).await
}

/// A workflow's name as a tool name: characters outside `[a-zA-Z0-9_-]` become `_`, at
/// most 64 of them.
fn tool_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "workflow".into()
    } else {
        name
    }
}

/// The JSON Schema of a workflow's inputs: one property per input (its type, description
/// and default), those without a default required, nothing else allowed.
fn inputs_schema(flow: &Workflow) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for input in &flow.inputs {
        let kind = match input.kind {
            InputType::String => "string",
            InputType::Number => "number",
            InputType::Integer => "integer",
            InputType::Boolean => "boolean",
            InputType::Array => "array",
            InputType::Object => "object",
        };
        let mut property = Map::new();
        property.insert("type".into(), json!(kind));
        if let Some(description) = &input.description {
            property.insert("description".into(), json!(description));
        }
        match &input.default {
            Some(default) => {
                property.insert("default".into(), default.clone());
            }
            None => required.push(json!(input.name)),
        }
        properties.insert(input.name.clone(), Value::Object(property));
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// A workflow offered as a tool: its inputs are the arguments, its outputs the result.
/// The model of its agents is loaded on the first call that needs it.
struct WorkflowTool {
    name: String,
    flow: Arc<Workflow>,
    /// The tools its steps and agents may call.
    tools: Arc<ToolRegistry>,
    /// Its `mcp:` servers, kept running while the server runs.
    #[allow(dead_code)]
    servers: Vec<McpServer>,
    policy: Policy,
    /// `--model` and `--ctx` over the workflow's model settings.
    flags: ModelFlags,
    /// Its models, opened on the first call that needs them.
    models: Mutex<ModelCache>,
    runs_dir: PathBuf,
}

impl WorkflowTool {
    /// The models of a run with the arguments `given`: `model:` and `models:` rendered
    /// against its inputs and opened on first use (those of an earlier call are kept).
    /// A workflow without agents needs none.
    async fn models(&self, given: &Map<String, Value>) -> Result<LoadedModels, ToolError> {
        if self.flow.agents.is_empty() {
            return Ok(LoadedModels {
                main: Arc::new(NoModel::new()),
                named: Vec::new(),
            });
        }
        let inputs = workflow::resolve_inputs(&self.flow, given.clone()).map_err(|error| {
            ToolError::failed(format!("workflow `{}` failed: {error}", self.flow.name))
        })?;
        let specs =
            ModelSpecs::render(&self.flow, &self.flags, &inputs).map_err(ToolError::failed)?;
        self.models
            .lock()
            .await
            .open_all(&self.flow, &self.flags, &specs)
            .await
            .map_err(|e| ToolError::failed(format!("{e:#}")))
    }
}

#[async_trait]
impl Tool for WorkflowTool {
    fn spec(&self) -> ToolSpec {
        let description = match &self.flow.description {
            Some(text) => format!("Runs the workflow `{}`: {text}", self.flow.name),
            None => format!(
                "Runs the workflow `{}` ({} step(s)); the result holds its outputs.",
                self.flow.name,
                self.flow.steps.len()
            ),
        };
        let mut spec = ToolSpec::new(self.name.clone(), description, inputs_schema(&self.flow));
        // Its steps' calls are held (and refused) by the policy inside the run.
        spec.capabilities = Capabilities::NONE;
        spec.timeout = Some(WORKFLOW_TIMEOUT);
        spec
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let Value::Object(given) = args else {
            return Err(ToolError::InvalidArguments {
                tool: self.name.clone(),
                message: "the arguments must be an object".into(),
            });
        };
        ctx.progress
            .report(0.0, None, format!("starting workflow `{}`", self.flow.name));
        let models = self.models(&given).await?;
        let mut runner = WorkflowRunner::new((*self.flow).clone(), models.main)
            .tools(self.tools.clone(), self.policy.clone())
            .checkpoints(&self.runs_dir);
        for (name, model) in models.named {
            runner = runner.named_model(name, model);
        }
        let reporter = tokio::spawn(report_progress(
            runner.events(),
            self.flow.steps.iter().map(|s| s.id.clone()).collect(),
            ctx.progress.clone(),
        ));
        let outcome = runner.run(given).await;
        drop(runner);
        let _ = reporter.await;
        match outcome {
            Ok(outcome) => {
                tracing::info!("workflow `{}` run {} done", self.flow.name, outcome.run_id);
                Ok(ToolOutput::json(Value::Object(outcome.outputs)))
            }
            Err(error) => Err(ToolError::failed(format!(
                "workflow `{}` failed: {error}",
                self.flow.name
            ))),
        }
    }
}

/// Reports each top-level step of a run as it starts and finishes.
async fn report_progress(
    mut events: broadcast::Receiver<WorkflowEvent>,
    top: Vec<String>,
    progress: agentry_tools::ProgressSink,
) {
    let total = top.len() as f64;
    let mut done = 0.0;
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        };
        match event {
            WorkflowEvent::StepStarted { path, kind } if top.contains(&path) => {
                let at = done + 0.5;
                progress.report(at, Some(total), format!("step {path} ({kind}) started"));
            }
            WorkflowEvent::StepFinished { path, .. } if top.contains(&path) => {
                done += 1.0;
                progress.report(done, Some(total), format!("step {path} done"));
            }
            WorkflowEvent::StepSkipped { path, .. } if top.contains(&path) => {
                done += 1.0;
                progress.report(done, Some(total), format!("step {path} skipped"));
            }
            _ => {}
        }
    }
}

/// The model of a workflow without agents: it is never asked, and says so if it is.
struct NoModel(ModelInfo);

impl NoModel {
    fn new() -> Self {
        Self(ModelInfo {
            name: "none".into(),
            path: Path::new("").to_path_buf(),
            n_ctx: 0,
            n_ctx_train: 0,
            n_vocab: 0,
            parameters: 0,
            has_chat_template: false,
        })
    }

    fn refuse() -> ModelError {
        ModelError::Unsupported("this workflow has no agents, so no model was loaded".into())
    }
}

#[async_trait]
impl LanguageModel for NoModel {
    fn info(&self) -> &ModelInfo {
        &self.0
    }
    async fn generate(&self, _req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
        Err(Self::refuse())
    }
    async fn stream(&self, _req: GenerateRequest) -> Result<CompletionStream, ModelError> {
        Err(Self::refuse())
    }
    async fn score(&self, _req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
        Err(Self::refuse())
    }
    async fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        Ok(text.len().div_ceil(4))
    }
}
