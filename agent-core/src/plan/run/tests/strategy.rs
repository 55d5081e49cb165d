//! A reasoning strategy's answer: solving alone, or again after ReAct steps.

use super::*;

fn expect_solve(run: &AgentRun) -> SolveRequest {
    match run.next_action() {
        Action::Solve(request) => request,
        other => panic!("expected Solve, got {other:?}"),
    }
}

/// The text of a solve prompt's messages, joined.
fn solve_text(request: &SolveRequest) -> String {
    let ModelInput::Messages(messages) = &request.prompt else {
        panic!("a solve prompt is chat messages");
    };
    messages
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn solved(answer: Value, model_calls: usize) -> Input {
    Input::Solved(Solved {
        answer,
        usage: Usage {
            prompt_tokens: 30,
            cached_tokens: 0,
            evaluated_tokens: 30,
            completion_tokens: 12,
        },
        model_calls,
        reasoning: Some("3 hours of 3600 seconds.".into()),
    })
}

#[test]
fn a_strategy_without_tools_solves_alone_without_react_steps() {
    let mut run = new_run(
        config()
            .with_tools(vec![])
            .with_strategy(Reasoning::ChainOfThought),
    );
    let request = expect_solve(&run);
    assert_eq!(request.strategy, Reasoning::ChainOfThought);
    assert_eq!(request.answer_schema, json!({"type": "integer"}));
    let text = solve_text(&request);
    assert!(text.contains(TASK), "{text}");
    assert!(text.contains("You are a careful assistant."), "{text}");
    assert!(!text.contains("final_answer"), "no step format: {text}");
    feed(&mut run, solved(json!(10800), 3));
    let outcome = expect_done(&run);
    assert_eq!(outcome.answer, Some(json!(10800)));
    assert_eq!(outcome.stop, StopReason::Answered);
    assert_eq!(
        outcome.steps, 3,
        "solving alone, the strategy's calls are the steps"
    );
    assert_eq!(outcome.usage.completion_tokens, 12);
    assert_eq!(
        outcome.reasoning.as_deref(),
        Some("3 hours of 3600 seconds.")
    );
    let events = run.drain_events();
    assert_eq!(
        events,
        [
            AgentEvent::Answer {
                value: json!(10800)
            },
            AgentEvent::Stopped {
                reason: StopReason::Answered
            }
        ]
    );
}

#[test]
fn a_strategy_solving_alone_reads_its_memories_fenced() {
    let mut run = new_run(
        config()
            .with_tools(vec![])
            .with_recall(2)
            .with_strategy(Reasoning::ChainOfThought),
    );
    assert!(matches!(run.next_action(), Action::Recall { .. }));
    feed(
        &mut run,
        Input::Recalled(vec![Recollection::new(
            "An hour has 3600 seconds.",
            "notes.md",
            0.9,
        )]),
    );
    let text = solve_text(&expect_solve(&run));
    assert!(text.contains("memory:notes.md"), "{text}");
    assert!(text.contains("An hour has 3600 seconds."), "{text}");
    assert!(matches!(
        run.drain_events()[0],
        AgentEvent::Recall { step: 1, .. }
    ));
}

#[test]
fn with_tools_a_strategy_derives_the_answer_again_from_the_observations() {
    let mut run = new_run(
        config()
            .with_strategy(Reasoning::ChainOfThought)
            .with_episode(),
    );
    scripted_step(
        &mut run,
        &scripted_call("calculator", json!({"expression": "3*3600"})),
    );
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!(10800))]),
    );
    scripted_step(&mut run, &scripted_answer(json!(10000)));
    let request = expect_solve(&run);
    let text = solve_text(&request);
    assert!(text.contains("tool:calculator"), "{text}");
    assert!(text.contains("10800"), "{text}");
    assert!(!text.contains("final_answer"), "{text}");
    feed(&mut run, solved(json!(10800), 1));
    let Action::StoreEpisode { text, metadata } = run.next_action() else {
        panic!("expected StoreEpisode, got {:?}", run.next_action());
    };
    assert!(
        text.contains("Answer: 10800"),
        "the episode records the strategy's answer"
    );
    assert_eq!(metadata["strategy"], "chain_of_thought");
    feed(&mut run, Input::EpisodeStored);
    let outcome = expect_done(&run);
    assert_eq!(outcome.answer, Some(json!(10800)));
    assert_eq!(
        outcome.steps, 2,
        "after ReAct steps, a strategy's calls are not steps"
    );
    assert_eq!(outcome.tools_used, ["calculator"]);
}

#[test]
fn a_run_stopped_while_its_strategy_works_keeps_the_react_answer() {
    let mut run = new_run(config().with_strategy(Reasoning::ChainOfThought));
    scripted_step(&mut run, &scripted_answer(json!(10800)));
    expect_solve(&run);
    run.cancel();
    let outcome = expect_done(&run);
    assert_eq!(outcome.answer, Some(json!(10800)));
    assert_eq!(outcome.stop, StopReason::Answered);
}

#[test]
fn a_strategy_answer_off_the_schema_is_refused_and_changes_nothing() {
    let mut run = new_run(
        config()
            .with_tools(vec![])
            .with_strategy(Reasoning::ChainOfThought),
    );
    let before = run.to_json().unwrap();
    let refused = run.feed(solved(json!("ten thousand"), 1));
    assert!(
        matches!(refused, Err(RunError::UnfitAnswer { .. })),
        "{refused:?}"
    );
    assert_eq!(run.to_json().unwrap(), before);
    // Input for another action is refused too.
    assert!(run.feed(Input::EpisodeStored).is_err());
}

#[test]
fn a_run_waiting_for_its_strategy_resumes_from_its_checkpoint() {
    let run = new_run(
        config()
            .with_tools(vec![])
            .with_strategy(Reasoning::tree_of_thought()),
    );
    let mut resumed = AgentRun::from_json(&run.to_json().unwrap()).unwrap();
    assert_eq!(expect_solve(&resumed), expect_solve(&run));
    feed(&mut resumed, solved(json!(10800), 7));
    assert_eq!(expect_done(&resumed).steps, 7);
}
