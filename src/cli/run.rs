//! `agentry run`: run a workflow file, with checkpoints and `--resume`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentry_core::plan::run::AgentEvent;
use agentry_tools::Policy;
use agentry_workflow::{
    self as workflow, Checkpoints, Workflow, WorkflowError, WorkflowEvent, WorkflowOutcome,
    WorkflowRunError, WorkflowRunner,
};
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::approve::{self, ApprovalArgs};
use super::mcp;
use super::memory_dir::{MemoryPlace, open_memory};
use super::templates_dir::TemplatesArgs;
use super::terminal_text::sanitize;
use super::toolbox::{BUILTIN_TOOLS, builtin_tools};
use super::workflow_models::{ModelCache, ModelFlags, ModelSpecs};

/// Exit code: a step failed (the checkpoint keeps the finished steps).
const EXIT_FAILED: u8 = 1;
/// Exit code: invalid workflow file, inputs or arguments; nothing ran.
const EXIT_INVALID: u8 = 2;
/// Exit code: interrupted (Ctrl-C); the checkpoint keeps the finished steps.
const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow file.
    file: PathBuf,
    /// An input, `NAME=VALUE` (repeatable). Numbers, lists and objects are read as JSON;
    /// `NAME=@FILE` reads the value from a file.
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    inputs: Vec<String>,
    /// Print the run id and outputs as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Continue the run RUN_ID from its checkpoint (finished steps are not run again).
    #[arg(long, value_name = "RUN_ID")]
    resume: Option<String>,
    /// Where checkpoints are kept.
    #[arg(long, default_value = ".agentry/runs")]
    runs_dir: PathBuf,
    /// Use this model instead of the workflow's.
    #[arg(long)]
    model: Option<String>,
    /// Context size (default: the workflow's, else 4096).
    #[arg(long, value_parser = super::bounds::ctx::<u32>())]
    ctx: Option<u32>,
    /// Layers to offload to the GPU (needs a `cuda` build).
    #[arg(long, value_parser = super::bounds::gpu_layers::<u32>())]
    gpu_layers: Option<u32>,
    /// Keep the workflow's memory on this Qdrant server (gRPC URL) instead of where
    /// its `memory` section says.
    #[arg(long, value_name = "URL")]
    memory_url: Option<String>,
    /// The environment variable that holds that server's API key (it must be set).
    #[arg(long, value_name = "VAR", requires = "memory_url")]
    memory_api_key_env: Option<String>,
    /// An MCP server whose tools (`NAME__TOOL`) the workflow's agents may list, started
    /// as `NAME=COMMAND ARG...` over stdio, or `NAME=http(s)://HOST/PATH` over streamable
    /// HTTP (repeatable; on top of the workflow's `mcp:`).
    /// Its tools wait for approval unless `--approve`d.
    #[arg(long = "mcp", value_name = "NAME=COMMAND")]
    mcp: Vec<String>,
    /// Trust the CA certificates of the PEM file PATH for the `--mcp NAME=https://...`
    /// server NAME, besides the system's roots (a server behind a private CA; repeatable,
    /// one per server).
    #[arg(long = "mcp-ca", value_name = "NAME=PATH")]
    mcp_ca: Vec<String>,
    #[command(flatten)]
    approvals: ApprovalArgs,
    #[command(flatten)]
    templates: TemplatesArgs,
}

/// Where the workflow's memory goes: the `--memory-url` server when given, else
/// where its `memory` section says.
fn memory_place(
    url: Option<&str>,
    api_key_env: &Option<String>,
    location: &workflow::MemoryLocation,
) -> MemoryPlace {
    match (url, location) {
        (Some(url), _) => MemoryPlace::Server {
            url: url.to_string(),
            api_key_env: api_key_env.clone(),
        },
        (None, workflow::MemoryLocation::Folder(path)) => MemoryPlace::Folder(path.clone()),
        (None, workflow::MemoryLocation::Server { url, api_key_env }) => MemoryPlace::Server {
            url: url.clone(),
            api_key_env: api_key_env.clone(),
        },
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    // `--mcp` servers first: the workflow may name their tools.
    let flag_servers = match mcp::from_flags(&args.mcp, &args.mcp_ca) {
        Ok(configs) => mcp::connect_all(configs).await,
        Err(error) => Err(error),
    };
    let mut servers = match flag_servers {
        Ok(servers) => servers,
        Err(error) => {
            errln!("error: {error:#}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let flag_tools = mcp::tool_names(&servers);
    let known: Vec<&str> = BUILTIN_TOOLS
        .iter()
        .copied()
        .chain(flag_tools.iter().map(String::as_str))
        .collect();
    let flow = match workflow::load(&args.file, &known) {
        Ok(flow) => flow,
        Err(WorkflowError::Invalid(problems)) => {
            err!("{}", problems.render());
            return Ok(ExitCode::from(EXIT_INVALID));
        }
        Err(error) => {
            errln!("error: {error}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let given = match parse_inputs(&args.inputs) {
        Ok(given) => given,
        Err(message) => {
            errln!("error: {message}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    // Everything that can be refused is checked before the model loads.
    let checked = match &args.resume {
        Some(_) if !given.is_empty() => {
            Err("--resume continues a run with its own inputs; drop --input".to_string())
        }
        Some(id) => Checkpoints::new(&args.runs_dir)
            .load(id)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        None => workflow::resolve_inputs(&flow, given.clone())
            .map(|_| ())
            .map_err(|e| e.to_string()),
    };
    let memory_place = match (&args.memory_url, &flow.memory) {
        (Some(_), None) => Err(
            "--memory-url: the workflow has no `memory` section to place on the server".to_string(),
        ),
        (_, None) => Ok(None),
        (url, Some(memory)) => {
            let place = memory_place(url.as_deref(), &args.memory_api_key_env, &memory.location);
            // A named key variable must be set: refused before the model loads.
            place
                .check_api_key()
                .map(|()| Some(place))
                .map_err(|e| e.to_string())
        }
    };
    let (checked, memory_place) = match (checked, memory_place) {
        (Ok(()), Ok(place)) => (Ok(()), place),
        (Err(e), _) | (Ok(()), Err(e)) => (Err(e), None),
    };
    let checked = match checked {
        Ok(()) => with_workflow_servers(&flow, &mut servers).await,
        Err(e) => Err(e),
    };
    let mcp_tools = mcp::tool_names(&servers);
    let all_tools: Vec<&str> = BUILTIN_TOOLS
        .iter()
        .copied()
        .chain(mcp_tools.iter().map(String::as_str))
        .collect();
    // Model specs may read the inputs: rendered before anything loads.
    let specs = checked.and_then(|()| model_specs(&flow, &args, &given));
    let policy = specs.and_then(|specs| {
        args.approvals
            .apply(Policy::allow_all(), &all_tools)
            .map(|policy| (policy, specs))
    });
    let (policy, specs) = match policy {
        Ok(policy) => policy,
        Err(message) => {
            errln!("error: {message}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let templates = match args.templates.load() {
        Ok(templates) => templates,
        Err(error) => {
            errln!("error: --templates: {error}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let models = ModelCache::default()
        .open_all(&flow, &model_flags(&args), &specs)
        .await?;
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let mut tools = builtin_tools(&cwd)?;
    mcp::register(&mut tools, &servers)?;
    let tools = Arc::new(tools);
    let bar = progress_bar();
    let policy = policy.with_approver(approve::approver(&bar));
    let mut runner = WorkflowRunner::new(flow, models.main)
        .tools(tools, policy)
        .templates(templates)
        .checkpoints(&args.runs_dir);
    for (name, model) in models.named {
        runner = runner.named_model(name, model);
    }
    if let (Some(memory), Some(place)) = (runner.workflow().memory.clone(), memory_place) {
        let collection = memory
            .collection
            .clone()
            .unwrap_or_else(|| agentry_memory::documents::DEFAULT_DOCUMENTS_COLLECTION.into());
        let opened = open_memory(&place, &collection).await?;
        let base = args.file.parent().unwrap_or(Path::new("."));
        ingest(&opened.documents, base, &memory.documents).await?;
        runner = runner.memory(
            Some(Arc::new(opened.memories)),
            Some(Arc::new(opened.documents)),
        );
    }
    let progress = Progress::start(runner.events(), runner.workflow().steps.len(), bar);
    let run_id = progress.run_id.clone();
    let result = tokio::select! {
        result = async {
            match &args.resume {
                Some(id) => runner.resume(id).await,
                None => runner.run(given).await,
            }
        } => Some(result),
        _ = tokio::signal::ctrl_c() => None,
    };
    drop(runner);
    progress.finish().await;
    let resume_hint = |id: &str| {
        format!(
            "resume with: agentry run {} --resume {id}",
            args.file.display()
        )
    };
    match result {
        Some(Ok(outcome)) => {
            print_outcome(&outcome, args.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Err(error)) => {
            // A step's error can quote a model's or a tool's text.
            errln!("error: {}", sanitize(&error.to_string()));
            let id = run_id.lock().map(|g| g.clone()).unwrap_or_default();
            let code = match error {
                WorkflowRunError::Input { .. }
                | WorkflowRunError::UnknownRun { .. }
                | WorkflowRunError::Changed { .. }
                | WorkflowRunError::Busy { .. } => EXIT_INVALID,
                _ => {
                    if let Some(id) = id {
                        errln!("{}", resume_hint(&id));
                    }
                    EXIT_FAILED
                }
            };
            Ok(ExitCode::from(code))
        }
        None => {
            errln!("interrupted");
            if let Ok(Some(id)) = run_id.lock().map(|g| g.clone()) {
                errln!("{}", resume_hint(&id));
            }
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
    }
}

/// Connects the servers of the workflow's `mcp:` section (after `servers`, those of the
/// flags) and checks that every MCP tool an agent or the policy names is offered.
async fn with_workflow_servers(
    flow: &Workflow,
    servers: &mut Vec<agentry_tools::McpServer>,
) -> Result<(), String> {
    let configs = flow.mcp_configs();
    if let Some(taken) = configs
        .iter()
        .find(|c| servers.iter().any(|s| s.name() == c.name))
    {
        return Err(format!(
            "--mcp {}: the workflow's `mcp:` has a server of that name",
            taken.name
        ));
    }
    let connected = mcp::connect_all(configs)
        .await
        .map_err(|e| format!("{e:#}"))?;
    servers.extend(connected);
    let offered = mcp::tool_names(servers);
    let policy_names = [&flow.policy.approve, &flow.policy.act_on_untrusted]
        .into_iter()
        .filter_map(|names| match names {
            workflow::ToolNames::Named(names) => Some(names),
            workflow::ToolNames::All => None,
        })
        .flatten();
    let named = flow
        .agents
        .iter()
        .flat_map(|a| &a.tools)
        .chain(policy_names);
    for name in named {
        let Some((server, _)) = name.name.split_once("__") else {
            continue;
        };
        if !offered.contains(&name.name) {
            let tools: Vec<&str> = offered
                .iter()
                .filter(|t| t.starts_with(&format!("{server}__")))
                .map(String::as_str)
                .collect();
            return Err(format!(
                "{}:{}: MCP server `{server}` offers no tool `{}`; its tools: {}",
                flow.source.name(),
                name.span.line,
                name.name,
                tools.join(", ")
            ));
        }
    }
    Ok(())
}

/// `NAME=VALUE` pairs as JSON values (text, or JSON for numbers, lists, objects; the
/// workflow's input types decide), `NAME=@FILE` read from a file.
fn parse_inputs(pairs: &[String]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!("--input `{pair}` is not NAME=VALUE"));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("--input `{pair}` has no name"));
        }
        let value = match value.strip_prefix('@') {
            Some(path) => {
                // A regular file, capped: a FIFO or device cannot hang the run.
                agentry_model::file::read_capped_text(
                    std::path::Path::new(path),
                    MAX_INPUT_FILE_BYTES,
                )
                .map_err(|e| format!("--input {name}=@{path}: {e}"))?
            }
            None => value.to_string(),
        };
        if out.insert(name.to_string(), Value::String(value)).is_some() {
            return Err(format!("--input `{name}` is given twice"));
        }
    }
    Ok(out)
}

/// The model specs of the run: `model:` and `models:`, rendered against the run's inputs
/// (given, or the checkpoint's with `--resume`).
fn model_specs(
    flow: &Workflow,
    args: &RunArgs,
    given: &Map<String, Value>,
) -> Result<ModelSpecs, String> {
    let inputs = match &args.resume {
        Some(id) => Checkpoints::new(&args.runs_dir)
            .load(id)
            .map(|state| state.inputs)
            .map_err(|e| e.to_string())?,
        None => workflow::resolve_inputs(flow, given.clone()).map_err(|e| e.to_string())?,
    };
    ModelSpecs::render(flow, &model_flags(args), &inputs)
}

/// `--model`, `--ctx` and `--gpu-layers` (the last two apply to every model).
fn model_flags(args: &RunArgs) -> ModelFlags {
    ModelFlags {
        model: args.model.clone(),
        ctx: args.ctx,
        gpu_layers: args.gpu_layers,
        threads: None,
    }
}

/// Indexes the workflow's documents (paths relative to the workflow file); unchanged
/// files are skipped by the store.
async fn ingest(
    documents: &agentry_memory::Documents,
    base: &Path,
    paths: &[PathBuf],
) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for path in paths {
        super::ingest::collect(&base.join(path), &mut files)?;
    }
    for file in files {
        documents
            .ingest_file(&file)
            .await
            .with_context(|| format!("ingesting {}", file.display()))?;
    }
    Ok(())
}

fn print_outcome(outcome: &WorkflowOutcome, json: bool) -> anyhow::Result<()> {
    if json {
        let value = serde_json::json!({
            "run_id": outcome.run_id,
            "outputs": outcome.outputs,
            "steps_run": outcome.steps_run,
            "steps_resumed": outcome.steps_resumed,
        });
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    for (name, value) in &outcome.outputs {
        match value {
            Value::String(text) if !text.contains('\n') => outln!("{name}: {}", sanitize(text)),
            Value::String(text) => outln!("{name}:\n{}", sanitize(text)),
            other => outln!("{name}: {}", serde_json::to_string_pretty(other)?),
        }
    }
    errln!(
        "run {} done: {} step(s) run, {} resumed (checkpoint {})",
        outcome.run_id,
        outcome.steps_run,
        outcome.steps_resumed,
        outcome.checkpoint.display()
    );
    Ok(())
}

/// The live progress line on a terminal (step, tokens/s), one line per finished step
/// otherwise.
struct Progress {
    task: tokio::task::JoinHandle<()>,
    bar: ProgressBar,
    run_id: Arc<Mutex<Option<String>>>,
}

/// A spinner line on a terminal, else a hidden bar.
fn progress_bar() -> ProgressBar {
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    }
}

impl Progress {
    fn start(
        mut events: broadcast::Receiver<WorkflowEvent>,
        top_steps: usize,
        bar: ProgressBar,
    ) -> Self {
        let live = !bar.is_hidden();
        let run_id = Arc::new(Mutex::new(None));
        let slot = run_id.clone();
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            let mut current = String::new();
            let mut tokens = 0usize;
            let mut since = Instant::now();
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                match event {
                    WorkflowEvent::Started { run_id, resumed } => {
                        let note = if resumed > 0 {
                            format!(" (resuming: {resumed} step(s) done)")
                        } else {
                            String::new()
                        };
                        say(live, &shown, &format!("run {run_id}{note}"));
                        if let Ok(mut slot) = slot.lock() {
                            *slot = Some(run_id);
                        }
                    }
                    WorkflowEvent::StepStarted { path, kind } => {
                        current = format!("{path} ({kind})");
                        tokens = 0;
                        since = Instant::now();
                        shown.set_message(format!("{current} of {top_steps} top-level step(s)"));
                    }
                    WorkflowEvent::Token { .. } => {
                        tokens += 1;
                        let rate = tokens as f64 / since.elapsed().as_secs_f64().max(1e-3);
                        shown.set_message(format!("{current} · {tokens} tokens · {rate:.1} tok/s"));
                    }
                    WorkflowEvent::StepFinished {
                        path, elapsed_ms, ..
                    } => say(
                        live,
                        &shown,
                        &format!("done {path} ({:.1} s)", elapsed_ms as f64 / 1000.0),
                    ),
                    WorkflowEvent::StepSkipped { path, why } => {
                        let why = if why == "checkpoint" {
                            "done in the checkpoint"
                        } else {
                            "condition false"
                        };
                        say(live, &shown, &format!("skip {path} ({why})"));
                    }
                    WorkflowEvent::AgentResumed {
                        path,
                        agent_run,
                        step,
                    } => say(
                        live,
                        &shown,
                        &format!(
                            "resume {path}: agent run {agent_run} continues after model step {step}"
                        ),
                    ),
                    WorkflowEvent::Agent { path, event } => {
                        if let Some(line) = agent_line(&path, &event) {
                            say(live, &shown, &line);
                        }
                    }
                    WorkflowEvent::Finished { .. } => {}
                }
            }
        });
        Self { task, bar, run_id }
    }

    /// Waits for the last events (the runner must be dropped first, closing the
    /// channel), then clears the line.
    async fn finish(self) {
        let _ = self.task.await;
        self.bar.finish_and_clear();
    }
}

/// The progress line of an agent's event, for the events worth a line: tool calls and
/// their results (thoughts, tokens and the rest stay off the screen).
fn agent_line(path: &str, event: &AgentEvent) -> Option<String> {
    match event {
        AgentEvent::ToolCall { step, call } => Some(format!(
            "  {path} step {step}: call {}({})",
            call.name,
            shorten(&call.args.to_string())
        )),
        AgentEvent::ToolResult { step, result } => Some(match &result.outcome {
            Ok(output) => format!(
                "  {path} step {step}: {} gave {}",
                result.name,
                shorten(&output.value.to_string())
            ),
            Err(failure) => format!(
                "  {path} step {step}: {} failed: {}",
                result.name,
                shorten(&failure.to_string())
            ),
        }),
        AgentEvent::InjectionSignals {
            step,
            source,
            signals,
        } => Some(format!(
            "  {path} step {step}: signs of a prompt injection in {source}: {}",
            shorten(&signals.join("; "))
        )),
        AgentEvent::SentBack { step, problem } => Some(format!(
            "  {path} step {step}: sent back: {}",
            shorten(problem)
        )),
        _ => None,
    }
}

/// `text` cut to one short line.
fn shorten(text: &str) -> String {
    const MAX: usize = 100;
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > MAX || line.len() < text.len() {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line.to_string()
    }
}

/// Shows a progress line; its text may come from a model or a tool.
fn say(live: bool, bar: &ProgressBar, line: &str) {
    let line = &*sanitize(line);
    if live {
        bar.println(line);
    } else {
        errln!("{line}");
    }
}

/// Most bytes of a file given as `--input NAME=@PATH`.
const MAX_INPUT_FILE_BYTES: u64 = 16 << 20;
