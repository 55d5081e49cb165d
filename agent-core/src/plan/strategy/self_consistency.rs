//! [`Strategy::SelfConsistency`](super::Strategy::SelfConsistency): one batched request of
//! reasoned samples, majority vote over normalised answers.

use agentry_prompts::names;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::vote::{majority, normalize};
use super::{
    Purpose, Reasoned, Sample, Solution, SolveOptions, StrategyError, Trace, TraceEvent,
    generate_traced,
};
use crate::model::{GenerateRequest, LanguageModel, ModelInput, Sampling};
use crate::parse::{OutputParser, with_instructions};

pub(super) async fn solve<T>(
    model: &dyn LanguageModel,
    task: ModelInput,
    options: &SolveOptions,
    samples: usize,
    temperature: f32,
    mut trace: Trace,
) -> Result<Solution<T>, StrategyError>
where
    T: DeserializeOwned + JsonSchema + Send,
{
    let cue = options.templates.render(
        names::SELF_CONSISTENCY,
        serde_json::json!({ "answer_schema": options.schema_for::<T>().to_string() }),
    )?;
    let parser =
        Reasoned::<T>::with_schema(cue, options.max_reasoning_chars, &options.schema_for::<T>());
    let request = GenerateRequest {
        prompt: with_instructions(task, &parser.instructions()),
        sampling: Sampling {
            temperature,
            ..options.sampling.clone()
        },
        constraint: parser.constraint(),
        session: options.session.clone(),
        n: samples,
    };
    let completions = generate_traced(model, request, Purpose::Sample, &mut trace).await?;

    let mut answers = Vec::with_capacity(completions.len());
    let mut records = Vec::with_capacity(completions.len());
    for (index, completion) in completions.iter().enumerate() {
        match parser.parse(&completion.text) {
            Ok(parsed) => {
                records.push(Sample {
                    text: completion.text.clone(),
                    reasoning: Some(parsed.reasoning),
                    normalized: Some(normalize(&parsed.answer_json)),
                    answer: Some(parsed.answer_json),
                    error: None,
                });
                answers.push(Some(parsed.answer));
            }
            Err(e) => {
                trace.push(TraceEvent::ParseError {
                    purpose: Purpose::Sample,
                    index,
                    error: e.to_string(),
                });
                records.push(Sample {
                    text: completion.text.clone(),
                    reasoning: None,
                    answer: None,
                    normalized: None,
                    error: Some(e.to_string()),
                });
                answers.push(None);
            }
        }
    }

    let keys: Vec<Option<String>> = records
        .iter()
        .map(|s| s.normalized.as_ref().map(|v| v.to_string()))
        .collect();
    let Some((winner, votes)) = majority(&keys) else {
        return Err(StrategyError::NoValidSample { samples: records });
    };
    let valid = keys.iter().filter(|k| k.is_some()).count();
    trace.push(TraceEvent::Vote {
        answer: records[winner].normalized.clone().unwrap_or_default(),
        votes,
        valid,
        total: records.len(),
    });
    let answer = answers
        .get_mut(winner)
        .and_then(Option::take)
        .ok_or_else(|| StrategyError::NoValidSample {
            samples: records.clone(),
        })?;
    Ok(Solution {
        answer,
        reasoning: records[winner].reasoning.clone(),
        agreement: Some(votes as f64 / records.len() as f64),
        samples: records,
        trace,
    })
}
