//! [`Documents`]: ingest files or text as token-sized, overlapping chunks
//! (Markdown-aware for `.md`), and retrieve them by hybrid search: dense
//! embeddings plus BM25 sparse vectors, fused by reciprocal rank fusion.
//!
//! Re-ingesting a source replaces its chunks: the new chunks are written
//! first, then the old ones are deleted, so a source is never doubled and
//! never missing.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};

use crate::bm25::Bm25;
use crate::embed::Embedder;
use crate::error::{MemoryError, Result};
use crate::filter::{Condition, Filter};
use crate::long_term::{MemoryKind, keys, now_ms};
use crate::store::{
    CollectionSpec, FieldKind, Payload, Point, PointId, Query, SearchRequest, Selector,
    VectorStore, content_id,
};

/// Largest document [`Documents`] ingests, in bytes (16 MiB): a larger one
/// is refused with [`MemoryError::Invalid`] rather than split into an
/// unbounded number of chunks and embeddings.
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;

/// Reads the document at `path` through [`agentry_prompts::file`]: a regular file (a
/// FIFO, socket or device is refused without waiting on it), at most
/// [`MAX_DOCUMENT_BYTES`] of it, as UTF-8.
fn read_document(path: &Path) -> Result<String> {
    agentry_prompts::file::read_capped_text(path, MAX_DOCUMENT_BYTES as u64).map_err(|source| {
        match source.kind() {
            // Not a regular file, over the cap, not UTF-8: the document, not the disk.
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                MemoryError::Invalid {
                    what: "document",
                    reason: format!("{source}; at most {MAX_DOCUMENT_BYTES} bytes of UTF-8 text in a regular file are ingested"),
                }
            }
            _ => MemoryError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            },
        }
    })
}

/// Default collection of document chunks.
pub const DEFAULT_DOCUMENTS_COLLECTION: &str = "documents";

/// Payload keys of chunks.
pub mod chunk_keys {
    /// Source path or name.
    pub const SOURCE: &str = "source";
    /// Position of the chunk in its source.
    pub const CHUNK_INDEX: &str = "chunk_index";
    /// Nearest Markdown heading above the chunk.
    pub const HEADING: &str = "heading";
    /// SHA-256 of the whole source text.
    pub const SOURCE_HASH: &str = "source_hash";
}

/// Settings of [`Documents`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentsConfig {
    /// Collection name.
    pub collection: String,
    /// Most tokens in a chunk.
    pub chunk_tokens: usize,
    /// Tokens shared by neighbouring chunks.
    pub overlap_tokens: usize,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        Self {
            collection: DEFAULT_DOCUMENTS_COLLECTION.into(),
            chunk_tokens: 200,
            overlap_tokens: 40,
        }
    }
}

/// How to search chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrievalMode {
    /// Dense embeddings only.
    Dense,
    /// BM25 only.
    Sparse,
    /// Both, fused by reciprocal rank fusion (the default).
    Hybrid,
}

/// A retrieved chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Its id.
    pub id: PointId,
    /// The chunk text.
    pub text: String,
    /// Source path or name.
    pub source: String,
    /// Position in the source.
    pub chunk_index: u64,
    /// Nearest Markdown heading above it.
    pub heading: Option<String>,
    /// Retrieval score (RRF score for hybrid, cosine for dense).
    pub score: f32,
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    /// The source.
    pub source: String,
    /// Number of chunks the source now has.
    pub chunks: usize,
    /// True when the source was already stored with the same content.
    pub unchanged: bool,
}

/// Document store and retriever.
pub struct Documents {
    store: Arc<dyn VectorStore>,
    embedder: Arc<dyn Embedder>,
    bm25: Arc<Bm25>,
    tokenizer: Arc<tokenizers::Tokenizer>,
    config: DocumentsConfig,
}

impl std::fmt::Debug for Documents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Documents {
    /// Opens the document collection (creating it with dense and sparse
    /// vectors and payload indexes if needed). `tokenizer` sizes the chunks
    /// (e.g. [`FastEmbedder::tokenizer`](crate::FastEmbedder::tokenizer)).
    pub async fn open(
        store: Arc<dyn VectorStore>,
        embedder: Arc<dyn Embedder>,
        tokenizer: tokenizers::Tokenizer,
        config: DocumentsConfig,
    ) -> Result<Self> {
        if config.chunk_tokens == 0 || config.overlap_tokens >= config.chunk_tokens {
            return Err(MemoryError::Invalid {
                what: "chunking",
                reason: format!(
                    "chunk_tokens {} must be > 0 and greater than overlap_tokens {}",
                    config.chunk_tokens, config.overlap_tokens
                ),
            });
        }
        let spec = CollectionSpec::new(config.collection.clone(), embedder.dimension())
            .with_sparse()
            .with_index(chunk_keys::SOURCE, FieldKind::Keyword)
            .with_index(chunk_keys::SOURCE_HASH, FieldKind::Keyword)
            .with_index(keys::KIND, FieldKind::Keyword);
        store.ensure_collection(&spec).await?;
        Ok(Self {
            store,
            embedder,
            bm25: Arc::new(Bm25::new()?),
            tokenizer: Arc::new(tokenizer),
            config,
        })
    }

    /// Ingests a file (Markdown-aware when it ends in `.md`/`.markdown`);
    /// its source is the path as given.
    pub async fn ingest_file(&self, path: impl AsRef<Path>) -> Result<IngestReport> {
        let path = path.as_ref();
        let owned = path.to_path_buf();
        let text = tokio::task::spawn_blocking(move || read_document(&owned))
            .await
            .map_err(|e| MemoryError::Task(path.display().to_string(), e.to_string()))??;
        let markdown = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"));
        self.ingest_text(&path.display().to_string(), &text, markdown)
            .await
    }

    /// Ingests `text` under the name `source`, replacing what `source` had.
    pub async fn ingest_text(
        &self,
        source: &str,
        text: &str,
        markdown: bool,
    ) -> Result<IngestReport> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(MemoryError::Invalid {
                what: "document",
                reason: format!(
                    "`{source}` has {} bytes; at most {MAX_DOCUMENT_BYTES} are ingested (split it)",
                    text.len()
                ),
            });
        }
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        let collection = &self.config.collection;
        let same = Filter::must(Condition::keyword(chunk_keys::SOURCE, source))
            .and(Condition::keyword(chunk_keys::SOURCE_HASH, hash.clone()));
        let existing = self.store.count(collection, Some(same)).await?;
        if existing > 0 {
            return Ok(IngestReport {
                source: source.into(),
                chunks: existing as usize,
                unchanged: true,
            });
        }
        let pieces = self.split(text.to_string(), markdown).await?;
        let texts: Vec<String> = pieces.iter().map(|p| p.text.clone()).collect();
        let dense = self.embedder.embed(&texts).await?;
        let created = now_ms();
        let points = pieces
            .into_iter()
            .zip(dense)
            .enumerate()
            .map(|(i, (piece, vector))| {
                let mut payload = Payload::new();
                payload.insert(keys::TEXT.into(), json!(piece.text));
                payload.insert(keys::KIND.into(), json!(MemoryKind::Document.as_str()));
                payload.insert(keys::CREATED_AT.into(), json!(created));
                payload.insert(chunk_keys::SOURCE.into(), json!(source));
                payload.insert(chunk_keys::CHUNK_INDEX.into(), json!(i));
                payload.insert(chunk_keys::SOURCE_HASH.into(), json!(hash));
                if let Some(h) = &piece.heading {
                    payload.insert(chunk_keys::HEADING.into(), json!(h));
                }
                Point {
                    id: content_id(&format!("chunk\u{0}{source}\u{0}{hash}\u{0}{i}")),
                    sparse: Some(self.bm25.document(&piece.text)),
                    dense: vector,
                    payload,
                }
            })
            .collect::<Vec<_>>();
        let chunks = points.len();
        for batch in points.chunks(128) {
            self.store.upsert(collection, batch.to_vec()).await?;
        }
        let stale = Filter::must(Condition::keyword(chunk_keys::SOURCE, source))
            .and_not(Condition::keyword(chunk_keys::SOURCE_HASH, hash));
        self.store
            .delete(collection, Selector::Filter(stale))
            .await?;
        Ok(IngestReport {
            source: source.into(),
            chunks,
            unchanged: false,
        })
    }

    /// Removes every chunk of `source`.
    pub async fn remove(&self, source: &str) -> Result<()> {
        let filter = Filter::must(Condition::keyword(chunk_keys::SOURCE, source));
        self.store
            .delete(&self.config.collection, Selector::Filter(filter))
            .await
    }

    /// Number of chunks, of one source or of all.
    pub async fn count(&self, source: Option<&str>) -> Result<u64> {
        let filter = source.map(|s| Filter::must(Condition::keyword(chunk_keys::SOURCE, s)));
        self.store.count(&self.config.collection, filter).await
    }

    /// The `k` best chunks for `query` by hybrid search.
    pub async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Chunk>> {
        self.search(query, k, RetrievalMode::Hybrid, None).await
    }

    /// The `k` best chunks for `query` by the given mode, optionally filtered.
    pub async fn search(
        &self,
        query: &str,
        k: usize,
        mode: RetrievalMode,
        filter: Option<Filter>,
    ) -> Result<Vec<Chunk>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let q = match mode {
            RetrievalMode::Dense => Query::Dense(self.embedder.embed_one(query).await?),
            RetrievalMode::Sparse => Query::Sparse(self.bm25.query(query)),
            RetrievalMode::Hybrid => Query::Hybrid {
                dense: self.embedder.embed_one(query).await?,
                sparse: self.bm25.query(query),
            },
        };
        let mut request = SearchRequest::new(q, k);
        request.filter = filter;
        let hits = self.store.search(&self.config.collection, request).await?;
        hits.into_iter()
            .map(|h| {
                let get = |key: &str| h.payload.get(key);
                let bad = |reason: &str| MemoryError::Payload {
                    collection: self.config.collection.clone(),
                    id: h.id.to_string(),
                    reason: reason.to_string(),
                };
                Ok(Chunk {
                    id: h.id,
                    text: get(keys::TEXT)
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("chunk without text"))?
                        .to_string(),
                    source: get(chunk_keys::SOURCE)
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("chunk without source"))?
                        .to_string(),
                    chunk_index: get(chunk_keys::CHUNK_INDEX)
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                    heading: get(chunk_keys::HEADING)
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    score: h.score,
                })
            })
            .collect()
    }

    async fn split(&self, text: String, markdown: bool) -> Result<Vec<Piece>> {
        let tokenizer = Arc::clone(&self.tokenizer);
        let (size, overlap) = (self.config.chunk_tokens, self.config.overlap_tokens);
        tokio::task::spawn_blocking(move || {
            split_text(&text, markdown, tokenizer.as_ref(), size, overlap)
        })
        .await
        .map_err(|e| MemoryError::Task("chunk document".into(), e.to_string()))?
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    text: String,
    heading: Option<String>,
}

fn split_text(
    text: &str,
    markdown: bool,
    tokenizer: &tokenizers::Tokenizer,
    size: usize,
    overlap: usize,
) -> Result<Vec<Piece>> {
    let config = ChunkConfig::new(size)
        .with_sizer(tokenizer)
        .with_overlap(overlap)
        .map_err(|e| MemoryError::Invalid {
            what: "chunking",
            reason: e.to_string(),
        })?;
    let spans: Vec<(usize, String)> = if markdown {
        MarkdownSplitter::new(config)
            .chunk_indices(text)
            .map(|(o, c)| (o, c.to_string()))
            .collect()
    } else {
        TextSplitter::new(config)
            .chunk_indices(text)
            .map(|(o, c)| (o, c.to_string()))
            .collect()
    };
    let headings = if markdown {
        markdown_headings(text)
    } else {
        Vec::new()
    };
    Ok(spans
        .into_iter()
        .filter(|(_, c)| !c.trim().is_empty())
        .map(|(offset, chunk)| {
            // The heading in force where the chunk starts, or the chunk's own first heading.
            let own = chunk.lines().next().and_then(heading_text);
            let above = headings
                .iter()
                .rev()
                .find(|(at, _)| *at <= offset)
                .map(|(_, h)| h.clone());
            Piece {
                heading: own.or(above),
                text: chunk,
            }
        })
        .collect())
}

/// Byte offsets and texts of ATX headings outside code fences.
fn markdown_headings(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut in_fence = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence && let Some(h) = heading_text(line) {
            out.push((offset, h));
        }
        offset += line.len();
    }
    out
}

fn heading_text(line: &str) -> Option<String> {
    let trimmed = line.trim();
    let hashes = trimmed.chars().take_while(|c| *c == '#').count();
    if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
        Some(
            trimmed[hashes..]
                .trim()
                .trim_end_matches('#')
                .trim()
                .to_string(),
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_skip_code_fences_and_need_a_space() {
        let md = "# Intro\ntext\n```\n# not a heading\n```\n## Setup ##\n#tag\n";
        let hs: Vec<String> = markdown_headings(md).into_iter().map(|(_, h)| h).collect();
        assert_eq!(hs, vec!["Intro".to_string(), "Setup".to_string()]);
    }
}
