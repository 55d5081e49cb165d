//! The lock of one run ([`RunLock`]): an OS advisory lock on `RUNS_DIR/RUN_ID/lock`, held
//! while a process runs or resumes the run, so two `--resume` of one run never run its
//! steps (and their side effects) twice at the same time. The OS releases it when the
//! process ends, however it ends.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use agentry_core::durable;

use super::WorkflowRunError;

/// The lock file's name inside a run's folder.
const LOCK_FILE: &str = "lock";

/// A held run lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of run `run_id` whose folder is `folder` (created if missing),
    /// without waiting.
    pub(super) fn acquire(run_id: &str, folder: &Path) -> Result<Self, WorkflowRunError> {
        let path = folder.join(LOCK_FILE);
        let io = |source| WorkflowRunError::Checkpoint {
            path: path.clone(),
            source,
        };
        durable::create_dir_all(folder).map_err(io)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(WorkflowRunError::Busy {
                run_id: run_id.to_string(),
                lock: path,
            }),
            Err(TryLockError::Error(source)) => Err(io(source)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
