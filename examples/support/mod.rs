//! Shared by the examples: load the model, print the agent's events.

use std::sync::Arc;

use agentry::core::model::store::ModelStore;
use agentry::core::model::{LanguageModel, LlamaConfig, LlamaModel};
use agentry::core::plan::run::AgentEvent;
use tokio::sync::broadcast;

/// The examples' model unless `AGENTRY_MODEL` names another: one that gets their tasks
/// right (calculator, handbook answers, recalled facts), checked by `tests/examples.rs`.
pub const DEFAULT_MODEL: &str = "qwen2.5-coder-1.5b";

/// The model named by `AGENTRY_MODEL` (default: [`DEFAULT_MODEL`]), downloaded on first use.
pub async fn load_model() -> Result<Arc<dyn LanguageModel>, Box<dyn std::error::Error>> {
    let spec = std::env::var("AGENTRY_MODEL").unwrap_or_else(|_| DEFAULT_MODEL.into());
    let path = ModelStore::from_env()?.pull(&spec).await?;
    let model = LlamaModel::open(
        path,
        LlamaConfig {
            n_ctx: 4096,
            ..LlamaConfig::default()
        },
    )
    .await?;
    Ok(Arc::new(model))
}

/// Prints thoughts, tool calls and results, recalls and answers to stderr as they happen.
/// With `AGENTRY_SHOW_TOKENS=1` the model's raw output is streamed to stderr too.
pub fn print_events(mut events: broadcast::Receiver<AgentEvent>) -> tokio::task::JoinHandle<()> {
    let show_tokens = std::env::var("AGENTRY_SHOW_TOKENS").is_ok_and(|v| v == "1");
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(AgentEvent::Token { text }) if show_tokens => eprint!("{text}"),
                Ok(event) => describe(&event),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    })
}

fn describe(event: &AgentEvent) {
    match event {
        AgentEvent::Thought { step, text } => eprintln!("[step {step}] thought: {text}"),
        AgentEvent::ToolCall { step, call } => {
            eprintln!("[step {step}] call {}({})", call.name, call.args)
        }
        AgentEvent::ToolResult { step, result } => {
            eprintln!(
                "[step {step}] result of {}: {}",
                result.name,
                result.observation()
            )
        }
        AgentEvent::Recall { items, .. } => {
            for item in items {
                eprintln!(
                    "[recall] {} ({:.3}): {}",
                    item.source,
                    item.score,
                    item.text.trim()
                );
            }
        }
        AgentEvent::ApprovalNeeded { call, reason, .. } => {
            eprintln!("[approval needed] {}: {reason}", call.name);
        }
        AgentEvent::InjectionSignals {
            source, signals, ..
        } => eprintln!("[injection signals] {source}: {}", signals.join("; ")),
        AgentEvent::Error { message } => eprintln!("[error] {message}"),
        AgentEvent::SentBack { step, problem } => eprintln!("[sent back] step {step}: {problem}"),
        AgentEvent::Stopped { reason } => eprintln!("[stopped] {reason}"),
        AgentEvent::Answer { .. } | AgentEvent::Token { .. } => {}
    }
}
