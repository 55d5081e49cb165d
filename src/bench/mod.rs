//! The benchmarks behind `agentry bench`: they live with the program that runs them, not in
//! the library crates.
//!
//! - [`model`]: decode speed (against a bare llama-cpp-2 loop and llama.cpp's
//!   `llama-bench`), KV reuse, batching and constrained decoding on a GGUF model.
//! - [`llama_bench`]: runs `llama-bench` and reads its JSON output.
//! - [`memory`]: insert throughput, recall latency and recall@k of the embedded vector store,
//!   and embedding throughput.
//! - [`serve`]: `agentry serve` against `llama-server` (decode speed with 1 and many
//!   clients, follow-up time to first token) and `OpenAiModel`'s cost per request.

pub mod llama_bench;
pub mod memory;
pub mod model;
pub mod serve;
