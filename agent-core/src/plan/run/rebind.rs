//! A run restored from a checkpoint, bound to the agent that continues it: the
//! checkpoint supplies the run's progress, the live agent its configuration.
//!
//! A checkpoint is a file anyone with write access to the folder can edit, so nothing in
//! it may widen what the run is allowed to do: the tool specs (and with them which calls
//! need approval), the step schema, the system message, the limits and the sampling all
//! come from the live agent, and calls the file records as approved are put to approval
//! again.

use agentry_prompts::{Guard, Role};

use super::{AgentRun, Phase, Prepared, RunConfig, RunError, prompt};

/// The untrusted source a resumed run notes: its transcript came from a file.
pub(crate) const RESUMED_FROM: &str = "the checkpoint the run was resumed from";

impl AgentRun {
    /// Replaces the run's configuration with `live` (prepared as `prepared`, with the
    /// run's templates) and keeps its progress: messages after the system message,
    /// counters, observations, the pending action. The system message and the step schema
    /// are those of `live`; calls waiting to run (approved in the checkpoint) or already
    /// approved in a pending approval go through `live`'s approval needs again.
    ///
    /// # Errors
    /// [`RunError::InvalidConfig`] when the run's first message is not its system
    /// message; a template that fails to render or a fence marker that is not valid.
    pub(crate) fn rebind(&mut self, live: RunConfig, prepared: &Prepared) -> Result<(), RunError> {
        let guard = Guard::from_marker(&self.marker)?;
        let system = prompt::with_guard_notice(
            &self.templates,
            &prepared.system_head,
            prepared.guarded(),
            &guard,
        )?;
        let Some(first) = self.messages.first_mut().filter(|m| m.role == Role::System) else {
            return Err(RunError::InvalidConfig {
                reason: "the checkpoint's first message is not the system message".into(),
            });
        };
        first.content = system;
        self.step_schema = prepared.step_schema.clone();
        self.answer_validator = Some(prepared.answer_validator.clone());
        self.native_tools = prepared.native_tools.clone();
        self.config = live;
        // Cached results answer repeated calls without running them: only calls of tools
        // the live agent declares idempotent and free of side effects (no approval, no
        // writes, network or processes) may be answered from the file; a cached "result"
        // of a side-effecting tool would stand in for running it.
        let tools = &self.config.tools;
        self.answered_calls.retain(|answered| {
            tools.iter().any(|spec| {
                spec.name == answered.tool()
                    && spec.idempotent
                    && !spec.needs_approval
                    && spec.side_effects().is_empty()
            })
        });
        // The transcript after the system message came from the file: untrusted text,
        // whatever the file says about where its text came from. Any progress counts:
        // steps, observations, cached results or turns beyond the task.
        if self.steps > 0
            || !self.observations.is_empty()
            || !self.answered_calls.is_empty()
            || self.messages.len() > 2
        {
            self.note_source(RESUMED_FROM.to_owned());
        }
        self.rebind_pending()
    }

    /// Makes the pending action the live configuration's: calls that the checkpoint says
    /// were approved go back through approval, in their original order; a pending
    /// strategy request takes the live strategy, answer schema and sampling; a pending
    /// episode is stored only if the live agent stores episodes.
    fn rebind_pending(&mut self) -> Result<(), RunError> {
        let (calls, denied) = match std::mem::replace(&mut self.phase, Phase::Generate) {
            Phase::CallTools { calls, denied } => (calls, denied),
            Phase::Approve {
                waiting,
                rest,
                mut approved,
                denied,
                ..
            } => {
                approved.push(waiting);
                approved.extend(rest);
                (approved, denied)
            }
            Phase::Solve {
                mut request,
                fallback,
            } => {
                // The prompt is progress (the task and what the tools said); how it is
                // solved is the live agent's.
                request.strategy = self.config.strategy.clone();
                request.answer_schema = self.config.answer_schema.clone();
                request.sampling = self.config.sampling.clone();
                self.phase = Phase::Solve { request, fallback };
                return Ok(());
            }
            Phase::StoreEpisode { outcome, .. } if !self.config.store_episode => {
                self.end(outcome);
                return Ok(());
            }
            other => {
                self.phase = other;
                return Ok(());
            }
        };
        self.route(calls, Vec::new(), denied, Vec::new())
    }
}
