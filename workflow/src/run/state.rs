//! The checkpoint of a workflow run, `RUNS_DIR/RUN_ID/state.json`: what each finished
//! step gave, saved after every step, and the state of every agent step still running,
//! saved after each of its model steps.
//!
//! One file says where everything is. An agent step's running state is its agent run's
//! own checkpoint ([`AgentRun::to_json`](agentry_core::plan::run::AgentRun::to_json)),
//! kept under `running.PATH` until the step finishes; then the step's record in `steps`
//! holds its output and a summary of the agent run ([`AgentRecord`]), and the running
//! state is dropped, in the same write.
//!
//! ```json
//! {
//!   "run_id": "1764412345-1a2b3c4d", "workflow": "sums", "file": "sums.yaml",
//!   "fingerprint": "…", "inputs": {}, "status": "running",
//!   "steps": {},
//!   "running": {
//!     "solve": { "agent": "maths", "run_id": "6f0c…", "step": 1, "run": { "…": "…" } }
//!   }
//! }
//! ```
//!
//! Files written before agent steps were checkpointed (no `running`, no `agent` in the
//! records) read the same; their interrupted agent steps start over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agentry_core::durable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::WorkflowRunError;
use super::lock::RunLock;

/// Most bytes of a checkpoint file read back (`state.json`).
pub const MAX_CHECKPOINT_BYTES: u64 = 256 << 20;

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
    /// The agent run that performed an agent step (absent for other steps, classifying
    /// agents, and records written before agent runs were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentRecord>,
}

/// How the agent run of a finished agent step went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// The agent run's id: the same before and after a resume, since the run continues.
    pub run_id: Uuid,
    /// Model steps the run took in all (those before a resume included).
    pub steps: usize,
    /// When the step was continued from its running state (`--resume`), the model steps
    /// the run had taken by then: the run went on with step `resumed_at + 1`. `None` when
    /// the run went from its start to its end in one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_at: Option<usize>,
}

/// An agent step caught running: its agent run's checkpoint, replaced after every model
/// step (and at an approval pause), so a resumed workflow continues the step from its
/// last model step instead of starting it over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentCheckpoint {
    /// The workflow agent performing the step (a run is continued only by the same one).
    pub agent: String,
    /// The agent run's id.
    pub run_id: Uuid,
    /// Model steps the run had taken when it was saved.
    pub step: usize,
    /// The agent run itself, as [`AgentRun::to_json`](agentry_core::plan::run::AgentRun::to_json)
    /// writes it (continued with `Agent::resume`).
    pub run: Value,
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
    /// Agent steps that started and have not finished, by path: each one's agent run as
    /// of its last model step. A step leaves this map when its record enters `steps`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub running: BTreeMap<String, AgentCheckpoint>,
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

    /// Writes `state` durably: a uniquely named temporary file, fsynced, renamed over
    /// `state.json`, then the folder fsynced (see
    /// [`agentry_core::durable::write_atomic`]). A crash or a power cut never leaves half
    /// a checkpoint.
    ///
    /// # Errors
    /// [`WorkflowRunError::Checkpoint`] when the state's run id is not a single safe path
    /// component, or the file cannot be written.
    pub fn save(&self, state: &RunState) -> Result<(), WorkflowRunError> {
        let path = self.path(&state.run_id);
        let io = |source| WorkflowRunError::Checkpoint {
            path: path.clone(),
            source,
        };
        if !is_valid_run_id(&state.run_id) {
            return Err(io(invalid_id(&state.run_id)));
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        durable::create_dir_all(folder).map_err(io)?;
        let text = serde_json::to_string_pretty(state).map_err(|e| io(std::io::Error::other(e)))?;
        durable::write_atomic(&path, text.as_bytes()).map_err(io)
    }

    /// Takes the run's lock (`RUN_ID/lock`, an OS advisory lock), held until the guard
    /// drops: one process at a time runs or resumes a run.
    ///
    /// # Errors
    /// [`WorkflowRunError::Busy`] when another process (or another runner in this one)
    /// holds it; [`WorkflowRunError::UnknownRun`] for an id that is not a single safe path
    /// component; [`WorkflowRunError::Checkpoint`] when the lock file cannot be opened.
    pub fn lock(&self, run_id: &str) -> Result<RunLock, WorkflowRunError> {
        if !is_valid_run_id(run_id) {
            return Err(WorkflowRunError::UnknownRun {
                run_id: run_id.to_string(),
                dir: self.dir.clone(),
            });
        }
        RunLock::acquire(run_id, &self.dir.join(run_id))
    }

    /// Reads the checkpoint of `run_id`, with the agent run of every running agent step
    /// checked.
    ///
    /// # Errors
    /// [`WorkflowRunError::UnknownRun`] when there is none; [`WorkflowRunError::Checkpoint`],
    /// naming the file, when it cannot be read or is not a checkpoint (a running agent
    /// step that holds no agent run included). The file must be a regular file of at
    /// most [`MAX_CHECKPOINT_BYTES`].
    pub fn load(&self, run_id: &str) -> Result<RunState, WorkflowRunError> {
        let path = self.path(run_id);
        if !is_valid_run_id(run_id) || !path.is_file() {
            return Err(WorkflowRunError::UnknownRun {
                run_id: run_id.to_string(),
                dir: self.dir.clone(),
            });
        }
        // A checkpoint is untrusted input: a regular file, read with a cap.
        let text = agentry_model::file::read_capped_text(&path, MAX_CHECKPOINT_BYTES).map_err(
            |source| WorkflowRunError::Checkpoint {
                path: path.clone(),
                source,
            },
        )?;
        let state: RunState =
            serde_json::from_str(&text).map_err(|e| WorkflowRunError::Checkpoint {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?;
        if state.run_id != run_id {
            return Err(WorkflowRunError::Checkpoint {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the file says it is run {:?}, not run `{run_id}` that is in its folder",
                        state.run_id
                    ),
                ),
            });
        }
        super::running::check(&state, &path)?;
        Ok(state)
    }
}

/// Whether `run_id` can name a run's folder: 1 to 128 ASCII letters, digits, `-` and `_`
/// (a single path component: no separators, no `..`, nothing hidden).
pub fn is_valid_run_id(run_id: &str) -> bool {
    !run_id.is_empty()
        && run_id.len() <= 128
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The error for a run id that cannot name a folder.
fn invalid_id(run_id: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("run id {run_id:?} is not a single path component of letters, digits, `-` and `_`"),
    )
}
