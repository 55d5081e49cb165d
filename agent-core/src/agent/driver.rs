//! Driving a run: [`Agent::start`], [`Agent::advance`], [`Agent::step`],
//! [`Agent::finish`], [`Agent::resume`] and [`Agent::run`], and how each action is
//! performed.

use std::sync::Arc;
use std::time::Instant;

use agentry_memory::{Filter, MemoryKind};
use agentry_tools::{Approval, HoldReason, ToolCall};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Agent, AgentError, AgentOutput, Pause, PendingApproval};
use crate::model::{Completion, GenerateRequest, ModelError, StreamEvent, Usage};
use crate::parse::schema_of;
use crate::plan::run::{
    Action, AgentEvent, AgentRun, ApprovalDecision, Input, Prepared, Recollection, RunConfig,
    SolveRequest, Solved,
};
use crate::plan::strategy::SolveOptions;

/// Importance of a stored episode (0 to 1).
pub(super) const EPISODE_IMPORTANCE: f32 = 0.5;
/// Run preparations an agent keeps (one per answer type, in practice); the oldest goes
/// first.
const PREPARED_CAPACITY: usize = 16;

impl Agent {
    /// A new run of `task` whose final answer is a `T` (its JSON Schema,
    /// [`schema_of::<T>()`](crate::parse::schema_of), or the builder's
    /// [`answer_schema`](super::AgentBuilder::answer_schema), constrains the answer). Nothing is
    /// performed yet: drive it with [`Agent::advance`], [`Agent::step`] or
    /// [`Agent::finish`].
    ///
    /// What does not depend on the task (the step schema, the compiled answer schema, the
    /// system message up to the guard notice) is prepared by the first run of each answer
    /// schema and reused by the next ones.
    ///
    /// # Errors
    /// [`AgentError::Run`] for an empty task or a configuration the run refuses.
    pub fn start<T: JsonSchema>(&self, task: impl Into<String>) -> Result<AgentRun, AgentError> {
        let schema = self.answer_schema.clone().unwrap_or_else(schema_of::<T>);
        let config = self.run_config(task.into(), schema);
        let prepared = self.prepare(&config)?;
        Ok(AgentRun::prepared(
            config,
            self.templates.clone(),
            &prepared,
        )?)
    }

    /// The preparation of runs of `config`: the one made for an earlier run of the same
    /// configuration (task aside), or a new one, kept for the next runs.
    fn prepare(&self, config: &RunConfig) -> Result<Arc<Prepared>, AgentError> {
        let cache = || {
            self.prepared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(found) = cache().iter().find(|prepared| prepared.fits(config)) {
            return Ok(found.clone());
        }
        let prepared = Arc::new(Prepared::new(config, &self.templates)?);
        let mut cache = cache();
        if cache.len() >= PREPARED_CAPACITY {
            cache.remove(0);
        }
        cache.push(prepared.clone());
        Ok(prepared)
    }

    /// A run restored from its checkpoint (the text of `DIR/<run id>.json`, or
    /// `run.to_json()`), rendering with this agent's templates. It continues from the
    /// step it was saved at: drive it with [`Agent::advance`], [`Agent::step`] or
    /// [`Agent::finish`].
    ///
    /// The checkpoint supplies only the run's progress (its task, answer schema unless
    /// this agent sets one, messages, counters and pending action). Everything that
    /// decides what the run may do comes from this agent, never from the file: the tool
    /// specs the policy permits (and so which calls need approval), the system message and
    /// step schema made from them, the limits and the sampling. Calls the checkpoint holds
    /// as approved are put to approval again under this agent's tools.
    ///
    /// # Errors
    /// [`AgentError::Run`] when the text is not a checkpoint, or its task or answer schema
    /// make no valid run with this agent's configuration.
    pub fn resume(&self, checkpoint: &str) -> Result<AgentRun, AgentError> {
        let mut run = AgentRun::resume(checkpoint, self.templates.clone())?;
        let saved = run.config();
        let schema = self
            .answer_schema
            .clone()
            .unwrap_or_else(|| saved.answer_schema.clone());
        let live = self.run_config(saved.task.clone(), schema);
        let prepared = self.prepare(&live)?;
        run.rebind(live, &prepared)?;
        Ok(run)
    }

    /// Performs the run's actions until it ends ([`Pause::Done`]) or a call waits for
    /// approval ([`Pause::Approval`]: feed `Input::Approval(..)` to the run and call
    /// again). Never returns [`Pause::Stepped`].
    ///
    /// # Errors
    /// A model or memory failure (the run is then ended with `StopReason::Failed`), a
    /// transcript or checkpoint that cannot be written, or input the run refuses.
    pub async fn advance(&self, run: &mut AgentRun) -> Result<Pause, AgentError> {
        self.drive(run, false, &mut Vec::new()).await
    }

    /// As [`Agent::advance`], but also stops after each model step with
    /// [`Pause::Stepped`] (the run's checkpoint is saved by then).
    ///
    /// # Errors
    /// As [`Agent::advance`].
    pub async fn step(&self, run: &mut AgentRun) -> Result<Pause, AgentError> {
        self.drive(run, true, &mut Vec::new()).await
    }

    /// Drives `run` to its end and returns its typed answer.
    ///
    /// A call that needs approval is put to the policy's [`Approver`]; without one the
    /// run is returned paused in [`AgentError::ApprovalNeeded`]. A reasoning strategy's
    /// answer is one of the run's actions (see [`Agent::run`]).
    ///
    /// # Errors
    /// [`AgentError::Stopped`] when the run ends without an answer (its `reason` says
    /// why), [`AgentError::ApprovalNeeded`], and the errors of [`Agent::advance`].
    pub async fn finish<T>(&self, mut run: AgentRun) -> Result<AgentOutput<T>, AgentError>
    where
        T: DeserializeOwned + JsonSchema + Send,
    {
        let mut step_usage = Vec::new();
        let outcome = loop {
            match self.drive(&mut run, false, &mut step_usage).await? {
                Pause::Done(outcome) => break outcome,
                Pause::Approval { call, reason } => match self.decide(&call, &reason).await {
                    Some(decision) => run.feed(Input::Approval(decision))?,
                    None => {
                        return Err(AgentError::ApprovalNeeded(Box::new(PendingApproval {
                            call,
                            reason,
                            run,
                        })));
                    }
                },
                Pause::Stepped { .. } => {}
            }
        };
        let Some(answer) = outcome.answer.clone() else {
            return Err(AgentError::Stopped {
                reason: outcome.stop.clone(),
                outcome: Box::new(outcome),
            });
        };
        Ok(AgentOutput {
            answer: typed(answer)?,
            reasoning: outcome.reasoning.clone(),
            outcome,
            run_id: run.id(),
            step_usage,
        })
    }

    /// Runs `task` to a typed answer.
    ///
    /// - With tools (those the policy permits), a ReAct run: each step is constrained to
    ///   a thought and a tool call or the final answer; tools run, results come back
    ///   fenced, memories are recalled before each step. With a strategy other than
    ///   [`Strategy::Direct`](crate::plan::strategy::Strategy::Direct), once ReAct has
    ///   answered, the final answer is derived again with that strategy from the task and
    ///   the observations the tools gave (fenced as untrusted), and replaces ReAct's answer
    ///   (the episode then records it).
    /// - Without tools and with a strategy other than `Direct`, no ReAct loop: the
    ///   strategy solves a prompt of the role, instructions, recalled memories (fenced)
    ///   and the task. Its requests are not streamed.
    /// - Without tools and with `Direct`, a ReAct run whose only move is the answer.
    ///
    /// All three are one [`AgentRun`]: the run decides, this only performs its actions.
    ///
    /// An answered run is stored as an episode when memory is set (see
    /// [`AgentBuilder::store_episodes`](super::AgentBuilder::store_episodes)).
    ///
    /// # Errors
    /// As [`Agent::finish`]; also [`AgentError::Strategy`] when a strategy finds no
    /// answer.
    pub async fn run<T>(&self, task: impl Into<String>) -> Result<AgentOutput<T>, AgentError>
    where
        T: DeserializeOwned + JsonSchema + Send,
    {
        let run = self.start::<T>(task)?;
        self.finish(run).await
    }

    /// The configuration of a new run of `task`: the agent's settings with the task, the
    /// tools the policy permits and the answer schema.
    fn run_config(&self, task: String, answer_schema: Value) -> RunConfig {
        RunConfig {
            task,
            tools: self.tool_specs(),
            approvals: self.policy.approvals.clone(),
            answer_schema,
            ..self.settings.clone()
        }
    }

    /// The loop behind [`Agent::advance`], [`Agent::step`] and [`Agent::finish`]; appends
    /// each model step's usage to `step_usage`.
    async fn drive(
        &self,
        run: &mut AgentRun,
        stop_after_step: bool,
        step_usage: &mut Vec<Usage>,
    ) -> Result<Pause, AgentError> {
        loop {
            let started = Instant::now();
            let mut stepped = None;
            match run.next_action() {
                Action::Done(outcome) => {
                    self.publish(run)?;
                    self.save_checkpoint(run).await?;
                    return Ok(Pause::Done(outcome));
                }
                Action::AwaitApproval { call, reason } => {
                    self.publish(run)?;
                    self.save_checkpoint(run).await?;
                    return Ok(Pause::Approval { call, reason });
                }
                Action::Recall { query, top_k } => match self.recall(&query, top_k).await {
                    Ok(items) => run.feed(Input::Recalled(items))?,
                    Err(error) => return Err(self.failed(run, error).await),
                },
                Action::Generate(request) => match self.generate(request).await {
                    Ok(completion) => {
                        let usage = completion.usage;
                        step_usage.push(usage);
                        run.feed(Input::Generated(completion))?;
                        stepped = Some(Pause::Stepped {
                            step: run.step(),
                            usage,
                        });
                    }
                    Err(error) => return Err(self.failed(run, error).await),
                },
                Action::CallTools { calls } => {
                    let results = self
                        .tools
                        .call_all_approved(&calls, &self.policy, self.settings.max_calls_per_step)
                        .await;
                    run.feed(Input::ToolResults(results))?;
                }
                Action::Solve(request) => match self.solve(request).await {
                    Ok(solved) => run.feed(Input::Solved(solved))?,
                    Err(error) => return Err(self.failed(run, error).await),
                },
                Action::StoreEpisode { text, metadata } => {
                    if let Some(memory) = &self.memory
                        && let Err(error) = memory
                            .remember(&text, MemoryKind::Episodic, metadata, EPISODE_IMPORTANCE)
                            .await
                    {
                        return Err(self.failed(run, error.into()).await);
                    }
                    run.feed(Input::EpisodeStored)?;
                }
            }
            run.feed(Input::Elapsed(started.elapsed()))?;
            self.publish(run)?;
            if let Some(pause) = stepped {
                self.save_checkpoint(run).await?;
                if stop_after_step {
                    return Ok(pause);
                }
            }
        }
    }

    /// Streams `request`, publishing each piece of text of the first sample as an
    /// [`AgentEvent::Token`], and returns the first completion.
    pub(super) async fn generate(
        &self,
        request: GenerateRequest,
    ) -> Result<Completion, AgentError> {
        let mut stream = self.model.stream(request).await?;
        while let Some(event) = stream.next_event().await {
            match event? {
                StreamEvent::Token { index: 0, text } => {
                    // No receiver is not an error: nobody listens.
                    let _ = self.events.send(AgentEvent::Token { text });
                }
                StreamEvent::Token { .. } => {}
                StreamEvent::Done(completions) => {
                    return completions
                        .into_iter()
                        .next()
                        .ok_or(AgentError::NoCompletion);
                }
            }
        }
        Err(ModelError::WorkerGone.into())
    }

    /// Long-term memories (conversation turns excluded) and document chunks for `query`,
    /// `top_k` of each, memories first.
    pub(super) async fn recall(
        &self,
        query: &str,
        top_k: usize,
    ) -> Result<Vec<Recollection>, AgentError> {
        let mut items = Vec::new();
        if let Some(memory) = &self.memory {
            let filter = Filter {
                must_not: MemoryKind::Conversation.filter().must,
                ..Filter::default()
            };
            for hit in memory.recall(query, top_k, Some(filter), None).await? {
                let source = hit
                    .item
                    .payload
                    .get("source")
                    .and_then(Value::as_str)
                    .map_or_else(|| hit.item.kind.as_str().to_owned(), str::to_owned);
                items.push(Recollection::new(hit.item.text, source, hit.score));
            }
        }
        if let Some(documents) = &self.documents {
            for chunk in documents.retrieve(query, top_k).await? {
                items.push(Recollection::new(chunk.text, chunk.source, chunk.score));
            }
        }
        Ok(items)
    }

    /// The policy's approver's decision on `call`, held for `reason`; `None` without an
    /// approver.
    async fn decide(&self, call: &ToolCall, reason: &HoldReason) -> Option<ApprovalDecision> {
        let approver = self.policy.approver.as_ref()?;
        let Some(spec) = self.tools.get(&call.name).map(|tool| tool.spec()) else {
            return Some(ApprovalDecision::Deny {
                reason: format!("there is no tool named `{}`", call.name),
            });
        };
        Some(match approver.approve(call, &spec, reason).await {
            Approval::Approve => ApprovalDecision::Approve,
            Approval::Deny(reason) => ApprovalDecision::Deny { reason },
        })
    }

    /// Lets the request's strategy solve it on the agent's model and templates.
    async fn solve(&self, request: SolveRequest) -> Result<Solved, AgentError> {
        let options = SolveOptions {
            sampling: request.sampling,
            templates: (*self.templates).clone(),
            answer_schema: Some(request.answer_schema),
            ..SolveOptions::default()
        };
        let solution = request
            .strategy
            .solve::<Value>(self.model.as_ref(), request.prompt, &options)
            .await?;
        Ok(Solved {
            usage: solution.usage(),
            model_calls: solution.trace.model_calls,
            reasoning: solution.reasoning,
            answer: solution.answer,
        })
    }

    /// Ends `run` as failed because of `error`, publishes and saves it, and hands the
    /// error back. Publishing and saving are best effort here: the first error wins.
    async fn failed(&self, run: &mut AgentRun, error: AgentError) -> AgentError {
        run.fail(error.to_string());
        if let Err(publish) = self.publish(run) {
            tracing::warn!("could not publish the events of a failed run: {publish}");
        }
        if let Err(save) = self.save_checkpoint(run).await {
            tracing::warn!("could not save the checkpoint of a failed run: {save}");
        }
        error
    }

    /// Sends the run's new events to the subscribers and the transcript.
    fn publish(&self, run: &mut AgentRun) -> Result<(), AgentError> {
        let events = run.drain_events();
        self.emit(&events)
    }

    /// Sends `events` to the subscribers and the transcript.
    pub(super) fn emit(&self, events: &[AgentEvent]) -> Result<(), AgentError> {
        if events.is_empty() {
            return Ok(());
        }
        if let Some(transcript) = &self.transcript {
            let mut writer = transcript
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            writer.write_all(events)?;
            writer.flush()?;
        }
        // Without a receiver a send fails anyway: spare the copies.
        if self.events.receiver_count() > 0 {
            for event in events {
                let _ = self.events.send(event.clone());
            }
        }
        Ok(())
    }

    /// Hands the run to the checkpoint sink (a folder or the caller's), when one is set.
    pub(super) async fn save_checkpoint(&self, run: &AgentRun) -> Result<(), AgentError> {
        match &self.checkpoints {
            Some(sink) => sink.save(run).await,
            None => Ok(()),
        }
    }
}

/// Converts a JSON answer to the requested type.
pub(super) fn typed<T: DeserializeOwned>(answer: Value) -> Result<T, AgentError> {
    serde_json::from_value(answer).map_err(|error| AgentError::AnswerType {
        detail: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_json_answer_converts_or_says_why_not() {
        assert_eq!(typed::<u32>(json!(7)).ok(), Some(7));
        match typed::<u32>(json!("seven")) {
            Err(AgentError::AnswerType { detail }) => assert!(detail.contains("string")),
            other => panic!("expected an answer type error, got {other:?}"),
        }
    }
}
