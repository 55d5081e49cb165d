//! What can go wrong in an evaluation ([`EvalError`]). Every variant names the file, line
//! or name at fault and, where there is one, what to do about it.

use std::path::PathBuf;

/// Why an evaluation could not load its data, set up an item or write its output.
///
/// A model that answers wrongly is not an error: it is a verdict in the trace.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read or written.
    #[error("cannot {action} {what} {}: {source}", path.display())]
    Io {
        /// `read`, `write`, `create`.
        action: &'static str,
        /// What the file is (`BFCL questions`, `trace`, ..).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A data or task file has a bad line or field.
    #[error("{}{}: {message}", path.display(), at_line(*line))]
    Data {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when the whole file is at fault).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No data folder was given.
    #[error(
        "no data folder: pass --data DIR or set AGENTRY_EVAL_DATA (the folder that holds bfcl/, gsm8k/ and game24/; see the README section \"Evaluating agents\" for where to get them)"
    )]
    NoDataDir,
    /// A suite, configuration or category name is not known.
    #[error("unknown {what} `{name}`; expected one of: {expected}")]
    Unknown {
        /// `suite`, `configuration`, `category`.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that are known, comma-separated.
        expected: String,
    },
    /// A setting cannot run (e.g. a configuration that does not apply to the suite).
    #[error("{0}")]
    Config(String),
    /// A trace line could not be written or read back.
    #[error("trace {}{}: {message}", path.display(), at_line(*line))]
    Trace {
        /// The trace file.
        path: PathBuf,
        /// 1-based line (0 for the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A tool registry could not be built for a task.
    #[error("task {task}: {message}")]
    Task {
        /// The task's id.
        task: String,
        /// What is wrong.
        message: String,
    },
}

/// `:LINE`, or nothing for line 0 (the whole file).
fn at_line(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

impl EvalError {
    /// An I/O error on `path`.
    pub(crate) fn io(
        action: &'static str,
        what: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            what,
            path: path.into(),
            source,
        }
    }

    /// A data error at `path:line`.
    pub(crate) fn data(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Self::Data {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}
