//! The memory of the current project: Qdrant Edge under `.agentry/memory` (or `--memory`),
//! the embedder from the model store.

use std::path::PathBuf;
use std::sync::Arc;

use agentry_memory::{
    Documents, DocumentsConfig, EdgeStore, Embedder, FastEmbedder, LongTermMemory, VectorStore,
};
use anyhow::Context;
use clap::Args;

/// Where the memory lives and which document collection to use.
#[derive(Debug, Args)]
pub struct MemoryArgs {
    /// The memory folder (Qdrant Edge data).
    #[arg(long, default_value = ".agentry/memory")]
    pub memory: PathBuf,
    /// The document collection.
    #[arg(long, default_value = agentry_memory::documents::DEFAULT_DOCUMENTS_COLLECTION)]
    pub collection: String,
}

/// The opened memory: documents and long-term memories on one store.
pub struct ProjectMemory {
    pub documents: Documents,
    pub memories: LongTermMemory,
}

impl MemoryArgs {
    /// Opens (creating if needed) the store, the embedder, the documents and memories.
    pub async fn open(&self) -> anyhow::Result<ProjectMemory> {
        std::fs::create_dir_all(&self.memory)
            .with_context(|| format!("creating the memory folder {}", self.memory.display()))?;
        let store: Arc<dyn VectorStore> = Arc::new(
            EdgeStore::open(&self.memory)
                .with_context(|| format!("opening the memory at {}", self.memory.display()))?,
        );
        let embedder = FastEmbedder::from_env_store()
            .await
            .context("loading the embedding model")?;
        let tokenizer = embedder
            .tokenizer()
            .context("loading the embedding tokenizer")?;
        let embedder: Arc<dyn Embedder> = Arc::new(embedder);
        let documents = Documents::open(
            store.clone(),
            embedder.clone(),
            tokenizer,
            DocumentsConfig {
                collection: self.collection.clone(),
                ..DocumentsConfig::default()
            },
        )
        .await
        .context("opening the document collection")?;
        let memories = LongTermMemory::open(store, embedder)
            .await
            .context("opening long-term memory")?;
        Ok(ProjectMemory {
            documents,
            memories,
        })
    }
}
