//! [`Strategy::Direct`](super::Strategy::Direct): one constrained answer.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::{Solution, SolveOptions, StrategyError, Trace, trace_attempts};
use crate::model::{LanguageModel, ModelInput};
use crate::parse::{ExtractError, Json, OutputParser, extract_with, with_instructions};

pub(super) async fn solve<T>(
    model: &dyn LanguageModel,
    task: ModelInput,
    options: &SolveOptions,
    mut trace: Trace,
) -> Result<Solution<T>, StrategyError>
where
    T: DeserializeOwned + JsonSchema + Send,
{
    let answer = answer(
        model,
        &Json::<T>::with_schema(options.schema_for::<T>()),
        task,
        options,
        &mut trace,
    )
    .await?;
    Ok(Solution {
        answer,
        reasoning: None,
        agreement: None,
        samples: Vec::new(),
        trace,
    })
}

/// Asks for `parser`'s output (instructions appended to the task), with retries, recording
/// every attempt in the trace.
pub(super) async fn answer<P: OutputParser>(
    model: &dyn LanguageModel,
    parser: &P,
    task: ModelInput,
    options: &SolveOptions,
    trace: &mut Trace,
) -> Result<P::Output, StrategyError> {
    let prompt = with_instructions(task, &parser.instructions());
    let mut extract_options = options.extract_options();
    extract_options.add_instructions = false;
    match extract_with(model, parser, prompt.clone(), &extract_options).await {
        Ok(extraction) => {
            trace_attempts(trace, &prompt, &extraction.attempts);
            Ok(extraction.value)
        }
        Err(ExtractError::Unparseable { attempts, last }) => {
            trace_attempts(trace, &prompt, &attempts);
            Err(StrategyError::Unparseable { attempts, last })
        }
        Err(e) => Err(e.into()),
    }
}
