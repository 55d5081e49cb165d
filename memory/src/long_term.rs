//! [`LongTermMemory`]: facts, episodes and document notes that outlive a
//! conversation, recalled by similarity. Ids are content hashes, so the same
//! text is stored once.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::embed::Embedder;
use crate::error::{MemoryError, Result};
use crate::filter::{Condition, Filter};
use crate::store::{
    CollectionSpec, FieldKind, Payload, Point, PointId, Query, SearchRequest, Selector,
    VectorStore, content_id,
};

/// Default collection of long-term memory (and conversation turns).
pub const DEFAULT_COLLECTION: &str = "memory";

/// Payload keys written by this crate.
pub mod keys {
    /// The remembered text.
    pub const TEXT: &str = "text";
    /// The [`MemoryKind`](super::MemoryKind) as a string.
    pub const KIND: &str = "kind";
    /// Importance in [0, 1].
    pub const IMPORTANCE: &str = "importance";
    /// Creation time, milliseconds since the Unix epoch.
    pub const CREATED_AT: &str = "created_at";
    /// Conversation session id.
    pub const SESSION: &str = "session";
    /// Position of a turn in its session.
    pub const SEQ: &str = "seq";
    /// Role of a conversation turn.
    pub const ROLE: &str = "role";
}

/// What a memory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryKind {
    /// What happened in a run.
    Episodic,
    /// A fact.
    Semantic,
    /// A note about or from a document.
    Document,
    /// A conversation turn (written by [`ShortTermMemory`](crate::ShortTermMemory)).
    Conversation,
}

impl MemoryKind {
    /// The name stored in the payload.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Episodic => "episodic",
            Self::Semantic => "semantic",
            Self::Document => "document",
            Self::Conversation => "conversation",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "episodic" => Self::Episodic,
            "semantic" => Self::Semantic,
            "document" => Self::Document,
            "conversation" => Self::Conversation,
            _ => return None,
        })
    }

    /// A filter that matches only this kind.
    pub fn filter(self) -> Filter {
        Filter::must(Condition::keyword(keys::KIND, self.as_str()))
    }
}

/// A stored memory.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryItem {
    /// Its id (a hash of the text).
    pub id: PointId,
    /// The text.
    pub text: String,
    /// Its kind.
    pub kind: MemoryKind,
    /// Importance in [0, 1].
    pub importance: f32,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Every payload field, including caller metadata.
    pub payload: Payload,
}

/// A recalled memory and its scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Recalled {
    /// The memory.
    pub item: MemoryItem,
    /// Cosine similarity to the query.
    pub similarity: f32,
    /// The ranking score (similarity, weighted by recency when configured).
    pub score: f32,
}

/// Recency weighting: `score = similarity * (1 - weight + weight * 0.5^(age / half_life))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recency {
    /// Age at which the recency factor is halved.
    pub half_life: Duration,
    /// How much recency counts, in [0, 1].
    pub weight: f32,
}

/// Long-term memory over a [`VectorStore`] and an [`Embedder`].
#[derive(Clone)]
pub struct LongTermMemory {
    store: Arc<dyn VectorStore>,
    embedder: Arc<dyn Embedder>,
    collection: String,
    recency: Option<Recency>,
}

impl std::fmt::Debug for LongTermMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongTermMemory")
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl LongTermMemory {
    /// Opens long-term memory in the default collection, creating it (and its
    /// payload indexes) if needed.
    pub async fn open(store: Arc<dyn VectorStore>, embedder: Arc<dyn Embedder>) -> Result<Self> {
        Self::open_collection(store, embedder, DEFAULT_COLLECTION).await
    }

    /// Opens long-term memory in `collection`.
    pub async fn open_collection(
        store: Arc<dyn VectorStore>,
        embedder: Arc<dyn Embedder>,
        collection: &str,
    ) -> Result<Self> {
        let spec = CollectionSpec::new(collection, embedder.dimension())
            .with_index(keys::KIND, FieldKind::Keyword)
            .with_index(keys::SESSION, FieldKind::Keyword)
            .with_index(keys::CREATED_AT, FieldKind::Integer)
            .with_index(keys::SEQ, FieldKind::Integer)
            .with_index(keys::IMPORTANCE, FieldKind::Float);
        store.ensure_collection(&spec).await?;
        Ok(Self {
            store,
            embedder,
            collection: collection.to_string(),
            recency: None,
        })
    }

    /// Ranks recalled memories by recency as well as similarity.
    pub fn with_recency(mut self, recency: Recency) -> Self {
        self.recency = Some(recency);
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn VectorStore> {
        &self.store
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The collection name.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Stores `text` and returns its id (the same text always gets the same
    /// id, so it is stored once). `metadata` must be a JSON object (or null);
    /// its fields are stored next to `text`, `kind` and `importance`, which
    /// come from the arguments and win on a clash. A `created_at` in
    /// metadata (milliseconds since the Unix epoch) dates the memory;
    /// otherwise it is now.
    pub async fn remember(
        &self,
        text: &str,
        kind: MemoryKind,
        metadata: Value,
        importance: f32,
    ) -> Result<PointId> {
        let id = content_id(text);
        let mut payload = match metadata {
            Value::Object(map) => map,
            Value::Null => Payload::new(),
            other => {
                return Err(MemoryError::Invalid {
                    what: "metadata",
                    reason: format!("expected a JSON object, got {other}"),
                });
            }
        };
        if !importance.is_finite() {
            return Err(MemoryError::Invalid {
                what: "importance",
                reason: format!("{importance} is not finite"),
            });
        }
        payload.insert(keys::IMPORTANCE.into(), json!(importance.clamp(0.0, 1.0)));
        self.put(id, text, kind, payload).await?;
        Ok(id)
    }

    /// Stores one point with `text`, `kind` and a timestamp added to `payload`.
    pub(crate) async fn put(
        &self,
        id: PointId,
        text: &str,
        kind: MemoryKind,
        payload: Payload,
    ) -> Result<()> {
        let vector = self.embedder.embed_one(text).await?;
        self.put_embedded(id, text, kind, payload, vector).await
    }

    pub(crate) async fn put_embedded(
        &self,
        id: PointId,
        text: &str,
        kind: MemoryKind,
        mut payload: Payload,
        vector: Vec<f32>,
    ) -> Result<()> {
        payload.insert(keys::TEXT.into(), json!(text));
        payload.insert(keys::KIND.into(), json!(kind.as_str()));
        payload
            .entry(keys::CREATED_AT)
            .or_insert_with(|| json!(now_ms()));
        payload
            .entry(keys::IMPORTANCE)
            .or_insert_with(|| json!(0.5));
        let point = Point {
            id,
            dense: vector,
            sparse: None,
            payload,
        };
        self.store.upsert(&self.collection, vec![point]).await
    }

    /// The `k` memories most similar to `query` that match `filter`, with a
    /// similarity of at least `min_score`.
    pub async fn recall(
        &self,
        query: &str,
        k: usize,
        filter: Option<Filter>,
        min_score: Option<f32>,
    ) -> Result<Vec<Recalled>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let vector = self.embedder.embed_one(query).await?;
        let wide = if self.recency.is_some() {
            k.saturating_mul(4).max(20)
        } else {
            k
        };
        let mut request = SearchRequest::new(Query::Dense(vector), wide);
        let not_state = Condition::keyword(keys::KIND, crate::short_term::STATE_KIND);
        request.filter = Some(filter.unwrap_or_default().and_not(not_state));
        request.score_threshold = min_score;
        let hits = self.store.search(&self.collection, request).await?;
        let now = now_ms();
        let mut out = hits
            .into_iter()
            .map(|h| {
                let item = self.item(h.id, h.payload)?;
                let score = match self.recency {
                    Some(r) => {
                        let age_ms = (now - item.created_at).max(0) as f64;
                        let half = r.half_life.as_millis().max(1) as f64;
                        let factor = 0.5f64.powf(age_ms / half) as f32;
                        let w = r.weight.clamp(0.0, 1.0);
                        h.score * (1.0 - w + w * factor)
                    }
                    None => h.score,
                };
                Ok(Recalled {
                    item,
                    similarity: h.score,
                    score,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.truncate(k);
        Ok(out)
    }

    /// The memory with this id, if stored.
    pub async fn get(&self, id: PointId) -> Result<Option<MemoryItem>> {
        let records = self.store.retrieve(&self.collection, &[id]).await?;
        records
            .into_iter()
            .next()
            .map(|r| self.item(r.id, r.payload))
            .transpose()
    }

    /// Deletes a memory (no error if it is not there).
    pub async fn forget(&self, id: PointId) -> Result<()> {
        self.store
            .delete(&self.collection, Selector::Ids(vec![id]))
            .await
    }

    /// How many memories match `filter`.
    pub async fn count(&self, filter: Option<Filter>) -> Result<u64> {
        self.store.count(&self.collection, filter).await
    }

    pub(crate) fn item(&self, id: PointId, payload: Payload) -> Result<MemoryItem> {
        let bad = |reason: &str| MemoryError::Payload {
            collection: self.collection.clone(),
            id: id.to_string(),
            reason: reason.to_string(),
        };
        let text = payload
            .get(keys::TEXT)
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no text"))?
            .to_string();
        let kind = payload
            .get(keys::KIND)
            .and_then(Value::as_str)
            .and_then(MemoryKind::parse)
            .ok_or_else(|| bad("no known kind"))?;
        let importance = payload
            .get(keys::IMPORTANCE)
            .and_then(Value::as_f64)
            .unwrap_or(0.5) as f32;
        let created_at = payload
            .get(keys::CREATED_AT)
            .and_then(Value::as_i64)
            .unwrap_or(0);
        Ok(MemoryItem {
            id,
            text,
            kind,
            importance,
            created_at,
            payload,
        })
    }
}
