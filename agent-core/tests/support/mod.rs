//! Shared by the real-model tests.

use std::path::PathBuf;

use agentry_core::model::store::ModelStore;

/// The real SmolLM2-135M-Instruct GGUF, pulled into the cache on first use.
pub async fn smollm2_path() -> PathBuf {
    ModelStore::from_env()
        .expect("open the model store")
        .pull("smollm2-135m")
        .await
        .expect("pull smollm2-135m")
}
