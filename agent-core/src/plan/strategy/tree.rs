//! [`Strategy::TreeOfThought`](super::Strategy::TreeOfThought): breadth-first search over
//! partial solutions, after Yao et al., "Tree of Thoughts" (2023).
//!
//! At each depth every frontier state gets `proposals` candidate next thoughts, all frontier
//! states in one [`generate_batch`](crate::model::LanguageModel::generate_batch) call, so `depth` levels create exactly
//! `proposals × (1 + breadth × (depth − 1))` states when the frontier stays full. Each new state
//! is valued by the model as `sure` / `likely` / `impossible` (weights 20 / 1 / 0.001, as in the
//! paper), the best `breadth` are kept (distinct ones first), and the answer is asked from the
//! best final state under the answer type's schema.

use std::collections::HashMap;

use agentry_prompts::names;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::direct::answer;
use super::{
    Evaluator, Purpose, Solution, SolveOptions, StrategyError, Trace, TraceEvent, ask,
    generate_batch_traced, generate_traced, split_task,
};
use crate::model::{
    Constraint, GenerateRequest, LanguageModel, LanguageModelExt, ModelInput, Sampling,
};
use crate::parse::Json;

/// The verdicts of a state and their weights.
const VERDICTS: [(&str, f64); 3] = [("sure", 20.0), ("likely", 1.0), ("impossible", 0.001)];

/// One line of text: a thought.
const THOUGHT_GRAMMAR: &str = r#"root ::= [^\n]+"#;

/// The search parameters.
pub(super) struct Search {
    pub breadth: usize,
    pub depth: usize,
    pub proposals: usize,
    pub evaluator: Evaluator,
}

#[derive(Clone)]
struct Node {
    id: usize,
    steps: Vec<String>,
    value: f64,
}

impl Search {
    pub(super) async fn solve<T>(
        &self,
        model: &dyn LanguageModel,
        task: ModelInput,
        options: &SolveOptions,
        trace: &mut Trace,
    ) -> Result<Solution<T>, StrategyError>
    where
        T: DeserializeOwned + JsonSchema + Send,
    {
        let (_, problem) = split_task(&task);
        let mut frontier = vec![Node {
            id: 0,
            steps: Vec::new(),
            value: 0.0,
        }];
        let mut next_id = 1;
        let mut seed = options.sampling.seed;
        let mut values: HashMap<Vec<String>, f64> = HashMap::new();
        for depth in 1..=self.depth {
            let mut requests = Vec::with_capacity(frontier.len());
            for parent in &frontier {
                let text = options.templates.render(
                    names::TOT_PROPOSE,
                    json!({ "problem": problem, "steps": parent.steps }),
                )?;
                requests.push(GenerateRequest {
                    prompt: ask(&task, text),
                    sampling: Sampling {
                        temperature: options.explore_temperature,
                        max_tokens: options.max_thought_tokens,
                        seed,
                        stop: Vec::new(),
                        ..options.sampling.clone()
                    },
                    constraint: Constraint::Grammar(THOUGHT_GRAMMAR.into()),
                    session: None,
                    n: self.proposals,
                });
                seed = seed.wrapping_add(self.proposals as u32);
            }
            // Every frontier state's proposals in one batch.
            let batches = generate_batch_traced(model, requests, Purpose::Propose, trace).await?;
            let mut children = Vec::new();
            for (parent, completions) in frontier.iter().zip(batches) {
                for completion in completions {
                    let mut steps = parent.steps.clone();
                    steps.push(clean_thought(&completion.text));
                    children.push((parent.id, steps));
                }
            }
            let mut created = Vec::with_capacity(children.len());
            for (parent, steps) in children {
                let value = match values.get(&steps) {
                    Some(v) => *v,
                    None => {
                        let v = self
                            .value(model, &task, &problem, &steps, options, seed, trace)
                            .await?;
                        seed = seed.wrapping_add(1);
                        values.insert(steps.clone(), v);
                        v
                    }
                };
                trace.push(TraceEvent::State {
                    id: next_id,
                    parent,
                    depth,
                    steps: steps.clone(),
                    value,
                });
                created.push(Node {
                    id: next_id,
                    steps,
                    value,
                });
                next_id += 1;
            }
            frontier = keep_best(created, self.breadth);
            trace.push(TraceEvent::Kept {
                depth,
                ids: frontier.iter().map(|n| n.id).collect(),
            });
        }
        let best = frontier.into_iter().next().unwrap_or(Node {
            id: 0,
            steps: Vec::new(),
            value: 0.0,
        });
        let text = options.templates.render(
            names::TOT_ANSWER,
            json!({ "problem": problem, "steps": best.steps }),
        )?;
        let value = answer(
            model,
            &Json::<T>::with_schema(options.schema_for::<T>()),
            ask(&task, text),
            options,
            trace,
        )
        .await?;
        let reasoning = best
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{}. {s}", i + 1))
            .collect::<Vec<_>>()
            .join("\n");
        Ok(Solution {
            answer: value,
            reasoning: Some(reasoning),
            agreement: None,
            samples: Vec::new(),
            trace: Trace::default(),
        })
    }

    /// The model's value of a state: the expected verdict weight.
    #[allow(clippy::too_many_arguments)]
    async fn value(
        &self,
        model: &dyn LanguageModel,
        task: &ModelInput,
        problem: &str,
        steps: &[String],
        options: &SolveOptions,
        seed: u32,
        trace: &mut Trace,
    ) -> Result<f64, StrategyError> {
        let text = options.templates.render(
            names::TOT_EVALUATE,
            json!({ "problem": problem, "steps": steps }),
        )?;
        let prompt = ask(task, text);
        let labels: Vec<String> = VERDICTS.iter().map(|(l, _)| (*l).to_owned()).collect();
        let probabilities: Vec<(String, f64)> = match &self.evaluator {
            Evaluator::Score => {
                trace.push(TraceEvent::ModelInput {
                    purpose: Purpose::Evaluate,
                    prompt: prompt.clone(),
                    n: 1,
                });
                trace.model_calls += 1;
                model.classify(prompt, &labels).await?.probabilities
            }
            Evaluator::Vote { samples } => {
                let request = GenerateRequest {
                    prompt,
                    sampling: Sampling {
                        temperature: options.explore_temperature,
                        max_tokens: 8,
                        seed,
                        stop: Vec::new(),
                        ..options.sampling.clone()
                    },
                    constraint: Constraint::Choice(labels.clone()),
                    session: None,
                    n: *samples,
                };
                let verdicts = generate_traced(model, request, Purpose::Evaluate, trace).await?;
                labels
                    .iter()
                    .map(|l| {
                        let votes = verdicts.iter().filter(|c| c.text.trim() == l).count();
                        (l.clone(), votes as f64 / verdicts.len().max(1) as f64)
                    })
                    .collect()
            }
        };
        trace.push(TraceEvent::Scores {
            purpose: Purpose::Evaluate,
            labels: probabilities.clone(),
        });
        Ok(probabilities
            .iter()
            .map(|(label, p)| {
                let weight = VERDICTS
                    .iter()
                    .find(|(l, _)| l == label)
                    .map(|(_, w)| *w)
                    .unwrap_or(0.0);
                weight * p
            })
            .sum())
    }
}

/// A thought without surrounding space or a leading "Step 2:" / "2." label.
fn clean_thought(text: &str) -> String {
    let text = text.trim();
    let lower = text.to_lowercase();
    let text = if lower.starts_with("step") {
        text.split_once([':', '.'])
            .map(|(_, rest)| rest.trim())
            .unwrap_or(text)
    } else {
        text
    };
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0
        && matches!(text.as_bytes().get(digits), Some(b'.') | Some(b')'))
        && text[digits + 1..].starts_with(char::is_whitespace)
    {
        text[digits + 1..].trim().to_owned()
    } else {
        text.to_owned()
    }
}

/// The `breadth` best nodes by value (ties by creation order), distinct step lists first.
fn keep_best(mut nodes: Vec<Node>, breadth: usize) -> Vec<Node> {
    nodes.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.id.cmp(&b.id)));
    let mut kept: Vec<Node> = Vec::with_capacity(breadth);
    let mut duplicates = Vec::new();
    for node in nodes {
        if kept.iter().any(|k| k.steps == node.steps) {
            duplicates.push(node);
        } else if kept.len() < breadth {
            kept.push(node);
        }
    }
    for node in duplicates {
        if kept.len() == breadth {
            break;
        }
        kept.push(node);
    }
    kept.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.id.cmp(&b.id)));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: usize, steps: &[&str], value: f64) -> Node {
        Node {
            id,
            steps: steps.iter().map(|s| (*s).to_owned()).collect(),
            value,
        }
    }

    #[test]
    fn keeps_the_best_distinct_states() {
        let nodes = vec![
            node(1, &["a"], 1.0),
            node(2, &["b"], 5.0),
            node(3, &["b"], 5.0),
            node(4, &["c"], 2.0),
        ];
        let ids: Vec<usize> = keep_best(nodes.clone(), 2).iter().map(|n| n.id).collect();
        assert_eq!(ids, [2, 4]);
        let ids: Vec<usize> = keep_best(nodes, 4).iter().map(|n| n.id).collect();
        assert_eq!(ids, [2, 3, 4, 1]);
    }

    #[test]
    fn thoughts_lose_their_labels() {
        assert_eq!(clean_thought(" Step 2: add 3 "), "add 3");
        assert_eq!(clean_thought("3) divide"), "divide");
        assert_eq!(clean_thought("1.5 is half"), "1.5 is half");
    }
}
