//! A short streamed generation from the default model (the end of `make demo`).
//!
//! `cargo run --release -p agentry-core --example stream_demo -- [MODEL_SPEC]`

use std::io::Write;

use agentry_core::model::store::ModelStore;
use agentry_core::model::{
    GenerateRequest, LanguageModel, LlamaConfig, LlamaModel, Sampling, StreamEvent,
};
use agentry_prompts::{ChatMessage, Role};
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "smollm2-135m".into());
    let path = ModelStore::from_env()?.pull(&spec).await?;
    let model = LlamaModel::open(
        path,
        LlamaConfig {
            n_ctx: 2048,
            ..LlamaConfig::default()
        },
    )
    .await?;
    let req = GenerateRequest::chat(vec![ChatMessage::new(
        Role::User,
        "In two sentences, what is a lighthouse for?",
    )])
    .with_sampling(Sampling {
        max_tokens: 64,
        ..Sampling::default()
    });
    let mut stream = model.stream(req).await?;
    let mut out = std::io::stdout();
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Token { text, .. } => {
                write!(out, "{text}")?;
                out.flush()?;
            }
            StreamEvent::Done(c) => {
                let c = &c[0];
                writeln!(
                    out,
                    "\n[{} prompt + {} generated tokens, {:.1} tok/s]",
                    c.usage.prompt_tokens,
                    c.usage.completion_tokens,
                    c.usage.completion_tokens as f64 / c.timings.decode.as_secs_f64().max(1e-9)
                )?;
            }
        }
    }
    Ok(())
}
