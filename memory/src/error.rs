//! The one error type of the memory crate.

use std::path::PathBuf;

/// Everything that can go wrong in the memory layer. Each variant names what
/// failed and where (a path, a collection, a URL).
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The model store could not provide a file (embedding model or ONNX Runtime).
    #[error("model store, {spec}: {reason}")]
    Store {
        /// The spec that was pulled (e.g. `all-minilm-l6-v2`).
        spec: String,
        /// Why it failed.
        reason: String,
    },
    /// ONNX Runtime could not be loaded from the given library path.
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    OnnxRuntime {
        /// The shared library that was tried.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// The embedding model failed to load or to run.
    #[error("embedding model {model}: {reason}")]
    Embedding {
        /// Model file or name.
        model: String,
        /// Why it failed.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("read", "create directory", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The on-disk store is already open, by this or another process.
    #[error(
        "the memory store at {path} is already open in another process (or twice in this one); \
         close the other agentry process or use a different memory path"
    )]
    StoreLocked {
        /// The store directory.
        path: PathBuf,
    },
    /// The embedded Qdrant Edge engine reported an error.
    #[error("qdrant-edge, collection {collection} at {path}: {reason}")]
    Edge {
        /// Collection name.
        collection: String,
        /// Shard directory.
        path: PathBuf,
        /// The engine's message.
        reason: String,
    },
    /// An operation of a collection's recovery log could not be applied when the
    /// collection was loaded; the log is kept untouched.
    #[error(
        "collection {collection}: operation {operation} of {operations} in the recovery log {log} cannot be applied: {reason}; the log is kept (move it aside to open the collection without the writes it holds)"
    )]
    Replay {
        /// Collection name.
        collection: String,
        /// The recovery log.
        log: PathBuf,
        /// Which operation failed (1-based).
        operation: usize,
        /// Operations the log holds.
        operations: usize,
        /// Why it failed.
        reason: String,
    },
    /// A Qdrant server call failed.
    #[error("qdrant server {url}, {operation}: {reason}")]
    Qdrant {
        /// Server URL.
        url: String,
        /// The operation (e.g. "upsert into memory").
        operation: String,
        /// The client's message.
        reason: String,
    },
    /// A collection was used before `ensure_collection`, or does not exist.
    #[error("collection {0} does not exist (call ensure_collection first)")]
    NoSuchCollection(String),
    /// A collection exists with a different shape than requested.
    #[error("collection {collection}: {reason}")]
    CollectionMismatch {
        /// Collection name.
        collection: String,
        /// What differs.
        reason: String,
    },
    /// A caller passed an invalid argument.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A stored payload did not have the expected shape.
    #[error("point {id} in {collection}: malformed payload: {reason}")]
    Payload {
        /// Collection name.
        collection: String,
        /// Point id.
        id: String,
        /// What was wrong.
        reason: String,
    },
    /// The summariser (implemented by a higher crate) failed.
    #[error("summariser failed: {0}")]
    Summarize(String),
    /// A blocking task panicked or was cancelled.
    #[error("background task for {0} did not finish: {1}")]
    Task(String, String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = MemoryError> = std::result::Result<T, E>;
