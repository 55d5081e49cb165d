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

/// Set (to `1`) by `scripts/with-qdrant.sh`, which `make test` runs: tests that
/// need the server must run, so a missing `QDRANT_URL` fails them.
pub const REQUIRE_QDRANT_ENV: &str = "AGENTRY_REQUIRE_QDRANT";

/// Writes a line straight to stderr, past the harness's capture, so that the CI
/// log says what ran.
pub fn announce(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The Qdrant server at `QDRANT_URL`; `None` (announced) when it is not set and
/// not required. Panics when required and absent, or when it does not answer.
#[cfg(feature = "qdrant")]
pub async fn qdrant_server(test: &str) -> Option<agentry_memory::QdrantStore> {
    let required = std::env::var(REQUIRE_QDRANT_ENV)
        .map(|v| !v.trim().is_empty() && v.trim() != "0")
        .unwrap_or(false);
    let Some(config) = agentry_memory::QdrantConfig::from_env() else {
        assert!(
            !required,
            "{REQUIRE_QDRANT_ENV} is set but QDRANT_URL is not: {test} needs a server"
        );
        announce(&format!(
            "{test}: QDRANT_URL is not set: NOT run (`make test` starts ../shared/bin/qdrant)"
        ));
        return None;
    };
    let url = config.url.clone();
    match agentry_memory::QdrantStore::connect(config).await {
        Ok(store) => Some(store),
        Err(e) => panic!("QDRANT_URL={url}: no Qdrant server answered: {e}"),
    }
}

/// A collection name no other run uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
