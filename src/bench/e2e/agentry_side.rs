//! agentry's side of the end-to-end benchmark: the GGUF loaded in-process
//! ([`LlamaModel`]) and an [`Agent`] with the `next_step` tool running the task.

use std::sync::Arc;
use std::time::Instant;

use agentry_core::agent::{Agent, AgentError};
use agentry_core::plan::run::Limits;
use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_model::{LanguageModel, Sampling};
use agentry_tools::ToolRegistry;

use super::task::{self, NextStep, Verdict};
use super::{E2eBenchError, E2eBenchOptions, SideReport};

fn failed(detail: impl std::fmt::Display) -> E2eBenchError {
    E2eBenchError::Agentry(detail.to_string())
}

/// Loads the model and runs the task once.
pub async fn run(opts: &E2eBenchOptions) -> Result<SideReport, E2eBenchError> {
    let started = Instant::now();
    let config = LlamaConfig {
        n_ctx: opts.n_ctx,
        threads: opts.threads,
        ..LlamaConfig::default()
    };
    let model = Arc::new(LlamaModel::open(&opts.gguf, config).await.map_err(failed)?);
    let ready = started.elapsed();
    let tool = NextStep::default();
    let mut tools = ToolRegistry::new();
    tools.register(tool.clone()).map_err(failed)?;
    let agent = Agent::builder()
        .model(model.clone() as Arc<dyn LanguageModel>)
        .role(task::SYSTEM_PROMPT)
        .tools(tools)
        .limits(Limits {
            max_steps: opts.max_steps,
            ..Limits::default()
        })
        .sampling(Sampling {
            temperature: 0.0,
            max_tokens: opts.max_tokens,
            ..Sampling::default()
        })
        .build()
        .map_err(failed)?;
    let before = model.stats().prompt_tokens_evaluated;
    let task_started = Instant::now();
    let (answer, outcome) = match agent.run::<String>(task::task()).await {
        Ok(output) => (output.answer, output.outcome),
        Err(AgentError::Stopped { outcome, .. }) => (String::new(), *outcome),
        Err(other) => return Err(failed(other)),
    };
    let task_wall = task_started.elapsed();
    let evaluated = model.stats().prompt_tokens_evaluated - before;
    let total_wall = started.elapsed();
    Ok(SideReport {
        verdict: Verdict::judge(tool.called(), answer),
        ended: outcome.stop.to_string(),
        model_steps: outcome.steps,
        prompt_tokens: outcome.usage.prompt_tokens as u64,
        evaluated_tokens: evaluated,
        completion_tokens: outcome.usage.completion_tokens as u64,
        ready,
        task_wall,
        total_wall,
    })
}
