//! Task items: each in its own temporary folder with the real tools and its memories,
//! under the planner or the plain way, scored by the task's checks.

use agentry_core::defaults;
use agentry_core::model::LanguageModel;
use agentry_core::plan::run::{Limits, RunConfig};
use agentry_prompts::ChatMessage;
use agentry_tools::{Approvals, ApprovedCall, ToolResult, ToolSet, ToolSpec};
use async_trait::async_trait;
use serde_json::{Value, json};

use super::Evaluation;
use crate::config::Config;
use crate::drive::{self, Driven, World};
use crate::error::EvalError;
use crate::tasks::{self, Task};
use crate::verdict::Verdict;

impl Evaluation {
    /// One task in its own folder with its tools and memories.
    pub(super) async fn run_task(
        &self,
        model: &dyn LanguageModel,
        config: &Config,
        task: &Task,
    ) -> Result<(Driven, Verdict), EvalError> {
        let setup = tasks::setup(task)?;
        let world = TaskWorld {
            setup: &setup,
            memories: &task.memories,
        };
        let specs: Vec<ToolSpec> = setup
            .registry
            .permitted(&setup.policy)
            .into_iter()
            .cloned()
            .collect();
        let answer_schema = if task.labels.is_empty() {
            json!({"type": "string"})
        } else {
            json!({"type": "string", "enum": task.labels})
        };
        let mut driven = match config {
            Config::Planner | Config::Native => {
                // As `agentry run --approve-all`: the task's tools are pre-approved, and
                // calls with side effects after untrusted text are held (and refused:
                // nobody is there to approve).
                let mut run = RunConfig::new(task.task.clone())
                    .with_role(defaults::ROLE)
                    .with_tools(specs)
                    .with_approvals(
                        Approvals::none()
                            .approve(&ToolSet::All)
                            .act_on_untrusted(&ToolSet::named(task.act_on_untrusted.clone())),
                    )
                    .with_answer_schema(answer_schema)
                    .with_limits(Limits {
                        max_steps: self.task_steps(task),
                        ..Limits::default()
                    })
                    .with_sampling(self.sampling())
                    .with_step_format(Self::step_format(config, model));
                if !task.memories.is_empty() {
                    run = run.with_recall(defaults::RECALL_TOP_K);
                }
                drive::planner(model, run, &world, false).await
            }
            _ => {
                let tools: Vec<Value> = specs
                    .iter()
                    .map(|s| json!({"name": s.name, "description": s.description, "parameters": s.parameters}))
                    .collect();
                let mut system = defaults::ROLE.to_owned();
                if !tools.is_empty() {
                    system.push_str(&format!(
                        "\nYou can use these tools:\n{}\nTo use a tool, reply with only a JSON object: {{\"tool\": \"tool_name\", \"args\": {{...}}}}. When you know the answer, reply with the answer in plain text.",
                        serde_json::to_string_pretty(&tools).unwrap_or_default()
                    ));
                }
                if !task.labels.is_empty() {
                    system.push_str(&format!(
                        "\nAnswer with exactly one of: {}.",
                        task.labels.join(", ")
                    ));
                }
                let mut user = task.task.clone();
                let recalled = world.recall(&task.task, defaults::RECALL_TOP_K);
                if !recalled.is_empty() {
                    let lines: Vec<String> =
                        recalled.iter().map(|(m, _)| format!("- {m}")).collect();
                    user = format!("Things you remember:\n{}\n\n{user}", lines.join("\n"));
                }
                let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
                let mut driven = drive::plain(
                    model,
                    vec![ChatMessage::system(system), ChatMessage::user(user)],
                    &known,
                    &self.sampling(),
                    self.task_steps(task),
                    &world,
                )
                .await;
                if !task.labels.is_empty()
                    && let Some(Value::String(text)) = &driven.answer
                {
                    driven.answer = label_in(text, &task.labels).map(Value::String);
                }
                driven
            }
        };
        if let Some(answer) = &driven.answer
            && !answer.is_string()
        {
            driven.answer = Some(Value::String(answer.to_string()));
        }
        let answer = driven.answer.as_ref().and_then(Value::as_str);
        let verdict = tasks::check(task, &driven.calls, answer, setup.root());
        Ok((driven, verdict))
    }
}

/// The label a free-text reply gives: the reply itself when it is one, else the label
/// mentioned first.
fn label_in(text: &str, labels: &[String]) -> Option<String> {
    let lower = text.to_lowercase();
    let trimmed = lower
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation());
    if let Some(label) = labels.iter().find(|l| l.to_lowercase() == trimmed) {
        return Some(label.clone());
    }
    labels
        .iter()
        .filter_map(|l| {
            lower
                .match_indices(&l.to_lowercase())
                .find(|(at, m)| {
                    let before = lower[..*at].chars().next_back();
                    let after = lower[at + m.len()..].chars().next();
                    !before.is_some_and(char::is_alphanumeric)
                        && !after.is_some_and(char::is_alphanumeric)
                })
                .map(|(at, _)| (at, l))
        })
        .min_by_key(|(at, _)| *at)
        .map(|(_, l)| l.clone())
}

/// A task's tools and memories.
struct TaskWorld<'a> {
    setup: &'a tasks::TaskSetup,
    memories: &'a [String],
}

#[async_trait]
impl World for TaskWorld<'_> {
    async fn call(&self, calls: &[ApprovedCall]) -> Vec<ToolResult> {
        self.setup
            .registry
            .call_all_approved(calls, &self.setup.policy, 1)
            .await
    }

    fn recall(&self, query: &str, top_k: usize) -> Vec<(String, f32)> {
        tasks::recall(self.memories, query, top_k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_found_in_free_text() {
        let labels = vec!["spam".to_owned(), "ham".to_owned()];
        assert_eq!(label_in("Spam.", &labels).as_deref(), Some("spam"));
        assert_eq!(
            label_in("This one is ham, not spam", &labels).as_deref(),
            Some("ham")
        );
        assert_eq!(label_in("hamster", &labels), None);
    }
}
