//! Shared by the real-model tests (each test binary uses some of it).
#![allow(dead_code)]

use std::path::PathBuf;

use agentry_model_store::ModelStore;

/// The real SmolLM2-135M-Instruct GGUF, pulled into the cache on first use.
pub async fn smollm2_path() -> PathBuf {
    model_path("smollm2-135m").await
}

/// A model of the registry (e.g. `qwen2.5-coder-0.5b`), pulled into the cache on first use.
pub async fn model_path(name: &str) -> PathBuf {
    ModelStore::from_env()
        .expect("open the model store")
        .pull(name)
        .await
        .unwrap_or_else(|e| panic!("pull {name}: {e}"))
}

/// The environment variable that sets the GPU layers of every model these tests open.
const GPU_LAYERS_VAR: &str = "AGENTRY_TEST_GPU_LAYERS";

/// GPU layers for every model a test opens: `AGENTRY_TEST_GPU_LAYERS`, 0 (CPU only) when
/// unset. `scripts/gpu-check.sh` sets it to 999 (every layer) on a `cuda` build.
pub fn gpu_layers() -> u32 {
    match std::env::var(GPU_LAYERS_VAR) {
        Err(std::env::VarError::NotPresent) => 0,
        Err(e) => panic!("{GPU_LAYERS_VAR} must be a number of GPU layers (0 to 4294967295): {e}"),
        Ok(text) => text.trim().parse().unwrap_or_else(|e| {
            panic!(
                "{GPU_LAYERS_VAR}={text:?} is not a number of GPU layers (0 to 4294967295; 999 offloads every layer): {e}"
            )
        }),
    }
}
