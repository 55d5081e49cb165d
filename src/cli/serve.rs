//! `agentry serve`: the OpenAI-compatible HTTP server (`agentry-server`) over a model, the
//! agents of workflow files, and the memory embedder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use agentry_core::agent::Agent;
use agentry_core::defaults;
use agentry_memory::embed::MINILM_SPEC;
use agentry_memory::{Embedder, FastEmbedder};
use agentry_server::{ServedAgent, Server, ServerConfig};
use agentry_tools::{Approval, Approver, HoldReason, Policy, ToolCall, ToolRegistry, ToolSpec};
use agentry_workflow::{self as workflow, WorkflowError};
use anyhow::Context;
use async_trait::async_trait;
use clap::Args;

use super::approve::{ApprovalArgs, unattended_refusal};
use super::toolbox::{BUILTIN_TOOLS, builtin_tools};
use super::workflow_models::{LoadedModels, ModelCache, ModelFlags, ModelSpecs};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Model spec (alias, ./path.gguf, openai:URL#NAME) [default: the first
    /// --workflow's model, else smollm2-135m].
    #[arg(long)]
    model: Option<String>,
    /// The name clients ask for the model by [default: the model spec, or a file's stem].
    #[arg(long, value_name = "NAME")]
    model_name: Option<String>,
    /// A workflow file whose agents are offered as model names, each under its own name
    /// (repeatable). Their tool calls run server-side under the approval flags.
    #[arg(long = "workflow", value_name = "FILE")]
    workflows: Vec<PathBuf>,
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// The environment variable holding the API key clients must send as
    /// `Authorization: Bearer KEY` (it must be set and non-empty).
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// Context size in tokens, shared by all conversations.
    #[arg(long, default_value_t = 4096, value_parser = super::bounds::ctx::<u32>())]
    ctx: u32,
    /// CPU threads for the model [default: all cores].
    #[arg(long)]
    threads: Option<i32>,
    /// Layers to offload to the GPU (needs a `cuda` build).
    #[arg(long, default_value_t = 0, value_parser = super::bounds::gpu_layers::<u32>())]
    gpu_layers: u32,
    /// Requests admitted at once (running or waiting for the model); more get 503.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    queue: u64,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Largest `n` of a chat request.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    max_n: u64,
    /// Largest `max_tokens` of a chat request.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_tokens: u64,
    /// Serve without `/v1/embeddings` (the embedding model is then not loaded).
    #[arg(long)]
    no_embeddings: bool,
    #[command(flatten)]
    approvals: ApprovalArgs,
}

/// Refuses every held call: nobody watches a server. The refusal names the flag that
/// would allow it and goes to the agent (and the server's log).
struct Unattended;

#[async_trait]
impl Approver for Unattended {
    async fn approve(&self, call: &ToolCall, _spec: &ToolSpec, reason: &HoldReason) -> Approval {
        let why = unattended_refusal(reason);
        tracing::warn!("refused {}: {why}", call.name);
        Approval::Deny(why)
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let api_key = match &args.api_key_env {
        Some(var) => match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Some(key.trim().to_owned()),
            _ => anyhow::bail!("--api-key-env {var}: the variable is not set or empty"),
        },
        None => None,
    };
    let mut flows = Vec::new();
    for file in &args.workflows {
        flows.push(load_workflow(file)?);
    }
    let policy = args
        .approvals
        .apply(Policy::allow_all(), BUILTIN_TOOLS)
        .map_err(anyhow::Error::msg)?
        .with_approver(Arc::new(Unattended));
    let flags = ModelFlags {
        model: args.model.clone(),
        ctx: Some(args.ctx),
        gpu_layers: Some(args.gpu_layers),
        threads: args.threads,
    };
    let mut cache = ModelCache::default();
    // The served model: the first workflow's `model:` (rendered against its inputs'
    // defaults, with its settings and API key variable), as `agentry run` opens it.
    let (spec, model) = match flows.first() {
        Some(flow) => {
            let specs = ModelSpecs::render_with_defaults(flow, &flags)
                .map_err(|e| anyhow::anyhow!("{}: {e}", flow.source.name()))?;
            let model = cache.open_main(flow, &flags, &specs).await?;
            (specs.main, model)
        }
        None => {
            let (spec, origin) = match &args.model {
                Some(spec) => (spec.clone(), "--model"),
                None => (
                    agentry_model_store::DEFAULT_MODEL.to_owned(),
                    "the default model",
                ),
            };
            let config = super::open_model::llama_config(args.ctx, args.gpu_layers, args.threads);
            let model = cache.open(&spec, config, None, origin).await?;
            (spec, model)
        }
    };
    let model_name = args.model_name.clone().unwrap_or_else(|| {
        let path = Path::new(&spec);
        match path.extension() {
            Some(ext) if ext == "gguf" => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| spec.clone()),
            _ => spec.clone(),
        }
    });
    // The models of the workflows' `models:` (one equal to the served model is that
    // model); every workflow's agents without a model of their own use the served one.
    let named_flags = ModelFlags {
        model: Some(spec.clone()),
        ..flags
    };
    let mut flow_models = Vec::new();
    for flow in &flows {
        let specs = ModelSpecs::render_with_defaults(flow, &named_flags)
            .map_err(|e| anyhow::anyhow!("{}: {e}", flow.source.name()))?;
        let named = cache.open_named(flow, &named_flags, &specs).await?;
        flow_models.push(LoadedModels {
            main: model.clone(),
            named,
        });
    }
    let mut server = Server::new(model.clone(), model_name.clone()).config(ServerConfig {
        max_body_bytes: args.max_body_bytes,
        max_n: args.max_n as usize,
        max_tokens: args.max_tokens as usize,
        default_max_tokens: 512.min(args.max_tokens as usize),
        queue_capacity: args.queue as usize,
        api_key,
        ..ServerConfig::default()
    });
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let all_tools = builtin_tools(&cwd)?;
    let mut names = vec![model_name.clone()];
    for (flow, models) in flows.iter().zip(&flow_models) {
        for spec in &flow.agents {
            if names.contains(&spec.name) {
                anyhow::bail!(
                    "{}: the agent `{}` has the name of another served model or agent; rename it or use --model-name",
                    flow.source.name(),
                    spec.name
                );
            }
            let mut tools = ToolRegistry::new();
            for name in &spec.tools {
                let tool = all_tools.get(&name.name).with_context(|| {
                    format!(
                        "agent `{}`: tool `{}` is not available",
                        spec.name, name.name
                    )
                })?;
                tools.register_arc(tool)?;
            }
            // Validation made sure a named model is declared, and all of them are loaded.
            let agent_model = models
                .for_agent(spec)
                .with_context(|| format!("agent `{}`: its model was not loaded", spec.name))?;
            let agent = spec
                .configure(Agent::builder().model(agent_model).role(defaults::ROLE))
                .tools(Arc::new(tools))
                .policy(policy.clone())
                // Free text, as the model writes it (a blank answer is still refused).
                .answer_schema(serde_json::json!({"type": "string"}))
                .build()
                .with_context(|| format!("building the agent `{}`", spec.name))?;
            let description = spec
                .role
                .clone()
                .unwrap_or_else(|| format!("agent of the workflow `{}`", flow.name));
            names.push(spec.name.clone());
            server = server.agent(
                spec.name.clone(),
                ServedAgent {
                    description,
                    agent: Arc::new(agent),
                },
            );
        }
    }
    if !args.no_embeddings {
        let embedder = FastEmbedder::from_env_store().await.context(
            "loading the embedding model (or pass --no-embeddings to serve without /v1/embeddings)",
        )?;
        let embedder: Arc<dyn Embedder> = Arc::new(embedder);
        server = server.embedder(MINILM_SPEC, embedder);
    }
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr()?;
    outln!(
        "agentry serve: listening on http://{address}/v1 (models: {})",
        names.join(", ")
    );
    agentry_server::serve(listener, server.router(), shutdown_signal())
        .await
        .context("serving")?;
    errln!("agentry serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// A workflow, or its problems as the error.
fn load_workflow(file: &Path) -> anyhow::Result<workflow::Workflow> {
    match workflow::load(file, BUILTIN_TOOLS) {
        Ok(flow) => Ok(flow),
        Err(WorkflowError::Invalid(problems)) => anyhow::bail!(
            "--workflow {} is not a valid workflow:\n{}",
            file.display(),
            problems.render().trim_end()
        ),
        Err(error) => {
            Err(anyhow::Error::new(error).context(format!("--workflow {}", file.display())))
        }
    }
}

/// Completes on Ctrl-C or SIGTERM, saying that the server is shutting down.
async fn shutdown_signal() {
    super::signal::stop_requested().await;
    errln!("agentry serve: shutting down (requests in flight finish first)");
}
