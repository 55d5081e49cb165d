//! A chat bot with long-term memory: what you tell it in one run, it recalls in the next.
//!
//! ```sh
//! cargo run --release --example memory_bot -- "My favourite colour is teal."
//! cargo run --release --example memory_bot -- "What is my favourite colour?"
//! cargo run --release --example memory_bot -- --memory ./bot-memory "Hello!"
//! ```
//!
//! Each argument is one chat message. Every message is remembered in long-term memory (Qdrant
//! Edge under `--memory`, default `.agentry/memory-bot`); before answering, the bot recalls the
//! memories closest to the message and shows them to the model as fenced, untrusted data.

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use agentry::core::agent::Agent;
use agentry::memory::{EdgeStore, Embedder, FastEmbedder, LongTermMemory, VectorStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let memory_dir = match args.iter().position(|a| a == "--memory") {
        Some(i) if i + 1 < args.len() => {
            let dir = PathBuf::from(args.remove(i + 1));
            args.remove(i);
            dir
        }
        _ => PathBuf::from(".agentry/memory-bot"),
    };
    if args.is_empty() {
        args.push("Hello! What do you remember about me?".into());
    }

    std::fs::create_dir_all(&memory_dir)?;
    let store: Arc<dyn VectorStore> = Arc::new(EdgeStore::open(&memory_dir)?);
    let embedder: Arc<dyn Embedder> = Arc::new(FastEmbedder::from_env_store().await?);
    let memory = LongTermMemory::open(store, embedder).await?;

    let agent = Agent::builder()
        .model(support::load_model().await?)
        .role("You are a friendly assistant who remembers what the user told you before.")
        .instructions([
            "Use the remembered notes when they answer the question",
            "Answer in one or two sentences",
        ])
        .memory(Arc::new(memory))
        .recall_top_k(3)
        .build()?;
    let printer = support::print_events(agent.events());
    for message in &args {
        println!("you: {message}");
        let reply = agent.chat(message.as_str()).await?;
        println!("bot: {reply}");
    }
    drop(agent);
    let _ = printer.await;
    Ok(())
}
