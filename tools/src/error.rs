//! Errors: [`ToolError`] (a tool call failed) and [`RegistryError`] (a tool could not be registered).

use std::path::PathBuf;

/// Why a tool call failed. The registry turns it into an observation for the model.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool (after schema validation passed).
    #[error("invalid arguments for `{tool}`: {message}")]
    InvalidArguments {
        /// The tool's name.
        tool: String,
        /// What was wrong.
        message: String,
    },
    /// The tool refused the request (a path outside its root, a forbidden address, ...).
    #[error("refused: {0}")]
    Refused(String),
    /// A file-system operation failed.
    #[error("{op} `{path}` failed: {source}")]
    Io {
        /// What was being done ("read", "write", "list", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The tool's output could not be turned into JSON.
    #[error("output of `{tool}` could not be serialised: {source}")]
    Output {
        /// The tool's name.
        tool: String,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// Any other failure, described for the model.
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// A failure described by `message`.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

/// Why a tool could not be registered or connected.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Another tool already has this name.
    #[error("a tool named `{0}` is already registered")]
    Duplicate(String),
    /// The name does not match `^[a-zA-Z0-9_-]{{1,64}}$`.
    #[error("invalid tool name `{0}`: use 1 to 64 of the characters a-z, A-Z, 0-9, `_` and `-`")]
    InvalidName(String),
    /// The tool's parameter schema is not a valid JSON Schema.
    #[error("the parameter schema of tool `{tool}` is invalid: {message}")]
    InvalidSchema {
        /// The tool's name.
        tool: String,
        /// What the schema compiler reported.
        message: String,
    },
}
