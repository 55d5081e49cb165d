//! Driving a model on one item: agentry's planner ([`planner`], the sans-IO `AgentRun`
//! driven here so every prompt and reply can be kept) and the plain way ([`plain`], tools
//! described in the prompt, free text read leniently). Both act on a [`World`]: the tools
//! and memories of the item.

use std::time::Instant;

use agentry_core::model::{GenerateRequest, LanguageModel, ModelInput, Sampling, Usage};
use agentry_core::plan::run::{
    Action, AgentEvent, AgentRun, ApprovalDecision, Input, Recollection, RunConfig,
};
use agentry_prompts::ChatMessage;
use agentry_tools::{ApprovedCall, ToolCall, ToolResult};
use async_trait::async_trait;
use serde_json::Value;

use crate::call::Call;
use crate::plain::read_reply;
use crate::trace::HeldCall;

/// What an item's tools and memories do.
#[async_trait]
pub trait World: Send + Sync {
    /// Runs the calls; one result per call.
    async fn call(&self, calls: &[ApprovedCall]) -> Vec<ToolResult>;
    /// The memories recalled for `query`: `(text, score)`, best first.
    fn recall(&self, query: &str, top_k: usize) -> Vec<(String, f32)>;
}

/// What happened on one item.
#[derive(Debug, Clone, Default)]
pub struct Driven {
    /// The first prompt.
    pub prompt: Value,
    /// The last prompt of a run of several steps (the whole conversation the model saw
    /// last, tool results and notes included); `Null` when there was one step.
    pub last_prompt: Value,
    /// Every reply.
    pub raw_output: Vec<String>,
    /// The calls that ran, as the model named them.
    pub calls: Vec<Call>,
    /// The calls the run held for approval; the evaluation is unattended, so each was
    /// refused.
    pub held: Vec<HeldCall>,
    /// The final answer.
    pub answer: Option<Value>,
    /// Whether every reply could be read.
    pub well_formed: bool,
    /// Model requests.
    pub steps: usize,
    /// Token counts summed over the requests.
    pub usage: Usage,
    /// Why it stopped (for the trace).
    pub stop: String,
}

fn prompt_json(prompt: &ModelInput) -> Value {
    serde_json::to_value(prompt).unwrap_or(Value::Null)
}

fn add_usage(total: &mut Usage, usage: &Usage) {
    total.prompt_tokens += usage.prompt_tokens;
    total.cached_tokens += usage.cached_tokens;
    total.evaluated_tokens += usage.evaluated_tokens;
    total.completion_tokens += usage.completion_tokens;
}

/// Drives agentry's planner on `config` against `world` until the run is done, or, with
/// `until_calls`, until its first calls have run (a BFCL item scores the first calls; a
/// reply the run sends back is not one). Nobody is there to approve: a call the run
/// holds (see `agentry_tools::hold`) is refused, as in an unattended `agentry run`.
pub async fn planner(
    model: &dyn LanguageModel,
    config: RunConfig,
    world: &dyn World,
    until_calls: bool,
) -> Driven {
    let mut driven = Driven {
        well_formed: true,
        ..Driven::default()
    };
    let mut run = match AgentRun::new(config) {
        Ok(run) => run,
        Err(e) => {
            driven.well_formed = false;
            driven.stop = format!("the run refused its configuration: {e}");
            return driven;
        }
    };
    loop {
        let started = Instant::now();
        let input = match run.next_action() {
            Action::Recall { query, top_k } => Input::Recalled(
                world
                    .recall(&query, top_k)
                    .into_iter()
                    .map(|(text, score)| Recollection::new(text, "memory", score))
                    .collect(),
            ),
            Action::Generate(request) => {
                if driven.steps == 0 {
                    driven.prompt = prompt_json(&request.prompt);
                } else {
                    driven.last_prompt = prompt_json(&request.prompt);
                }
                driven.steps += 1;
                match model.generate(request).await {
                    Ok(mut completions) if !completions.is_empty() => {
                        let completion = completions.swap_remove(0);
                        driven.raw_output.push(completion.text.clone());
                        add_usage(&mut driven.usage, &completion.usage);
                        Input::Generated(completion)
                    }
                    Ok(_) => {
                        driven.well_formed = false;
                        run.fail("the model returned no completion");
                        continue;
                    }
                    Err(e) => {
                        driven.well_formed = false;
                        run.fail(format!("the model failed: {e}"));
                        continue;
                    }
                }
            }
            Action::AwaitApproval { call, reason } => {
                driven.held.push(HeldCall {
                    call: Call::new(call.name.clone(), call.args.clone()),
                    reason: reason.to_string(),
                });
                Input::Approval(ApprovalDecision::Deny {
                    reason: format!(
                        "{reason}, and no one is there to approve it; the call was not made"
                    ),
                })
            }
            Action::CallTools { calls } => {
                driven.calls.extend(
                    calls
                        .iter()
                        .map(|c| Call::new(c.name.clone(), c.args.clone())),
                );
                let results = world.call(&calls).await;
                if until_calls {
                    let _ = run.feed(Input::ToolResults(results));
                    run.cancel();
                    continue;
                }
                Input::ToolResults(results)
            }
            Action::Solve(_) => {
                run.fail("the evaluation's planner runs have no reasoning strategy");
                continue;
            }
            Action::StoreEpisode { .. } => Input::EpisodeStored,
            Action::Done(outcome) => {
                driven.answer = outcome.answer;
                driven.stop = format!("{:?}", outcome.stop);
                break;
            }
        };
        if let Err(e) = run.feed(input) {
            run.fail(format!("the run refused an input: {e}"));
        }
        let _ = run.feed(Input::Elapsed(started.elapsed()));
        for event in run.drain_events() {
            if let AgentEvent::Error { .. } = event {
                driven.well_formed = false;
            }
        }
    }
    driven
}

/// The plain way: `messages` (tools described in them), free-text replies read leniently
/// (see [`read_reply`]); calls run on `world` and their results come back as a user turn,
/// until a reply has no call or `max_steps` replies were made. `known` are the names calls
/// may use.
pub async fn plain(
    model: &dyn LanguageModel,
    mut messages: Vec<ChatMessage>,
    known: &[&str],
    sampling: &Sampling,
    max_steps: usize,
    world: &dyn World,
) -> Driven {
    let mut driven = Driven {
        well_formed: true,
        prompt: prompt_json(&ModelInput::Messages(messages.clone())),
        ..Driven::default()
    };
    for step in 1..=max_steps.max(1) {
        if step > 1 {
            driven.last_prompt = prompt_json(&ModelInput::Messages(messages.clone()));
        }
        let request = GenerateRequest::chat(messages.clone()).with_sampling(sampling.clone());
        driven.steps += 1;
        let completion = match model.generate(request).await {
            Ok(mut completions) if !completions.is_empty() => completions.swap_remove(0),
            Ok(_) => {
                driven.stop = "the model returned no completion".into();
                driven.well_formed = false;
                return driven;
            }
            Err(e) => {
                driven.stop = format!("the model failed: {e}");
                driven.well_formed = false;
                return driven;
            }
        };
        add_usage(&mut driven.usage, &completion.usage);
        driven.raw_output.push(completion.text.clone());
        let reply = read_reply(&completion.text, known);
        driven.well_formed &= reply.well_formed;
        if reply.calls.is_empty() {
            driven.answer = reply.answer.map(Value::String);
            driven.stop = "answered".into();
            return driven;
        }
        let approved: Vec<ApprovedCall> = reply
            .calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                ApprovedCall::new(ToolCall::new(
                    format!("call-{step}-{}", i + 1),
                    c.name.clone(),
                    c.args.clone(),
                ))
            })
            .collect();
        driven.calls.extend(reply.calls);
        if step == max_steps {
            // The last step's calls count as made; nothing reads their results.
            let _ = world.call(&approved).await;
            break;
        }
        let results = world.call(&approved).await;
        let observations: Vec<String> = results
            .iter()
            .map(|r| format!("{}: {}", r.name, r.observation()))
            .collect();
        messages.push(ChatMessage::assistant(completion.text));
        messages.push(ChatMessage::user(format!(
            "Tool results:\n{}\nGo on: call another tool, or give the final answer in plain text.",
            observations.join("\n")
        )));
    }
    driven.stop = format!("max steps ({max_steps})");
    driven
}
