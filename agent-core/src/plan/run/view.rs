//! What a run can tell about itself (ids, counters, messages, outcome) and how it is saved
//! and restored: the run is its own checkpoint.

use std::sync::Arc;
use std::time::Duration;

use agentry_prompts::{ChatMessage, Guard, Templates};
use serde_json::Value;
use uuid::Uuid;

use super::{AgentEvent, AgentRun, Phase, RunConfig, RunError, RunOutcome};
use crate::model::{SessionId, Usage};

impl AgentRun {
    /// The events recorded and not drained yet.
    pub fn events(&self) -> &[AgentEvent] {
        &self.events
    }

    /// The run's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The model session of every request: the run id, so the KV cache carries over.
    pub fn session(&self) -> SessionId {
        SessionId::new(self.id.to_string())
    }

    /// The configuration.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The JSON Schema each step is constrained to.
    pub fn step_schema(&self) -> &Value {
        self.step_schema.as_ref()
    }

    /// The fence marker of this run's guard (stable for the whole run).
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// Model steps taken so far; the next generation is step `step() + 1`.
    pub fn step(&self) -> usize {
        self.steps
    }

    /// The messages sent so far: the system message, then a user turn and the model's
    /// reply per step. Only grows.
    pub fn messages(&self) -> &[ChatMessage] {
        &self.messages
    }

    /// Token counts summed over the steps taken.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Wall time reported so far.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Time left before the deadline, `None` without one; a driver can use it as the
    /// timeout of the next action.
    pub fn time_left(&self) -> Option<Duration> {
        self.config
            .limits
            .deadline
            .map(|deadline| deadline.saturating_sub(self.elapsed))
    }

    /// Tool calls the model asked for so far.
    pub fn tool_calls(&self) -> usize {
        self.tool_calls
    }

    /// Names of the tools run so far, in order of first use.
    pub fn tools_used(&self) -> &[String] {
        &self.tools_used
    }

    /// How the run ended, once it has.
    pub fn outcome(&self) -> Option<&RunOutcome> {
        match &self.phase {
            Phase::Done { outcome } => Some(outcome),
            _ => None,
        }
    }

    /// Whether the run has ended.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done { .. })
    }

    /// The run as a JSON checkpoint.
    ///
    /// # Errors
    /// Serialisation failed (not expected: every part of the run is plain data).
    pub fn to_json(&self) -> Result<String, RunError> {
        Ok(serde_json::to_string(self)?)
    }

    /// A run restored from [`AgentRun::to_json`], with the built-in templates.
    ///
    /// # Errors
    /// The text is not a checkpoint, or its fence marker is not valid.
    pub fn from_json(json: &str) -> Result<Self, RunError> {
        Self::resume(json, Arc::new(Templates::new()))
    }

    /// A run restored from [`AgentRun::to_json`], rendering with `templates`.
    ///
    /// # Errors
    /// As [`AgentRun::from_json`].
    pub fn resume(json: &str, templates: Arc<Templates>) -> Result<Self, RunError> {
        let mut run: Self = serde_json::from_str(json)?;
        Guard::from_marker(&run.marker)?;
        run.templates = templates;
        Ok(run)
    }

    /// Replaces the templates (e.g. after deserialising the run as part of a larger
    /// checkpoint, which leaves the built-ins).
    pub fn set_templates(&mut self, templates: Arc<Templates>) {
        self.templates = templates;
    }
}
