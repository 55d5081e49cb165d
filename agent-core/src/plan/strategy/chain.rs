//! [`Strategy::ChainOfThought`](super::Strategy::ChainOfThought): `{reasoning, answer: T}`.

use agentry_prompts::names;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::direct::answer;
use super::{Reasoned, Solution, SolveOptions, StrategyError, Trace};
use crate::model::{LanguageModel, ModelInput};

pub(super) async fn solve<T>(
    model: &dyn LanguageModel,
    task: ModelInput,
    options: &SolveOptions,
    mut trace: Trace,
) -> Result<Solution<T>, StrategyError>
where
    T: DeserializeOwned + JsonSchema + Send,
{
    let cue = options.templates.render(
        names::CHAIN_OF_THOUGHT,
        serde_json::json!({ "answer_schema": options.schema_for::<T>().to_string() }),
    )?;
    let parser =
        Reasoned::<T>::with_schema(cue, options.max_reasoning_chars, &options.schema_for::<T>());
    let reasoned = answer(model, &parser, task, options, &mut trace).await?;
    Ok(Solution {
        answer: reasoned.answer,
        reasoning: Some(reasoned.reasoning),
        agreement: None,
        samples: Vec::new(),
        trace,
    })
}
