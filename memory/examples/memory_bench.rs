//! Runs the memory benchmark and prints the Markdown report (the same
//! measurements as `agentry bench memory`).
//!
//! `cargo run --release -p agentry-memory --example memory_bench [SIZE...]`

use agentry_memory::bench::{MemoryBenchOptions, run_memory_bench};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let mut opts = MemoryBenchOptions::default();
    if !sizes.is_empty() {
        opts.sizes = sizes;
    }
    let report = run_memory_bench(opts).await?;
    println!("{}", report.to_markdown());
    Ok(())
}
