//! GSM8K and Game of 24 items: a reasoning strategy under the answer's JSON Schema, or one
//! free reply read for its last number or expression.

use std::sync::{Arc, Mutex};

use agentry_core::model::{LanguageModel, ModelInput};
use agentry_core::plan::strategy::{SolveOptions, Strategy, TraceEvent};
use agentry_prompts::ChatMessage;
use agentry_tools::{ApprovedCall, ToolResult};
use async_trait::async_trait;
use serde_json::{Value, json};

use super::Evaluation;
use super::bfcl_item::BfclWorld;
use crate::config::Config;
use crate::drive::{self, Driven, World};
use crate::game24::{self, Puzzle};
use crate::gsm8k::{self, Problem};
use crate::rational::Rational;
use crate::verdict::Verdict;

impl Evaluation {
    /// One GSM8K problem.
    pub(super) async fn run_gsm8k(
        &self,
        model: &dyn LanguageModel,
        config: &Config,
        problem: &Problem,
    ) -> (Driven, Verdict) {
        let task = format!("{}\nGive the final answer as a number.", problem.question);
        let (driven, number) = match config {
            Config::Strategy { strategy, .. } => {
                let driven = self
                    .solve(model, strategy, &task, json!({"type": "number"}))
                    .await;
                let number = driven.answer.as_ref().and_then(Rational::from_json);
                (driven, number)
            }
            _ => {
                let prompt = format!("{task} End your reply with \"The answer is N.\"");
                let mut driven = self.plain_text(model, prompt).await;
                let text = driven.raw_output.last().cloned().unwrap_or_default();
                let number = gsm8k::last_number(&text);
                driven.well_formed = number.is_some();
                driven.answer = number.map(|n| Value::String(n.to_string()));
                (driven, number)
            }
        };
        (driven, gsm8k::check(problem.answer, number))
    }

    /// One Game of 24 puzzle.
    pub(super) async fn run_game24(
        &self,
        model: &dyn LanguageModel,
        config: &Config,
        puzzle: &Puzzle,
    ) -> (Driven, Verdict) {
        let task = format!(
            "Use the numbers {} and the operations + - * / (with parentheses) to make 24. Use each number exactly once. Answer with the expression only, such as (1 + 3) * (2 + 4).",
            puzzle.numbers_text()
        );
        let (driven, expression) = match config {
            Config::Strategy { strategy, .. } => {
                let driven = self
                    .solve(model, strategy, &task, json!({"type": "string"}))
                    .await;
                let expression = driven
                    .answer
                    .as_ref()
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (driven, expression)
            }
            _ => {
                let mut driven = self.plain_text(model, task).await;
                let text = driven.raw_output.last().cloned().unwrap_or_default();
                let expression = game24::find_expression(&text);
                driven.well_formed = expression.is_some();
                driven.answer = expression.clone().map(Value::String);
                (driven, expression)
            }
        };
        let verdict = match expression {
            Some(e) => game24::check(&puzzle.numbers, &e),
            None => Verdict::wrong("no expression in the answer"),
        };
        (driven, verdict)
    }

    /// One unconstrained reply to a user prompt.
    pub(super) async fn plain_text(&self, model: &dyn LanguageModel, prompt: String) -> Driven {
        let world = NoTools;
        drive::plain(
            model,
            vec![ChatMessage::user(prompt)],
            &[],
            &self.sampling(),
            1,
            &world,
        )
        .await
    }

    /// A strategy's answer under `schema`, with every prompt and sample kept.
    pub(super) async fn solve(
        &self,
        model: &dyn LanguageModel,
        strategy: &Strategy,
        task: &str,
        schema: Value,
    ) -> Driven {
        let events: Arc<Mutex<Vec<TraceEvent>>> = Arc::default();
        let sink = events.clone();
        let options = SolveOptions {
            sampling: self.sampling(),
            answer_schema: Some(schema),
            observer: Some(Arc::new(move |event: &TraceEvent| {
                if let Ok(mut events) = sink.lock() {
                    events.push(event.clone());
                }
            })),
            ..SolveOptions::default()
        };
        let input = ModelInput::Messages(vec![ChatMessage::user(task)]);
        let result = strategy.solve::<Value>(model, input, &options).await;
        let events = events.lock().map(|e| e.clone()).unwrap_or_default();
        let mut driven = Driven::default();
        for event in &events {
            match event {
                TraceEvent::ModelInput { prompt, .. } if driven.prompt.is_null() => {
                    driven.prompt = serde_json::to_value(prompt).unwrap_or(Value::Null);
                }
                TraceEvent::Completion {
                    index, text, usage, ..
                } => {
                    driven.raw_output.push(text.clone());
                    driven.usage.completion_tokens += usage.completion_tokens;
                    // One request per first sample (retries and batches included).
                    if *index == 0 {
                        driven.steps += 1;
                        driven.usage.prompt_tokens += usage.prompt_tokens;
                    }
                }
                _ => {}
            }
        }
        match result {
            Ok(solution) => {
                driven.well_formed = true;
                driven.answer = Some(solution.answer);
                driven.stop = "answered".into();
            }
            Err(e) => {
                driven.well_formed = false;
                driven.stop = format!("no answer: {e}");
            }
        }
        driven
    }
}

/// No tools, no memories.
struct NoTools;

#[async_trait]
impl World for NoTools {
    async fn call(&self, calls: &[ApprovedCall]) -> Vec<ToolResult> {
        BfclWorld.call(calls).await
    }

    fn recall(&self, _query: &str, _top_k: usize) -> Vec<(String, f32)> {
        Vec::new()
    }
}
