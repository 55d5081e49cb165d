//! Text embeddings: the [`Embedder`] trait every memory takes, and (with the
//! `fastembed` feature, on by default) [`FastEmbedder`], which runs
//! all-MiniLM-L6-v2 on ONNX Runtime entirely from local files.

use async_trait::async_trait;

use crate::error::{MemoryError, Result};

#[cfg(feature = "fastembed")]
mod minilm;
#[cfg(feature = "fastembed")]
pub use minilm::{FastEmbedder, init_onnxruntime};

/// Model-store spec of the default embedding model.
pub const MINILM_SPEC: &str = "all-minilm-l6-v2";
/// Model-store spec of the ONNX Runtime shared library.
pub const ONNXRUNTIME_SPEC: &str = "onnxruntime";
/// Dimension of all-MiniLM-L6-v2 embeddings.
pub const MINILM_DIMENSION: usize = 384;

/// Turns texts into dense vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Length of every vector this embedder returns.
    fn dimension(&self) -> usize;

    /// Embeds a batch of texts, one vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;

    /// The tokens the model reads for `texts`, all together (by its own tokenizer,
    /// special tokens included), for usage reports; `None` (the default) when this
    /// embedder has no tokenizer to count with.
    ///
    /// # Errors
    /// The tokenizer fails on a text.
    fn count_tokens(&self, texts: &[String]) -> Result<Option<usize>> {
        let _ = texts;
        Ok(None)
    }

    /// Embeds one text.
    async fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let mut v = self.embed(&[text.to_string()]).await?;
        v.pop().ok_or_else(|| MemoryError::Embedding {
            model: "embedder".into(),
            reason: "returned no vector for one text".into(),
        })
    }
}
