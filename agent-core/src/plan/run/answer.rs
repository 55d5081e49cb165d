//! How a run reaches its final answer: the ReAct step's own, or a reasoning strategy's
//! ([`Action::Solve`]), then the episode and the end.

use serde_json::{Value, json};

use super::{
    AgentEvent, AgentRun, Phase, Recollection, RunError, RunOutcome, SolveRequest, Solved,
    StopReason, prompt,
};

impl AgentRun {
    /// The ReAct steps answered: the final answer, or, when a strategy derives it again,
    /// the strategy's turn with the task and every tool observation (fenced as untrusted).
    pub(super) fn answered(&mut self, answer: Value) -> Result<(), RunError> {
        if self.config.rederives() {
            let untrusted: Vec<(String, String)> = self
                .observations
                .iter()
                .map(|(tool, text)| (format!("tool:{tool}"), text.clone()))
                .collect();
            return self.solve(&untrusted, Some(answer));
        }
        self.final_answer(answer);
        Ok(())
    }

    /// A strategy solving alone got its memories: the strategy's turn, with them fenced.
    pub(super) fn recalled_for_solving(
        &mut self,
        items: Vec<Recollection>,
    ) -> Result<(), RunError> {
        let untrusted: Vec<(String, String)> = items
            .iter()
            .map(|item| (format!("memory:{}", item.source), item.text.clone()))
            .collect();
        self.solve(&untrusted, None)?;
        self.note_recalled(&items);
        if !items.is_empty() {
            self.events.push(AgentEvent::Recall { step: 1, items });
        }
        Ok(())
    }

    /// Waits for the strategy to solve the prompt of role, instructions, `untrusted` and the
    /// task; `fallback` is the ReAct answer, kept if the run is stopped meanwhile. Renders
    /// before changing anything.
    pub(super) fn solve(
        &mut self,
        untrusted: &[(String, String)],
        fallback: Option<Value>,
    ) -> Result<(), RunError> {
        let prompt = prompt::solve_prompt(&self.templates, &self.config, untrusted)?;
        self.phase = Phase::Solve {
            request: SolveRequest {
                strategy: self.config.strategy.clone(),
                prompt,
                answer_schema: self.config.answer_schema.clone(),
                sampling: self.config.sampling.clone(),
            },
            fallback,
        };
        Ok(())
    }

    /// The strategy's answer: its usage is added; solving alone, its model calls are the
    /// run's steps (after ReAct steps they are not steps).
    pub(super) fn on_solved(&mut self, solved: Solved) -> Result<(), RunError> {
        if let Some(problem) = self.schema_problem(&solved.answer) {
            return Err(RunError::UnfitAnswer {
                detail: format!("{}: {problem}", solved.answer),
            });
        }
        self.add_usage(solved.usage);
        if self.config.solves_alone() {
            self.steps = solved.model_calls;
        }
        self.reasoning = solved.reasoning;
        self.final_answer(solved.answer);
        Ok(())
    }

    /// Records the final answer, then stores the episode (when asked) and ends.
    fn final_answer(&mut self, answer: Value) {
        self.events.push(AgentEvent::Answer {
            value: answer.clone(),
        });
        let outcome = self.outcome_with(Some(answer), StopReason::Answered);
        if self.config.store_episode {
            let (text, metadata) = self.episode(&outcome);
            self.phase = Phase::StoreEpisode {
                outcome,
                text,
                metadata,
            };
        } else {
            self.end(outcome);
        }
    }

    pub(super) fn outcome_with(&self, answer: Option<Value>, stop: StopReason) -> RunOutcome {
        RunOutcome {
            answer,
            stop,
            steps: self.steps,
            uncounted_steps: self.steps - self.counted_steps(),
            tool_calls: self.tool_calls,
            usage: self.usage,
            tools_used: self.tools_used.clone(),
            elapsed: self.elapsed,
            reasoning: self.reasoning.clone(),
        }
    }

    fn episode(&self, outcome: &RunOutcome) -> (String, Value) {
        let answer = outcome.answer.clone().unwrap_or(Value::Null);
        let answer_text = match &answer {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let tools = if self.tools_used.is_empty() {
            "none".to_owned()
        } else {
            self.tools_used.join(", ")
        };
        let text = format!(
            "Task: {}\nAnswer: {answer_text}\nTools used: {tools}",
            self.config.task
        );
        let metadata = json!({
            "kind": "episodic",
            "run_id": self.id.to_string(),
            "task": self.config.task,
            "answer": answer,
            "tools_used": self.tools_used,
            "steps": outcome.steps,
            "strategy": self.config.strategy.name(),
        });
        (text, metadata)
    }
}
