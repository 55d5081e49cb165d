//! llama.cpp's own `llama-bench`, run as the peer of `agentry bench model`: the same GGUF,
//! threads, GPU layers, prompt length and generation length, its prompt (`pp`) and
//! generation (`tg`) tokens/s read from its JSON output (`-o json`).
//!
//! llama-bench times a prompt of random tokens and a generation that starts from an empty
//! context, each repeated (`-r`); the best repetition counts (from its `samples_ts`), as
//! the best round counts for agentry, whose numbers are its own prompt and its greedy
//! decode after that prompt. Its binary is built beside `llama-server` by
//! `scripts/build-llama-server.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// What llama-bench runs.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaBenchOptions {
    /// The `llama-bench` binary.
    pub binary: PathBuf,
    /// The GGUF model.
    pub model: PathBuf,
    /// CPU threads (`-t`).
    pub threads: i32,
    /// GPU layers (`-ngl`).
    pub gpu_layers: u32,
    /// Prompt tokens of the prompt test (`-p`).
    pub prompt_tokens: usize,
    /// Tokens of the generation test (`-n`).
    pub gen_tokens: usize,
    /// Repetitions of each test (`-r`); the best counts.
    pub repetitions: usize,
}

/// llama-bench's measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LlamaBenchSpeed {
    /// Prompt tokens of its prompt test.
    pub prompt_tokens: usize,
    /// Its prompt tokens/s (best repetition).
    pub prompt_tps: f64,
    /// Tokens of its generation test.
    pub gen_tokens: usize,
    /// Its generation tokens/s (best repetition).
    pub decode_tps: f64,
}

/// The llama-bench row of a report: measured, or why not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LlamaBenchRow {
    /// llama-bench ran.
    Measured(LlamaBenchSpeed),
    /// It did not; the reason is printed in place of the row.
    Skipped(String),
}

/// Why llama-bench gave no numbers.
#[derive(Debug, thiserror::Error)]
pub enum LlamaBenchError {
    /// The binary could not be started.
    #[error("cannot run {binary}: {detail}")]
    Start {
        /// The binary.
        binary: String,
        /// Why.
        detail: String,
    },
    /// It exited with an error.
    #[error("{binary} exited with {status}: {stderr}")]
    Failed {
        /// The binary.
        binary: String,
        /// Its exit status.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// Its output is not what `-o json` writes.
    #[error("llama-bench's output is not understood: {0}")]
    Output(String),
}

/// The `llama-bench` binary: `$LLAMA_BENCH`, else the one `scripts/build-llama-server.sh`
/// caches under `~/.cache/agentry/llama-server/bin` (or `$AGENTRY_CACHE/llama-server/bin`).
pub fn default_llama_bench() -> Option<PathBuf> {
    super::llama_cpp_tool("LLAMA_BENCH", "llama-bench")
}

/// The arguments llama-bench gets for `opts`.
pub fn arguments(opts: &LlamaBenchOptions) -> Vec<String> {
    vec![
        "-m".into(),
        path_arg(&opts.model),
        "-t".into(),
        opts.threads.to_string(),
        "-ngl".into(),
        opts.gpu_layers.to_string(),
        "-p".into(),
        opts.prompt_tokens.to_string(),
        "-n".into(),
        opts.gen_tokens.to_string(),
        "-r".into(),
        opts.repetitions.max(1).to_string(),
        "-o".into(),
        "json".into(),
    ]
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Runs llama-bench (a blocking call: it takes as long as its tests) and reads its speeds.
///
/// # Errors
/// When it cannot start, fails, or writes what `-o json` does not.
pub fn run(opts: &LlamaBenchOptions) -> Result<LlamaBenchSpeed, LlamaBenchError> {
    let binary = opts.binary.display().to_string();
    let output = Command::new(&opts.binary)
        .args(arguments(opts))
        .output()
        .map_err(|e| LlamaBenchError::Start {
            binary: binary.clone(),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(LlamaBenchError::Failed {
            binary,
            status: output.status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
        });
    }
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// One test of llama-bench's JSON output (the fields read here; it writes many more).
#[derive(Debug, Deserialize)]
struct TestResult {
    n_prompt: usize,
    n_gen: usize,
    #[serde(default)]
    n_depth: usize,
    avg_ts: f64,
    /// Tokens/s of each repetition.
    #[serde(default)]
    samples_ts: Vec<f64>,
}

impl TestResult {
    /// The best repetition's tokens/s (the mean when no repetition is listed).
    fn best_ts(&self) -> f64 {
        self.samples_ts
            .iter()
            .copied()
            .fold(None, |best: Option<f64>, ts| {
                Some(best.map_or(ts, |b| b.max(ts)))
            })
            .unwrap_or(self.avg_ts)
    }
}

/// The speeds in llama-bench's `-o json` output: the prompt-only test (`n_gen` 0) and the
/// generation-only test (`n_prompt` 0), both at depth 0.
///
/// # Errors
/// When the text is not a JSON array of tests, or either test is missing.
pub fn parse(json: &str) -> Result<LlamaBenchSpeed, LlamaBenchError> {
    let tests: Vec<TestResult> =
        serde_json::from_str(json.trim()).map_err(|e| LlamaBenchError::Output(e.to_string()))?;
    let prompt = tests
        .iter()
        .find(|t| t.n_prompt > 0 && t.n_gen == 0 && t.n_depth == 0)
        .ok_or_else(|| LlamaBenchError::Output("no prompt test (pp) in it".into()))?;
    let generation = tests
        .iter()
        .find(|t| t.n_gen > 0 && t.n_prompt == 0 && t.n_depth == 0)
        .ok_or_else(|| LlamaBenchError::Output("no generation test (tg) in it".into()))?;
    Ok(LlamaBenchSpeed {
        prompt_tokens: prompt.n_prompt,
        prompt_tps: prompt.best_ts(),
        gen_tokens: generation.n_gen,
        decode_tps: generation.best_ts(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_prompt_and_generation_tests() {
        let json = r#"[
          {"model_filename": "m.gguf", "n_threads": 2, "n_prompt": 256, "n_gen": 0,
           "n_depth": 0, "avg_ns": 1, "avg_ts": 812.5, "stddev_ts": 3.1,
           "samples_ns": [1, 2], "samples_ts": [800.0, 825.0]},
          {"model_filename": "m.gguf", "n_threads": 2, "n_prompt": 0, "n_gen": 64,
           "n_depth": 0, "avg_ns": 1, "avg_ts": 97.25, "stddev_ts": 0.4}
        ]"#;
        let speed = parse(json).expect("parse");
        assert_eq!(speed.prompt_tokens, 256);
        assert_eq!(speed.gen_tokens, 64);
        assert_eq!(speed.prompt_tps, 825.0, "the best repetition");
        assert_eq!(speed.decode_tps, 97.25, "the mean without samples");
    }

    #[test]
    fn refuses_output_without_both_tests() {
        let only_pp = r#"[{"n_prompt": 16, "n_gen": 0, "n_depth": 0, "avg_ts": 10.0}]"#;
        assert!(matches!(parse(only_pp), Err(LlamaBenchError::Output(_))));
        assert!(matches!(
            parse("| model | size |"),
            Err(LlamaBenchError::Output(_))
        ));
    }

    #[test]
    fn passes_the_same_lengths_and_threads() {
        let args = arguments(&LlamaBenchOptions {
            binary: "llama-bench".into(),
            model: "m.gguf".into(),
            threads: 3,
            gpu_layers: 0,
            prompt_tokens: 200,
            gen_tokens: 48,
            repetitions: 2,
        });
        let joined = args.join(" ");
        assert_eq!(joined, "-m m.gguf -t 3 -ngl 0 -p 200 -n 48 -r 2 -o json");
    }
}
