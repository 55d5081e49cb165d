//! Why a workflow run stopped.

use std::path::PathBuf;

/// A run's failure. Every variant says what and where; the checkpoint keeps the steps
/// that finished.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowRunError {
    /// An input is unknown, missing or of the wrong type.
    #[error("input `{name}`: {message}")]
    Input {
        /// The input.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A step failed.
    #[error("step `{path}` failed: {message}")]
    Step {
        /// The step's path.
        path: String,
        /// Why.
        message: String,
    },
    /// An output did not render.
    #[error("output `{name}` did not render: {message}")]
    Output {
        /// The output.
        name: String,
        /// Why.
        message: String,
    },
    /// A checkpoint could not be written or read.
    #[error("checkpoint {}: {source}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No checkpoint of this run.
    #[error("no run `{run_id}` under {}", dir.display())]
    UnknownRun {
        /// The id asked for.
        run_id: String,
        /// Where runs are kept.
        dir: PathBuf,
    },
    /// Another process (or runner) is running or resuming this run right now.
    #[error(
        "run `{run_id}` is being run by another process (it holds {}); wait for it to end, then resume",
        lock.display()
    )]
    Busy {
        /// The run.
        run_id: String,
        /// The lock file held.
        lock: PathBuf,
    },
    /// The workflow file changed since the run started.
    #[error(
        "run `{run_id}` was started from a different version of {file}; it cannot be resumed with this one"
    )]
    Changed {
        /// The run.
        run_id: String,
        /// The workflow file.
        file: String,
    },
}
