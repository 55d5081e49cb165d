//! A RAG bot: answers questions over a folder of Markdown files.
//!
//! ```sh
//! cargo run --release --example rag_bot -- "When do production deploys run?"
//! cargo run --release --example rag_bot -- --docs ./handbook --memory ./.agentry/memory "Who signs off refunds?"
//! ```
//!
//! The folder (default: `examples/data/handbook`) is chunked, embedded (all-MiniLM-L6-v2 on
//! ONNX Runtime) and indexed in Qdrant Edge with BM25 sparse vectors; unchanged files are
//! skipped on later runs. Before each model step the agent retrieves the best chunks (hybrid
//! dense + BM25) and shows them to the model as fenced, untrusted data.

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use agentry::core::agent::{Agent, AgentError};
use agentry::core::plan::run::Limits;
use agentry::memory::{
    Documents, DocumentsConfig, EdgeStore, Embedder, FastEmbedder, LongTermMemory, VectorStore,
};

fn take_flag(args: &mut Vec<String>, flag: &str) -> Option<String> {
    let i = args.iter().position(|a| a == flag)?;
    if i + 1 >= args.len() {
        return None;
    }
    let value = args.remove(i + 1);
    args.remove(i);
    Some(value)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let docs =
        PathBuf::from(take_flag(&mut args, "--docs").unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/handbook").into()
        }));
    let memory_dir = PathBuf::from(
        take_flag(&mut args, "--memory").unwrap_or_else(|| ".agentry/rag-example".into()),
    );
    let question = if args.is_empty() {
        "When do production deploys run?".to_owned()
    } else {
        args.join(" ")
    };

    std::fs::create_dir_all(&memory_dir)?;
    let store: Arc<dyn VectorStore> = Arc::new(EdgeStore::open(&memory_dir)?);
    let embedder = FastEmbedder::from_env_store().await?;
    let tokenizer = embedder.tokenizer()?;
    let embedder: Arc<dyn Embedder> = Arc::new(embedder);
    let documents = Documents::open(
        store.clone(),
        embedder.clone(),
        tokenizer,
        DocumentsConfig::default(),
    )
    .await?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&docs)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    for file in &files {
        let report = documents.ingest_file(file).await?;
        eprintln!(
            "[ingest] {}: {}",
            report.source,
            if report.unchanged {
                "unchanged".to_owned()
            } else {
                format!("{} chunks", report.chunks)
            }
        );
    }
    let memory = LongTermMemory::open(store, embedder).await?;

    let agent = Agent::builder()
        .model(support::load_model().await?)
        .role("You answer questions about the company handbook.")
        .instructions([
            "Answer only from the handbook excerpts you are shown",
            "In your thought, quote the one sentence of the excerpts that answers the question",
            "Your final answer is that sentence, in your own words",
            "If no excerpt answers it, answer that the handbook does not say",
        ])
        .documents(Arc::new(documents))
        .memory(Arc::new(memory))
        .recall_top_k(3)
        .store_episodes(false)
        .limits(Limits {
            max_steps: 2,
            ..Limits::default()
        })
        // A short thought: the answer is in the excerpts, not in a long plan.
        .thought_max_chars(Some(240))
        .build()?;
    let printer = support::print_events(agent.events());
    let result = agent.run::<String>(question).await;
    drop(agent);
    let _ = printer.await;
    match result {
        Ok(output) => println!("{}", output.answer),
        Err(AgentError::Stopped { reason, .. }) => println!("No answer: {reason}"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
