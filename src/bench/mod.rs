//! The benchmarks behind `agentry bench`: they live with the program that runs them, not in
//! the library crates.
//!
//! - [`model`]: decode speed, KV reuse, batching and constrained decoding on a GGUF model.
//! - [`memory`]: insert throughput, recall latency and recall@k of the embedded vector store,
//!   and embedding throughput.

pub mod memory;
pub mod model;
