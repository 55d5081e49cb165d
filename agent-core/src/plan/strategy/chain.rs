//! [`Strategy::ChainOfThought`](super::Strategy::ChainOfThought): the working as free text
//! (under a token budget), then the typed answer decoded under its schema after it.

use agentry_prompts::names;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::direct::answer;
use super::think::{AfterWorking, answer_prompt, reason, reasoning_prompt};
use super::{Purpose, Solution, SolveOptions, StrategyError, Trace};
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
    let schema = options.schema_for::<T>();
    let prompt = reasoning_prompt(&task, options, names::CHAIN_OF_THOUGHT, &schema)?;
    let working = reason(
        model,
        prompt.clone(),
        options,
        options.sampling.clone(),
        1,
        Purpose::Reason,
        &mut trace,
    )
    .await?
    .pop()
    .unwrap_or_default();
    let parser = AfterWorking::<T>::new(&schema);
    let answer = answer(
        model,
        &parser,
        answer_prompt(&prompt, &working, options)?,
        options,
        &mut trace,
    )
    .await?;
    Ok(Solution {
        answer,
        reasoning: Some(working.text),
        agreement: None,
        samples: Vec::new(),
        trace,
    })
}
