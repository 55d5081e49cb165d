//! Shared helpers of the integration tests: the real embedder from the model
//! store, and temp stores.
#![allow(dead_code)]

use std::sync::Arc;

use agentry_memory::{EdgeStore, FastEmbedder, VectorStore};
use tokio::sync::OnceCell;

static EMBEDDER: OnceCell<FastEmbedder> = OnceCell::const_new();

/// The real all-MiniLM-L6-v2 embedder, from the model store (pulled once).
pub async fn embedder() -> FastEmbedder {
    EMBEDDER
        .get_or_init(|| async {
            match FastEmbedder::from_env_store().await {
                Ok(e) => e,
                Err(e) => {
                    panic!("the model store must provide the embedding model and ONNX Runtime: {e}")
                }
            }
        })
        .await
        .clone()
}

/// A fresh embedded store in a temp dir (keep the dir alive as long as the store).
pub fn edge_store() -> (tempfile::TempDir, Arc<dyn VectorStore>) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let store = match EdgeStore::open(dir.path().join("memory")) {
        Ok(s) => s,
        Err(e) => panic!("open edge store: {e}"),
    };
    (dir, Arc::new(store))
}
