//! `agentry generate`: one streamed chat completion from a local model.

use std::process::ExitCode;

use agentry_core::model::{Constraint, GenerateRequest, Sampling, StreamEvent};
use agentry_prompts::ChatMessage;
use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to ask.
    prompt: String,
    /// Model spec (alias, ./path.gguf, hf:..., pypi:..., openai:URL#MODEL).
    #[arg(long, short, default_value = agentry_model_store::DEFAULT_MODEL)]
    model: String,
    /// System prompt.
    #[arg(long)]
    system: Option<String>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 128, value_parser = super::bounds::max_tokens())]
    max_tokens: usize,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u32,
    /// Constrain the output to this JSON Schema (inline JSON). A reply cut by
    /// `--max-tokens`, the context or a stop string before it is complete is an error
    /// (exit 1).
    #[arg(long, conflicts_with = "grammar")]
    json_schema: Option<String>,
    /// Constrain the output to this GBNF grammar (root rule `root`); a cut reply is an
    /// error as with `--json-schema`.
    #[arg(long)]
    grammar: Option<String>,
    /// Context size.
    #[arg(long, default_value_t = 4096, value_parser = super::bounds::ctx::<u32>())]
    ctx: u32,
    /// Layers to offload to the GPU (needs a `cuda` build).
    #[arg(long, default_value_t = 0, value_parser = super::bounds::gpu_layers::<u32>())]
    gpu_layers: u32,
}

pub async fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let config = super::open_model::llama_config(args.ctx, args.gpu_layers, None);
    let model = super::open_model::open_model(&args.model, config, None, "--model").await?;
    let mut messages = Vec::new();
    if let Some(system) = args.system {
        messages.push(ChatMessage::system(system));
    }
    messages.push(ChatMessage::user(args.prompt));
    let constraint = match (args.json_schema, args.grammar) {
        (Some(text), _) => Constraint::JsonSchema(
            serde_json::from_str(&text).context("--json-schema is not valid JSON")?,
        ),
        (None, Some(grammar)) => Constraint::Grammar(grammar),
        (None, None) => Constraint::None,
    };
    let request = GenerateRequest::chat(messages)
        .with_sampling(Sampling {
            temperature: args.temperature,
            seed: args.seed,
            max_tokens: args.max_tokens,
            ..Sampling::default()
        })
        .with_constraint(constraint.clone());
    let mut stream = model.stream(request).await?;
    while let Some(event) = stream.next_event().await {
        match event? {
            StreamEvent::Token { text, .. } => {
                out!("{}", super::terminal_text::sanitize(&text));
            }
            StreamEvent::Done(completions) => {
                outln!();
                if let Some(c) = completions.first() {
                    let decode = c.timings.decode.as_secs_f64();
                    errln!(
                        "[{} prompt tokens, {} generated, {:.1} tok/s, finish: {:?}]",
                        c.usage.prompt_tokens,
                        c.usage.completion_tokens,
                        if decode > 0.0 {
                            c.usage.completion_tokens as f64 / decode
                        } else {
                            0.0
                        },
                        c.finish_reason
                    );
                    c.require_complete(&constraint)?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
