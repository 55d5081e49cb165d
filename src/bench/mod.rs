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
//! - [`e2e`]: one ten-step tool-using task run by agentry in-process and by LangGraph
//!   driving `llama-server`: wall time, prompt tokens, whether each got it right.

pub mod e2e;
pub mod llama_bench;
pub mod memory;
pub mod model;
pub mod serve;

use std::path::PathBuf;

/// A llama.cpp tool: the path in `$VAR`, else `NAME` as `scripts/build-llama-server.sh`
/// caches it under `~/.cache/agentry/llama-server/bin` (or
/// `$AGENTRY_CACHE/llama-server/bin`). `None` when neither the variable nor a home is set.
fn llama_cpp_tool(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("AGENTRY_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/agentry"))
        })?;
    Some(cache.join("llama-server/bin").join(name))
}
