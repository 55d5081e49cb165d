//! The calls of a step: asked for, put to approval, run, and their results observed.

use agentry_tools::{ToolCall, ToolFailure, ToolResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AgentEvent, AgentRun, ApprovalDecision, Input, Phase, RunError, StopReason, prompt};

/// A call of an idempotent tool that succeeded, or failed in a way a retry cannot mend
/// (see [`lasting_failure`]), kept so that the same call is answered from its result
/// instead of being run again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct AnsweredCall {
    /// The arguments, as the model gave them (the tool is the result's `name`).
    arguments: Value,
    /// The result.
    result: ToolResult,
}

impl AnsweredCall {
    /// The tool that was called.
    pub(super) fn tool(&self) -> &str {
        &self.result.name
    }
}

impl AgentRun {
    pub(super) fn request_calls(&mut self, step: usize, calls: Vec<(String, Value)>) {
        self.note_used(&calls);
        let calls: Vec<ToolCall> = calls
            .into_iter()
            .enumerate()
            .map(|(i, (name, args))| ToolCall::new(format!("call-{step}-{}", i + 1), name, args))
            .collect();
        if let Some(limit) = self.config.limits.max_tool_calls
            && self.tool_calls + calls.len() > limit
        {
            self.finish(StopReason::MaxToolCalls { limit });
            return;
        }
        self.tool_calls += calls.len();
        self.events
            .extend(calls.iter().map(|call| AgentEvent::ToolCall {
                step,
                call: call.clone(),
            }));
        let (fresh, repeated) = self.split_repeats(calls);
        let repeated_events: Vec<AgentEvent> = repeated
            .iter()
            .map(|result| AgentEvent::ToolResult {
                step,
                result: result.clone(),
            })
            .collect();
        let routed = if fresh.is_empty() && repeated.iter().any(ToolResult::is_error) {
            self.withhold_failed_repeats(repeated, repeated_events)
        } else if fresh.is_empty() && !repeated.is_empty() {
            self.answer_from_repeats(repeated, repeated_events)
        } else {
            // Repeats in a step with fresh calls are observed with the fresh results.
            self.route(fresh, Vec::new(), repeated, repeated_events)
        };
        if let Err(error) = routed {
            self.fail(error.to_string());
        }
    }

    /// Splits `calls` into the ones to run and the results of those already answered
    /// in this run (an idempotent tool called again with the same arguments), each
    /// result under the id of the call that repeats it.
    fn split_repeats(&self, calls: Vec<ToolCall>) -> (Vec<ToolCall>, Vec<ToolResult>) {
        let mut fresh = Vec::new();
        let mut repeated = Vec::new();
        for call in calls {
            let earlier = self.answered_calls.iter().find(|answered| {
                answered.result.name == call.name && answered.arguments == call.args
            });
            match earlier {
                Some(answered) => repeated.push(ToolResult {
                    call_id: call.id,
                    ..answered.result.clone()
                }),
                None => fresh.push(call),
            }
        }
        (fresh, repeated)
    }

    /// A step that only repeated answered calls: the earlier results go back to the
    /// model with a note, and the repeated tools are withheld from the next step, which
    /// must answer when no other tool is left (small models copy their last call after
    /// its result; the next call the task needs is often another tool's).
    fn answer_from_repeats(
        &mut self,
        repeated: Vec<ToolResult>,
        events: Vec<AgentEvent>,
    ) -> Result<(), RunError> {
        let mut tools: Vec<&str> = Vec::new();
        for result in &repeated {
            if !tools.contains(&result.name.as_str()) {
                tools.push(&result.name);
            }
        }
        let others = self
            .config
            .tools
            .iter()
            .any(|spec| !tools.contains(&spec.name.as_str()));
        self.repeat_steps += 1;
        let note = prompt::repeated_call(&self.templates, &tools, false, others)?;
        if others {
            self.withheld = tools.iter().map(|name| (*name).to_owned()).collect();
        } else {
            self.answer_next = true;
        }
        self.observe_unrun(&repeated, Some(note), events)
    }

    /// A step that only repeated calls, some of which had failed: the earlier results go
    /// back to the model with a note, and the tools whose calls failed are withheld from
    /// the next step, so a small model that copies its last call must do something else.
    fn withhold_failed_repeats(
        &mut self,
        repeated: Vec<ToolResult>,
        events: Vec<AgentEvent>,
    ) -> Result<(), RunError> {
        let mut failed: Vec<&str> = Vec::new();
        for result in repeated.iter().filter(|result| result.is_error()) {
            if !failed.contains(&result.name.as_str()) {
                failed.push(&result.name);
            }
        }
        self.repeat_steps += 1;
        let note = prompt::repeated_call(&self.templates, &failed, true, true)?;
        self.withheld = failed.iter().map(|name| (*name).to_owned()).collect();
        self.observe_unrun(&repeated, Some(note), events)
    }

    /// Observes results of calls that were not run (denied, or repeats answered from
    /// earlier results), with `note` after them: nothing goes to the tools.
    fn observe_unrun(
        &mut self,
        results: &[ToolResult],
        note: Option<String>,
        events: Vec<AgentEvent>,
    ) -> Result<(), RunError> {
        let observations: Vec<String> = results.iter().map(ToolResult::observation).collect();
        let noted: Vec<(String, String)> = named(results, &observations)
            .map(|(tool, text)| (tool.to_owned(), text.to_owned()))
            .collect();
        self.events.extend(events);
        self.observe(noted, note)
    }

    /// The results of idempotent tools among `calls` that a repeat would give again
    /// (successes and lasting failures), kept for later repeats.
    fn idempotent_results(&self, calls: &[ToolCall], results: &[ToolResult]) -> Vec<AnsweredCall> {
        calls
            .iter()
            .zip(results)
            .filter(|(call, result)| {
                result.outcome.as_ref().err().is_none_or(lasting_failure)
                    && self
                        .config
                        .tools
                        .iter()
                        .any(|spec| spec.name == call.name && spec.idempotent)
            })
            .map(|(call, result)| AnsweredCall {
                arguments: call.args.clone(),
                result: result.clone(),
            })
            .collect()
    }

    pub(super) fn on_approval(&mut self, decision: ApprovalDecision) -> Result<(), RunError> {
        let Phase::Approve {
            waiting,
            rest,
            approved,
            denied,
            ..
        } = &self.phase
        else {
            return Err(self.mismatch(&Input::Approval(decision)));
        };
        let (mut approved, mut denied, rest) = (approved.clone(), denied.clone(), rest.clone());
        let mut events = Vec::new();
        match decision {
            ApprovalDecision::Approve => approved.push(waiting.clone()),
            ApprovalDecision::Deny { reason } => {
                let result = ToolResult {
                    call_id: waiting.id.clone(),
                    name: waiting.name.clone(),
                    outcome: Err(ToolFailure::ApprovalDenied {
                        name: waiting.name.clone(),
                        reason,
                    }),
                };
                events.push(AgentEvent::ToolResult {
                    step: self.steps,
                    result: result.clone(),
                });
                denied.push(result);
            }
        }
        self.route(rest, approved, denied, events)
    }

    /// Sends the calls of the current step on: the first one that needs approval waits
    /// for it; once none is left, the approved ones go to the tools, or, when all were
    /// denied, the denials go back to the model. Renders before changing anything.
    pub(super) fn route(
        &mut self,
        rest: Vec<ToolCall>,
        mut approved: Vec<ToolCall>,
        denied: Vec<ToolResult>,
        mut events: Vec<AgentEvent>,
    ) -> Result<(), RunError> {
        let mut rest = rest.into_iter();
        while let Some(call) = rest.next() {
            if let Some(reason) = self.hold(&call) {
                events.push(AgentEvent::ApprovalNeeded {
                    step: self.steps,
                    call: call.clone(),
                    reason: reason.clone(),
                });
                self.events.extend(events);
                self.phase = Phase::Approve {
                    waiting: call,
                    reason,
                    rest: rest.collect(),
                    approved,
                    denied,
                };
                return Ok(());
            }
            approved.push(call);
        }
        if approved.is_empty() {
            let note = self.denied_note(&denied)?;
            return self.observe_unrun(&denied, note, events);
        }
        for call in &approved {
            if !self.tools_used.contains(&call.name) {
                self.tools_used.push(call.name.clone());
            }
        }
        self.events.extend(events);
        self.phase = Phase::CallTools {
            calls: approved,
            denied,
        };
        Ok(())
    }

    pub(super) fn on_results(&mut self, results: Vec<ToolResult>) -> Result<(), RunError> {
        let Phase::CallTools { calls, denied } = &self.phase else {
            return Err(self.mismatch(&Input::ToolResults(results)));
        };
        let denied = denied.clone();
        let ordered = in_call_order(calls, results)?;
        let answered = self.idempotent_results(calls, &ordered);
        let all: Vec<&ToolResult> = denied.iter().chain(&ordered).collect();
        let observations: Vec<String> = all.iter().map(|result| result.observation()).collect();
        let noted: Vec<(String, String)> = named(all.iter().copied(), &observations)
            .map(|(tool, text)| (tool.to_owned(), text.to_owned()))
            .collect();
        let note = self.denied_note(&denied)?;
        self.answered_calls.extend(answered);
        for result in &ordered {
            let untrusted = self
                .config
                .tools
                .iter()
                .any(|spec| spec.name == result.name && spec.output_is_untrusted());
            if untrusted {
                self.note_source(result.name.clone());
                if let Ok(output) = &result.outcome {
                    self.report_signals(&result.name, &output.render());
                }
            }
        }
        let step = self.steps;
        self.events.extend(
            ordered
                .into_iter()
                .map(|result| AgentEvent::ToolResult { step, result }),
        );
        self.observe(noted, note)
    }

    /// The note after refused calls among `results` (`denied_call`): not made, not to
    /// be asked for again, the user's own request to answer; `None` when none was
    /// refused. While untrusted text is in the run, the refused tools are withheld from
    /// the next step.
    fn denied_note(&mut self, results: &[ToolResult]) -> Result<Option<String>, RunError> {
        let mut tools: Vec<&str> = Vec::new();
        for result in results {
            if matches!(result.outcome, Err(ToolFailure::ApprovalDenied { .. }))
                && !tools.contains(&result.name.as_str())
            {
                tools.push(&result.name);
            }
        }
        if tools.is_empty() {
            return Ok(None);
        }
        // Refused while untrusted text is in the run, a call was most likely asked for by
        // that text, and small models ask again at once (qwen2.5-coder-0.5b: three
        // refused writes in a row, each with other arguments): the refused tools sit out
        // the next step. A person's refusal otherwise leaves the next call to them.
        if !self.untrusted.is_empty() {
            self.withheld = tools.iter().map(|name| (*name).to_owned()).collect();
        }
        let note =
            prompt::denied_call(&self.templates, &tools, &self.untrusted, &self.config.task)?;
        Ok(Some(note))
    }
}

/// Whether `failure` would come back from the same call made again: a refusal, invalid
/// arguments or the tool's own error, not a timeout, a panic or a decision on approval.
fn lasting_failure(failure: &ToolFailure) -> bool {
    matches!(
        failure,
        ToolFailure::UnknownTool { .. }
            | ToolFailure::NotAllowed { .. }
            | ToolFailure::CapabilityDenied { .. }
            | ToolFailure::InvalidArguments { .. }
            | ToolFailure::Failed { .. }
    )
}

/// `(tool name, observation)` of each result, `observations` being their texts.
fn named<'a>(
    results: impl IntoIterator<Item = &'a ToolResult>,
    observations: &'a [String],
) -> impl Iterator<Item = (&'a str, &'a str)> {
    results
        .into_iter()
        .zip(observations)
        .map(|(result, observation)| (result.name.as_str(), observation.as_str()))
}

/// `results` in the order of `calls`, when there is exactly one per call.
fn in_call_order(
    calls: &[ToolCall],
    results: Vec<ToolResult>,
) -> Result<Vec<ToolResult>, RunError> {
    let mismatch = |detail: String| Err(RunError::MismatchedResults { detail });
    if results.len() != calls.len() {
        return mismatch(format!(
            "{} results for {} calls",
            results.len(),
            calls.len()
        ));
    }
    let mut slots: Vec<Option<ToolResult>> = vec![None; calls.len()];
    for result in results {
        let slot = calls
            .iter()
            .position(|call| call.id == result.call_id)
            .and_then(|index| slots.get_mut(index));
        match slot {
            None => return mismatch(format!("no pending call has id `{}`", result.call_id)),
            Some(Some(_)) => return mismatch(format!("two results for call `{}`", result.call_id)),
            Some(slot) => *slot = Some(result),
        }
    }
    Ok(slots.into_iter().flatten().collect())
}
