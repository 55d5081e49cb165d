//! Agent benchmarks.
//!
//! 1. Framework overhead per step (criterion): a full `Agent::run` of 5 steps (4 calculator
//!    calls, then the answer) against `ScriptedInstantModel`, a scripted test double that
//!    answers every request at once with the next scripted step; the time per step is
//!    everything agentry does around the model (prompt building, the step schema, parsing,
//!    the tool registry, events, limits). Target: < 20 µs per step.
//! 2. KV-cache reuse on the real SmolLM2-135M: tokens evaluated over a multi-step run divided
//!    by the unique tokens of its final conversation. Target: ≤ 1.05. Printed after the
//!    criterion results.
//!
//! `cargo bench --bench agent_overhead`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agentry_core::agent::{Agent, Pause};
use agentry_core::model::{
    CandidateScore, Completion, CompletionStream, FinishReason, GenerateRequest, LanguageModel,
    ModelError, ModelInfo, ScoreRequest, StreamEvent, Timings, Usage,
};
use agentry_core::plan::run::Limits;
use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_model_store::ModelStore;
use agentry_tools::ToolRegistry;
use agentry_tools::builtin::Calculator;
use async_trait::async_trait;
use criterion::{Criterion, Throughput};

/// A scripted test double: every request gets the next step of the script, instantly.
struct ScriptedInstantModel {
    info: ModelInfo,
    script: Vec<String>,
    next: AtomicUsize,
}

impl ScriptedInstantModel {
    fn new(script: Vec<String>) -> Self {
        Self {
            info: ModelInfo {
                name: "scripted-instant".into(),
                path: "scripted".into(),
                n_ctx: 1 << 20,
                n_ctx_train: 1 << 20,
                n_vocab: 0,
                parameters: 0,
                has_chat_template: true,
            },
            script,
            next: AtomicUsize::new(0),
        }
    }

    fn completion(&self) -> Completion {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.script.len();
        Completion {
            text: self.script[i].clone(),
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
            timings: Timings::default(),
        }
    }
}

#[async_trait]
impl LanguageModel for ScriptedInstantModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
        Ok((0..req.n).map(|_| self.completion()).collect())
    }

    async fn stream(&self, _req: GenerateRequest) -> Result<CompletionStream, ModelError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let completion = self.completion();
        let _ = tx.send(Ok(StreamEvent::Token {
            index: 0,
            text: completion.text.clone(),
        }));
        let _ = tx.send(Ok(StreamEvent::Done(vec![completion])));
        Ok(CompletionStream::new(rx))
    }

    async fn score(&self, _req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
        Err(ModelError::Unsupported(
            "the scripted model does not score".into(),
        ))
    }

    async fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        Ok(text.len().div_ceil(4))
    }
}

fn calculator() -> ToolRegistry {
    let mut tools = ToolRegistry::new();
    tools
        .register(Calculator)
        .unwrap_or_else(|e| panic!("register the calculator: {e}"));
    tools
}

fn overhead_per_step(c: &mut Criterion) {
    let call = r#"{"thought": "Add the next pair.", "action": {"tool": "calculator", "args": {"expression": "17 + 25"}}}"#;
    let answer = r#"{"thought": "All sums are done.", "final_answer": "42"}"#;
    let mut script = vec![call.to_owned(); 4];
    script.push(answer.to_owned());
    let agent = Agent::builder()
        .model(Arc::new(ScriptedInstantModel::new(script)))
        .role("You add numbers.")
        .tools(calculator())
        .limits(Limits {
            max_steps: 10,
            ..Limits::default()
        })
        .build()
        .unwrap_or_else(|e| panic!("build the agent: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let mut group = c.benchmark_group("agent");
    group.throughput(Throughput::Elements(5));
    group.bench_function(
        "run of 5 steps, scripted instant model (per element = per step)",
        |b| {
            b.iter(|| {
                let output = runtime
                    .block_on(agent.run::<String>("Add 17 and 25, four times."))
                    .unwrap_or_else(|e| panic!("run: {e}"));
                assert_eq!(output.outcome.steps, 5);
            })
        },
    );
    group.finish();
}

/// Drives a run of the real model step by step and reports evaluated vs unique tokens.
fn kv_reuse_on_the_real_model() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let path = ModelStore::from_env()
            .unwrap_or_else(|e| panic!("model store: {e}"))
            .pull("smollm2-135m")
            .await
            .unwrap_or_else(|e| panic!("pull: {e}"));
        let model = LlamaModel::open(
            path,
            LlamaConfig {
                n_ctx: 8192,
                ..LlamaConfig::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("load: {e}"));
        let agent = Agent::builder()
            .model(Arc::new(model))
            .role("You are a careful calculator operator.")
            .instructions(["Use the calculator for every sum, one sum per step"])
            .tools(calculator())
            .limits(Limits {
                max_steps: 10,
                ..Limits::default()
            })
            .sampling(agentry_core::model::Sampling {
                max_tokens: 96,
                ..Default::default()
            })
            .build()
            .unwrap_or_else(|e| panic!("agent: {e}"));
        let mut run = agent
            .start::<String>(
                "Compute 1+1, 2+2, 3+3, 4+4, 5+5, 6+6, 7+7, 8+8, 9+9 and 10+10 with the \
                 calculator, one per step, then list the results.",
            )
            .unwrap_or_else(|e| panic!("start: {e}"));
        let mut usages: Vec<Usage> = Vec::new();
        loop {
            match agent.step(&mut run).await {
                Ok(Pause::Stepped { usage, .. }) => usages.push(usage),
                Ok(_) => break,
                Err(e) => {
                    eprintln!("run ended with: {e}");
                    break;
                }
            }
        }
        let evaluated: usize = usages
            .iter()
            .map(|u| u.evaluated_tokens + u.completion_tokens)
            .sum();
        let unique = usages
            .last()
            .map(|u| u.prompt_tokens + u.completion_tokens)
            .unwrap_or(0);
        let without_reuse: usize = usages
            .iter()
            .map(|u| u.prompt_tokens + u.completion_tokens)
            .sum();
        println!(
            "KV reuse over {} steps: evaluated {} tokens (prompt evaluated + generated), unique {} \
             → ratio {:.3} (target ≤ 1.05); without reuse it would be {} ({:.2} × unique)",
            usages.len(),
            evaluated,
            unique,
            evaluated as f64 / unique.max(1) as f64,
            without_reuse,
            without_reuse as f64 / unique.max(1) as f64
        );
        for (i, u) in usages.iter().enumerate() {
            println!(
                "  step {}: prompt {} (cached {}, evaluated {}), generated {}",
                i + 1,
                u.prompt_tokens,
                u.cached_tokens,
                u.evaluated_tokens,
                u.completion_tokens
            );
        }
    });
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    overhead_per_step(&mut criterion);
    criterion.final_summary();
    kv_reuse_on_the_real_model();
}
