//! Classification and prediction on top of any [`LanguageModel`]: scores, not parsed free text.
//!
//! - [`LanguageModelExt::classify`] (single label): each label is scored as a continuation of
//!   the prompt; its score is the **total** log-probability of its tokens (not the per-token
//!   mean, so a label is the probability of the model writing exactly that label); a softmax over
//!   the labels gives probabilities that sum to 1.
//! - [`LanguageModelExt::classify_multi`] (multi-label): for each label the prompt is followed by
//!   the question whether that label applies; the label's probability is
//!   `P(yes) / (P(yes) + P(no))`, the model's own yes/no odds, and every label at or above the
//!   threshold is kept.
//! - [`LanguageModelExt::predict_number`]: greedy generation under a number grammar, parsed.

use agentry_prompts::{ChatMessage, Role};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::constraint::NUMBER_GRAMMAR;
use crate::model::{
    Constraint, GenerateRequest, LanguageModel, ModelError, ModelInput, Sampling, ScoreRequest,
};

/// The answer of a single-label classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The most probable label.
    pub label: String,
    /// Every label with its probability (softmax over labels; they sum to 1), in label order.
    pub probabilities: Vec<(String, f64)>,
}

/// One label of a multi-label classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelProbability {
    /// The label.
    pub label: String,
    /// Its own probability of applying, in [0, 1].
    pub probability: f64,
    /// Whether it reached the threshold.
    pub selected: bool,
}

/// Softmax of log-scores.
pub fn softmax(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return vec![1.0 / scores.len().max(1) as f64; scores.len()];
    }
    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

fn with_question(prompt: &ModelInput, label: &str) -> ModelInput {
    let question = format!("Does the label \"{label}\" apply? Answer yes or no.");
    let mut asked = prompt.clone();
    match (&mut asked, prompt) {
        (_, ModelInput::Raw(text)) => ModelInput::Raw(format!("{text}\n{question}\nAnswer:")),
        (chat, _) => {
            if let Some(messages) = chat.messages_mut() {
                messages.push(ChatMessage::new(Role::User, question));
            }
            asked
        }
    }
}

/// Classification and prediction for every [`LanguageModel`].
#[async_trait]
pub trait LanguageModelExt: LanguageModel {
    /// Single-label classification: the most probable label and a softmax over all labels.
    async fn classify(
        &self,
        prompt: ModelInput,
        labels: &[String],
    ) -> Result<Classification, ModelError> {
        if labels.is_empty() {
            return Err(ModelError::InvalidRequest(
                "classify needs at least one label".into(),
            ));
        }
        let scores = self
            .score(ScoreRequest {
                prompt,
                candidates: labels.to_vec(),
            })
            .await?;
        let logprobs: Vec<f64> = scores.iter().map(|s| s.logprob).collect();
        let probs = softmax(&logprobs);
        let best = probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        Ok(Classification {
            label: labels[best].clone(),
            probabilities: labels.iter().cloned().zip(probs).collect(),
        })
    }

    /// Multi-label classification: each label's own probability against `threshold`.
    async fn classify_multi(
        &self,
        prompt: ModelInput,
        labels: &[String],
        threshold: f64,
    ) -> Result<Vec<LabelProbability>, ModelError> {
        let mut out = Vec::with_capacity(labels.len());
        for label in labels {
            let scores = self
                .score(ScoreRequest {
                    prompt: with_question(&prompt, label),
                    candidates: vec!["yes".into(), "no".into()],
                })
                .await?;
            let probs = softmax(&scores.iter().map(|s| s.logprob).collect::<Vec<_>>());
            let probability = probs.first().copied().unwrap_or(0.0);
            out.push(LabelProbability {
                label: label.clone(),
                probability,
                selected: probability >= threshold,
            });
        }
        Ok(out)
    }

    /// A scalar prediction: greedy generation constrained to a number, parsed to `f64`.
    async fn predict_number(&self, prompt: ModelInput) -> Result<f64, ModelError> {
        let req = GenerateRequest {
            prompt,
            sampling: Sampling {
                max_tokens: 24,
                ..Sampling::default()
            },
            constraint: Constraint::Grammar(NUMBER_GRAMMAR.into()),
            session: None,
            n: 1,
        };
        let constraint = req.constraint.clone();
        let completion = self
            .generate(req)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::Decode("the model returned no completion".into()))?;
        // A number cut at the token limit still parses, to the wrong value.
        completion.require_complete(&constraint)?;
        let text = completion.text;
        text.trim().parse::<f64>().map_err(|e| ModelError::Parse {
            text,
            detail: e.to_string(),
        })
    }
}

impl<T: LanguageModel + ?Sized> LanguageModelExt for T {}

#[cfg(test)]
mod tests {
    use super::softmax;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[-1.0, -2.0, -0.5]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[2] > p[0] && p[0] > p[1]);
        let uniform = softmax(&[f64::NEG_INFINITY, f64::NEG_INFINITY]);
        assert_eq!(uniform, vec![0.5, 0.5]);
    }
}
