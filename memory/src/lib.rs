//! agentry's memory: everything an agent remembers, on top of one vector
//! store.
//!
//! - [`Embedder`] / [`FastEmbedder`]: all-MiniLM-L6-v2 on ONNX Runtime, from
//!   the model store, never from the network at embed time.
//! - [`VectorStore`]: ensure a collection, upsert, search (dense, sparse or
//!   hybrid fused by RRF, with our own [`Filter`]), delete, count, scroll.
//!   Backends: [`EdgeStore`] (Qdrant Edge in-process, the default) and
//!   [`QdrantStore`] (a Qdrant server or cluster).
//! - [`LongTermMemory`]: remember / recall / forget, content-hash ids.
//! - [`ShortTermMemory`]: the conversation within a token budget; turns that
//!   leave the window are summarised or dropped, and stay recallable.
//! - [`Documents`]: chunked ingestion and hybrid (dense + BM25) retrieval.
//! - [`transfer`]: copy, export and import collections between stores
//!   (vectors and payloads as stored, no re-embedding).
//!
//! Backends are cargo features, all on by default: `edge` ([`EdgeStore`]),
//! `qdrant` ([`QdrantStore`]), `fastembed` ([`FastEmbedder`]) and `bm25`
//! ([`Bm25`] and [`Documents`], with Qdrant's own BM25 tokenizer; `edge`
//! implies it). With `default-features = false` the crate keeps the
//! contracts ([`VectorStore`], [`Embedder`]) and the memories built on them.
//!
//! ```no_run
//! use std::sync::Arc;
//! use agentry_memory::{EdgeStore, FastEmbedder, LongTermMemory, MemoryKind, VectorStore};
//!
//! # async fn demo() -> agentry_memory::Result<()> {
//! let store: Arc<dyn VectorStore> = Arc::new(EdgeStore::open(".agentry/memory")?);
//! let embedder = Arc::new(FastEmbedder::from_env_store().await?);
//! let memory = LongTermMemory::open(store, embedder).await?;
//! memory.remember("The deploy key lives in vault/prod", MemoryKind::Semantic, serde_json::json!({}), 0.8).await?;
//! let hits = memory.recall("where is the deploy key?", 3, None, None).await?;
//! assert_eq!(hits[0].item.text, "The deploy key lives in vault/prod");
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "bm25")]
pub mod bm25;
#[cfg(feature = "bm25")]
pub mod documents;
pub mod embed;
pub mod error;
pub mod filter;
pub mod long_term;
pub mod short_term;
pub mod store;
pub mod transfer;

#[cfg(feature = "bm25")]
pub use bm25::Bm25;
#[cfg(feature = "bm25")]
pub use documents::{
    Chunk, Documents, DocumentsConfig, IngestReport, MAX_DOCUMENT_BYTES, RetrievalMode,
};
pub use embed::Embedder;
#[cfg(feature = "fastembed")]
pub use embed::FastEmbedder;
pub use error::{MemoryError, Result};
pub use filter::{Condition, Filter, Range};
pub use long_term::{LongTermMemory, MemoryItem, MemoryKind, Recalled, Recency};
pub use short_term::{
    Overflow, ShortTermConfig, ShortTermMemory, SummarizeError, Summarizer, TokenCounter,
    TokenizerCounter, Turn,
};
pub use store::{
    CollectionSpec, FieldKind, Payload, Point, PointId, PointPage, Query, Record, ScoredPoint,
    ScrollPage, SearchRequest, Selector, SparseVector, VectorStore, content_id,
};
#[cfg(feature = "edge")]
pub use store::{Durability, EdgeStore, EdgeStoreOptions};
#[cfg(feature = "qdrant")]
pub use store::{QdrantConfig, QdrantStore};
pub use transfer::{TransferReport, copy_collection, export_collection, import_collections};
