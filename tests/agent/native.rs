//! The model's own tool-call format on the real Qwen models (their chat template renders
//! the tools and reads `<tool_call>` blocks): the calculator task answers 395, a request
//! that needs no tool is answered without one, and a recalled fact is used in the answer.
//! Under agentry's JSON step these failed: the 0.5B model repeated the call until the
//! step limit, and the 1.5B model called the calculator to say hello in French and
//! answered "I need to confirm this by checking the actual bicycle".

use agentry_tools::builtin::Clock;

use super::*;

/// The calculator and the clock: tools for a request that needs neither.
fn calculator_and_clock() -> ToolRegistry {
    let mut tools = calculator();
    tools.register(Clock).expect("register the clock");
    tools
}

fn tool_calls(events: &[AgentEvent]) -> Vec<&ToolCall> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::ToolCall { call, .. } => Some(call),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_calculator_task_answers_395_in_the_models_own_format() {
    let model = Recorder::over(qwen_0_5b().await);
    let agent = Agent::builder()
        .model(model.clone())
        .tools(calculator())
        .limits(limits(4))
        .sampling(sampling(200))
        .build()
        .expect("an agent");
    let mut events = agent.events();
    let output = agent
        .run::<f64>("What is 17 * 23 + 4? Use the calculator.")
        .await
        .unwrap_or_else(|e| panic!("no answer: {e}"));
    let events = drain(&mut events);
    assert_eq!(output.answer, 395.0, "{events:?}");
    let first = &model.requests()[0];
    assert!(
        matches!(
            first.constraint,
            agentry_core::model::Constraint::ToolCalls { .. }
        ),
        "the step used the model's own format: {:?}",
        first.constraint
    );
    let ran: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::ToolResult { .. }))
        .collect();
    assert!(!ran.is_empty(), "the calculator was called: {events:?}");
    assert!(output.outcome.steps <= 3, "{events:?}");
}

#[tokio::test]
async fn a_request_that_needs_no_tool_is_answered_without_one() {
    let agent = Agent::builder()
        .model(registry_model("qwen2.5-coder-1.5b").await)
        .tools(calculator_and_clock())
        .limits(limits(3))
        .sampling(sampling(64))
        .build()
        .expect("an agent");
    let mut events = agent.events();
    let output = agent
        .run::<String>("Say hello in French.")
        .await
        .unwrap_or_else(|e| panic!("no answer: {e}"));
    let events = drain(&mut events);
    assert!(
        tool_calls(&events).is_empty(),
        "a needless call: {events:?}"
    );
    assert!(
        output.answer.to_lowercase().contains("bonjour"),
        "{:?}",
        output.answer
    );
    assert_eq!(output.outcome.steps, 1);
}

#[tokio::test]
async fn a_recalled_fact_is_used_in_the_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let memory = memory_in(dir.path()).await;
    memory
        .remember(
            "My bicycle is bright orange.",
            MemoryKind::Semantic,
            serde_json::json!({}),
            0.9,
        )
        .await
        .expect("remember");
    let agent = Agent::builder()
        .model(registry_model("qwen2.5-coder-1.5b").await)
        .tools(calculator_and_clock())
        .memory(memory)
        .store_episodes(false)
        .limits(limits(3))
        .sampling(sampling(64))
        .build()
        .expect("an agent");
    let mut events = agent.events();
    let output = agent
        .run::<String>("What colour is my bicycle?")
        .await
        .unwrap_or_else(|e| panic!("no answer: {e}"));
    let events = drain(&mut events);
    // The answer is the capability under test (the JSON step once answered "I need to
    // confirm this by checking the actual bicycle"). Whether the model also makes a needless
    // call here varies from run to run: the fence marker is random, so the prompt differs
    // each time; `a_request_that_needs_no_tool_is_answered_without_one` tests declining.
    assert!(
        output.answer.to_lowercase().contains("orange"),
        "{:?} {events:?}",
        output.answer
    );
}
