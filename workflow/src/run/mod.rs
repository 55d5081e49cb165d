//! Running a checked [`Workflow`]: steps in order, `parallel` steps concurrently on the
//! one shared model (each agent in its own KV session), a checkpoint after every step,
//! and resuming a run from its checkpoint.
//!
//! An agent step is checkpointed inside the step too: after each of its model steps (and
//! at an approval pause) its agent run is written into the workflow's `state.json`
//! (`running.PATH`, see [`AgentCheckpoint`]). A run stopped in the middle of the step
//! (killed, Ctrl-C) and resumed with [`WorkflowRunner::resume`] continues that agent run
//! from its last model step, with the same agent run id, instead of starting the step
//! over ([`WorkflowEvent::AgentResumed`] says so). When the step finishes, its record
//! holds its output and an [`AgentRecord`] (the agent run's id, its model steps in all,
//! and where it was resumed), and the running state is dropped in the same write. A step
//! whose agent failed or stopped without an answer drops its running state: resuming
//! retries it from the start; one paused for an approval nobody gave keeps it.

mod act;
mod error;
mod inputs;
mod lock;
mod running;
mod state;
mod steps;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agentry_memory::{Documents, LongTermMemory};
use agentry_prompts::Templates;
use agentry_tools::{Policy, ToolRegistry};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, broadcast};
use uuid::Uuid;

pub use error::WorkflowRunError;
pub use lock::RunLock;
pub use state::{
    AgentCheckpoint, AgentRecord, Checkpoints, RunState, RunStatus, StepRecord, is_valid_run_id,
};

use super::spec::Workflow;
use super::template::{self, Mode};
use agentry_core::model::LanguageModel;
use agentry_core::plan::run::AgentEvent;

/// Capacity of the event channel; slow listeners miss the oldest events.
const EVENT_CAPACITY: usize = 1024;

/// What happens during a run, as it happens.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WorkflowEvent {
    /// The run began (or resumed, with `resumed` steps already done).
    Started {
        /// The run's id.
        run_id: String,
        /// Steps restored from the checkpoint.
        resumed: usize,
    },
    /// A step began.
    StepStarted {
        /// Its path (`id`, or `loop.ITERATION.id` in loops).
        path: String,
        /// Its kind (`agent`, `tool`, ...).
        kind: &'static str,
    },
    /// A piece of text an agent step decoded.
    Token {
        /// The step's path.
        path: String,
        /// The text.
        text: String,
    },
    /// Something the agent of an agent step did: a thought, a tool call and its result,
    /// recalled memories, the answer, its stop (every [`AgentEvent`] but its tokens, which
    /// come as [`WorkflowEvent::Token`]). Serialised as
    /// `{"event": "agent", "path": "solve", "agent": {"type": "tool_call", ..}}`.
    Agent {
        /// The step's path.
        path: String,
        /// What the agent did.
        #[serde(rename = "agent")]
        event: AgentEvent,
    },
    /// An agent step continues the agent run saved in the checkpoint instead of starting
    /// over (a resumed run stopped in the middle of the step).
    AgentResumed {
        /// The step's path.
        path: String,
        /// The agent run's id, the one it had before.
        agent_run: Uuid,
        /// Model steps the run had taken; it goes on with the next one.
        step: usize,
    },
    /// A step finished.
    StepFinished {
        /// Its path.
        path: String,
        /// Its output.
        output: Value,
        /// Wall time, in milliseconds.
        elapsed_ms: u64,
    },
    /// A step did not run: its condition was false, or the checkpoint had it.
    StepSkipped {
        /// Its path.
        path: String,
        /// `condition` or `checkpoint`.
        why: &'static str,
    },
    /// Every step ran; the outputs are rendered.
    Finished {
        /// The outputs.
        outputs: Map<String, Value>,
    },
}

/// The result of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowOutcome {
    /// The run's id (`--resume RUN_ID`).
    pub run_id: String,
    /// The rendered outputs.
    pub outputs: Map<String, Value>,
    /// Steps performed by this call.
    pub steps_run: usize,
    /// Steps restored from the checkpoint instead of run.
    pub steps_resumed: usize,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
}

/// Runs one workflow on a model, with tools, memory and checkpoints.
pub struct WorkflowRunner {
    workflow: Arc<Workflow>,
    model: Arc<dyn LanguageModel>,
    /// The models of `models:`, by name.
    models: std::collections::BTreeMap<String, Arc<dyn LanguageModel>>,
    tools: Arc<ToolRegistry>,
    policy: Policy,
    memory: Option<Arc<LongTermMemory>>,
    documents: Option<Arc<Documents>>,
    templates: Templates,
    checkpoints: Checkpoints,
    events: broadcast::Sender<WorkflowEvent>,
}

impl WorkflowRunner {
    /// A runner of `workflow` on `model`, without tools or memory, checkpointing under
    /// `.agentry/runs`.
    pub fn new(workflow: Workflow, model: Arc<dyn LanguageModel>) -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Self {
            workflow: Arc::new(workflow),
            model,
            models: Default::default(),
            tools: Arc::new(ToolRegistry::new()),
            policy: Policy::default(),
            memory: None,
            documents: None,
            templates: Templates::new(),
            checkpoints: Checkpoints::new(".agentry/runs"),
            events,
        }
    }

    /// The tools steps and agents may call, and the policy their calls go through. The
    /// workflow's own `policy` section adds its pre-approvals to `policy`'s.
    pub fn tools(mut self, tools: Arc<ToolRegistry>, policy: Policy) -> Self {
        let own = &self.workflow.policy;
        self.tools = tools;
        self.policy = policy
            .approve(&own.approve.to_set())
            .act_on_untrusted(&own.act_on_untrusted.to_set());
        self
    }

    /// The model named `name` under the workflow's `models:`, for the agents that say
    /// `model: NAME` (a step of an agent whose model was not given fails, naming it).
    pub fn named_model(mut self, name: impl Into<String>, model: Arc<dyn LanguageModel>) -> Self {
        self.models.insert(name.into(), model);
        self
    }

    /// The model `agent` runs on: its named model, else the workflow's.
    pub(crate) fn model_for(
        &self,
        agent: &crate::spec::AgentSpec,
    ) -> Result<Arc<dyn LanguageModel>, String> {
        match &agent.model {
            None => Ok(self.model.clone()),
            Some(name) => self.models.get(&name.name).cloned().ok_or_else(|| {
                format!(
                    "agent `{}` runs on model `{}`, which was not loaded for this run",
                    agent.name, name.name
                )
            }),
        }
    }

    /// Long-term memory and documents for the agents (recalled before their steps).
    pub fn memory(
        mut self,
        memory: Option<Arc<LongTermMemory>>,
        documents: Option<Arc<Documents>>,
    ) -> Self {
        self.memory = memory;
        self.documents = documents;
        self
    }

    /// The prompt templates of every agent step (the built-ins unless set; see
    /// `Templates::with_override_dir` for a folder of replacements).
    pub fn templates(mut self, templates: Templates) -> Self {
        self.templates = templates;
        self
    }

    /// Where checkpoints are written (`DIR/RUN_ID/state.json`).
    pub fn checkpoints(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoints = Checkpoints::new(dir);
        self
    }

    /// The workflow.
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// Events of the runs of this runner.
    pub fn events(&self) -> broadcast::Receiver<WorkflowEvent> {
        self.events.subscribe()
    }

    /// The inputs of a run from `given` (`name → value`): each value is checked against
    /// its declared type (text given for a number, list or object is read as JSON),
    /// missing ones take their default.
    ///
    /// # Errors
    /// [`WorkflowRunError::Input`] for an unknown input, a missing one without default, or
    /// a value of the wrong type.
    pub fn inputs(
        &self,
        given: Map<String, Value>,
    ) -> Result<Map<String, Value>, WorkflowRunError> {
        inputs::resolve(&self.workflow, given)
    }
}

/// The inputs of a run of `workflow` from `given`, as [`WorkflowRunner::inputs`] checks
/// them (usable before a model is loaded).
///
/// # Errors
/// As [`WorkflowRunner::inputs`].
pub fn resolve_inputs(
    workflow: &Workflow,
    given: Map<String, Value>,
) -> Result<Map<String, Value>, WorkflowRunError> {
    inputs::resolve(workflow, given)
}

impl WorkflowRunner {
    /// Runs the workflow from its first step with `inputs` (see
    /// [`WorkflowRunner::inputs`]).
    ///
    /// The future is `Send`: it may be spawned on any runtime thread. Parallel steps run
    /// concurrently within it.
    ///
    /// # Errors
    /// Bad inputs, a step that fails (the checkpoint keeps what was done: resume with
    /// [`WorkflowRunner::resume`]), outputs that do not render, a checkpoint that cannot
    /// be written.
    pub async fn run(
        &self,
        inputs: Map<String, Value>,
    ) -> Result<WorkflowOutcome, WorkflowRunError> {
        let inputs = self.inputs(inputs)?;
        let run_id = new_run_id();
        let lock = self.checkpoints.lock(&run_id)?;
        let state = RunState {
            run_id,
            workflow: self.workflow.name.clone(),
            file: self.workflow.source.name().to_string(),
            fingerprint: state::fingerprint(self.workflow.source.text()),
            inputs,
            steps: Default::default(),
            running: Default::default(),
            status: RunStatus::Running,
            outputs: None,
        };
        self.checkpoints.save(&state)?;
        self.execute(state, lock).await
    }

    /// Continues the run `run_id` from its checkpoint: finished steps are not run again,
    /// and an agent step stopped in the middle continues its agent run from its last
    /// model step (see the [module docs](self)).
    ///
    /// The run is locked while it runs (see [`Checkpoints::lock`]), and its checkpoint is
    /// checked as untrusted input: the id it holds must be `run_id`, and its inputs are
    /// checked against the workflow like new ones.
    ///
    /// # Errors
    /// [`WorkflowRunError::UnknownRun`], [`WorkflowRunError::Busy`] while another process
    /// runs it, [`WorkflowRunError::Changed`] when the workflow file differs from the one
    /// the run started with, [`WorkflowRunError::Checkpoint`] for a checkpoint of another
    /// run or with inputs the workflow refuses, and the errors of
    /// [`WorkflowRunner::run`].
    pub async fn resume(&self, run_id: &str) -> Result<WorkflowOutcome, WorkflowRunError> {
        // Checked before the lock, so an unknown id creates no folder.
        self.checkpoints.load(run_id)?;
        let lock = self.checkpoints.lock(run_id)?;
        // Read again under the lock: a run that ended meanwhile is seen as it ended.
        let mut state = self.checkpoints.load(run_id)?;
        if state.fingerprint != state::fingerprint(self.workflow.source.text()) {
            return Err(WorkflowRunError::Changed {
                run_id: run_id.to_string(),
                file: state.file.clone(),
            });
        }
        state.inputs = self
            .inputs(std::mem::take(&mut state.inputs))
            .map_err(|error| WorkflowRunError::Checkpoint {
                path: self.checkpoints.path(run_id),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, error.to_string()),
            })?;
        if state.status == RunStatus::Finished
            && let Some(outputs) = state.outputs.clone()
        {
            return Ok(WorkflowOutcome {
                run_id: state.run_id.clone(),
                outputs,
                steps_run: 0,
                steps_resumed: state.steps.len(),
                checkpoint: self.checkpoints.path(run_id),
            });
        }
        state.status = RunStatus::Running;
        self.execute(state, lock).await
    }

    /// Runs the steps of `state` while holding the run's `_lock`.
    async fn execute(
        &self,
        state: RunState,
        _lock: RunLock,
    ) -> Result<WorkflowOutcome, WorkflowRunError> {
        let run_id = state.run_id.clone();
        let resumed = state.steps.len();
        let _ = self.events.send(WorkflowEvent::Started {
            run_id: run_id.clone(),
            resumed,
        });
        let inputs = Value::Object(state.inputs.clone());
        let exec = steps::Exec {
            runner: self,
            env: template::environment(),
            inputs,
            state: Arc::new(Mutex::new(state)),
            ran: AtomicUsize::new(0),
            restored: AtomicUsize::new(0),
        };
        let mut frame = steps::Frame::default();
        let result = exec.run_steps(&self.workflow.steps, &mut frame).await;
        let outputs = match result {
            Ok(()) => self.outputs(&exec, &frame),
            Err(error) => Err(error),
        };
        let mut state = exec.state.lock().await;
        match outputs {
            Ok(outputs) => {
                state.status = RunStatus::Finished;
                state.outputs = Some(outputs.clone());
                self.checkpoints.save(&state)?;
                let _ = self.events.send(WorkflowEvent::Finished {
                    outputs: outputs.clone(),
                });
                Ok(WorkflowOutcome {
                    run_id: run_id.clone(),
                    outputs,
                    steps_run: exec.ran.load(Ordering::Relaxed),
                    steps_resumed: exec.restored.load(Ordering::Relaxed),
                    checkpoint: self.checkpoints.path(&run_id),
                })
            }
            Err(error) => {
                state.status = RunStatus::Failed {
                    message: error.to_string(),
                };
                // The run's own error says more than a failure to record it.
                let _ = self.checkpoints.save(&state);
                Err(error)
            }
        }
    }

    fn outputs(
        &self,
        exec: &steps::Exec<'_>,
        frame: &steps::Frame,
    ) -> Result<Map<String, Value>, WorkflowRunError> {
        let context = exec.context(frame);
        let mut outputs = Map::new();
        for output in &self.workflow.outputs {
            let value = template::evaluate(&exec.env, &output.template.text, Mode::Text, &context)
                .map_err(|message| WorkflowRunError::Output {
                    name: output.name.clone(),
                    message,
                })?;
            outputs.insert(output.name.clone(), value);
        }
        Ok(outputs)
    }
}

/// A run id: sortable by start time, unique.
fn new_run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let unique = Uuid::new_v4().simple().to_string();
    format!("{now}-{}", &unique[..8])
}
