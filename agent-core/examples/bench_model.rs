//! Runs the model benchmark and prints its markdown table.
//!
//! `cargo run --release -p agentry-core --example bench_model -- [MODEL_SPEC] [THREADS] [GPU_LAYERS]`

use agentry_core::model::bench::{ModelBenchOptions, run_model_bench};
use agentry_core::model::store::ModelStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let spec = args.next().unwrap_or_else(|| "smollm2-135m".into());
    let threads = args.next().map(|t| t.parse()).transpose()?.unwrap_or(2);
    let gpu_layers = args.next().map(|t| t.parse()).transpose()?.unwrap_or(0);
    let path = ModelStore::from_env()?.pull(&spec).await?;
    let report = run_model_bench(
        &path,
        ModelBenchOptions {
            threads,
            gpu_layers,
            ..ModelBenchOptions::default()
        },
    )
    .await?;
    println!("{}", report.to_markdown());
    Ok(())
}
