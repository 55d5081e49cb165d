//! `agentry recall`: search the project's documents (hybrid: dense + BM25) and long-term
//! memories.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::memory_dir::MemoryArgs;
use super::terminal_text::sanitize;

#[derive(Debug, Args)]
pub struct RecallArgs {
    /// What to look for.
    query: String,
    /// Hits per kind (documents, memories).
    #[arg(short, default_value_t = 5, value_parser = super::bounds::k())]
    k: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    memory: MemoryArgs,
}

pub async fn run(args: RecallArgs) -> anyhow::Result<ExitCode> {
    let memory = args.memory.open().await?;
    let chunks = memory.documents.retrieve(&args.query, args.k).await?;
    let memories = memory
        .memories
        .recall(&args.query, args.k, None, None)
        .await?;
    if args.json {
        let out = json!({
            "query": args.query,
            "documents": chunks.iter().map(|c| json!({
                "text": c.text,
                "source": c.source,
                "chunk": c.chunk_index,
                "heading": c.heading,
                "score": c.score,
            })).collect::<Vec<_>>(),
            "memories": memories.iter().map(|m| json!({
                "id": m.item.id.to_string(),
                "text": m.item.text,
                "kind": m.item.kind.as_str(),
                "score": m.score,
            })).collect::<Vec<_>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if chunks.is_empty() && memories.is_empty() {
        outln!("nothing found for {:?}", args.query);
        return Ok(ExitCode::SUCCESS);
    }
    for (i, c) in chunks.iter().enumerate() {
        let place = match &c.heading {
            Some(h) => format!("{} § {h}", c.source),
            None => format!("{} #{}", c.source, c.chunk_index),
        };
        outln!(
            "[doc {}] {}  (score {:.4})",
            i + 1,
            sanitize(&place),
            c.score
        );
        outln!("{}\n", indent(&sanitize(&c.text)));
    }
    for (i, m) in memories.iter().enumerate() {
        outln!(
            "[memory {}] {} {}  (score {:.3})",
            i + 1,
            m.item.kind.as_str(),
            m.item.id,
            m.score
        );
        outln!("{}\n", indent(&sanitize(&m.item.text)));
    }
    Ok(ExitCode::SUCCESS)
}

fn indent(text: &str) -> String {
    text.trim()
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
