//! BM25 sparse vectors for keyword search, with Qdrant Edge's BM25 embedder
//! (the same tokenizer, stemmer and stopwords as a Qdrant server). The
//! store applies IDF weighting at query time.

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};

use crate::error::{MemoryError, Result};
use crate::store::SparseVector;

/// Turns text into BM25 sparse vectors (English defaults).
#[derive(Debug)]
pub struct Bm25 {
    inner: EdgeBm25,
}

impl Bm25 {
    /// A BM25 embedder with English stopwords and stemming, k1 1.2, b 0.75.
    pub fn new() -> Result<Self> {
        let inner = EdgeBm25::new(EdgeBm25Config::default()).map_err(|e| MemoryError::Invalid {
            what: "BM25 configuration",
            reason: e.to_string(),
        })?;
        Ok(Self { inner })
    }

    /// The sparse vector of a document.
    pub fn document(&self, text: &str) -> SparseVector {
        let v = self.inner.embed_document(text);
        SparseVector {
            indices: v.indices,
            values: v.values,
        }
    }

    /// The sparse vector of a query.
    pub fn query(&self, text: &str) -> SparseVector {
        let v = self.inner.embed_query(text);
        SparseVector {
            indices: v.indices,
            values: v.values,
        }
    }
}
