//! The run driven by hand: completions are scripted (`scripted_*`), tool results and
//! memories are built in the test. Pure logic, no model.

use std::time::Duration;

use agentry_prompts::Role;
use agentry_tools::{
    ApprovedCall, Capabilities, ToolCall, ToolFailure, ToolOutput, ToolResult, ToolSpec,
};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::model::{Completion, ModelInput, Timings};
use crate::plan::strategy::Strategy as Reasoning;

const TASK: &str = "How many seconds are in 3 hours?";

fn calculator() -> ToolSpec {
    ToolSpec::new(
        "calculator",
        "Evaluates an arithmetic expression.",
        json!({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"], "additionalProperties": false}),
    )
}

fn clock() -> ToolSpec {
    ToolSpec::new(
        "clock",
        "Tells the current time.",
        json!({"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}),
    )
}

fn delete_file() -> ToolSpec {
    let mut spec = ToolSpec::new(
        "delete_file",
        "Deletes a file.",
        json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    );
    spec.needs_approval = true;
    spec
}

fn config() -> RunConfig {
    RunConfig::new(TASK)
        .with_role("You are a careful assistant.")
        .with_instructions(["Use the calculator for arithmetic."])
        .with_tools(vec![calculator(), clock()])
        .with_answer_schema(json!({"type": "integer"}))
}

fn new_run(config: RunConfig) -> AgentRun {
    AgentRun::new(config).unwrap_or_else(|e| panic!("run refused its config: {e}"))
}

/// A scripted completion of `text` that generated 20 tokens.
fn scripted_completion(text: &str) -> Completion {
    Completion {
        text: text.to_owned(),
        finish_reason: FinishReason::Stop,
        usage: Usage {
            prompt_tokens: 100,
            cached_tokens: 60,
            evaluated_tokens: 40,
            completion_tokens: 20,
        },
        timings: Timings::default(),
    }
}

/// A scripted step calling `tool` with `args`.
fn scripted_call(tool: &str, args: Value) -> String {
    json!({"thought": format!("I should use {tool}."), "action": {"tool": tool, "args": args}})
        .to_string()
}

/// A scripted final answer.
fn scripted_answer(answer: Value) -> String {
    json!({"thought": "I have the answer.", "final_answer": answer}).to_string()
}

fn ok_result(call: &ToolCall, value: Value) -> ToolResult {
    ToolResult {
        call_id: call.id.clone(),
        name: call.name.clone(),
        outcome: Ok(ToolOutput::json(value)),
    }
}

fn err_result(call: &ToolCall, failure: ToolFailure) -> ToolResult {
    ToolResult {
        call_id: call.id.clone(),
        name: call.name.clone(),
        outcome: Err(failure),
    }
}

/// The result of `call` failing with the tool's own error `message`.
fn failed_result(call: &ToolCall, message: &str) -> ToolResult {
    err_result(
        call,
        ToolFailure::Failed {
            name: call.name.clone(),
            message: message.into(),
        },
    )
}

fn feed(run: &mut AgentRun, input: Input) {
    run.feed(input)
        .unwrap_or_else(|e| panic!("feed refused at step {}: {e}", run.step()));
}

fn expect_generate(run: &AgentRun) -> GenerateRequest {
    match run.next_action() {
        Action::Generate(request) => request,
        other => panic!("expected Generate, got {other:?}"),
    }
}

fn expect_calls(run: &AgentRun) -> Vec<ToolCall> {
    match run.next_action() {
        Action::CallTools { calls } => calls.into_iter().map(ApprovedCall::into_call).collect(),
        other => panic!("expected CallTools, got {other:?}"),
    }
}

fn expect_done(run: &AgentRun) -> RunOutcome {
    match run.next_action() {
        Action::Done(outcome) => outcome,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn messages_of(request: &GenerateRequest) -> Vec<ChatMessage> {
    match &request.prompt {
        ModelInput::Messages(messages) | ModelInput::WithTools { messages, .. } => messages.clone(),
        ModelInput::Raw(text) => panic!("expected chat messages, got raw {text}"),
    }
}

fn last_user(request: &GenerateRequest) -> String {
    messages_of(request)
        .last()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.clone())
        .unwrap_or_else(|| panic!("the prompt does not end with a user turn"))
}

/// Feeds a scripted step, after checking its text against the step schema in force.
fn scripted_step(run: &mut AgentRun, text: &str) {
    let request = expect_generate(run);
    let Constraint::JsonSchema(schema) = &request.constraint else {
        panic!("the step is not constrained by a JSON schema");
    };
    let validator =
        jsonschema::validator_for(schema).unwrap_or_else(|e| panic!("bad step schema: {e}"));
    let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{text} breaks the step schema: {errors:?}"
    );
    feed(run, Input::Generated(scripted_completion(text)));
}

/// Runs one scripted step that calls the calculator on `3*3600` and feeds its result, 10800.
fn calculator_step(run: &mut AgentRun) {
    scripted_step(
        run,
        &scripted_call("calculator", json!({"expression": "3*3600"})),
    );
    let calls = expect_calls(run);
    feed(
        run,
        Input::ToolResults(vec![ok_result(&calls[0], json!(10800))]),
    );
}

mod checkpoints;
mod grounding;
mod last_step;
mod native;
mod repeats;
mod steps;
mod strategy;
mod untrusted;
