//! `agentry chat`: an interactive REPL with an agent.
//!
//! - [`commands`]: what an input means (pure, unit-tested).
//! - [`input`]: multi-line input and line editing with a history file.
//! - [`render`]: streamed tokens, dimmed thoughts and tool calls.
//! - [`approval`]: "Allow TOOL(args)? [y/N]" for calls that need approval.
//! - [`toolset`]: the tools of the REPL's own agent.
//! - [`session`]: the agent, its settings and memory; the agent comes from a factory,
//!   so another front end can supply its own.
//! - [`repl`]: the loop.
//!
//! Plain messages are answered by [`Agent::chat`](agentry_core::agent::Agent::chat) (a
//! conversation with recall from long-term memory, streamed). `/run TASK` is a
//! tool-using run ([`Agent::run`](agentry_core::agent::Agent::run)) whose thoughts and
//! tool calls are shown dimmed and whose risky calls ask for approval.

pub mod approval;
pub mod commands;
pub mod input;
pub mod render;
pub mod repl;
pub mod session;
pub mod toolset;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use agentry_core::agent::Agent;
use agentry_core::defaults;
use agentry_core::model::{LanguageModel, Sampling};
use agentry_core::plan::run::Limits;
use agentry_core::plan::strategy::Strategy;
use agentry_workflow::{self as workflow, AgentSpec, Workflow, WorkflowError};
use anyhow::Context;
use clap::Args;

use super::bounds;
use super::memory_dir::MemoryArgs;

/// Exit code: arguments that cannot be used; nothing started.
const EXIT_INVALID: u8 = 2;
use super::templates_dir::TemplatesArgs;
use super::toolbox::BUILTIN_TOOLS;
use super::workflow_models::{ModelCache, ModelFlags, input_defaults, llama_config};
use approval::TerminalApprover;
use input::LineReader;
use render::{Printer, Style};
use repl::Repl;
use session::{AgentFactory, Session, Settings};
use toolset::Toolset;

/// The name of the history file, next to the memory folder (`.agentry/chat_history` for
/// the default `.agentry/memory`).
pub const HISTORY_FILE: &str = "chat_history";

/// Arguments of `agentry chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Model spec (alias, ./path.gguf, hf:..., pypi:...) [default: the model the --agent
    /// runs on in its workflow (`model:`, or the one of `models:` it names), else
    /// smollm2-135m].
    #[arg(long, short)]
    model: Option<String>,
    /// Chat with an agent of a workflow file: its role, instructions, tools (those the
    /// chat has), strategy and sampling.
    #[arg(long, value_name = "FILE#NAME")]
    agent: Option<String>,
    #[command(flatten)]
    memory: MemoryArgs,
    /// Context size in tokens.
    #[arg(long, default_value_t = 4096, value_parser = bounds::ctx::<u32>())]
    ctx: u32,
    /// CPU threads for the model (default: every core).
    #[arg(long, value_parser = bounds::threads())]
    threads: Option<i32>,
    /// Layers to offload to the GPU (needs a `cuda` build).
    #[arg(long, default_value_t = 0, value_parser = bounds::gpu_layers::<u32>())]
    gpu_layers: u32,
    /// Most tokens per reply (change it later with /set max_tokens=N).
    #[arg(long, default_value_t = defaults::MAX_TOKENS, value_parser = bounds::max_tokens())]
    max_tokens: usize,
    /// Let the agent's /run read and list the files in DIR, and write there after you
    /// approve each write.
    #[arg(long, value_name = "DIR")]
    files: Option<PathBuf>,
    /// The history file [default: chat_history next to the memory folder, i.e.
    /// .agentry/chat_history].
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// An MCP server whose tools (`NAME__TOOL`) the agent may call, started as
    /// `NAME=COMMAND ARG...` over stdio, or `NAME=http(s)://HOST/PATH` over streamable
    /// HTTP (repeatable). You approve each call.
    #[arg(long = "mcp", value_name = "NAME=COMMAND")]
    mcp: Vec<String>,
    /// Trust the CA certificates of the PEM file PATH for the `--mcp NAME=https://...`
    /// server NAME, besides the system's roots (a server behind a private CA; repeatable,
    /// one per server).
    #[arg(long = "mcp-ca", value_name = "NAME=PATH")]
    mcp_ca: Vec<String>,
    #[command(flatten)]
    templates: TemplatesArgs,
}

/// Runs the REPL until the user leaves.
pub async fn run(args: ChatArgs) -> anyhow::Result<ExitCode> {
    // A flag that cannot be used is a usage error (exit 2), before anything starts.
    let configs = match super::mcp::from_flags(&args.mcp, &args.mcp_ca) {
        Ok(configs) => configs,
        Err(error) => {
            errln!("error: {error:#}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let servers = super::mcp::connect_all(configs).await?;
    let tools = Toolset::new(args.files.as_deref())?.with_mcp(&servers)?;
    let templates = args.templates.load().context("--templates")?;
    let persona = args.agent.as_deref().map(persona).transpose()?;
    // The model: --model, else the one the --agent runs on in its workflow (`model:`, or
    // the one of `models:` it names, with its settings and API key variable), else the
    // default.
    let config = super::open_model::llama_config(args.ctx, args.gpu_layers, args.threads);
    let model: Arc<dyn LanguageModel> = match (&args.model, &persona) {
        (Some(spec), _) => super::open_model::open_model(spec, config, None, "--model").await?,
        (None, Some((agent, flow))) => agent_model(agent, flow, &args).await?,
        (None, None) => {
            let spec = agentry_model_store::DEFAULT_MODEL;
            super::open_model::open_model(spec, config, None, "the default model").await?
        }
    };
    let project = args.memory.open().await?;
    let memories = Arc::new(project.memories);
    let documents = Arc::new(project.documents);

    let agent_spec = persona.map(|(agent, _)| agent);
    let mut settings = Settings {
        strategy: Strategy::Direct,
        sampling: Sampling {
            max_tokens: args.max_tokens,
            ..Sampling::default()
        },
    };
    if let Some(agent) = &agent_spec {
        settings.strategy = agent.strategy.clone();
        settings.sampling = agent.sampling.apply(settings.sampling);
    }
    let factory: AgentFactory = {
        let memories = memories.clone();
        Box::new(move |approver| {
            let mut policy = tools.policy(approver);
            let mut builder = Agent::builder()
                .model(model.clone())
                .role(defaults::ROLE)
                .instructions([
                    "Answer clearly and briefly",
                    "Use the tools for arithmetic, the time and files instead of guessing",
                ])
                .limits(Limits {
                    max_steps: defaults::MAX_STEPS,
                    ..Limits::default()
                });
            if let Some(agent) = &agent_spec {
                builder = agent.configure(builder);
                policy = policy.allow_tools(agent.tools.iter().map(|t| t.name.clone()));
            }
            builder
                .tools(tools.registry.clone())
                .policy(policy)
                .memory(memories.clone())
                .documents(documents.clone())
                .templates(templates.clone())
                // Small models ramble: a short thought leaves room for the tool call.
                .thought_max_chars(Some(160))
        })
    };
    let (approver, approvals) = TerminalApprover::channel();
    let session = Session::new(factory, Arc::new(approver), settings, Some(memories))?;
    let history = args
        .history
        .clone()
        .unwrap_or_else(|| history_next_to(&args.memory.store.memory));
    let reader = LineReader::new(Some(history))?;
    let printer = Printer::new(std::io::stdout(), Style::detect());
    Repl::new(
        session,
        reader,
        printer,
        approvals,
        Some(args.memory.place().to_string()),
    )
    .with_mcp(servers)
    .run()
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The model `agent` of `flow` runs on, loaded as `agentry run` loads it (its spec
/// rendered against the inputs' defaults); `--ctx`, `--gpu-layers` and `--threads`
/// apply.
async fn agent_model(
    agent: &AgentSpec,
    flow: &Workflow,
    args: &ChatArgs,
) -> anyhow::Result<Arc<dyn LanguageModel>> {
    let (choice, origin) = match &agent.model {
        Some(name) => (
            flow.models.get(&name.name),
            format!("`models.{}` of the --agent workflow", name.name),
        ),
        None => (
            Some(&flow.model),
            "`model:` of the --agent workflow".to_owned(),
        ),
    };
    let choice = choice.with_context(|| format!("{origin} is not declared"))?;
    let spec = choice
        .render(&input_defaults(flow))
        .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    let flags = ModelFlags {
        model: None,
        ctx: Some(args.ctx),
        gpu_layers: Some(args.gpu_layers),
        threads: args.threads,
    };
    let config = llama_config(flow, choice, &flags);
    ModelCache::default()
        .open(&spec, config, choice.api_key_env.as_deref(), &origin)
        .await
}

/// The agent `NAME` of the workflow file in `FILE#NAME`, and the workflow.
fn persona(reference: &str) -> anyhow::Result<(AgentSpec, Workflow)> {
    let Some((file, name)) = reference.rsplit_once('#') else {
        anyhow::bail!("--agent `{reference}` is not FILE#NAME (e.g. flow.yaml#researcher)");
    };
    let flow = match workflow::load(Path::new(file), BUILTIN_TOOLS) {
        Ok(flow) => flow,
        Err(WorkflowError::Invalid(problems)) => {
            anyhow::bail!(
                "{file} is not a valid workflow:\n{}",
                problems.render().trim_end()
            )
        }
        Err(error) => return Err(error.into()),
    };
    match flow.agent(name) {
        Some(agent) => Ok((agent.clone(), flow.clone())),
        None => {
            let names: Vec<&str> = flow.agents.iter().map(|a| a.name.as_str()).collect();
            anyhow::bail!(
                "{file} has no agent `{name}`; its agents: {}",
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            )
        }
    }
}

/// The history file next to the memory folder `memory`.
pub fn history_next_to(memory: &Path) -> PathBuf {
    match memory.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join(HISTORY_FILE),
        _ => PathBuf::from(HISTORY_FILE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_sits_next_to_the_memory() {
        assert_eq!(
            history_next_to(Path::new(".agentry/memory")),
            PathBuf::from(".agentry/chat_history")
        );
        assert_eq!(
            history_next_to(Path::new("/data/mem")),
            PathBuf::from("/data/chat_history")
        );
        assert_eq!(
            history_next_to(Path::new("mem")),
            PathBuf::from("chat_history")
        );
    }
}
