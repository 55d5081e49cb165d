//! Answers derived with a reasoning strategy: alone (an agent without tools) or again
//! after a ReAct run with tools.

use std::borrow::Cow;
use std::time::Instant;

use agentry_memory::MemoryKind;
use agentry_prompts::Prompt as Sections;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Value, json};
use uuid::Uuid;

use super::driver::EPISODE_IMPORTANCE;
use super::{Agent, AgentError, AgentOutput};
use crate::model::{ModelInput, Usage};
use crate::plan::run::{AgentEvent, AgentRun, RunOutcome, StopReason};
use crate::plan::strategy::{Solution, SolveOptions, TraceEvent};

/// A `T` together with the JSON it was read from (the outcome records answers as JSON,
/// and `T` need not be `Serialize`). Its schema is `T`'s.
struct Captured<T> {
    value: Value,
    typed: T,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Captured<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let typed = serde_json::from_value(value.clone()).map_err(D::Error::custom)?;
        Ok(Self { value, typed })
    }
}

impl<T: JsonSchema> JsonSchema for Captured<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }

    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// Text the tools gave, as `(tool name, observation)`, gathered while driving.
pub(super) type Observations = Vec<(String, String)>;

/// Token counts of a strategy's requests (first sample of each request).
fn strategy_usage<T>(solution: &Solution<T>) -> Usage {
    let mut total = Usage::default();
    for event in &solution.trace.events {
        if let TraceEvent::Completion {
            index: 0, usage, ..
        } = event
        {
            total.prompt_tokens += usage.prompt_tokens;
            total.cached_tokens += usage.cached_tokens;
            total.evaluated_tokens += usage.evaluated_tokens;
            total.completion_tokens += usage.completion_tokens;
        }
    }
    total
}

fn add_usage(total: &mut Usage, more: Usage) {
    total.prompt_tokens += more.prompt_tokens;
    total.cached_tokens += more.cached_tokens;
    total.evaluated_tokens += more.evaluated_tokens;
    total.completion_tokens += more.completion_tokens;
}

impl Agent {
    /// The prompt a strategy solves: role, instructions, the untrusted `(source, text)`
    /// items (fenced by a fresh guard), and the task.
    fn answer_prompt(
        &self,
        task: &str,
        untrusted: &[(String, String)],
    ) -> Result<ModelInput, AgentError> {
        let mut sections = Sections::new()
            .role(self.role.clone())
            .instructions(self.instructions.iter().cloned())
            .input(task);
        for (source, text) in untrusted {
            sections = sections.untrusted(source.clone(), text.clone());
        }
        Ok(ModelInput::Messages(super::checked_messages(
            sections.render(&self.templates)?,
        )))
    }

    fn solve_options(&self) -> SolveOptions {
        SolveOptions {
            sampling: self.sampling.clone(),
            templates: (*self.templates).clone(),
            answer_schema: self.answer_schema.clone(),
            ..SolveOptions::default()
        }
    }

    /// [`Agent::run`] for an agent without tools and with a reasoning strategy: recall,
    /// then the strategy on role, instructions, memories and task; events `Recall`,
    /// `Answer` and `Stopped` (or `Error` and `Stopped`), and the episode.
    pub(super) async fn solve_alone<T>(&self, task: String) -> Result<AgentOutput<T>, AgentError>
    where
        T: DeserializeOwned + JsonSchema + Send,
    {
        if task.trim().is_empty() {
            return Err(AgentError::InvalidConfig {
                reason: "the task is empty".into(),
            });
        }
        let started = Instant::now();
        let run_id = Uuid::new_v4();
        let recalled = match self.recall_top_k {
            Some(top_k) => self.recall(&task, top_k).await?,
            None => Vec::new(),
        };
        if !recalled.is_empty() {
            self.emit(&[AgentEvent::Recall {
                step: 1,
                items: recalled.clone(),
            }])?;
        }
        let untrusted: Vec<(String, String)> = recalled
            .iter()
            .map(|item| (format!("memory:{}", item.source), item.text.clone()))
            .collect();
        let prompt = self.answer_prompt(&task, &untrusted)?;
        let solution = match self
            .strategy
            .solve::<Captured<T>>(self.model.as_ref(), prompt, &self.solve_options())
            .await
        {
            Ok(solution) => solution,
            Err(error) => {
                let message = format!("the {} strategy failed: {error}", self.strategy.name());
                self.emit(&[
                    AgentEvent::Error {
                        message: message.clone(),
                    },
                    AgentEvent::Stopped {
                        reason: StopReason::Failed { message },
                    },
                ])?;
                return Err(error.into());
            }
        };
        let usage = strategy_usage(&solution);
        let value = solution.answer.value.clone();
        let outcome = RunOutcome {
            answer: Some(value.clone()),
            stop: StopReason::Answered,
            steps: solution.trace.model_calls,
            tool_calls: 0,
            usage,
            tools_used: Vec::new(),
            elapsed: started.elapsed(),
        };
        if self.store_episodes {
            self.store_episode(run_id, &task, &outcome).await?;
        }
        self.emit(&[
            AgentEvent::Answer { value },
            AgentEvent::Stopped {
                reason: StopReason::Answered,
            },
        ])?;
        Ok(AgentOutput {
            answer: solution.answer.typed,
            outcome,
            run_id,
            step_usage: Vec::new(),
            reasoning: solution.reasoning,
        })
    }

    /// After a ReAct run with tools has answered: derives the answer again with the
    /// strategy from the task and the observations (fenced), replaces the outcome's
    /// answer, adds the strategy's usage, and stores the episode.
    pub(super) async fn rederive<T>(
        &self,
        run: &AgentRun,
        mut outcome: RunOutcome,
        step_usage: Vec<Usage>,
        observations: &Observations,
    ) -> Result<AgentOutput<T>, AgentError>
    where
        T: DeserializeOwned + JsonSchema + Send,
    {
        let task = run.config().task.clone();
        let untrusted: Vec<(String, String)> = observations
            .iter()
            .map(|(tool, text)| (format!("tool:{tool}"), text.clone()))
            .collect();
        let prompt = self.answer_prompt(&task, &untrusted)?;
        let solution = self
            .strategy
            .solve::<Captured<T>>(self.model.as_ref(), prompt, &self.solve_options())
            .await?;
        add_usage(&mut outcome.usage, strategy_usage(&solution));
        outcome.answer = Some(solution.answer.value.clone());
        if self.store_episodes {
            self.store_episode(run.id(), &task, &outcome).await?;
        }
        Ok(AgentOutput {
            answer: solution.answer.typed,
            outcome,
            run_id: run.id(),
            step_usage,
            reasoning: solution.reasoning,
        })
    }

    /// Stores an episode as the run itself would: the same text and metadata.
    async fn store_episode(
        &self,
        run_id: Uuid,
        task: &str,
        outcome: &RunOutcome,
    ) -> Result<(), AgentError> {
        let Some(memory) = &self.memory else {
            return Ok(());
        };
        let answer = outcome.answer.clone().unwrap_or(Value::Null);
        let answer_text = match &answer {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let tools = if outcome.tools_used.is_empty() {
            "none".to_owned()
        } else {
            outcome.tools_used.join(", ")
        };
        let text = format!("Task: {task}\nAnswer: {answer_text}\nTools used: {tools}");
        let metadata = json!({
            "kind": "episodic",
            "run_id": run_id.to_string(),
            "task": task,
            "answer": answer,
            "tools_used": outcome.tools_used,
            "steps": outcome.steps,
            "strategy": self.strategy.name(),
        });
        memory
            .remember(&text, MemoryKind::Episodic, metadata, EPISODE_IMPORTANCE)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::schema_of;

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[test]
    fn a_captured_answer_keeps_its_json_and_its_type() {
        let captured: Captured<Point> =
            serde_json::from_str(r#"{"x": 1, "y": -2}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(captured.typed, Point { x: 1, y: -2 });
        assert_eq!(captured.value, json!({"x": 1, "y": -2}));
        assert_eq!(schema_of::<Captured<Point>>(), schema_of::<Point>());
        assert!(serde_json::from_str::<Captured<Point>>(r#"{"x": "one"}"#).is_err());
    }
}
