//! The [`VectorStore`] contract and its two backends, each a cargo feature
//! (both on by default): `EdgeStore` (feature `edge`: Qdrant Edge,
//! in-process, the default store) and `QdrantStore` (feature `qdrant`: a
//! Qdrant server or cluster over gRPC).

#[cfg(feature = "edge")]
mod edge;
#[cfg(feature = "qdrant")]
mod qdrant;
#[cfg(feature = "edge")]
mod recovery;

#[cfg(feature = "edge")]
pub use edge::{EdgeStore, EdgeStoreOptions};
#[cfg(feature = "qdrant")]
pub use qdrant::{QdrantConfig, QdrantStore};
#[cfg(feature = "edge")]
pub use recovery::Durability;

use async_trait::async_trait;

use crate::error::Result;
use crate::filter::Filter;

/// Point ids are UUIDs (content hashes, see [`content_id`]).
pub type PointId = uuid::Uuid;

/// A point's payload: a JSON object.
pub type Payload = serde_json::Map<String, serde_json::Value>;

/// Name of the dense vector in every collection.
pub const DENSE_VECTOR: &str = "dense";
/// Name of the sparse (BM25) vector in collections that have one.
pub const SPARSE_VECTOR: &str = "sparse";
/// The `k` of reciprocal rank fusion used by hybrid search on both backends.
pub const RRF_K: usize = 60;

/// A stable id for a piece of content: a name-based (v5) UUID of the bytes,
/// so the same content always maps to the same point.
pub fn content_id(content: &str) -> PointId {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, content.as_bytes())
}

/// The kind of a payload index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Exact-match strings.
    Keyword,
    /// Integers (match and range).
    Integer,
    /// Floats (range).
    Float,
    /// Full-text (word match).
    Text,
}

/// What a collection must look like.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionSpec {
    /// Collection name (letters, digits, `-`, `_`).
    pub name: String,
    /// Size of the dense vector (cosine distance).
    pub dense_size: usize,
    /// Whether points also carry a sparse BM25 vector (IDF-weighted).
    pub sparse: bool,
    /// Payload indexes to create, for fields that are filtered on.
    pub indexes: Vec<(String, FieldKind)>,
}

impl CollectionSpec {
    /// A dense-only collection with no payload indexes.
    pub fn new(name: impl Into<String>, dense_size: usize) -> Self {
        Self {
            name: name.into(),
            dense_size,
            sparse: false,
            indexes: Vec::new(),
        }
    }

    /// Adds a sparse BM25 vector.
    pub fn with_sparse(mut self) -> Self {
        self.sparse = true;
        self
    }

    /// Adds a payload index.
    pub fn with_index(mut self, field: impl Into<String>, kind: FieldKind) -> Self {
        self.indexes.push((field.into(), kind));
        self
    }

    /// Checks the name and dimension before a store creates the collection:
    /// every backend (and one a program brings) calls it in `ensure_collection`.
    ///
    /// # Errors
    /// [`MemoryError::Invalid`](crate::MemoryError::Invalid) naming what is wrong.
    pub fn validate(&self) -> Result<()> {
        let ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(crate::MemoryError::Invalid {
                what: "collection name",
                reason: format!("{:?}: use letters, digits, '-' and '_'", self.name),
            });
        }
        if self.dense_size == 0 {
            return Err(crate::MemoryError::Invalid {
                what: "dense size",
                reason: format!("collection {}: must be at least 1", self.name),
            });
        }
        Ok(())
    }
}

/// A sparse vector: parallel lists of dimension ids and weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    /// Dimension ids.
    pub indices: Vec<u32>,
    /// Weights, one per id.
    pub values: Vec<f32>,
}

/// A point to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its id.
    pub id: PointId,
    /// Dense vector (length = the collection's dense size).
    pub dense: Vec<f32>,
    /// Sparse vector, for collections that have one.
    pub sparse: Option<SparseVector>,
    /// Its payload.
    pub payload: Payload,
}

/// What to search with.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Nearest dense vectors (cosine).
    Dense(Vec<f32>),
    /// Highest sparse dot product (BM25 with IDF).
    Sparse(SparseVector),
    /// Dense and sparse results fused by reciprocal rank fusion.
    Hybrid {
        /// The dense query.
        dense: Vec<f32>,
        /// The sparse query.
        sparse: SparseVector,
    },
}

/// A search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The query.
    pub query: Query,
    /// How many results.
    pub limit: usize,
    /// Only points matching this filter.
    pub filter: Option<Filter>,
    /// Only results scoring at least this (the final score: cosine for
    /// dense, RRF score for hybrid).
    pub score_threshold: Option<f32>,
    /// Compare the query with every stored vector instead of walking the
    /// HNSW index: never misses a neighbour, takes time linear in the
    /// collection. For measuring an index's recall, or when a filter leaves
    /// few points.
    pub exact: bool,
}

impl SearchRequest {
    /// A request for the `limit` best matches of `query`.
    pub fn new(query: Query, limit: usize) -> Self {
        Self {
            query,
            limit,
            filter: None,
            score_threshold: None,
            exact: false,
        }
    }

    /// Searches exhaustively instead of through the index (see
    /// [`SearchRequest::exact`]).
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    /// Restricts the results to points matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Drops results below `threshold`.
    pub fn score_threshold(mut self, threshold: f32) -> Self {
        self.score_threshold = Some(threshold);
        self
    }
}

/// A search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPoint {
    /// Point id.
    pub id: PointId,
    /// Score (higher is better).
    pub score: f32,
    /// Its payload.
    pub payload: Payload,
}

/// A stored point without vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Point id.
    pub id: PointId,
    /// Its payload.
    pub payload: Payload,
}

/// One page of whole points (vectors included), in id order: what
/// [`VectorStore::scroll_points`] returns, for export and migration.
#[derive(Debug, Clone, PartialEq)]
pub struct PointPage {
    /// The points of this page.
    pub points: Vec<Point>,
    /// The offset of the next page; `None` at the end.
    pub next: Option<PointId>,
}

/// Which points to delete.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// These ids.
    Ids(Vec<PointId>),
    /// Every point matching the filter.
    Filter(Filter),
}

/// One page of a scroll through a collection, in id order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrollPage {
    /// The records of this page.
    pub records: Vec<Record>,
    /// The offset of the next page; `None` at the end.
    pub next: Option<PointId>,
}

/// A store of points with dense (and optionally sparse) vectors and a JSON
/// payload, searchable by vector with payload filters.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Creates the collection if it does not exist, and its payload indexes;
    /// an existing collection of another dense size is an error.
    async fn ensure_collection(&self, spec: &CollectionSpec) -> Result<()>;
    /// Deletes a collection and all its points (no error if absent).
    async fn drop_collection(&self, collection: &str) -> Result<()>;
    /// Inserts or replaces points. Returns once the points are durable
    /// against a crash of this process.
    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<()>;
    /// Searches by dense, sparse or hybrid query.
    async fn search(&self, collection: &str, request: SearchRequest) -> Result<Vec<ScoredPoint>>;
    /// Fetches points by id (missing ids are skipped).
    async fn retrieve(&self, collection: &str, ids: &[PointId]) -> Result<Vec<Record>>;
    /// Deletes points by id or by filter.
    async fn delete(&self, collection: &str, selector: Selector) -> Result<()>;
    /// Counts points (exactly), optionally only those matching a filter.
    async fn count(&self, collection: &str, filter: Option<Filter>) -> Result<u64>;
    /// Reads a page of points in id order, starting at `offset`.
    async fn scroll(
        &self,
        collection: &str,
        filter: Option<Filter>,
        offset: Option<PointId>,
        limit: usize,
    ) -> Result<ScrollPage>;
    /// Reads a page of whole points (dense and sparse vectors, payload) in id
    /// order, starting at `offset`: what export and migration copy, so the
    /// points need no re-embedding.
    async fn scroll_points(
        &self,
        collection: &str,
        offset: Option<PointId>,
        limit: usize,
    ) -> Result<PointPage>;
    /// The names of the collections in this store, sorted.
    async fn collections(&self) -> Result<Vec<String>>;
    /// The shape of an existing collection (dense size, sparse vector, payload
    /// indexes of the kinds [`FieldKind`] names); `None` when it does not exist.
    async fn describe(&self, collection: &str) -> Result<Option<CollectionSpec>>;
    /// Builds search indexes now: HNSW on the embedded store; on a server,
    /// which indexes by itself, waits until it reports the collection indexed.
    async fn optimize(&self, collection: &str) -> Result<()>;
    /// Persists everything written so far.
    async fn flush(&self) -> Result<()>;
}

/// Reads every record matching `filter`, page by page.
pub async fn scroll_all(
    store: &dyn VectorStore,
    collection: &str,
    filter: Option<Filter>,
) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut offset = None;
    loop {
        let page = store
            .scroll(collection, filter.clone(), offset, 256)
            .await?;
        out.extend(page.records);
        match page.next {
            Some(next) => offset = Some(next),
            None => return Ok(out),
        }
    }
}
