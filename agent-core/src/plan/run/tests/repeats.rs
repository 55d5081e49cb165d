//! Repeated calls and the last step: a call identical to one already answered is not run
//! again (unless its tool is not idempotent), and the step after it, like the last step a
//! run with results may take, can only answer.

use super::*;

/// The schema of the step `run` asks for next.
fn schema_of_next_step(run: &AgentRun) -> Value {
    match expect_generate(run).constraint {
        Constraint::JsonSchema(schema) => schema,
        other => panic!("the step is not constrained by a JSON schema: {other:?}"),
    }
}

/// Whether `schema` lets a step call a tool.
fn offers_calls(schema: &Value) -> bool {
    schema.to_string().contains("\"action")
}

/// Runs step 1: `tool(args)`, answered with `value`.
fn first_call(run: &mut AgentRun, tool: &str, args: Value, value: Value) {
    scripted_step(run, &scripted_call(tool, args));
    let calls = expect_calls(run);
    assert_eq!(calls.len(), 1);
    feed(run, Input::ToolResults(vec![ok_result(&calls[0], value)]));
}

#[test]
fn a_repeated_call_is_answered_from_its_earlier_result_and_the_next_step_must_answer() {
    let mut run = new_run(config().with_tools(vec![calculator()]));
    let args = json!({"expression": "3 * 3600"});
    first_call(&mut run, "calculator", args.clone(), json!(10800));
    assert!(offers_calls(&schema_of_next_step(&run)));
    run.drain_events();

    scripted_step(&mut run, &scripted_call("calculator", args.clone()));
    // Not run again: the run goes straight to the next step.
    let request = expect_generate(&run);
    let turn = last_user(&request);
    assert!(
        turn.contains("10800"),
        "the earlier result is shown: {turn}"
    );
    assert!(
        turn.contains("You already called `calculator` with these same arguments"),
        "{turn}"
    );
    let events = run.drain_events();
    let results: Vec<&ToolResult> = events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::ToolResult { result, .. } => Some(result),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 1, "{events:?}");
    assert_eq!(results[0].call_id, "call-2-1");
    assert_eq!(results[0].outcome, Ok(ToolOutput::json(json!(10800))));
    // The next step may only answer, and does.
    assert!(!offers_calls(&schema_of_next_step(&run)));
    scripted_step(&mut run, &scripted_answer(json!(10800)));
    let outcome = expect_done(&run);
    assert_eq!(outcome.answer, Some(json!(10800)));
    assert_eq!(outcome.steps, 3);
}

#[test]
fn the_same_tool_with_other_arguments_runs_and_keeps_the_tools_offered() {
    let mut run = new_run(config());
    first_call(
        &mut run,
        "calculator",
        json!({"expression": "3 * 3600"}),
        json!(10800),
    );
    scripted_step(
        &mut run,
        &scripted_call("calculator", json!({"expression": "10800 + 1"})),
    );
    let calls = expect_calls(&run);
    assert_eq!(calls[0].args, json!({"expression": "10800 + 1"}));
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!(10801))]),
    );
    assert!(offers_calls(&schema_of_next_step(&run)));
}

#[test]
fn a_tool_that_is_not_idempotent_is_called_again() {
    let mut clock = clock();
    clock.idempotent = false;
    let mut run = new_run(config().with_tools(vec![calculator(), clock]));
    first_call(&mut run, "clock", json!({"tz": "UTC"}), json!("12:00"));
    scripted_step(&mut run, &scripted_call("clock", json!({"tz": "UTC"})));
    let calls = expect_calls(&run);
    assert_eq!(calls[0].name, "clock");
    assert_eq!(calls[0].id, "call-2-1");
}

#[test]
fn a_failed_call_is_not_answered_from_memory() {
    let mut run = new_run(config());
    scripted_step(&mut run, &scripted_call("clock", json!({"tz": "UTC"})));
    let calls = expect_calls(&run);
    let failed = ToolResult {
        call_id: calls[0].id.clone(),
        name: calls[0].name.clone(),
        outcome: Err(ToolFailure::TimedOut {
            name: "clock".into(),
            after: Duration::from_secs(1),
        }),
    };
    feed(&mut run, Input::ToolResults(vec![failed]));
    scripted_step(&mut run, &scripted_call("clock", json!({"tz": "UTC"})));
    assert_eq!(expect_calls(&run)[0].id, "call-2-1");
}

#[test]
fn a_repeat_beside_a_fresh_call_is_observed_with_the_fresh_result() {
    let mut run = new_run(config().with_parallel_calls(2));
    let first = json!({"thought": "Multiply.", "actions": [
        {"tool": "calculator", "args": {"expression": "3 * 3600"}},
    ]})
    .to_string();
    scripted_step(&mut run, &first);
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!(10800))]),
    );
    let step = json!({"thought": "Both.", "actions": [
        {"tool": "calculator", "args": {"expression": "3 * 3600"}},
        {"tool": "clock", "args": {"tz": "UTC"}},
    ]})
    .to_string();
    scripted_step(&mut run, &step);
    let calls = expect_calls(&run);
    assert_eq!(calls.len(), 1, "only the fresh call runs: {calls:?}");
    assert_eq!(calls[0].name, "clock");
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!("12:00"))]),
    );
    let turn = last_user(&expect_generate(&run));
    assert!(turn.contains("10800") && turn.contains("12:00"), "{turn}");
}

#[test]
fn the_last_step_must_answer_once_the_run_has_results() {
    let limits = Limits {
        max_steps: 2,
        ..Limits::default()
    };
    let mut run = new_run(config().with_limits(limits));
    assert!(
        offers_calls(&schema_of_next_step(&run)),
        "step 1 of 2 may call"
    );
    first_call(
        &mut run,
        "calculator",
        json!({"expression": "3 * 3600"}),
        json!(10800),
    );
    assert!(!offers_calls(&schema_of_next_step(&run)));
    scripted_step(&mut run, &scripted_answer(json!(10800)));
    assert_eq!(expect_done(&run).answer, Some(json!(10800)));
}

#[test]
fn two_steps_that_only_repeat_answered_calls_do_not_count_toward_the_limit() {
    let limits = Limits {
        max_steps: 4,
        ..Limits::default()
    };
    let mut run = new_run(config().with_limits(limits));
    let calc = json!({"expression": "3 * 3600"});
    let time = json!({"tz": "UTC"});
    first_call(&mut run, "calculator", calc.clone(), json!(10800));
    // Step 2 repeats the call: not counted.
    scripted_step(&mut run, &scripted_call("calculator", calc.clone()));
    first_call(&mut run, "clock", time.clone(), json!("12:00"));
    // Step 4 repeats too (not counted either), so step 5 may still call.
    scripted_step(&mut run, &scripted_call("clock", time));
    assert!(offers_calls(&schema_of_next_step(&run)));
    // A third repeat counts: step 6 is the last and must answer.
    scripted_step(&mut run, &scripted_call("calculator", calc));
    assert!(!offers_calls(&schema_of_next_step(&run)));
    scripted_step(&mut run, &scripted_answer(json!(10800)));
    let outcome = expect_done(&run);
    assert_eq!(outcome.answer, Some(json!(10800)));
    assert_eq!(
        outcome.steps, 6,
        "every generation is a step of the outcome"
    );
    assert_eq!(outcome.uncounted_steps, 2, "the third repeat counts");
}

#[test]
fn a_single_step_run_may_still_call_a_tool() {
    let limits = Limits {
        max_steps: 1,
        ..Limits::default()
    };
    let run = new_run(config().with_limits(limits));
    assert!(offers_calls(&schema_of_next_step(&run)));
}

#[test]
fn after_a_repeat_another_tool_may_be_called_but_not_the_repeated_one() {
    let mut run = new_run(config());
    let args = json!({"expression": "3 * 3600"});
    first_call(&mut run, "calculator", args.clone(), json!(10800));
    scripted_step(&mut run, &scripted_call("calculator", args.clone()));
    let turn = last_user(&expect_generate(&run));
    assert!(turn.contains("call the other tool it needs"), "{turn}");
    assert!(offers_calls(&schema_of_next_step(&run)));
    scripted_step(&mut run, &scripted_call("calculator", args));
    let retry = last_user(&expect_generate(&run));
    assert!(
        retry.contains("`calculator` cannot be called in this step"),
        "{retry}"
    );
    scripted_step(&mut run, &scripted_call("clock", json!({"tz": "UTC"})));
    assert_eq!(expect_calls(&run)[0].name, "clock");
}

#[test]
fn answered_calls_survive_a_checkpoint() {
    let mut run = new_run(config().with_tools(vec![calculator()]));
    let args = json!({"expression": "3 * 3600"});
    first_call(&mut run, "calculator", args.clone(), json!(10800));
    let json = run.to_json().expect("to_json");
    let mut resumed = AgentRun::from_json(&json).expect("from_json");
    scripted_step(&mut resumed, &scripted_call("calculator", args));
    assert!(!offers_calls(&schema_of_next_step(&resumed)));
}

#[test]
fn a_repeated_failed_call_is_not_run_again_and_its_tool_is_withheld_for_one_step() {
    let mut run = new_run(config());
    let args = json!({"expression": "a + b"});
    scripted_step(&mut run, &scripted_call("calculator", args.clone()));
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![failed_result(&calls[0], "`a` is not a number")]),
    );

    // The same failed call again: not run, the error shown with a note, the tool withheld.
    scripted_step(&mut run, &scripted_call("calculator", args.clone()));
    let request = expect_generate(&run);
    let turn = last_user(&request);
    assert!(turn.contains("`a` is not a number"), "{turn}");
    assert!(
        turn.contains("with these same arguments, and it failed"),
        "{turn}"
    );
    assert!(turn.contains("Do not repeat it"), "{turn}");
    // The next step may still call, but a call of the withheld tool is sent back.
    assert!(offers_calls(&schema_of_next_step(&run)));
    scripted_step(&mut run, &scripted_call("calculator", args));
    let retry = last_user(&expect_generate(&run));
    assert!(
        retry.contains("`calculator` cannot be called in this step"),
        "{retry}"
    );
    // Another tool is accepted, and with it the calculator comes back.
    scripted_step(&mut run, &scripted_call("clock", json!({"tz": "UTC"})));
    let calls = expect_calls(&run);
    assert_eq!(calls[0].name, "clock");
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!("12:00"))]),
    );
    scripted_step(
        &mut run,
        &scripted_call("calculator", json!({"expression": "17 + 25"})),
    );
    assert_eq!(expect_calls(&run)[0].name, "calculator");
}

#[test]
fn a_failed_call_with_other_arguments_runs() {
    let mut run = new_run(config());
    scripted_step(
        &mut run,
        &scripted_call("calculator", json!({"expression": "a + b"})),
    );
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![failed_result(&calls[0], "`a` is not a number")]),
    );
    scripted_step(
        &mut run,
        &scripted_call("calculator", json!({"expression": "17 + 25"})),
    );
    assert_eq!(expect_calls(&run)[0].args, json!({"expression": "17 + 25"}));
}
