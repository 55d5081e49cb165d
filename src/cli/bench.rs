//! `agentry bench model|serve|e2e|memory`: benchmarks that print markdown tables.

use std::process::ExitCode;

use agentry::bench::e2e::{E2eBenchOptions, default_python, run_e2e_bench};
use agentry::bench::llama_bench::default_llama_bench;
use agentry::bench::memory::{MemoryBenchOptions, VectorKind, run_memory_bench};
use agentry::bench::model::{ModelBenchOptions, run_model_bench};
use agentry::bench::serve::{ServeBenchOptions, default_llama_server, run_serve_bench};
use agentry_memory::{Durability, QdrantConfig};
use agentry_model_store::ModelStore;
use anyhow::Context;
use clap::Subcommand;

use super::memory_dir::api_key;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Model speed: agentry vs a bare llama-cpp-2 loop and llama.cpp's llama-bench,
    /// prefix reuse, batched samples, constrained decoding.
    #[command(
        after_help = "Example:\n  agentry bench model --model smollm2-135m --threads 2\n\nllama-bench: --llama-bench PATH, else $LLAMA_BENCH, else the one\nscripts/build-llama-server.sh caches (~/.cache/agentry/llama-server/bin)."
    )]
    Model {
        /// Model spec.
        #[arg(long, short, default_value = agentry_model_store::DEFAULT_MODEL)]
        model: String,
        /// CPU threads.
        #[arg(long, default_value_t = 2, value_parser = super::bounds::threads())]
        threads: i32,
        /// GPU layers (needs a `cuda` build).
        #[arg(long, default_value_t = 0, value_parser = super::bounds::gpu_layers::<u32>())]
        gpu_layers: u32,
        /// The llama-bench binary (its row is skipped, saying why, when there is none).
        #[arg(long, value_name = "PATH")]
        llama_bench: Option<std::path::PathBuf>,
    },
    /// Serving speed: `agentry serve` vs llama.cpp's `llama-server -np N` on the same
    /// model and threads (decode tok/s with 1 and N streaming clients, follow-up time to
    /// first token), and `OpenAiModel`'s cost per request over raw HTTP.
    #[command(
        after_help = "Example:\n  agentry bench serve --model smollm2-135m --threads 2\n\nllama-server: --llama-server PATH, else $LLAMA_SERVER, else the one\nscripts/build-llama-server.sh caches (~/.cache/agentry/llama-server/bin)."
    )]
    Serve {
        /// Model spec (both servers load its GGUF file).
        #[arg(long, short, default_value = "smollm2-135m")]
        model: String,
        /// CPU threads of each server.
        #[arg(long, default_value_t = 2, value_parser = super::bounds::threads())]
        threads: i32,
        /// Concurrent streaming clients (and llama-server's `-np`).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(2..=64))]
        clients: u16,
        /// Tokens each streaming client asks for.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(8..=4096))]
        tokens: u16,
        /// Alternating rounds (the best counts).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=20))]
        rounds: u8,
        /// The llama-server binary.
        #[arg(long, value_name = "PATH")]
        llama_server: Option<std::path::PathBuf>,
    },
    /// End to end: one ten-step tool-using task run by agentry in-process and by
    /// LangGraph's ReAct agent driving `llama-server` (same model, threads, prompts and
    /// tool): wall time, prompt tokens sent and evaluated, whether each got it right.
    #[command(
        after_help = "Example:\n  agentry bench e2e --model qwen2.5-coder-0.5b --threads 2\n\nllama-server: --llama-server PATH, else $LLAMA_SERVER, else the one\nscripts/build-llama-server.sh caches (~/.cache/agentry/llama-server/bin).\nLangGraph: --python PATH, else $AGENTRY_LANGGRAPH_PYTHON, else the venv\nscripts/install-langgraph.sh makes (~/.cache/agentry/langgraph/venv).\nExits 1 when a side does not complete the task correctly."
    )]
    E2e {
        /// Model spec (both sides load its GGUF file).
        #[arg(long, short, default_value = "qwen2.5-coder-0.5b")]
        model: String,
        /// CPU threads of each side.
        #[arg(long, default_value_t = 2, value_parser = super::bounds::threads())]
        threads: i32,
        /// Most tokens per model step.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(16..=4096))]
        max_tokens: u16,
        /// Alternating rounds (each side's quickest counts).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=10))]
        rounds: u8,
        /// The llama-server binary.
        #[arg(long, value_name = "PATH")]
        llama_server: Option<std::path::PathBuf>,
        /// The Python with `langgraph` and `langchain-openai` installed.
        #[arg(long, value_name = "PATH")]
        python: Option<std::path::PathBuf>,
    },
    /// Memory speed: insert throughput, recall latency at 10k and 100k items
    /// (the embedded store once per durability setting), embedding throughput.
    #[command(
        after_help = "Example:\n  agentry bench memory\n  agentry bench memory --sizes 10000 --vectors uniform\n  agentry bench memory --url http://127.0.0.1:6334   (the embedded store and the server)"
    )]
    Memory {
        /// Collection sizes to measure at.
        #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000], value_parser = super::bounds::bench_size())]
        sizes: Vec<usize>,
        /// How the synthetic vectors are spread: `structured` (like sentence
        /// embeddings: near a 32-d subspace) or `uniform` (no neighbour
        /// structure; the worst case for an approximate index).
        #[arg(long, default_value_t = VectorKind::Structured)]
        vectors: VectorKind,
        /// Also measure a Qdrant server (its gRPC URL), with the same vectors and
        /// queries; its collections are dropped at the end.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// The environment variable that holds the server's API key (default:
        /// QDRANT_API_KEY when set).
        #[arg(long, value_name = "VAR", requires = "url")]
        api_key_env: Option<String>,
        /// Durability settings of the embedded store to measure, a row each:
        /// `process` (a write survives a killed process) and `power` (fsync
        /// before a write is acknowledged: it survives a power cut).
        #[arg(long, value_delimiter = ',', default_values = ["process", "power"], value_parser = parse_durability)]
        durability: Vec<Durability>,
    },
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Model {
            model,
            threads,
            gpu_layers,
            llama_bench,
        } => {
            let store = ModelStore::from_env().context("opening the model store")?;
            let path = store.pull(&model).await?;
            let opts = ModelBenchOptions {
                threads,
                gpu_layers,
                llama_bench: llama_bench.or_else(default_llama_bench),
                ..ModelBenchOptions::default()
            };
            let report = run_model_bench(&path, opts).await?;
            outln!("{}", report.to_markdown());
        }
        BenchCommand::Serve {
            model,
            threads,
            clients,
            tokens,
            rounds,
            llama_server,
        } => {
            let llama_server = llama_server_binary(llama_server)?;
            let store = ModelStore::from_env().context("opening the model store")?;
            let gguf = store.pull(&model).await?;
            let opts = ServeBenchOptions {
                agentry: std::env::current_exe().context("finding the agentry binary")?,
                llama_server,
                model,
                gguf,
                threads,
                n_ctx: 2048,
                clients: usize::from(clients),
                decode_tokens: usize::from(tokens),
                overhead_requests: 20,
                rounds: usize::from(rounds),
            };
            let report = run_serve_bench(opts).await?;
            outln!("{}", report.to_markdown());
        }
        BenchCommand::E2e {
            model,
            threads,
            max_tokens,
            rounds,
            llama_server,
            python,
        } => {
            let llama_server = llama_server_binary(llama_server)?;
            let python = python.or_else(default_python).filter(|p| p.is_file()).context(
                "no LangGraph venv: pass --python PATH, set AGENTRY_LANGGRAPH_PYTHON, or run scripts/install-langgraph.sh",
            )?;
            let store = ModelStore::from_env().context("opening the model store")?;
            let gguf = store.pull(&model).await?;
            let opts = E2eBenchOptions {
                model,
                gguf,
                llama_server,
                python,
                threads,
                n_ctx: 4096,
                max_tokens: usize::from(max_tokens),
                max_steps: 16,
                rounds: usize::from(rounds),
            };
            let report = run_e2e_bench(opts).await?;
            outln!("{}", report.to_markdown());
            if !report.both_correct() {
                return Ok(ExitCode::FAILURE);
            }
        }
        BenchCommand::Memory {
            sizes,
            vectors,
            url,
            api_key_env,
            durability,
        } => {
            let server = match url {
                Some(url) => Some(QdrantConfig {
                    api_key: api_key(api_key_env.as_deref())?,
                    ..QdrantConfig::new(url)
                }),
                None => None,
            };
            let opts = MemoryBenchOptions {
                sizes,
                vectors,
                server,
                durability,
                ..MemoryBenchOptions::default()
            };
            let report = run_memory_bench(opts).await?;
            outln!("{}", report.to_markdown());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `llama-server` binary: `given` (`--llama-server`), else the default lookup; an
/// error saying how to get one when neither is a file.
fn llama_server_binary(given: Option<std::path::PathBuf>) -> anyhow::Result<std::path::PathBuf> {
    given
        .or_else(default_llama_server)
        .filter(|p| p.is_file())
        .context(
            "no llama-server binary: pass --llama-server PATH, set LLAMA_SERVER, or run scripts/build-llama-server.sh",
        )
}

fn parse_durability(text: &str) -> Result<Durability, String> {
    text.parse()
        .map_err(|e: agentry_memory::MemoryError| e.to_string())
}
