//! The checkpoint of a workflow run: what each finished step gave, saved after every
//! step under `RUNS_DIR/RUN_ID/state.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::WorkflowRunError;

/// How a run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    /// Steps are running (or the process stopped while they were).
    Running,
    /// Every step ran and the outputs are rendered.
    Finished,
    /// A step failed; resuming retries it.
    Failed {
        /// Why.
        message: String,
    },
}

/// What one finished (or skipped) step left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Its output (`null` when skipped).
    pub output: Value,
    /// `done` or `skipped`.
    pub status: String,
    /// Outputs of nested steps visible after it (a loop's last iteration), by id.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub inner: Map<String, Value>,
    /// Wall time, in milliseconds.
    pub elapsed_ms: u64,
}

/// A run's checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// The run's id (its folder's name).
    pub run_id: String,
    /// The workflow's name.
    pub workflow: String,
    /// The workflow file.
    pub file: String,
    /// SHA-256 of the workflow text: a changed file cannot resume this run.
    pub fingerprint: String,
    /// The inputs, with defaults filled in.
    pub inputs: Map<String, Value>,
    /// Finished steps by path (`id`, or `loop.ITERATION.id` inside loops).
    pub steps: BTreeMap<String, StepRecord>,
    /// How the run stands.
    #[serde(flatten)]
    pub status: RunStatus,
    /// The rendered outputs, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Map<String, Value>>,
}

/// The fingerprint of a workflow text.
pub(crate) fn fingerprint(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Where checkpoints live: one folder per run.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    dir: PathBuf,
}

impl Checkpoints {
    /// Checkpoints under `dir` (e.g. `.agentry/runs`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The checkpoint file of `run_id`.
    pub fn path(&self, run_id: &str) -> PathBuf {
        self.dir.join(run_id).join("state.json")
    }

    /// Writes `state` (to a temporary file, then renamed: a crash never leaves half a
    /// checkpoint).
    pub fn save(&self, state: &RunState) -> Result<(), WorkflowRunError> {
        let path = self.path(&state.run_id);
        let io = |source| WorkflowRunError::Checkpoint {
            path: path.clone(),
            source,
        };
        let folder = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(folder).map_err(io)?;
        let text = serde_json::to_string_pretty(state).map_err(|e| io(std::io::Error::other(e)))?;
        let temporary = folder.join("state.json.tmp");
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, &path).map_err(io)?;
        Ok(())
    }

    /// Reads the checkpoint of `run_id`.
    pub fn load(&self, run_id: &str) -> Result<RunState, WorkflowRunError> {
        let valid_id = !run_id.is_empty()
            && run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let path = self.path(run_id);
        if !valid_id || !path.is_file() {
            return Err(WorkflowRunError::UnknownRun {
                run_id: run_id.to_string(),
                dir: self.dir.clone(),
            });
        }
        let text =
            std::fs::read_to_string(&path).map_err(|source| WorkflowRunError::Checkpoint {
                path: path.clone(),
                source,
            })?;
        serde_json::from_str(&text).map_err(|e| WorkflowRunError::Checkpoint {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }
}
