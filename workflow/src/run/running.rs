//! An agent step's running state inside the workflow's checkpoint: the
//! [`CheckpointSink`] that keeps the agent run in `state.json` after each of its model
//! steps, and what a resumed step continues from.

use std::path::Path;
use std::sync::Arc;

use agentry_core::agent::{Agent, AgentError, CheckpointSink};
use agentry_core::plan::run::AgentRun;
use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::Mutex;

use super::WorkflowRunError;
use super::state::{AgentCheckpoint, Checkpoints, RunState};

/// Keeps the agent run of the step at `path` in the workflow's state (`running.PATH`) and
/// writes the state file, each time the agent checkpoints the run.
pub(super) struct StepSink {
    /// The step's path.
    pub(super) path: String,
    /// The workflow agent performing it.
    pub(super) agent: String,
    /// The workflow run's state, shared with the steps.
    pub(super) state: Arc<Mutex<RunState>>,
    /// Where the state is written.
    pub(super) checkpoints: Checkpoints,
}

#[async_trait]
impl CheckpointSink for StepSink {
    async fn save(&self, run: &AgentRun) -> Result<(), AgentError> {
        let json = run.to_json()?;
        let mut state = self.state.lock().await;
        let file = self.checkpoints.path(&state.run_id);
        let value: Value = serde_json::from_str(&json).map_err(|e| AgentError::Io {
            what: "workflow checkpoint",
            path: file.clone(),
            source: std::io::Error::other(e),
        })?;
        state.running.insert(
            self.path.clone(),
            AgentCheckpoint {
                agent: self.agent.clone(),
                run_id: run.id(),
                step: run.step(),
                run: value,
            },
        );
        self.checkpoints.save(&state).map_err(|error| match error {
            WorkflowRunError::Checkpoint { path, source } => AgentError::Io {
                what: "workflow checkpoint",
                path,
                source,
            },
            other => AgentError::Io {
                what: "workflow checkpoint",
                path: file,
                source: std::io::Error::other(other.to_string()),
            },
        })
    }
}

/// The agent run the step at `path` continues, from `saved` (its entry in the state's
/// `running`, if any), restored in `agent`. `None` means the step starts its agent over:
/// no saved run, one of another agent or task (the workflow's inputs render the same task,
/// so this only happens to hand-edited files), or one that ended without an answer (it
/// failed or reached a limit, and resuming retries the step).
///
/// # Errors
/// [`WorkflowRunError::Checkpoint`], naming `file`, when the saved run is not an agent run.
pub(super) fn continued_run(
    saved: Option<&AgentCheckpoint>,
    path: &str,
    agent_name: &str,
    task: &str,
    agent: &Agent,
    file: &Path,
) -> Result<Option<AgentRun>, WorkflowRunError> {
    let Some(saved) = saved else {
        return Ok(None);
    };
    if saved.agent != agent_name {
        tracing::warn!(
            "step `{path}`: the saved agent run is agent `{}`'s, not `{agent_name}`'s; starting over",
            saved.agent
        );
        return Ok(None);
    }
    let run = agent
        .resume(&saved.run.to_string())
        .map_err(|e| invalid(file, path, &e.to_string()))?;
    if run.id() != saved.run_id {
        return Err(invalid(
            file,
            path,
            &format!("it says run {} but holds run {}", saved.run_id, run.id()),
        ));
    }
    if run.config().task != task {
        tracing::warn!("step `{path}`: the saved agent run has another task; starting over");
        return Ok(None);
    }
    if run
        .outcome()
        .is_some_and(|outcome| outcome.answer.is_none())
    {
        return Ok(None);
    }
    Ok(Some(run))
}

/// Checks every running agent step of `state` (read from `file`): each must hold an agent
/// run with the id it names.
///
/// # Errors
/// [`WorkflowRunError::Checkpoint`] naming `file` and the step.
pub(super) fn check(state: &RunState, file: &Path) -> Result<(), WorkflowRunError> {
    for (path, saved) in &state.running {
        let run = AgentRun::from_json(&saved.run.to_string())
            .map_err(|e| invalid(file, path, &e.to_string()))?;
        if run.id() != saved.run_id {
            return Err(invalid(
                file,
                path,
                &format!("it says run {} but holds run {}", saved.run_id, run.id()),
            ));
        }
    }
    Ok(())
}

/// A checkpoint whose running state of step `path` cannot be used.
fn invalid(file: &Path, path: &str, message: &str) -> WorkflowRunError {
    WorkflowRunError::Checkpoint {
        path: file.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the running state of agent step `{path}` is not an agent run: {message}"),
        ),
    }
}
