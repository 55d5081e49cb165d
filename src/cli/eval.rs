//! `agentry eval SUITE`: accuracy of models and configurations on a benchmark suite.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use agentry_eval::{Config, EvalError, EvalOptions, Evaluation, Suite, TraceFile};
use anyhow::Context;
use clap::Args;

use super::bounds;

/// Exit code of input that cannot run (nothing ran).
const EXIT_INVALID: u8 = 2;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The suite: bfcl, gsm8k, game24 or tasks.
    suite: String,
    /// Model spec (alias, ./path.gguf, hf:..., pypi:...); repeat to compare models.
    #[arg(long = "model", short = 'm')]
    models: Vec<String>,
    /// Configuration: planner, plain (bfcl, tasks); plain, direct, cot, sc, sc-N, tot
    /// (gsm8k, game24). Repeat to compare; default: the suite's usual set.
    #[arg(long = "config", short = 'c')]
    configs: Vec<String>,
    /// Category (repeatable). bfcl: simple_python multiple parallel parallel_multiple
    /// irrelevance live_simple; gsm8k: test; game24: tot (rows 900-999), all; tasks: the
    /// tasks' categories. Default: all (game24: tot).
    #[arg(long = "category")]
    categories: Vec<String>,
    /// At most N items per category (the first N in the data's order).
    #[arg(long, value_parser = bounds::count())]
    limit: Option<usize>,
    /// Sampling seed (self-consistency, tree of thought).
    #[arg(long, default_value_t = 42)]
    seed: u32,
    /// The folder holding bfcl/, gsm8k/ and game24/ (see the README for where to get them).
    #[arg(long, env = "AGENTRY_EVAL_DATA")]
    data: Option<PathBuf>,
    /// A folder of task files (*.yaml) in place of the built-in tasks.
    #[arg(long)]
    tasks: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Per-item JSON Lines trace; items already in it are skipped (resume an interrupted
    /// run by passing the same file). Default: .agentry/eval/SUITE-TIMESTAMP.jsonl.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Most tokens of one model reply.
    #[arg(long, default_value_t = 512, value_parser = bounds::max_tokens())]
    max_tokens: usize,
    /// Caps every task's step limit (tasks suite).
    #[arg(long, value_parser = bounds::count())]
    max_steps: Option<usize>,
    /// Context size.
    #[arg(long, default_value_t = 4096, value_parser = bounds::ctx::<u32>())]
    ctx: u32,
    /// CPU threads (default: all cores).
    #[arg(long, value_parser = bounds::threads())]
    threads: Option<i32>,
    /// Layers to offload to the GPU (needs a `cuda` build).
    #[arg(long, default_value_t = 0, value_parser = bounds::gpu_layers::<u32>())]
    gpu_layers: u32,
}

fn invalid(error: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    errln!("error: {error}");
    Ok(ExitCode::from(EXIT_INVALID))
}

pub async fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let suite: Suite = match args.suite.parse() {
        Ok(suite) => suite,
        Err(e) => return invalid(e),
    };
    let parsed: Result<Vec<Config>, EvalError> = args.configs.iter().map(|c| c.parse()).collect();
    let configs = match parsed {
        Ok(configs) => configs,
        Err(e) => return invalid(e),
    };
    let models = if args.models.is_empty() {
        vec![agentry_model_store::DEFAULT_MODEL.to_owned()]
    } else {
        args.models.clone()
    };
    let mut options = EvalOptions::new(suite);
    options.configs = configs;
    options.categories = args.categories.clone();
    options.limit = args.limit;
    options.seed = args.seed;
    options.data_dir = args.data.clone();
    options.tasks_dir = args.tasks.clone();
    options.max_tokens = args.max_tokens;
    options.max_steps = args.max_steps;
    options.progress = true;
    // Everything that can be refused is checked before a model loads.
    let evaluation = match Evaluation::load(options) {
        Ok(evaluation) => evaluation,
        Err(e @ (EvalError::Io { .. } | EvalError::Task { .. })) => return Err(e.into()),
        Err(e) => return invalid(e),
    };
    if evaluation.items().is_empty() {
        return invalid("no items to evaluate (check --category and --limit)");
    }
    let trace_path = match &args.trace {
        Some(path) => path.clone(),
        None => {
            let stamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let dir = PathBuf::from(".agentry").join("eval");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.join(format!("{suite}-{stamp}.jsonl"))
        }
    };
    let mut trace = match TraceFile::open(&trace_path) {
        Ok(trace) => trace,
        Err(e @ EvalError::Trace { .. }) => return invalid(e),
        Err(e) => return Err(e.into()),
    };
    errln!(
        "{} items x {} configurations; trace: {} (pass --trace {} to resume)",
        evaluation.items().len(),
        evaluation.configs().len(),
        trace_path.display(),
        trace_path.display()
    );
    for spec in &models {
        let config = super::open_model::llama_config(args.ctx, args.gpu_layers, args.threads);
        let model = super::open_model::open_model(spec, config, None, "--model").await?;
        evaluation.run_model(spec, model, &mut trace).await?;
    }
    let report = evaluation.report(&trace, &models);
    out!("{}", report.to_markdown());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing the JSON report {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
