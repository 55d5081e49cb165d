//! Where an agent's runs are saved after every model step and at every approval pause: a
//! folder of `<run id>.json` files ([`CheckpointDir`]), or a sink of the caller's (a workflow
//! keeps its running agent inside its own checkpoint, so one file says where everything is).

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::AgentError;
use crate::plan::run::AgentRun;

/// Receives a run's state ([`AgentRun::to_json`]) each time the agent checkpoints it; the
/// latest save replaces the earlier ones. Resume with [`Agent::resume`](super::Agent::resume).
#[async_trait]
pub trait CheckpointSink: Send + Sync {
    /// Keeps `run` (its [`AgentRun::to_json`]); an error stops the run's driving.
    async fn save(&self, run: &AgentRun) -> Result<(), AgentError>;
}

/// Checkpoints as `DIR/<run id>.json`, each written with
/// [`durable::write_atomic`](crate::durable::write_atomic): a crash or a power cut never
/// leaves half a checkpoint, and two writers never share a temporary file.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    dir: PathBuf,
}

impl CheckpointDir {
    /// Checkpoints under `dir`, created if missing.
    ///
    /// # Errors
    /// [`AgentError::Io`] when the folder cannot be created.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self, AgentError> {
        let dir = dir.into();
        crate::durable::create_dir_all(&dir).map_err(|source| AgentError::Io {
            what: "checkpoint folder",
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `run` is saved.
    pub fn path(&self, run: &AgentRun) -> PathBuf {
        self.dir.join(format!("{}.json", run.id()))
    }
}

#[async_trait]
impl CheckpointSink for CheckpointDir {
    async fn save(&self, run: &AgentRun) -> Result<(), AgentError> {
        let path = self.path(run);
        let json = run.to_json()?;
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || {
            crate::durable::write_atomic(&target, json.as_bytes())
        })
        .await
        .unwrap_or_else(|joined| Err(std::io::Error::other(joined)));
        written.map_err(|source| AgentError::Io {
            what: "checkpoint",
            path,
            source,
        })
    }
}
