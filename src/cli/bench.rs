//! `agentry bench model|memory`: benchmarks that print markdown tables.

use std::process::ExitCode;

use agentry::bench::memory::{MemoryBenchOptions, VectorKind, run_memory_bench};
use agentry::bench::model::{ModelBenchOptions, run_model_bench};
use agentry_memory::{Durability, QdrantConfig};
use agentry_model_store::ModelStore;
use anyhow::Context;
use clap::Subcommand;

use super::memory_dir::api_key;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Model speed: agentry vs a bare llama-cpp-2 loop, prefix reuse, batched
    /// samples, constrained decoding.
    #[command(after_help = "Example:\n  agentry bench model --model smollm2-135m --threads 2")]
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
        } => {
            let store = ModelStore::from_env().context("opening the model store")?;
            let path = store.pull(&model).await?;
            let opts = ModelBenchOptions {
                threads,
                gpu_layers,
                ..ModelBenchOptions::default()
            };
            let report = run_model_bench(&path, opts).await?;
            outln!("{}", report.to_markdown());
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

fn parse_durability(text: &str) -> Result<Durability, String> {
    text.parse()
        .map_err(|e: agentry_memory::MemoryError| e.to_string())
}
