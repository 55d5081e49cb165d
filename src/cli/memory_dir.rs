//! The memory of the current project: Qdrant Edge under `.agentry/memory` (or
//! `--memory DIR`), or a Qdrant server or cluster (`--memory-url URL`); the
//! embedder from the model store.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use agentry_memory::{
    Documents, DocumentsConfig, Durability, EdgeStore, EdgeStoreOptions, Embedder, FastEmbedder,
    LongTermMemory, QdrantConfig, QdrantStore, VectorStore,
};
use anyhow::Context;
use clap::Args;

/// The environment variable read for a server's API key when none is named.
pub const DEFAULT_API_KEY_ENV: &str = "QDRANT_API_KEY";

/// The environment variable that sets the embedded store's durability: `process` (the
/// default: a write survives a killed process) or `power` (fsync before a write is
/// acknowledged: it survives a power cut).
pub const DURABILITY_ENV: &str = "AGENTRY_MEMORY_DURABILITY";

/// The embedded store's durability from [`DURABILITY_ENV`] (the default when unset).
fn durability_from_env() -> anyhow::Result<Durability> {
    match std::env::var(DURABILITY_ENV) {
        Ok(text) if !text.trim().is_empty() => text
            .parse()
            .with_context(|| format!("reading {DURABILITY_ENV}={text:?}")),
        _ => Ok(Durability::default()),
    }
}

/// Where the memory lives: a folder, or a server given by URL.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The memory folder (the embedded Qdrant Edge store).
    #[arg(long, default_value = ".agentry/memory")]
    pub memory: PathBuf,
    /// A Qdrant server or cluster instead of the folder: its gRPC URL, e.g.
    /// http://127.0.0.1:6334 (the API key from QDRANT_API_KEY when set).
    #[arg(long, value_name = "URL", conflicts_with = "memory")]
    pub memory_url: Option<String>,
    /// The environment variable that holds the server's API key (it must be set).
    #[arg(long, value_name = "VAR", requires = "memory_url")]
    pub memory_api_key_env: Option<String>,
}

impl StoreArgs {
    /// Where these arguments put the memory.
    pub fn place(&self) -> MemoryPlace {
        match &self.memory_url {
            Some(url) => MemoryPlace::Server {
                url: url.clone(),
                api_key_env: self.memory_api_key_env.clone(),
            },
            None => MemoryPlace::Folder(self.memory.clone()),
        }
    }
}

/// Where the memory lives and which document collection to use.
#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The document collection.
    #[arg(long, default_value = agentry_memory::documents::DEFAULT_DOCUMENTS_COLLECTION)]
    pub collection: String,
}

impl MemoryArgs {
    /// Where these arguments put the memory.
    pub fn place(&self) -> MemoryPlace {
        self.store.place()
    }

    /// Opens (creating if needed) the store, the embedder, the documents and memories.
    pub async fn open(&self) -> anyhow::Result<ProjectMemory> {
        open_memory(&self.place(), &self.collection).await
    }
}

/// Where a memory lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryPlace {
    /// The embedded store in this folder.
    Folder(PathBuf),
    /// A Qdrant server or cluster.
    Server {
        /// Its gRPC URL.
        url: String,
        /// The environment variable holding its API key; `None`: `QDRANT_API_KEY`
        /// when set, else no key.
        api_key_env: Option<String>,
    },
}

impl MemoryPlace {
    /// A server for `http://` and `https://` URLs, else a folder.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("http://") || text.starts_with("https://") {
            Self::Server {
                url: text.to_string(),
                api_key_env: None,
            }
        } else {
            Self::Folder(PathBuf::from(text))
        }
    }

    /// Checks that a server's named API key variable is set (nothing to check
    /// for a folder or an unnamed key).
    pub fn check_api_key(&self) -> anyhow::Result<()> {
        match self {
            Self::Server { api_key_env, .. } => api_key(api_key_env.as_deref()).map(|_| ()),
            Self::Folder(_) => Ok(()),
        }
    }

    /// Opens the store (the folder is created if needed; the server must answer).
    pub async fn open_store(&self) -> anyhow::Result<Arc<dyn VectorStore>> {
        match self {
            Self::Folder(path) => {
                std::fs::create_dir_all(path)
                    .with_context(|| format!("creating the memory folder {}", path.display()))?;
                let options = EdgeStoreOptions {
                    durability: durability_from_env()?,
                    ..EdgeStoreOptions::default()
                };
                let store = EdgeStore::open_with(path, options)
                    .with_context(|| format!("opening the memory at {}", path.display()))?;
                Ok(Arc::new(store))
            }
            Self::Server { url, api_key_env } => {
                let api_key = api_key(api_key_env.as_deref())?;
                let config = QdrantConfig {
                    api_key,
                    ..QdrantConfig::new(url.clone())
                };
                let store = QdrantStore::connect(config)
                    .await
                    .with_context(|| format!("connecting to the memory server {url}"))?;
                Ok(Arc::new(store))
            }
        }
    }
}

impl fmt::Display for MemoryPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Folder(path) => write!(f, "{}", path.display()),
            Self::Server { url, .. } => write!(f, "{url}"),
        }
    }
}

/// The API key from `named` (which must be set), else from `QDRANT_API_KEY` when
/// set.
pub fn api_key(named: Option<&str>) -> anyhow::Result<Option<String>> {
    match named {
        Some(var) => match std::env::var(var) {
            Ok(key) if !key.is_empty() => Ok(Some(key)),
            _ => {
                anyhow::bail!("the memory server's API key: environment variable {var} is not set")
            }
        },
        None => Ok(std::env::var(DEFAULT_API_KEY_ENV)
            .ok()
            .filter(|k| !k.is_empty())),
    }
}

/// The opened memory: documents and long-term memories on one store.
pub struct ProjectMemory {
    pub documents: Documents,
    pub memories: LongTermMemory,
}

/// Opens the store at `place`, the embedder, the document collection
/// `collection` and long-term memory.
pub async fn open_memory(place: &MemoryPlace, collection: &str) -> anyhow::Result<ProjectMemory> {
    let store = place.open_store().await?;
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
            collection: collection.to_string(),
            ..DocumentsConfig::default()
        },
    )
    .await
    .with_context(|| format!("opening the document collection {collection} at {place}"))?;
    let memories = LongTermMemory::open(store, embedder)
        .await
        .with_context(|| format!("opening long-term memory at {place}"))?;
    Ok(ProjectMemory {
        documents,
        memories,
    })
}
