//! Command-line parsing and dispatch.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod approve;
mod bench;
mod bounds;
mod chat;
mod doctor;
mod eval;
mod generate;
mod ingest;
mod mcp;
mod mcp_serve;
mod memory;
mod memory_dir;
mod models;
mod open_model;
mod recall;
mod run;
mod serve;
mod signal;
mod templates_dir;
mod terminal_text;
mod toolbox;
mod validate;
mod workflow_models;

/// agentry: run agents on local models.
#[derive(Debug, Parser)]
#[command(name = "agentry", version, about, long_about = None)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Chat with an agent: streamed replies, memory, tools, slash commands (/help).
    #[command(
        after_help = "Examples:\n  agentry chat\n  agentry chat --model ./model.gguf --ctx 8192 --threads 4\n  agentry chat --memory /data/agentry-memory --files ./notes\n  agentry chat --agent examples/workflows/research-brief.yaml#researcher\n\nIn the chat: /help lists the commands; a line ending in \\ continues; \"\"\" starts and ends a block;\nCtrl-C stops a reply, Ctrl-D or /exit leaves. History: chat_history next to the memory folder."
    )]
    Chat(chat::ChatArgs),
    /// agentry as an MCP server: tools and workflows for MCP clients (`mcp serve`).
    #[command(subcommand)]
    Mcp(mcp_serve::McpCommand),
    /// List, download and locate models (cached under $AGENTRY_HOME).
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Hardware self-check: can this machine hold this model?
    #[command(
        after_help = "Examples:\n  agentry doctor --model smollm2-135m\n  agentry doctor --model ./model.gguf --ctx 8192 --json\n  agentry doctor            (this machine, and which registry models fit)"
    )]
    Doctor(doctor::DoctorArgs),
    /// Measure accuracy: models x configurations on BFCL, GSM8K, Game of 24 or the task suite.
    ///
    /// Exit codes: 0 done; 1 a model or file failed; 2 invalid suite, configuration,
    /// category or data folder (nothing ran).
    #[command(
        after_help = "Examples:\n  agentry eval bfcl --data ../shared/data --category simple_python --category irrelevance --limit 20\n  agentry eval gsm8k --data ../shared/data --config direct --config cot --config sc-5 --limit 50\n  agentry eval game24 --data ../shared/data --config cot --config tot --limit 20\n  agentry eval tasks --model qwen2.5-coder-0.5b --json report.json --trace tasks.jsonl\n\nThe data folder can also come from AGENTRY_EVAL_DATA. A re-run with the same --trace skips items already scored.\nExit codes: 0 done, 1 a model or file failed, 2 invalid arguments or data folder."
    )]
    Eval(eval::EvalArgs),
    /// One streamed chat completion from a local model.
    #[command(
        after_help = "Examples:\n  agentry generate \"Name three colours.\"\n  agentry generate --model ./m.gguf --temperature 0.7 --max-tokens 64 \"Write a haiku.\"\n  agentry generate --json-schema '{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}' \"Where is the Eiffel tower?\""
    )]
    Generate(generate::GenerateArgs),
    /// Benchmarks (markdown tables, ratios taken in one run).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Chunk, embed and index documents into the project memory (.agentry/memory).
    #[command(
        after_help = "Examples:\n  agentry ingest docs/\n  agentry ingest notes.md README.md --collection handbook\n  agentry ingest docs/ --memory /data/agentry-memory"
    )]
    Ingest(ingest::IngestArgs),
    /// Move memory between stores: list, export, import, drop, migrate (e.g. the embedded
    /// store to a Qdrant server), vectors and payloads as stored.
    #[command(
        subcommand,
        after_help = "Examples:\n  agentry memory list\n  agentry memory list --memory-url http://127.0.0.1:6334\n  agentry memory export backup.jsonl --collection documents\n  agentry memory import backup.jsonl --memory-url http://127.0.0.1:6334\n  agentry memory migrate --from .agentry/memory --to http://qdrant.internal:6334\n  agentry memory drop old-notes --yes\n\nExit codes: 0 done, 1 a store failed, 2 bad arguments or a bad export file."
    )]
    Memory(memory::MemoryCommand),
    /// Search the project's documents (hybrid dense + BM25) and long-term memories.
    #[command(
        after_help = "Examples:\n  agentry recall \"where is the deploy key?\"\n  agentry recall -k 3 --json \"refund policy\""
    )]
    Recall(recall::RecallArgs),
    /// Run a workflow file: steps in order, a checkpoint after each, outputs at the end.
    ///
    /// Exit codes: 0 done; 1 a step failed (resume with --resume RUN_ID); 2 invalid
    /// workflow, inputs or arguments (nothing ran); 130 interrupted (resumable).
    #[command(
        after_help = "Examples:\n  agentry run examples/workflows/triage.yaml\n  agentry run brief.yaml --input topic=\"tide pools\" --json\n  agentry run brief.yaml --input 'sources=[\"a.md\",\"b.md\"]'\n  agentry run brief.yaml --resume 1764430000-1a2b3c4d\n\nExit codes: 0 done, 1 a step failed (resumable), 2 invalid file/inputs/arguments, 130 interrupted (resumable)."
    )]
    Run(run::RunArgs),
    /// Serve the model, workflow agents and embeddings over an OpenAI-compatible HTTP API.
    #[command(
        after_help = "Examples:\n  agentry serve\n  agentry serve --model qwen2.5-coder-0.5b --bind 0.0.0.0:8080 --api-key-env AGENTRY_API_KEY\n  agentry serve --workflow examples/workflows/research-brief.yaml --approve-all\n\nEndpoints: GET /health, GET /v1/models, POST /v1/chat/completions, POST /v1/embeddings."
    )]
    Serve(serve::ServeArgs),
    /// Check workflow files without running them: every problem with file:line:col.
    #[command(
        after_help = "Examples:\n  agentry validate examples/workflows/*.yaml\n  agentry validate --short my-flow.yaml\n\nExit codes: 0 valid, 2 a file has problems."
    )]
    Validate(validate::ValidateArgs),
}

/// Starts tracing on stderr: RUST_LOG when set, else by `-v` count. Without `-v`,
/// qdrant-edge's start-up warnings about its own feature flags ("Feature flags not
/// initialized!") are left out: they say nothing a user can act on.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,qdrant_edge=error",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A closed stderr must not turn a log line into a panic.
        .log_internal_errors(false)
        .try_init();
}

/// Runs one command; the exit code is the command's.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Chat(args) => chat::run(args).await,
        Command::Mcp(cmd) => mcp_serve::run(cmd).await,
        Command::Models(cmd) => models::run(cmd).await,
        Command::Doctor(args) => doctor::run(args).await,
        Command::Eval(args) => eval::run(args).await,
        Command::Generate(args) => generate::run(args).await,
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Ingest(args) => ingest::run(args).await,
        Command::Memory(cmd) => memory::run(cmd).await,
        Command::Recall(args) => recall::run(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Validate(args) => validate::run(args).await,
    }
}
