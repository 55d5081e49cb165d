//! [`Strategy::SelfConsistency`](super::Strategy::SelfConsistency): the working of every
//! sample as free text from one batched request, then each sample's typed answer (one
//! batch of constrained requests), then a majority vote over the normalised answers.

use agentry_prompts::names;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::think::{AfterWorking, answer_prompt, answer_request, reason, reasoning_prompt};
use super::vote::{majority, normalize};
use super::{
    Purpose, Sample, Solution, SolveOptions, StrategyError, Trace, TraceEvent,
    generate_batch_traced,
};
use crate::model::{LanguageModel, ModelInput, Sampling};
use crate::parse::OutputParser;

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
    let schema = options.schema_for::<T>();
    let prompt = reasoning_prompt(&task, options, names::SELF_CONSISTENCY, &schema)?;
    let sampling = Sampling {
        temperature,
        ..options.sampling.clone()
    };
    let workings = reason(
        model,
        prompt.clone(),
        options,
        sampling,
        samples,
        Purpose::Sample,
        &mut trace,
    )
    .await?;
    let parser = AfterWorking::<T>::new(&schema);
    let constraint = parser.constraint();
    let requests = workings
        .iter()
        .map(|w| {
            Ok(answer_request(
                answer_prompt(&prompt, w, options)?,
                &parser,
                options,
            ))
        })
        .collect::<Result<Vec<_>, StrategyError>>()?;
    let replies = generate_batch_traced(model, requests, Purpose::Answer, &mut trace).await?;

    let mut answers = Vec::with_capacity(workings.len());
    let mut records = Vec::with_capacity(workings.len());
    for (index, (working, reply)) in workings.iter().zip(&replies).enumerate() {
        let text = reply.first().map(|c| c.text.clone()).unwrap_or_default();
        // A sample cut before its schema was complete is no answer, even if it parses.
        let complete = match reply.first() {
            Some(c) => c.require_complete(&constraint).map_err(|e| e.to_string()),
            None => Err("the model returned no completion".to_owned()),
        };
        let parsed =
            complete.and_then(|()| parser.parse_with_json(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok((answer, json)) => {
                records.push(Sample {
                    text,
                    reasoning: Some(working.text.clone()),
                    normalized: Some(normalize(&json)),
                    answer: Some(json),
                    error: None,
                });
                answers.push(Some(answer));
            }
            Err(e) => {
                trace.push(TraceEvent::ParseError {
                    purpose: Purpose::Answer,
                    index,
                    error: e.to_string(),
                });
                records.push(Sample {
                    text,
                    reasoning: Some(working.text.clone()),
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
